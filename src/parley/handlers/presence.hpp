#pragma once
// Who is online: the sockets of each user. Behind an interface so that a cluster-wide
// implementation (Redis sets with per-node heartbeats) can replace the in-memory one; hence
// the callbacks.
//
//   presence->add("alice", socket->id(), [](bool first) { if (first) /* user:online */; });
//
// Thread-safe: sockets of one user live on different threads. add's and remove's `done` are
// never called under presence's lock (they broadcast, which takes the connections' locks), yet
// in the order the decisions were taken: a user's user:online / user:offline go out in the order
// the sockets came and went, and a quick reconnect on another thread cannot overtake the
// offline. So `done` may run on the thread of another add/remove call made meanwhile, after
// the call it belongs to has returned; it may call back into presence.
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
