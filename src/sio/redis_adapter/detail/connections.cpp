#include "sio/redis_adapter/detail/connections.hpp"

#include <algorithm>
#include <cstdio>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace sio::redis_adapter_detail {

namespace {

redis::client_options client_options(const redis_adapter_options& o) {
  redis::client_options c;
  c.reconnect.initial = o.reconnection_delay;
  c.reconnect.max = std::max(o.reconnection_delay, o.reconnection_delay_max);
  return c;
}

std::string describe(const redis::state_change& c) {
  std::string s(redis::to_string(c.state));
  if (c.reason) s += ": " + c.reason.message();
  if (!c.detail.empty()) s += " (" + c.detail + ")";
  return s;
}

}  // namespace

connections::connections(boost::asio::io_context& loop, const redis::address& where, redis_adapter_options opts)
    : loop_(loop),
      opts_(std::move(opts)),
      where_(redis::to_string(where)),
      publisher_(loop, where,
                 [&] {
                   auto o = client_options(opts_);
                   o.on_state = [this](const redis::state_change& c) { on_publisher_state(c); };
                   o.on_error = [this](std::exception_ptr e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& x) {
                       log(std::string("a publisher callback threw: ") + x.what());
                     } catch (...) {
                       log("a publisher callback threw");
                     }
                   };
                   return o;
                 }()),
      subscriber_(loop, where, [this](const redis::message& m) { on_message(m); },
                  [&] {
                    auto o = client_options(opts_);
                    o.on_state = [this](const redis::state_change& c) { on_subscriber_state(c); };
                    o.on_error = [this](std::exception_ptr e) {
                      try {
                        std::rethrow_exception(e);
                      } catch (const std::exception& x) {
                        log(std::string("handling a message threw: ") + x.what());
                      } catch (...) {
                        log("handling a message threw");
                      }
                    };
                    return o;
                  }()) {}

connections::~connections() = default;

bool connections::connected() const noexcept { return publisher_.connected() && subscriber_.connected(); }

void connections::log(std::string_view line) const noexcept {
  try {
    if (opts_.log) {
      opts_.log(line);
      return;
    }
    std::string text = "sio redis adapter: ";
    text.append(line);
    text.push_back('\n');
    std::fwrite(text.data(), 1, text.size(), stderr);
  } catch (...) {
    // A log that fails has nowhere better to report it.
  }
}

void connections::publish(std::string_view channel, std::string_view bytes, std::function<void(std::error_code)> failed) {
  publisher_.publish(channel, bytes, [this, failed = std::move(failed)](std::error_code ec, redis::reply) {
    if (!ec) return;
    if (ec != redis::error::client_closed) note_publish_failure(ec);
    if (failed) failed(ec);
  });
}

void connections::note_publish_failure(std::error_code ec) {
  ++dropped_publications_;
  if (publish_failure_logged_) return;
  publish_failure_logged_ = true;
  log("publications dropped while Redis is unreachable (" + ec.message() + "); this node's own clients are still served");
}

void connections::numsub(std::string_view channel, std::function<void(sio::result<std::size_t>)> done) {
  if (!publisher_.connected()) {
    // Not even waiting for a connection attempt under way: a request fails fast.
    boost::asio::post(loop_, [done = std::move(done)] { done(make_error_code(redis_adapter_error::not_connected)); });
    return;
  }
  publisher_.pubsub_numsub({channel}, [done = std::move(done)](std::error_code ec, std::vector<redis::channel_count> counts) {
    if (ec || counts.size() != 1 || counts[0].subscribers < 0) return done(make_error_code(redis_adapter_error::not_connected));
    done(static_cast<std::size_t>(counts[0].subscribers));
  });
}

void connections::attach(const namespace_channels& c, std::weak_ptr<channel_listener> listener) {
  patterns_[c.broadcast_pattern].push_back(listener);
  for (const auto& [name, kind] : {std::pair{&c.request, route_kind::request}, std::pair{&c.response, route_kind::response},
                                   std::pair{&c.own_response, route_kind::response}}) {
    auto& r = channels_[*name];
    r.kind = kind;
    r.listeners.push_back(listener);
  }
  subscriber_.psubscribe({c.broadcast_pattern});
  subscriber_.subscribe({c.request, c.response, c.own_response});
}

void connections::detach(const namespace_channels& c, const channel_listener* listener) {
  auto forget = [&](listener_list& list) {
    std::erase_if(list, [&](const std::weak_ptr<channel_listener>& w) {
      auto l = w.lock();
      return !l || l.get() == listener;
    });
    return list.empty();
  };
  if (auto it = patterns_.find(c.broadcast_pattern); it != patterns_.end() && forget(it->second)) {
    patterns_.erase(it);
    subscriber_.punsubscribe({c.broadcast_pattern});
  }
  std::vector<std::string> unused;
  for (const std::string* name : {&c.request, &c.response, &c.own_response}) {
    if (auto it = channels_.find(*name); it != channels_.end() && forget(it->second.listeners)) {
      channels_.erase(it);
      unused.push_back(*name);
    }
  }
  if (!unused.empty()) subscriber_.unsubscribe(std::move(unused));
}

template <class F>
void connections::for_each_listener(listener_list& list, F&& fn) {
  // A copy: a listener may detach (or attach) while it handles the message.
  std::vector<std::shared_ptr<channel_listener>> live;
  live.reserve(list.size());
  for (const auto& w : list)
    if (auto l = w.lock()) live.push_back(std::move(l));
  if (live.size() != list.size())
    std::erase_if(list, [](const std::weak_ptr<channel_listener>& w) { return w.expired(); });
  for (const auto& l : live) fn(*l);
}

void connections::on_message(const redis::message& m) {
  if (m.kind == redis::message_kind::pattern) {
    auto it = patterns_.find(m.pattern);
    if (it == patterns_.end()) return;
    for_each_listener(it->second, [&](channel_listener& l) { l.on_broadcast(m.channel, m.payload); });
    return;
  }
  auto it = channels_.find(m.channel);
  if (it == channels_.end()) return;
  const route_kind kind = it->second.kind;
  for_each_listener(it->second.listeners, [&](channel_listener& l) {
    if (kind == route_kind::request) l.on_request(m.payload);
    else l.on_response(m.payload);
  });
}

void connections::on_publisher_state(const redis::state_change& c) {
  log("publisher " + where_ + ": " + describe(c));
  if (c.state == redis::connection_state::connected || c.state == redis::connection_state::reconnected) {
    if (dropped_publications_ > 0)
      log(std::to_string(dropped_publications_) + " publication(s) were dropped while Redis was unreachable");
    dropped_publications_ = 0;
    publish_failure_logged_ = false;
  }
}

void connections::on_subscriber_state(const redis::state_change& c) {
  log("subscriber " + where_ + ": " + describe(c));
  if (c.state != redis::connection_state::lost) return;
  std::vector<std::shared_ptr<channel_listener>> everyone;
  for (auto& [_, r] : channels_)
    for (const auto& w : r.listeners)
      if (auto l = w.lock(); l && std::find(everyone.begin(), everyone.end(), l) == everyone.end()) everyone.push_back(l);
  for (const auto& l : everyone) l->on_subscriber_lost();
}

}  // namespace sio::redis_adapter_detail
