#pragma once
// The Socket.IO server: namespaces over an Engine.IO server on an http_server.
//
//   sio::transport::io_pool pool;
//   sio::transport::http_server http(pool);
//   sio::server io(http, {.connect_timeout = 10s});          // serves /socket.io/
//   io.on_connection([](const std::shared_ptr<sio::socket>& s) {
//     s->on("hello", [](sio::event& ev) { ev.ack("world"); });
//   });
//   io.of(std::regex("^/room-\\d+$")).on_connection(...);      // dynamic namespaces
//   http.listen("0.0.0.0", 3000);
//   pool.run();
//
// Threading: of(), use(), on_connection() are setup calls but safe from any thread; emits,
// broadcast operators, fetch_sockets, sockets_join/leave, disconnect_sockets and close() are
// safe from any thread. Handlers run on the thread of the client's Engine.IO session.
#include <chrono>
#include <functional>
#include <memory>
#include <regex>
#include <string>
#include <string_view>

#include "sio/adapter/adapter.hpp"
#include "sio/engineio/options.hpp"
#include "sio/engineio/session.hpp"
#include "sio/socketio/broadcast.hpp"
#include "sio/socketio/errors.hpp"
#include "sio/socketio/event.hpp"
#include "sio/socketio/namespace.hpp"
#include "sio/socketio/socket.hpp"

namespace sio::transport { class http_server; }

namespace sio {

namespace detail { class server_core; }

struct server_options {
  std::string path = "/socket.io/";  // replaces engine.path
  eio::server_options engine;        // heartbeat, transports, CORS, buffer sizes
  // A client that joins no namespace within this time is closed (the reference's connectTimeout).
  std::chrono::milliseconds connect_timeout{45000};
  adapter_factory adapter;           // one adapter per namespace; null: memory_adapter
  parser::decode_limits limits;      // max attachments per packet, max JSON depth
  // Told of every exception the application's code throws into the library (see handler_error),
  // on the thread that called it; give it the application's logger. Null: one line on stderr.
  // It must not throw (what it throws is dropped).
  std::function<void(const handler_error&)> on_error;
};

class server {
 public:
  // Serves options.path of `http` (which must outlive the server).
  server(transport::http_server& http, server_options opts = {});
  // A server without an Engine.IO server of its own: sessions come in through engine_handler()
  // (tests over in-memory sessions, or a custom Engine.IO front end).
  explicit server(server_options opts = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  eio::handler& engine_handler() noexcept;
  const server_options& options() const noexcept;

  // The namespace with this name, created if needed.
  namespace_& of(std::string_view name);
  // Dynamic namespaces: a parent whose children are created on the first CONNECT to a name the
  // regex matches entirely / the predicate accepts.
  namespace_& of(const std::regex& re);
  namespace_& of(namespace_::matcher predicate);
  // The main namespace "/".
  namespace_& sockets();

  server& use(namespace_::middleware mw);
  server& on_connection(namespace_::connection_handler h);

  broadcast_operator to(std::string_view room) { return sockets().to(room); }
  broadcast_operator to(std::initializer_list<std::string_view> rooms) { return sockets().to(rooms); }
  broadcast_operator to(const std::vector<room>& rooms) { return sockets().to(rooms); }
  broadcast_operator in(std::string_view room) { return sockets().to(room); }
  broadcast_operator except(std::string_view room) { return sockets().except(room); }
  broadcast_operator except(std::initializer_list<std::string_view> rooms) { return sockets().except(rooms); }
  broadcast_operator compress(bool on) { return sockets().compress(on); }
  broadcast_operator volatile_() { return sockets().volatile_(); }
  broadcast_operator local() { return sockets().local(); }
  broadcast_operator timeout(std::chrono::milliseconds t) { return sockets().timeout(t); }
  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) {
    return sockets().emit(name, std::forward<A>(args)...);
  }
  template <event_definition Ev, class... A>
    requires payload_for<Ev, A...>
  std::error_code emit(A&&... args) {
    return sockets().emit<Ev>(std::forward<A>(args)...);
  }
  template <class... A>
  std::error_code emit_with_ack(std::string_view name, A&&... args_then_callback) {
    return sockets().emit_with_ack(name, std::forward<A>(args_then_callback)...);
  }
  template <class... A>
  std::error_code server_side_emit(std::string_view name, A&&... args) {
    return sockets().server_side_emit(name, std::forward<A>(args)...);
  }
  template <class... A>
  std::error_code server_side_emit_with_ack(std::string_view name, A&&... args_then_callback) {
    return sockets().server_side_emit_with_ack(name, std::forward<A>(args_then_callback)...);
  }
  void fetch_sockets(fetch_sockets_callback done) { sockets().fetch_sockets(std::move(done)); }
  void sockets_join(std::string_view room) { sockets().sockets_join(room); }
  void sockets_leave(std::string_view room) { sockets().sockets_leave(room); }
  void disconnect_sockets(bool close = false) { sockets().disconnect_sockets(close); }

  // Closes every connection ("server shutting down") and the adapters.
  void close();

 private:
  std::unique_ptr<detail::server_core> core_;
  std::shared_ptr<void> engine_;  // the eio::server, when this server owns one; destroyed first
};

}  // namespace sio
