#pragma once
// The two Redis connections every namespace's adapter of one factory shares (a publisher and a
// subscriber, as the reference's pubClient and subClient), and the routing of what the
// subscriber receives to the adapter that subscribed it.
//
// Threading: publish(), connected() and log() are safe from any thread; everything else, and
// every call into a listener, is on the loop's thread. Destroy on the loop's thread or while it
// is not running (the Redis connections' own rule).
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "sio/common/result.hpp"
#include "sio/common/string_hash.hpp"
#include "sio/redis/client.hpp"
#include "sio/redis/subscriber.hpp"
#include "sio/redis_adapter/redis_adapter.hpp"

namespace sio::redis_adapter_detail {

// A namespace's adapter, as the connections see it. Called on the loop's thread.
class channel_listener {
 public:
  virtual ~channel_listener() = default;
  // A message on "<key>#<nsp>#..." (the namespace's pattern).
  virtual void on_broadcast(std::string_view channel, std::string_view bytes) = 0;
  virtual void on_request(std::string_view bytes) = 0;
  virtual void on_response(std::string_view bytes) = 0;
  // The subscriber's connection broke: answers on the way are lost.
  virtual void on_subscriber_lost() = 0;
};

// A namespace's subscriptions.
struct namespace_channels {
  std::string broadcast_pattern;  // "<key>#<nsp>#*"
  std::string request;            // "<key>-request#<nsp>#"
  std::string response;           // "<key>-response#<nsp>#"
  std::string own_response;       // "<key>-response#<nsp>#<uid>#"
};

class connections {
 public:
  connections(boost::asio::io_context& loop, const redis::address& where, redis_adapter_options opts);
  ~connections();
  connections(const connections&) = delete;
  connections& operator=(const connections&) = delete;

  boost::asio::io_context& loop() const noexcept { return loop_; }
  const redis_adapter_options& options() const noexcept { return opts_; }

  // Both connections ready now (a hint; any thread).
  bool connected() const noexcept;

  // PUBLISH, from any thread. A publication that cannot be made is dropped: logged once per
  // outage (with the count when Redis is back), and `failed` told (on the loop's thread).
  void publish(std::string_view channel, std::string_view bytes, std::function<void(std::error_code)> failed = {});

  // PUBSUB NUMSUB of one channel; fails at once when Redis is unreachable. Loop thread.
  void numsub(std::string_view channel, std::function<void(sio::result<std::size_t>)> done);

  // Subscribes a namespace's channels for `listener` (loop thread), and forgets them again.
  void attach(const namespace_channels& c, std::weak_ptr<channel_listener> listener);
  void detach(const namespace_channels& c, const channel_listener* listener);

  // One line to the options' log (or stderr), from any thread; never throws.
  void log(std::string_view line) const noexcept;

 private:
  enum class route_kind { request, response };
  struct route {
    route_kind kind;
    std::vector<std::weak_ptr<channel_listener>> listeners;
  };
  using listener_list = std::vector<std::weak_ptr<channel_listener>>;

  void on_message(const redis::message& m);
  void on_publisher_state(const redis::state_change& c);
  void on_subscriber_state(const redis::state_change& c);
  void note_publish_failure(std::error_code ec);
  // Calls fn(listener) for each live listener of `list` (dropping the expired ones).
  template <class F>
  void for_each_listener(listener_list& list, F&& fn);

  boost::asio::io_context& loop_;
  redis_adapter_options opts_;
  std::string where_;  // the URL, password masked, for the log
  // Loop thread only.
  std::unordered_map<std::string, listener_list, string_hash, std::equal_to<>> patterns_;
  std::unordered_map<std::string, route, string_hash, std::equal_to<>> channels_;
  bool publish_failure_logged_ = false;
  std::size_t dropped_publications_ = 0;

  // Last: destroyed first, so that no handler of theirs runs on a half-destroyed object.
  redis::client publisher_;
  redis::subscriber subscriber_;
};

}  // namespace sio::redis_adapter_detail
