#include "parley/handlers/typing.hpp"

#include <boost/asio/post.hpp>

namespace parley {

namespace {
// A timer is used by its io_context's thread: cancel it there, not on the caller's thread.
// (The generation check makes a late expiry harmless anyway; cancelling frees it sooner.)
void cancel_on_its_thread(boost::asio::io_context& ctx, std::shared_ptr<boost::asio::steady_timer> t) {
  boost::asio::post(ctx, [t = std::move(t)] { t->cancel(); });
}
}  // namespace

typing_tracker::typing_tracker(boost::asio::io_context& ctx, std::chrono::milliseconds timeout)
    : ctx_(ctx), timeout_(timeout) {}

typing_tracker::~typing_tracker() { clear(); }

void typing_tracker::start(const std::string& socket_id, const std::string& conversation_id,
                           std::function<void()> on_expire) {
  std::lock_guard lock(mutex_);
  auto& e = entries_[key{socket_id, conversation_id}];
  if (e.timer) cancel_on_its_thread(ctx_, e.timer);
  e.timer = std::make_shared<boost::asio::steady_timer>(ctx_, timeout_);
  e.generation = next_generation_++;
  e.timer->async_wait([this, k = key{socket_id, conversation_id}, gen = e.generation, timer = e.timer,
                       fn = std::move(on_expire)](const boost::system::error_code& ec) {
    if (ec) return;
    {
      std::lock_guard lock(mutex_);
      auto it = entries_.find(k);
      // A later start() re-armed it, or stop() ended it: not ours to expire.
      if (it == entries_.end() || it->second.generation != gen) return;
      entries_.erase(it);
    }
    fn();
  });
}

bool typing_tracker::stop(const std::string& socket_id, const std::string& conversation_id) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key{socket_id, conversation_id});
  if (it == entries_.end()) return false;
  cancel_on_its_thread(ctx_, it->second.timer);
  entries_.erase(it);
  return true;
}

std::vector<std::string> typing_tracker::stop_all(const std::string& socket_id) {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  auto it = entries_.lower_bound(key{socket_id, std::string()});
  while (it != entries_.end() && it->first.first == socket_id) {
    cancel_on_its_thread(ctx_, it->second.timer);
    out.push_back(it->first.second);
    it = entries_.erase(it);
  }
  return out;
}

void typing_tracker::clear() {
  std::lock_guard lock(mutex_);
  for (auto& [_, e] : entries_) cancel_on_its_thread(ctx_, e.timer);
  entries_.clear();
}

std::size_t typing_tracker::active() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace parley
