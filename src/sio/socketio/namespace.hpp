#pragma once
// A Socket.IO namespace: middlewares, connection handlers, the sockets connected to it, its
// adapter (rooms) and the broadcast operators.
//
//   auto& admin = io.of("/admin");
//   admin.use([](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
//     if (s->handshake().auth.contains("token")) next();
//     else next(sio::connect_error{"not authorized", {{"code", 401}}});
//   });
//   admin.on_connection([](const std::shared_ptr<sio::socket>& s) { s->emit("hello"); });
//   admin.to("ops").emit("alert", "disk full");
//
// A namespace made by io.of(regex) or io.of(predicate) is a parent: its middlewares and
// connection handlers apply to each child namespace created when a client first connects to a
// matching name, and its broadcasts go to every child.
//
// Threading: use() / on_connection() are meant for setup but are safe from any thread; the
// broadcast operators and find() are safe from any thread. Middlewares and connection handlers
// run on the connecting client's thread.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sio/adapter/adapter.hpp"
#include "sio/common/string_hash.hpp"
#include "sio/socketio/broadcast.hpp"
#include "sio/socketio/event.hpp"

namespace sio {

class socket;
namespace detail {
class client;
class server_core;
}  // namespace detail

class namespace_ final : private local_namespace {
 public:
  using middleware = std::function<void(const std::shared_ptr<socket>&, next_fn)>;
  using connection_handler = std::function<void(const std::shared_ptr<socket>&)>;
  using matcher = std::function<bool(std::string_view name, const boost::json::object& auth)>;
  // A server_side_emit from another node: args.args[0] is the event's name. `reply` is empty
  // unless the sender asked for acknowledgements; then call it once, with this node's answer.
  using server_side_handler = std::function<void(const payload& args, const server_side_reply& reply)>;

  struct passkey {
   private:
    friend class detail::server_core;
    passkey() = default;
  };
  namespace_(passkey, detail::server_core& srv, std::string name, namespace_* parent, matcher m);
  ~namespace_() override;

  const std::string& name() const noexcept override { return name_; }
  bool is_parent() const noexcept { return static_cast<bool>(matcher_); }

  namespace_& use(middleware mw);
  namespace_& on_connection(connection_handler h);
  // server_side_emit() from another node (a cluster adapter delivers them).
  namespace_& on_server_side_emit(server_side_handler h);

  broadcast_operator to(std::string_view room) { return all().to(room); }
  broadcast_operator to(std::initializer_list<std::string_view> rooms) { return all().to(rooms); }
  broadcast_operator to(const std::vector<room>& rooms) { return all().to(rooms); }
  broadcast_operator in(std::string_view room) { return all().to(room); }
  broadcast_operator in(std::initializer_list<std::string_view> rooms) { return all().to(rooms); }
  broadcast_operator except(std::string_view room) { return all().except(room); }
  broadcast_operator except(std::initializer_list<std::string_view> rooms) { return all().except(rooms); }
  broadcast_operator compress(bool on) { return all().compress(on); }
  broadcast_operator volatile_() { return all().volatile_(); }
  broadcast_operator local() { return all().local(); }
  broadcast_operator timeout(std::chrono::milliseconds t) { return all().timeout(t); }
  broadcast_operator all() { return broadcast_operator(*this); }

  template <class... A>
  std::error_code emit(std::string_view name, A&&... args) {
    return all().emit(name, std::forward<A>(args)...);
  }
  template <event_definition Ev, class... A>
    requires payload_for<Ev, A...>
  std::error_code emit(A&&... args) {
    return all().emit<Ev>(std::forward<A>(args)...);
  }
  template <class... A>
  std::error_code emit_with_ack(std::string_view name, A&&... args_then_callback) {
    return all().emit_with_ack(name, std::forward<A>(args_then_callback)...);
  }
  void fetch_sockets(fetch_sockets_callback done) { all().fetch_sockets(std::move(done)); }
  void sockets_join(std::string_view room) { all().sockets_join(room); }
  void sockets_leave(std::string_view room) { all().sockets_leave(room); }
  void disconnect_sockets(bool close = false) { all().disconnect_sockets(close); }
  // To the handlers of this namespace on the other nodes (never this node's).
  template <class... A>
  std::error_code server_side_emit(std::string_view name, A&&... args) {
    return server_side_emit_packet(detail::make_event(name, std::forward<A>(args)...), nullptr);
  }
  // Same, and `done(error, replies)` once every other node answered (one reply each), or with
  // error::timed_out and the replies that came, after the adapter's request timeout.
  template <class... A>
  std::error_code server_side_emit_with_ack(std::string_view name, A&&... args_then_callback) {
    return detail::split_last(
        [&](auto&& done, auto&&... args) {
          return server_side_emit_packet(detail::make_event(name, std::forward<decltype(args)>(args)...),
                                         server_side_ack(std::forward<decltype(done)>(done)));
        },
        std::forward<A>(args_then_callback)...);
  }

  // The connected socket of this node with this id, or null.
  std::shared_ptr<socket> find(std::string_view id) const;
  // Connected sockets of this node.
  std::size_t size() const;
  // Null for a parent namespace (it has no sockets of its own).
  sio::adapter* adapter() const noexcept { return adapter_.get(); }
  // A parent's children (a snapshot).
  std::vector<namespace_*> children() const;

  // Library internals (reporting an application's exception needs the server's options).
  const detail::server_core& core() const noexcept { return server_; }

 private:
  // local_namespace: what the adapter calls.
  std::shared_ptr<local_socket> find_socket(std::string_view id) const override;
  std::uint64_t next_ack_id() noexcept override { return ids_.fetch_add(1, std::memory_order_relaxed); }
  void on_server_side_emit(payload args, server_side_reply reply) override;

  friend class detail::client;
  friend class detail::server_core;
  friend class socket;
  friend class broadcast_operator;

  // Session thread: CONNECT from `c` with `auth`.
  // Once published in the server's map, outside its lock: the adapter's init().
  void start();
  void add(const std::shared_ptr<detail::client>& c, boost::json::object auth);
  void run_middlewares(std::shared_ptr<socket> s, std::size_t i, std::shared_ptr<std::vector<middleware>> fns);
  void do_connect(const std::shared_ptr<socket>& s);
  void remove(const socket& s);
  void add_child(namespace_* child);
  std::vector<middleware> all_middlewares() const;
  std::vector<connection_handler> all_connection_handlers() const;
  std::error_code server_side_emit_packet(outgoing_packet p, server_side_ack ack);

  detail::server_core& server_;
  std::string name_;
  namespace_* parent_;
  matcher matcher_;
  std::unique_ptr<sio::adapter> adapter_;
  std::atomic<std::uint64_t> ids_{0};

  mutable std::mutex mutex_;
  std::vector<middleware> fns_;
  std::vector<connection_handler> on_connection_;
  std::vector<server_side_handler> on_server_side_;
  // Keyed by a view of the socket's own id (the socket outlives its entry).
  std::unordered_map<std::string_view, std::shared_ptr<socket>, string_hash, std::equal_to<>> sockets_;
  std::vector<namespace_*> children_;
};

}  // namespace sio
