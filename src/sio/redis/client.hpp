#pragma once
// An asynchronous Redis client driven by one event loop (an io_context of the io_pool): RESP2
// over TCP, commands pipelined in order, reconnection with backoff. Pub/sub has its own
// connection: redis::subscriber (subscriber.hpp).
//
//   auto where = sio::redis::parse_url("redis://127.0.0.1:6379/0").value();
//   sio::redis::client_options o;
//   o.on_state = [](const sio::redis::state_change& c) { log(to_string(c.state), c.reason.message()); };
//   sio::redis::client redis(pool.context(0), where, o);
//   redis.command({"SET", "k", bytes, "PX", "5000"});
//   redis.command({"GET", "k"}, [](std::error_code ec, sio::redis::reply r) {
//     if (ec) return;                       // not connected, connection lost, an error reply...
//     if (r.is_bulk()) use(r.bulk());       // else nil: no such key
//   });
//   redis.publish("socket.io#/#", msgpack_bytes);
//
// Replies: every handler is called exactly once, on the loop's thread, never from inside the
// call that gave it. `ec` is empty when Redis answered; an error reply sets ec to
// error::server_error and `r` holds it (r.error() is Redis' message). Other errors:
//   not_connected    never sent: no connection at the moment (see "Failures" below)
//   connection_lost  sent, but the connection broke before the reply: may or may not have run
//   queue_full       max_pending_commands were already waiting
//   invalid_command  empty, or a command that changes the connection's mode (below)
//   client_closed    the client was destroyed first (the handler is called by the destructor)
//
// Failures, as a real dependency: the client connects at once and reconnects after every
// failure, forever, after delays from backoff_policy. Commands given while a connection attempt
// is under way (the first one, or a reconnection) wait for it, at most connect_timeout, and go
// out after AUTH and SELECT have succeeded (never to the wrong database); commands given between
// attempts fail at once with not_connected. There is no other offline queue: a command is never
// sent on a later connection than the one it was given to. on_state reports each transition
// once: connected (the first time), lost, reconnecting (once per outage, however many attempts
// fail), reconnected.
//
// Threading: command, publish, spublish, pubsub_numsub and connected() are safe from any
// thread; from another thread than the loop's, the command is encoded there and handed to the
// loop (one lock, one post per batch). Handlers and the hooks run on the loop's thread, never
// under a lock of the client; what they throw goes to client_options::on_error. Construct
// anywhere; destroy on the loop's thread (a handler may destroy the client), or when the loop
// is not running, and before the io_context. A handler must not own the client (a cycle).
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "sio/redis/backoff.hpp"
#include "sio/redis/errors.hpp"
#include "sio/redis/resp.hpp"
#include "sio/redis/url.hpp"

namespace boost::asio { class io_context; }

namespace sio::redis {

namespace detail { class connection; }

enum class connection_state {
  connected,     // ready for the first time (TCP, AUTH, SELECT, and a subscriber's subscriptions)
  lost,          // a ready connection failed
  reconnecting,  // retrying after delays; once per outage (also when the very first attempt fails)
  reconnected,   // ready again after an outage (a subscriber's subscriptions are back too)
};
std::string_view to_string(connection_state s) noexcept;

struct state_change {
  connection_state state;
  std::error_code reason;  // lost, reconnecting: why (a system error, or error::auth_failed, ...)
  std::string detail;      // Redis' own words, when it refused AUTH, SELECT or a subscription
};

struct client_options {
  backoff_policy reconnect;                          // delays between attempts
  std::chrono::milliseconds connect_timeout{5000};   // resolve, connect, AUTH, SELECT (, subscribe)
  std::size_t max_pending_commands = 65536;          // waiting for a connection or for a reply
  resp_limits limits;                                // what one reply may hold
  std::function<void(const state_change&)> on_state; // on the loop's thread
  // What a handler or hook threw (default: one line on stderr). On the loop's thread.
  std::function<void(std::exception_ptr)> on_error;
};

using reply_handler = std::function<void(std::error_code, reply)>;

struct channel_count {
  std::string channel;
  std::int64_t subscribers = 0;
  friend bool operator==(const channel_count&, const channel_count&) = default;
};
using numsub_handler = std::function<void(std::error_code, std::vector<channel_count>)>;

class client {
 public:
  // Connects at once (asynchronously). Throws std::invalid_argument for options that cannot
  // work (a bad backoff policy, a zero timeout or queue bound).
  client(boost::asio::io_context& loop, address server, client_options options = {});
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  // Any command, its arguments as bytes: command({"XADD", key, "*", "data", payload}, on_reply).
  // The arguments are copied (encoded) before the call returns. Refused with invalid_command:
  // SUBSCRIBE and the other pub/sub mode commands (use redis::subscriber), MONITOR, SYNC,
  // PSYNC, HELLO (RESP3), RESET, CLIENT REPLY (replies must match commands) and SELECT (the
  // database is the URL's, kept across reconnections). Blocking commands (BLPOP, XREAD BLOCK)
  // work but hold up the replies of the commands sent after them on this connection.
  void command(std::initializer_list<std::string_view> args, reply_handler on_reply = {});
  void command(std::span<const std::string_view> args, reply_handler on_reply = {});
  void command(std::span<const std::string> args, reply_handler on_reply = {});

  // PUBLISH / SPUBLISH (Redis 7's sharded pub/sub); the reply is the number of receivers
  // (for SPUBLISH, on this shard).
  void publish(std::string_view channel, std::string_view payload, reply_handler on_reply = {});
  void spublish(std::string_view channel, std::string_view payload, reply_handler on_reply = {});

  // PUBSUB NUMSUB: the subscribers of each channel (patterns not counted), in the order asked.
  void pubsub_numsub(std::span<const std::string_view> channels, numsub_handler on_counts);
  void pubsub_numsub(std::initializer_list<std::string_view> channels, numsub_handler on_counts);

  // Whether the connection is ready now (a hint: it may change at any moment). Any thread.
  bool connected() const noexcept;

 private:
  void submit(std::span<const std::string_view> args, reply_handler on_reply);
  std::shared_ptr<detail::connection> connection_;
};

}  // namespace sio::redis
