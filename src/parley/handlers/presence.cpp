#include "parley/handlers/presence.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

namespace parley {
namespace {

class memory_presence final : public presence {
 public:
  void add(const std::string& user_id, const std::string& socket_id, std::function<void(bool)> done) override {
    std::lock_guard lock(mutex_);
    auto& sockets = users_[user_id];
    const bool first = sockets.empty();
    sockets.insert(socket_id);
    done(first);  // under the lock: see presence.hpp
  }

  void remove(const std::string& user_id, const std::string& socket_id, std::function<void(bool)> done) override {
    bool last = false;
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (it != users_.end() && it->second.erase(socket_id) == 1 && it->second.empty()) {
      users_.erase(it);
      last = true;
    }
    done(last);  // under the lock: see presence.hpp
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
  mutable std::mutex mutex_;
  std::map<std::string, std::set<std::string>, std::less<>> users_;
};

}  // namespace

std::unique_ptr<presence> make_memory_presence() { return std::make_unique<memory_presence>(); }

}  // namespace parley
