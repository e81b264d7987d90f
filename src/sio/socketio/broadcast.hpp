#pragma once
// Broadcast operators: who receives an emit (rooms, exceptions) and how (volatile, local,
// compress, ack timeout). Immutable values: each call returns a new operator.
//
//   io.to("room1").to("room2").except("banned").emit("news", "hello");
//   socket->broadcast().volatile_().emit("typing", true);          // everyone but socket
//   io.timeout(5s).emit_with_ack("ping", [](std::error_code ec, std::vector<boost::json::array> r) {});
//
// Threading: every operation is safe from any thread. Callbacks (acks, fetch_sockets) run on the
// thread of whichever socket completes them (or the caller's thread when nothing is pending).
// An operator refers to its namespace, which lives as long as the server.
#include <chrono>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/socketio/detail/args.hpp"
#include "sio/socketio/errors.hpp"
#include "sio/socketio/typed_events.hpp"

namespace sio {

class namespace_;
class remote_socket;

// The sockets fetch_sockets() found, or why it could not tell (a node that did not answer).
using fetch_sockets_callback = std::function<void(sio::result<std::vector<remote_socket>>)>;

class broadcast_operator {
 public:
  explicit broadcast_operator(namespace_& nsp, broadcast_options opts = {}) : nsp_(&nsp), opts_(std::move(opts)) {}

  broadcast_operator to(std::string_view room) const;
  broadcast_operator to(std::initializer_list<std::string_view> rooms) const;
  broadcast_operator to(const std::vector<room>& rooms) const;
  template <class R>
  broadcast_operator in(R&& rooms) const { return to(std::forward<R>(rooms)); }
  broadcast_operator in(std::initializer_list<std::string_view> rooms) const { return to(rooms); }
  broadcast_operator except(std::string_view room) const;
  broadcast_operator except(std::initializer_list<std::string_view> rooms) const;
  broadcast_operator except(const std::vector<room>& rooms) const;
  broadcast_operator compress(bool on) const;
  broadcast_operator volatile_() const;
  broadcast_operator local() const;
  broadcast_operator timeout(std::chrono::milliseconds t) const;

  // Returns error::reserved_event for a reserved name (nothing is sent).
  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) const {
    return emit_packet(detail::make_event(name, std::forward<A>(args)...));
  }
  // Typed: io.to("lobby").emit<chat>(msg) (see typed_events.hpp).
  template <event_definition Ev, class... A>
    requires payload_for<Ev, A...>
  std::error_code emit(A&&... args) const {
    return emit_packet(detail::make_typed_event<Ev>(std::forward<A>(args)...));
  }
  // args may hold placeholders for p.attachments (e.g. re-emitting an incoming event's raw()).
  std::error_code emit_payload(std::string_view name, payload p) const;

  // The last argument is the callback, void(std::error_code, std::vector<boost::json::array>):
  // called once every recipient answered (ec = {}), or, when some timed out or disconnected,
  // with error::timed_out and the responses that did arrive.
  template <class... A>
  std::error_code emit_with_ack(std::string_view name, A&&... args_then_callback) const {
    return detail::split_last(
        [&](auto&& cb, auto&&... args) {
          return emit_packet_with_ack(detail::make_event(name, std::forward<decltype(args)>(args)...),
                                      detail::adapt_multi_ack(std::forward<decltype(cb)>(cb)));
        },
        std::forward<A>(args_then_callback)...);
  }

  // The matching sockets, on this node and (with a cluster adapter) the others. `done` runs once,
  // on any thread.
  void fetch_sockets(fetch_sockets_callback done) const;
  // Ids of the matching sockets (rooms and except applied), on every node.
  void all_sockets(adapter_callback<std::vector<socket_id>> done) const;
  // Ids of the matching sockets of this node, at once.
  std::vector<socket_id> local_sockets() const;
  void sockets_join(std::string_view room) const;
  void sockets_join(const std::vector<room>& rooms) const;
  void sockets_leave(std::string_view room) const;
  void sockets_leave(const std::vector<room>& rooms) const;
  void disconnect_sockets(bool close = false) const;

  const broadcast_options& options() const noexcept { return opts_; }
  namespace_& nsp() const noexcept { return *nsp_; }

 private:
  std::error_code emit_packet(outgoing_packet p) const;
  std::error_code emit_packet_with_ack(outgoing_packet p, detail::multi_ack_fn cb) const;

  namespace_* nsp_;
  broadcast_options opts_;
};

// A socket found by fetch_sockets(): a snapshot (id, handshake, rooms, data) plus operations that
// reach the socket wherever it is. `local` is set when it lives on this node.
class remote_socket {
 public:
  remote_socket(namespace_& nsp, socket_details d, std::shared_ptr<class socket> local = {});

  socket_id id;
  std::shared_ptr<const sio::handshake> handshake;
  std::vector<room> rooms;
  boost::json::value data;
  std::shared_ptr<class socket> local;

  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) const {
    return op().emit(name, std::forward<A>(args)...);
  }
  broadcast_operator timeout(std::chrono::milliseconds t) const { return op().timeout(t); }
  void join(std::string_view room) const { op().sockets_join(room); }
  void leave(std::string_view room) const { op().sockets_leave(room); }
  void disconnect(bool close = false) const { op().disconnect_sockets(close); }

 private:
  broadcast_operator op() const;
  namespace_* nsp_;
};

}  // namespace sio
