#pragma once
// The single-node adapter (the reference's in-memory Adapter): room maps behind one mutex.
//
//   sio::server_options o;
//   o.adapter = [](sio::local_namespace& n) { return std::make_unique<sio::memory_adapter>(n); };
//
// Locking: the mutex guards only the maps. A broadcast collects its recipients under it, lets
// go, then sends; it never calls a socket (a session, user code) while holding it.
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "sio/adapter/adapter.hpp"

namespace sio {

namespace detail {
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
}  // namespace detail

class memory_adapter : public adapter {
 public:
  explicit memory_adapter(local_namespace& nsp) : adapter(nsp) {}

  void add_all(const socket_id& id, const std::vector<room>& rooms) override;
  void del(const socket_id& id, const room& r) override;
  void del_all(const socket_id& id) override;
  void broadcast(outgoing_packet p, const broadcast_options& opts) override;
  void broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                          std::shared_ptr<ack_collector> collector) override;
  std::vector<socket_id> sockets(const room_set& rooms) const override;
  std::vector<room> socket_rooms(const socket_id& id) const override;
  std::vector<room> all_rooms() const override;
  void fetch_sockets(const broadcast_options& opts,
                     std::function<void(std::vector<socket_details>)> done) override;
  void add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override;
  void del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override;
  void disconnect_sockets(const broadcast_options& opts, bool close) override;

 private:
  struct member {
    std::shared_ptr<local_socket> socket;  // cached so a broadcast needs no lookup per recipient
    std::unordered_set<room, detail::string_hash, std::equal_to<>> rooms;
  };
  // Rooms hold member pointers (the sids_ nodes are stable): matching a recipient hashes no string.
  using member_set = std::unordered_set<member*>;

  // Calls fn(member&) once for each matching socket; the caller holds mutex_.
  template <class F>
  void apply_locked(const broadcast_options& opts, F&& fn) const;
  std::vector<std::shared_ptr<local_socket>> recipients(const broadcast_options& opts) const;
  void del_locked(const room& r, member* m);

  mutable std::mutex mutex_;
  std::unordered_map<room, member_set, detail::string_hash, std::equal_to<>> rooms_;
  std::unordered_map<socket_id, member, detail::string_hash, std::equal_to<>> sids_;
};

}  // namespace sio
