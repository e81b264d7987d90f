#pragma once
// The adapter: rooms and broadcasting for one namespace (the reference's socket.io-adapter).
// The default, memory_adapter, serves one node; a cluster adapter (Redis) forwards the same
// plain-data operations to the other nodes and answers theirs. The adapter reaches the sockets of
// this node only through local_namespace / local_socket, which the server implements, so it
// depends on the Socket.IO types (types.hpp) and never on the server, its sockets or Engine.IO.
//
//   auto a = std::make_unique<sio::memory_adapter>(nsp);   // nsp: a sio::local_namespace
//   a->add_all("sid1", {"room1"});
//   a->broadcast({.packet = p}, {.rooms = {"room1"}});
//   a->fetch_sockets({.rooms = {"room1"}}, [](sio::result<std::vector<sio::socket_details>> r) {});
//
// Two kinds of operation:
//  - this node's state (rooms, membership, local_*): synchronous;
//  - the cluster's (sockets, all_rooms, fetch_sockets, server_count, server_side_emit with
//    acknowledgements, restore_session): asynchronous; they complete exactly once, with a value
//    or an error (a node that did not answer in time, the broker being unreachable), and never
//    hang.
// Threading: every operation is safe from any thread and must not block (a cluster adapter
// talks to its broker from its own loop). Completions may run on any thread. Implementations
// never hold their locks while calling into local_socket / local_namespace (sessions, user code).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/adapter/types.hpp"

namespace sio {

// Collects the acknowledgements of a broadcast_with_ack (or of one socket's emit_with_ack).
// Thread-safe: calls come from the recipients' threads and from a cluster adapter's thread.
// Complete once every node that was sent the packet reported its client count and every one of
// those clients answered or failed; or when the adapter gives up waiting (expire).
class ack_collector {
 public:
  virtual ~ack_collector() = default;
  // From the adapter, once per broadcast_with_ack: how many nodes will report a client count
  // (this one included).
  virtual void expect_nodes(std::size_t n) = 0;
  // Each node that sent the packet reports how many of its clients it was sent to.
  virtual void add_client_count(std::size_t n) = 0;
  // One client's acknowledgement.
  virtual void on_response(payload response) = 0;
  // A client that will not answer: its ack timed out (flags.timeout) or it disconnected.
  virtual void on_failure(std::error_code why) = 0;
  // From a cluster adapter whose nodes did not all report in time (flags.timeout, or its own
  // request timeout): complete now, with error::timed_out and the responses so far.
  virtual void expire() = 0;
};

// A socket of this node, as the adapter sees it. Implemented by the server, privately: these are
// not calls for the application.
class local_socket {
 public:
  virtual ~local_socket() = default;
  virtual const socket_id& id() const noexcept = 0;
  // False once the socket started disconnecting (thread-safe).
  virtual bool connected() const noexcept = 0;
  // Sends one encoded packet (its frames are never interleaved with another packet's).
  // Thread-safe.
  virtual delivery deliver(const encoded_packet& p, const broadcast_flags& flags) = 0;
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

// Answers a server_side_emit that asked for acknowledgements: called once by the handler, with
// the reply's arguments.
using server_side_reply = std::function<void(payload reply)>;
// The acknowledgements of a server_side_emit: one reply per other node (each node's handlers
// answer once), or an error (the adapter's: a node that did not answer within its request
// timeout) with the replies that came in time.
using server_side_ack = std::function<void(std::error_code, std::vector<payload> replies)>;

// The namespace of this node an adapter serves. Implemented by the server, privately.
class local_namespace {
 public:
  virtual ~local_namespace() = default;
  virtual const std::string& name() const noexcept = 0;
  // The connected socket with this id, or null. Thread-safe.
  virtual std::shared_ptr<local_socket> find_socket(std::string_view id) const = 0;
  // A fresh acknowledgement id (shared by the namespace's sockets). Thread-safe.
  virtual std::uint64_t next_ack_id() noexcept = 0;
  // A server_side_emit() from another node arrived: runs this node's handlers. `reply` is null
  // when the sender wants no acknowledgement; otherwise the handlers answer through it, once.
  virtual void on_server_side_emit(payload args, server_side_reply reply) = 0;
};

class adapter {
 public:
  explicit adapter(local_namespace& nsp) : nsp_(nsp) {}
  virtual ~adapter() = default;
  adapter(const adapter&) = delete;
  adapter& operator=(const adapter&) = delete;

  local_namespace& nsp() const noexcept { return nsp_; }

  // Called once the namespace exists, outside any lock of the server: a cluster adapter
  // subscribes here (asynchronously).
  virtual void init() {}
  // The server is closing: unsubscribe, fail what is pending.
  virtual void close() {}

  // ---- this node's rooms ----
  // add_all for a socket that is not connected (any more) is ignored.
  virtual void add_all(const socket_id& id, const std::vector<room>& rooms) = 0;
  virtual void del(const socket_id& id, const room& r) = 0;
  virtual void del_all(const socket_id& id) = 0;
  // The rooms of a socket of this node (empty when unknown).
  virtual std::vector<room> socket_rooms(const socket_id& id) const = 0;
  // The ids of this node's sockets in any of `rooms` (all of them when empty).
  virtual std::vector<socket_id> local_sockets(const room_set& rooms) const = 0;
  // The rooms of this node that have at least one socket.
  virtual std::vector<room> local_rooms() const = 0;

  // ---- broadcasting (to this node's matching sockets, and the other nodes' unless local) ----
  // Encodes the packet once and sends it to every matching socket.
  virtual void broadcast(outgoing_packet p, const broadcast_options& opts) = 0;
  // Same, with a fresh ack id. Tells `collector` how many nodes will report (expect_nodes),
  // then each node's number of recipients and every acknowledgement; a cluster adapter expires
  // it when a node does not report in time, so that it never waits forever.
  virtual void broadcast_with_ack(outgoing_packet p, const broadcast_options& opts,
                                  std::shared_ptr<ack_collector> collector) = 0;

  // ---- the cluster ----
  // Nodes in the cluster, this one included (1 for a single node).
  virtual void server_count(adapter_callback<std::size_t> done) { done(std::size_t{1}); }
  // The ids of the sockets, on every node, in any of `rooms` (every socket when empty).
  virtual void sockets(const room_set& rooms, adapter_callback<std::vector<socket_id>> done) {
    done(local_sockets(rooms));
  }
  // All the rooms, on every node, that have at least one socket.
  virtual void all_rooms(adapter_callback<std::vector<room>> done) { done(local_rooms()); }
  // The sockets, on every node, that `opts` selects.
  virtual void fetch_sockets(const broadcast_options& opts, adapter_callback<std::vector<socket_details>> done) = 0;
  // Make the sockets that `opts` selects, on every node, join / leave `rooms`, or disconnect.
  virtual void add_sockets(const broadcast_options& opts, const std::vector<room>& rooms) = 0;
  virtual void del_sockets(const broadcast_options& opts, const std::vector<room>& rooms) = 0;
  virtual void disconnect_sockets(const broadcast_options& opts, bool close) = 0;
  // To the other nodes' handlers of this namespace (never this node's). With `ack`, waits for
  // one reply per other node; a single node has nobody to ask and answers at once, empty.
  virtual void server_side_emit(payload args, server_side_ack ack) {
    if (ack) ack({}, {});
  }

  // ---- connection state recovery ----
  // Keeps a disconnected socket's session for a while (the adapter decides where).
  virtual void persist_session(session_to_persist s) {}
  // The session `pid` with the packets broadcast since `offset`, or nullopt when it is unknown,
  // expired or the offset is too old. The memory adapter keeps no sessions.
  virtual void restore_session(std::string pid, std::string offset,
                               adapter_callback<std::optional<restored_session>> done) {
    done(std::optional<restored_session>());
  }

 protected:
  local_namespace& nsp_;
};

using adapter_factory = std::function<std::unique_ptr<adapter>(local_namespace&)>;

}  // namespace sio
