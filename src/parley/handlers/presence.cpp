#include "parley/handlers/presence.hpp"

#include <deque>
#include <map>
#include <mutex>
#include <set>

#include <spdlog/spdlog.h>

namespace parley {
namespace {

// Calls functions one at a time, in the order they were queued, on whichever thread finds the
// queue idle, and without holding the queue's lock while calling: the serialisation of a strand,
// for callers that have no executor in common.
class ordered_calls {
 public:
  // Queue from under the lock that decided what `fn` announces: then queue order is decision
  // order. Call drain() once that lock is released.
  void push(std::function<void()> fn) {
    std::lock_guard lock(mutex_);
    pending_.push_back(std::move(fn));
  }
  void drain() {
    std::unique_lock lock(mutex_);
    if (draining_) return;  // the thread draining now will call what was just queued
    draining_ = true;
    while (!pending_.empty()) {
      auto fn = std::move(pending_.front());
      pending_.pop_front();
      lock.unlock();
      try {
        fn();
      } catch (const std::exception& e) {  // an announcement failed; the next ones still go out
        spdlog::error("presence announcement failed: {}", e.what());
      }
      lock.lock();
    }
    draining_ = false;
  }

 private:
  std::mutex mutex_;
  std::deque<std::function<void()>> pending_;
  bool draining_ = false;
};

class memory_presence final : public presence {
 public:
  void add(const std::string& user_id, const std::string& socket_id, std::function<void(bool)> done) override {
    {
      std::lock_guard lock(mutex_);
      auto& sockets = users_[user_id];
      const bool first = sockets.empty();
      sockets.insert(socket_id);
      announcements_.push([done = std::move(done), first] { done(first); });
    }
    announcements_.drain();
  }

  void remove(const std::string& user_id, const std::string& socket_id, std::function<void(bool)> done) override {
    {
      std::lock_guard lock(mutex_);
      bool last = false;
      auto it = users_.find(user_id);
      if (it != users_.end() && it->second.erase(socket_id) == 1 && it->second.empty()) {
        users_.erase(it);
        last = true;
      }
      announcements_.push([done = std::move(done), last] { done(last); });
    }
    announcements_.drain();
  }

  void count(std::function<void(std::size_t)> done) const override {
    std::size_t n;
    {
      std::lock_guard lock(mutex_);
      n = users_.size();
    }
    done(n);
  }

  void users(std::function<void(std::vector<std::string>)> done) const override {
    std::vector<std::string> ids;
    {
      std::lock_guard lock(mutex_);
      ids.reserve(users_.size());
      for (const auto& [id, _] : users_) ids.push_back(id);
    }
    done(std::move(ids));
  }

 private:
  mutable std::mutex mutex_;  // users_
  std::map<std::string, std::set<std::string>, std::less<>> users_;
  ordered_calls announcements_;
};

}  // namespace

std::unique_ptr<presence> make_memory_presence() { return std::make_unique<memory_presence>(); }

}  // namespace parley
