#pragma once
// A Socket.IO socket: one client connected to one namespace.
//
//   io.on_connection([](const std::shared_ptr<sio::socket>& s) {
//     s->join("lobby");
//     s->on("chat", [s](sio::event& ev) {
//       s->to("lobby").emit("chat", ev.args().at(0));   // everyone in the lobby but s
//       ev.ack("ok");
//     });
//     s->timeout(5s).emit_with_ack("ping", [](std::error_code ec, boost::json::array res) {});
//     s->on_disconnect([](sio::disconnect_reason r) {});
//   });
//
// Threading: a socket lives on its Engine.IO session's thread; its handlers (on, on_any, use,
// on_disconnect, ...) run there, and registering handlers, `data` and handshake-time state are
// for that thread only. emit / emit_with_ack / join / leave / rooms / the broadcast operators /
// connected() are safe from any thread; disconnect() from another thread is posted to the
// socket's thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "sio/adapter/adapter.hpp"
#include "sio/engineio/session.hpp"
#include "sio/socketio/broadcast.hpp"
#include "sio/socketio/errors.hpp"
#include "sio/socketio/event.hpp"
#include "sio/socketio/typed_events.hpp"

namespace sio {

class namespace_;
namespace detail {
class client;
class server_core;
}  // namespace detail

// emit() with per-emit flags: socket->timeout(5s).emit_with_ack(...), socket->volatile_().emit(...).
class socket_emitter {
 public:
  socket_emitter(socket& s, broadcast_flags f) : s_(&s), flags_(f) {}

  socket_emitter timeout(std::chrono::milliseconds t) const { auto c = *this; c.flags_.timeout = t; return c; }
  socket_emitter volatile_() const { auto c = *this; c.flags_.volatile_ = true; return c; }
  socket_emitter compress(bool on) const { auto c = *this; c.flags_.compress = on; return c; }

  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) const {
    return emit_packet(detail::make_event(name, std::forward<A>(args)...));
  }
  template <event_definition Ev, class... A>
    requires payload_for<Ev, A...>
  std::error_code emit(A&&... args) const {
    return emit_packet(detail::make_typed_event<Ev>(std::forward<A>(args)...));
  }
  std::error_code emit_payload(std::string_view name, payload p) const;
  // The last argument is the callback, void(std::error_code, boost::json::array) (or
  // void(std::error_code, sio::payload) to get binary attachments). Called exactly once: with
  // the client's answer, error::timed_out after timeout(), or error::disconnected.
  template <class... A>
  std::error_code emit_with_ack(std::string_view name, A&&... args_then_callback) const {
    return detail::split_last(
        [&](auto&& cb, auto&&... args) {
          return emit_packet_with_ack(detail::make_event(name, std::forward<decltype(args)>(args)...),
                                      detail::adapt_single_ack(std::forward<decltype(cb)>(cb)));
        },
        std::forward<A>(args_then_callback)...);
  }

  // Broadcasts from this socket (to everyone in the rooms but the socket), keeping the flags.
  broadcast_operator to(std::string_view room) const;
  broadcast_operator to(std::initializer_list<std::string_view> rooms) const;
  broadcast_operator except(std::string_view room) const;
  broadcast_operator broadcast() const;
  broadcast_operator local() const;

 private:
  std::error_code emit_packet(outgoing_packet p) const;
  std::error_code emit_packet_with_ack(outgoing_packet p, detail::single_ack_fn cb) const;
  socket* s_;
  broadcast_flags flags_;
};

class socket final : private local_socket, public std::enable_shared_from_this<socket> {
 public:
  using event_handler = std::function<void(event&)>;
  using middleware = std::function<void(event&, next_fn)>;
  using reason_handler = std::function<void(disconnect_reason)>;
  using error_handler = std::function<void(const middleware_error&)>;
  using outgoing_handler = std::function<void(std::string_view name, const boost::json::array& args)>;

  struct passkey {
   private:
    friend class namespace_;
    passkey() = default;
  };
  socket(passkey, namespace_& nsp, std::shared_ptr<detail::client> c, socket_id id, boost::json::object auth);
  ~socket() override;

  // Its own random id (never the Engine.IO session id, which is a secret of the connection).
  const socket_id& id() const noexcept override { return id_; }
  namespace_& nsp() const noexcept { return *nsp_; }
  const sio::handshake& handshake() const noexcept { return *shared_handshake(); }
  bool connected() const noexcept override { return connected_.load(std::memory_order_acquire); }
  // For the application; socket's thread only (fetch_sockets() copies it there).
  boost::json::value data;

  // Handlers (socket's thread). Several handlers per name run in registration order.
  socket& on(std::string name, event_handler h);
  socket& off(std::string_view name);
  // Typed: on<chat>([](chat_message m) {...}) or on<chat>([](chat_message m, sio::ack_fn ack) {...}).
  // A payload that does not convert is rejected (see typed_events.hpp), never a crash.
  template <event_definition Ev, class F>
  socket& on(F f) {
    return on(std::string(Ev::name), [this, f = std::move(f)](event& ev) mutable {
      detail::invoke_typed<Ev>(f, ev, [&] {
        report_error({"invalid payload", boost::json::object{{"event", Ev::name}}});
        ev.ack(boost::json::object{{"error", "invalid payload"}});
      });
    });
  }
  socket& on_any(event_handler h);                 // every incoming event, before on()
  socket& on_any_outgoing(outgoing_handler h);     // every event sent to this socket
  socket& use(middleware mw);                      // runs before the handlers of each event
  socket& on_error(error_handler h);               // a socket middleware refused an event
  socket& on_disconnecting(reason_handler h);      // still in its rooms
  socket& on_disconnect(reason_handler h);

  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) {
    return socket_emitter(*this, {}).emit(name, std::forward<A>(args)...);
  }
  template <event_definition Ev, class... A>
    requires payload_for<Ev, A...>
  std::error_code emit(A&&... args) {
    return socket_emitter(*this, {}).emit<Ev>(std::forward<A>(args)...);
  }
  std::error_code emit_payload(std::string_view name, payload p) {
    return socket_emitter(*this, {}).emit_payload(name, std::move(p));
  }
  template <class... A>
  std::error_code emit_with_ack(std::string_view name, A&&... args_then_callback) {
    return socket_emitter(*this, {}).emit_with_ack(name, std::forward<A>(args_then_callback)...);
  }
  socket_emitter timeout(std::chrono::milliseconds t) { return socket_emitter(*this, {}).timeout(t); }
  socket_emitter volatile_() { return socket_emitter(*this, {}).volatile_(); }
  socket_emitter compress(bool on) { return socket_emitter(*this, {}).compress(on); }

  broadcast_operator to(std::string_view room) const;
  broadcast_operator to(std::initializer_list<std::string_view> rooms) const;
  broadcast_operator to(const std::vector<room>& rooms) const;
  broadcast_operator in(std::string_view room) const { return to(room); }
  broadcast_operator except(std::string_view room) const;
  broadcast_operator except(std::initializer_list<std::string_view> rooms) const;
  broadcast_operator broadcast() const;  // every socket of the namespace but this one
  broadcast_operator local() const;

  void join(std::string_view room);
  void join(const std::vector<room>& rooms);
  void leave(std::string_view room);
  std::vector<room> rooms() const;

  // Sends DISCONNECT and leaves the namespace ("server namespace disconnect"); with close, closes
  // the whole connection (every namespace of the client).
  void disconnect(bool close = false) override;

 private:
  // local_socket: what the adapter calls.
  delivery deliver(const encoded_packet& p, const broadcast_flags& flags) override;
  void deliver_with_ack(const encoded_packet& p, const broadcast_flags& flags, std::uint64_t ack_id,
                        const std::shared_ptr<ack_collector>& collector) override;
  void fetch_details(std::function<void(std::optional<socket_details>)> done) override;

  friend class socket_emitter;
  friend class ack_fn;
  friend class namespace_;
  friend class detail::client;

  struct pending_ack {
    std::shared_ptr<ack_collector> target;
    std::shared_ptr<eio::timer> timer;
  };
  using ack_map = std::unordered_map<std::uint64_t, pending_ack>;
  // The event handlers, in registration order: one exactly sized, reference-counted table per
  // socket rather than a map of lists (a socket registers a handful, once). Copy-on-write:
  // dispatch iterates a snapshot. Defined in socket.cpp; socket's thread only.
  struct named_handler {
    std::string name;
    event_handler fn;
  };
  class handler_table;
  class table_ref;
  // The handlers most sockets never register, allocated on first use.
  struct extra_handlers;

  // Session thread.
  void on_connect();
  void on_packet(parser::packet& p, std::vector<binary>& attachments);
  void on_close(disconnect_reason why);
  void on_event(parser::packet& p, std::vector<binary>& attachments);
  void on_ack(parser::packet& p, std::vector<binary>& attachments);
  void dispatch(event& ev);
  void run_middlewares(std::shared_ptr<event> ev, std::size_t i,
                       std::shared_ptr<const std::vector<middleware>> fns);
  void report_error(const middleware_error& err);
  // Calls the application's f() (a handler, a middleware), reporting what it throws; false when
  // it threw. Any thread.
  template <class F>
  bool call_app(std::string_view where, std::string_view event_name, F&& f) const noexcept;
  void cleanup();
  extra_handlers& extras();
  template <class Keep>
  void rebuild_handlers(Keep keep, named_handler* extra);
  void drop_handlers() noexcept;

  // The handshake, built from the Engine.IO session's request on first use (or before the
  // session can go away): an idle socket does not hold a copy of every header. Any thread.
  const std::shared_ptr<const sio::handshake>& shared_handshake() const noexcept;
  void keep_handshake() const noexcept { (void)shared_handshake(); }

  // Any thread.
  delivery send_encoded(const encoded_packet& p, const broadcast_flags& flags);
  std::error_code emit_packet(outgoing_packet p, const broadcast_flags& flags);
  std::error_code emit_packet_with_ack(outgoing_packet p, const broadcast_flags& flags,
                                       std::shared_ptr<ack_collector> collector);
  void register_ack(std::uint64_t id, const broadcast_flags& flags, const std::shared_ptr<ack_collector>& c);
  void arm_ack_timer(std::uint64_t id, std::chrono::milliseconds t);
  void ack_timed_out(std::uint64_t id);
  void send_ack(std::uint64_t id, payload p);
  void notify_outgoing(const outgoing_packet& p);
  void fail_pending_acks();

  namespace_* nsp_;
  std::shared_ptr<detail::client> client_;
  socket_id id_;
  std::atomic<bool> connected_{false};
  std::atomic<bool> has_outgoing_{false};

  mutable std::once_flag handshake_once_;
  mutable std::shared_ptr<const sio::handshake> handshake_;
  mutable boost::json::object auth_;  // the CONNECT payload, until the handshake is built
  std::int64_t issued_;               // ms since the epoch

  handler_table* handlers_ = nullptr;  // one reference; null when there is none
  std::unique_ptr<extra_handlers> extras_;

  // Acks are registered from broadcasting threads: guarded by the client's lock (the one that
  // keeps a packet's frames together), allocated by the first emit_with_ack, freed when empty.
  std::unique_ptr<ack_map> acks_;
};

}  // namespace sio
