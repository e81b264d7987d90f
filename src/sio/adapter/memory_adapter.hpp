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
#include <vector>

#include "sio/adapter/adapter.hpp"
#include "sio/common/string_hash.hpp"

namespace sio {

class memory_adapter : public adapter {
 public:
  explicit memory_adapter(local_namespace& nsp) : adapter(nsp) {}

  void add_all(const socket_id& id, const std::vector<room>& rooms) override;
  void del(const socket_id& id, const room& r) override;
  void del_all(const socket_id& id) override;
  void broadcast(outgoing_packet p, const broadcast_options& opts) override;
  void broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                          std::shared_ptr<ack_collector> collector) override;
  std::vector<room> socket_rooms(const socket_id& id) const override;
  std::vector<socket_id> local_sockets(const room_set& rooms) const override;
  std::vector<room> local_rooms() const override;
  // This node only: the memory adapter is the whole cluster. A cluster adapter derived from it
  // adds the other nodes' sockets to local_fetch_sockets' and forwards the others.
  void fetch_sockets(const broadcast_options& opts, adapter_callback<std::vector<socket_details>> done) override;
  void add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override;
  void del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) override;
  void disconnect_sockets(const broadcast_options& opts, bool close) override;

 protected:
  // Sends to this node's matching sockets and reports their count (add_client_count), without
  // expect_nodes: a cluster adapter says how many nodes itself.
  void local_broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                                const std::shared_ptr<ack_collector>& collector);
  // The sockets of this node that `opts` selects, each snapshot taken on its own thread; `done`
  // runs once, on the thread of the last one (or here, when none matches).
  void local_fetch_sockets(const broadcast_options& opts, std::function<void(std::vector<socket_details>)> done);
  // Whether room `r` has a socket of this node (its own room included), without copying the
  // rooms: a cluster adapter skips messages for rooms it does not have.
  bool has_room(std::string_view r) const;

 private:
  struct member;
  // A room with explicit members. Rooms hold member pointers (the sids_ nodes are stable), so
  // matching a recipient hashes no string; a vector, so a broadcast walks contiguous memory.
  struct room_members {
    std::vector<member*> list;
  };
  using room_map = std::unordered_map<room, room_members, string_hash, std::equal_to<>>;
  using room_entry = room_map::value_type;  // stable address: unordered_map nodes never move
  struct membership {
    room_entry* room;
    std::size_t index;  // of the member in room->second.list
  };
  struct member {
    std::shared_ptr<local_socket> socket;  // cached so a broadcast needs no lookup per recipient
    std::vector<membership> rooms;         // explicit rooms, in join order
    // In the room named after its own id. Every socket joins it and few leave it, so it is a
    // flag rather than a rooms_ entry: an idle socket costs one sids_ node and no room.
    bool own_room = false;
  };

  // Calls fn(member&) once for each matching socket; the caller holds mutex_.
  template <class F>
  void apply_locked(const broadcast_options& opts, F&& fn) const;
  std::vector<std::shared_ptr<local_socket>> recipients(const broadcast_options& opts) const;
  // The members of room `r` (explicit members, then the socket whose own room it is); the
  // caller holds mutex_.
  template <class F>
  void for_each_in_room_locked(std::string_view r, F&& fn) const;
  void join_locked(member& m, const room& r);
  void leave_locked(member& m, const room& r);
  void unlink_locked(member& m, std::size_t membership_index);

  mutable std::mutex mutex_;
  room_map rooms_;
  // Keyed by a view of the member's own socket id (the member holds the socket).
  std::unordered_map<std::string_view, member, string_hash, std::equal_to<>> sids_;
};

}  // namespace sio
