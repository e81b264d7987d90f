#pragma once
// Who is online: the sockets of each user. Behind an interface so that a cluster-wide
// implementation (Redis sets with per-node heartbeats) can replace the in-memory one; hence
// the callbacks, which the in-memory implementation calls at once, on the caller's thread.
//
//   presence->add("alice", socket->id(), [](bool first) { if (first) /* user:online */; });
//
// Thread-safe: sockets of one user live on different threads. The in-memory implementation
// calls add's and remove's `done` under its lock, so that a user's user:online / user:offline
// announcements go out in the order the sockets came and went (a quick reconnect on another
// thread cannot overtake the offline); `done` must therefore not call back into presence.
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace parley {

class presence {
 public:
  virtual ~presence() = default;
  // Records a socket of the user; first: the user had no socket before.
  virtual void add(const std::string& user_id, const std::string& socket_id, std::function<void(bool first)> done) = 0;
  // Forgets a socket; last: it was the user's last one.
  virtual void remove(const std::string& user_id, const std::string& socket_id,
                      std::function<void(bool last)> done) = 0;
  // Distinct online users.
  virtual void count(std::function<void(std::size_t)> done) const = 0;
  virtual void users(std::function<void(std::vector<std::string>)> done) const = 0;
};

// One node's presence, in memory, behind a mutex.
std::unique_ptr<presence> make_memory_presence();

}  // namespace parley
