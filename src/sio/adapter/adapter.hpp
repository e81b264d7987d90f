#pragma once
// The adapter: rooms and broadcasting for one namespace (the reference's socket.io-adapter).
// The default, memory_adapter, serves one node; a cluster adapter forwards the same plain-data
// operations to other nodes. The adapter reaches the sockets of this node only through
// local_namespace / local_socket, which the server implements, so it never depends on the server.
//
//   auto a = std::make_unique<sio::memory_adapter>(nsp);   // nsp: a sio::local_namespace
//   a->add_all("sid1", {"room1"});
//   a->broadcast({.packet = p}, {.rooms = {"room1"}});
//
// Threading: every adapter operation is safe from any thread. Implementations must not hold
// their locks while calling into local_socket (sessions, user code).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/adapter/types.hpp"

namespace sio {

// Collects the acknowledgements of a broadcast_with_ack. Thread-safe: calls come from the
// recipients' threads (and from a cluster adapter's thread).
class ack_collector {
 public:
  virtual ~ack_collector() = default;
  // Each node that sent the packet reports how many of its clients it was sent to.
  virtual void add_client_count(std::size_t n) = 0;
  // One client's acknowledgement.
  virtual void on_response(payload response) = 0;
  // A client that will not answer: its ack timed out (flags.timeout) or it disconnected.
  virtual void on_failure(std::error_code why) = 0;
};

// A socket of this node, as the adapter sees it. Implemented by sio::socket.
class local_socket {
 public:
  virtual ~local_socket() = default;
  virtual const socket_id& id() const noexcept = 0;
  // False once the socket started disconnecting (thread-safe).
  virtual bool connected() const noexcept = 0;
  // Sends one encoded packet (its frames are never interleaved with another packet's).
  // Thread-safe.
  virtual eio::send_result deliver(const encoded_packet& p, const broadcast_flags& flags) = 0;
  // Registers `collector` for `ack_id` (failing it after flags.timeout, if set), then sends.
  // Thread-safe.
  virtual void deliver_with_ack(const encoded_packet& p, const broadcast_flags& flags, std::uint64_t ack_id,
                                const std::shared_ptr<ack_collector>& collector) = 0;
  // Disconnects the socket on its own thread. Thread-safe.
  virtual void disconnect(bool close) = 0;
  // Calls `done` with a snapshot of the socket (taken on its own thread, since `data` belongs
  // to it), or with nullopt if the socket is gone. Thread-safe; `done` may run on any thread.
  virtual void fetch_details(std::function<void(std::optional<socket_details>)> done) = 0;
};

// The namespace of this node an adapter serves. Implemented by the server.
class local_namespace {
 public:
  virtual ~local_namespace() = default;
  virtual const std::string& name() const noexcept = 0;
  // The connected socket with this id, or null. Thread-safe.
  virtual std::shared_ptr<local_socket> find_socket(std::string_view id) const = 0;
  // A fresh acknowledgement id (shared by the namespace's sockets). Thread-safe.
  virtual std::uint64_t next_ack_id() noexcept = 0;
  // A server_side_emit() from another node arrived.
  virtual void on_server_side_emit(boost::json::array args) = 0;
};

class adapter {
 public:
  explicit adapter(local_namespace& nsp) : nsp_(nsp) {}
  virtual ~adapter() = default;
  adapter(const adapter&) = delete;
  adapter& operator=(const adapter&) = delete;

  local_namespace& nsp() const noexcept { return nsp_; }

  virtual void init() {}
  virtual void close() {}
  // Nodes in the cluster (1 for a single node). Broadcasts with acks wait for this many reports.
  virtual std::size_t server_count() const { return 1; }

  // Rooms. add_all for a socket that is not connected (any more) is ignored.
  virtual void add_all(const socket_id& id, const std::vector<room>& rooms) = 0;
  virtual void del(const socket_id& id, const room& r) = 0;
  virtual void del_all(const socket_id& id) = 0;

  // Encodes the packet once and sends it to every matching socket.
  virtual void broadcast(outgoing_packet p, const broadcast_options& opts) = 0;
  // Same, with a fresh ack id; reports the number of recipients and every acknowledgement to
  // `collector`.
  virtual void broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                                  std::shared_ptr<ack_collector> collector) = 0;

  // The ids of the sockets in any of `rooms` (every socket when empty).
  virtual std::vector<socket_id> sockets(const room_set& rooms) const = 0;
  // The rooms of a socket (empty when unknown).
  virtual std::vector<room> socket_rooms(const socket_id& id) const = 0;
  // All the rooms that have at least one socket.
  virtual std::vector<room> all_rooms() const = 0;

  // `done` may run on any thread.
  virtual void fetch_sockets(const broadcast_options& opts,
                             std::function<void(std::vector<socket_details>)> done) = 0;
  virtual void add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) = 0;
  virtual void del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) = 0;
  virtual void disconnect_sockets(const broadcast_options& opts, bool close) = 0;

  // To the other nodes; a single-node adapter has nobody to tell.
  virtual void server_side_emit(boost::json::array args) {}

  // Connection state recovery; the memory adapter does not keep sessions.
  virtual void persist_session(session_to_persist s) {}
  virtual std::optional<restored_session> restore_session(std::string_view pid, std::string_view offset) {
    return std::nullopt;
  }

 protected:
  local_namespace& nsp_;
};

using adapter_factory = std::function<std::unique_ptr<adapter>(local_namespace&)>;

}  // namespace sio
