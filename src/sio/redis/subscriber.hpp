#pragma once
// The pub/sub side of Redis: a connection of its own (RESP2 allows nothing but subscription
// commands on a subscribed connection) that delivers messages to one handler.
//
//   sio::redis::subscriber sub(pool.context(0), where,
//       [](const sio::redis::message& m) { on_packet(m.channel, m.payload); });  // bytes
//   sub.psubscribe({"socket.io#/#*"});
//   sub.subscribe({"socket.io-request#/#", "socket.io-response#/#"}, [](std::error_code ec) {
//     if (!ec) ready();   // Redis confirmed both
//   });
//
// Subscriptions are the subscriber's wish, kept across connections: subscribe() records the
// channels and they are subscribed again after every reconnection, before the state hook says
// reconnected; unsubscribe() forgets them. on_done tells what became of the request on the
// current connection (or, given during a connection attempt, on the one it makes), once, on the
// loop's thread:
//   subscribe:   ok when Redis confirmed every channel (at once if all were already wanted);
//                not_connected / connection_lost when there is no connection now or it broke
//                first (the wish stays: it is made on the next connection); server_error when
//                Redis refused it (e.g. an ACL; the wish is dropped); client_closed.
//   unsubscribe: ok when Redis confirmed, or when the connection is down (nothing to undo).
// Should Redis refuse to restore a subscription it had accepted before (its ACL changed
// meanwhile), the connection fails (state reconnecting, error::subscribe_failed, Redis' words
// in the detail) and is retried until it accepts: loud, rather than silently missing messages.
// A message arrives only for a channel (pattern, shard channel) that is wanted at that moment:
// none after unsubscribe() returns, even if Redis had sent it already.
//
// Threading: as redis::client (client.hpp): every call safe from any thread; the message
// handler, on_done and the hooks run on the loop's thread; destroy on the loop's thread or when
// the loop is not running. The message's views are valid during the handler's call only.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/redis/client.hpp"

namespace sio::redis {

enum class message_kind {
  channel,  // to a SUBSCRIBE'd channel ("message")
  pattern,  // matched a PSUBSCRIBE'd pattern ("pmessage")
  shard,    // to an SSUBSCRIBE'd shard channel ("smessage", Redis 7)
};

struct message {
  message_kind kind;
  std::string_view channel;
  std::string_view pattern;  // the pattern that matched, for message_kind::pattern; else empty
  std::string_view payload;  // bytes as published (binary-safe)
};

using message_handler = std::function<void(const message&)>;
using done_handler = std::function<void(std::error_code)>;

class subscriber {
 public:
  // Connects at once. Throws std::invalid_argument as redis::client does.
  subscriber(boost::asio::io_context& loop, address server, message_handler on_message,
             client_options options = {});
  ~subscriber();
  subscriber(const subscriber&) = delete;
  subscriber& operator=(const subscriber&) = delete;

  void subscribe(std::vector<std::string> channels, done_handler on_done = {});
  void unsubscribe(std::vector<std::string> channels, done_handler on_done = {});
  void psubscribe(std::vector<std::string> patterns, done_handler on_done = {});
  void punsubscribe(std::vector<std::string> patterns, done_handler on_done = {});
  // Redis 7's sharded pub/sub (on one server, as a cluster's shard would).
  void ssubscribe(std::vector<std::string> channels, done_handler on_done = {});
  void sunsubscribe(std::vector<std::string> channels, done_handler on_done = {});

  // Whether the connection is ready (subscriptions restored) now. Any thread.
  bool connected() const noexcept;

 private:
  std::shared_ptr<detail::connection> connection_;
};

}  // namespace sio::redis
