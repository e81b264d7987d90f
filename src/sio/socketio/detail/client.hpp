#pragma once
// The Socket.IO client: the state of one Engine.IO session (its sockets per namespace, the
// partial binary packet, the connect timer). Private to the server. Lives on the session's
// thread, except send(), which any thread may call.
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "sio/engineio/session.hpp"
#include "sio/socketio/errors.hpp"
#include "sio/socketio/socket.hpp"

namespace sio::detail {

class server_core;

class client : public std::enable_shared_from_this<client> {
 public:
  client(server_core& srv, const std::shared_ptr<eio::session>& s) : server_(srv), session_(s), raw_(s.get()) {}

  void start();
  void on_message(std::string_view text);
  void on_binary(std::string data);
  void on_close(eio::close_reason why);

  // Sends one packet's frames without letting another thread's packet in between (a binary
  // packet is several Engine.IO messages). Any thread.
  delivery send(const std::vector<frame>& frames, bool volatile_);
  // Encodes and sends a control packet (CONNECT, CONNECT_ERROR, DISCONNECT). Any thread.
  eio::send_result send_packet(const parser::packet& p);

  // Session thread.
  void add_socket(const std::string& nsp, std::shared_ptr<socket> s);
  void remove_socket(const socket& s);
  void disconnect_all();  // socket.disconnect(true)
  void close(disconnect_reason why, eio::close_reason engine_reason);
  // The server is being destroyed with this client still open: drop the client<->socket and
  // socket<->handler references without running user code.
  void abandon();

  // The session, on its own thread (where it is alive by definition).
  eio::session& session() noexcept { return *raw_; }
  bool open() const noexcept {
    auto s = session_.lock();
    return !closed_ && s && s->is_open();
  }
  // Any thread. Null when the session is gone.
  std::shared_ptr<eio::session> locked_session() const noexcept { return session_.lock(); }
  // Any thread. False when the session is gone.
  bool on_thread() const noexcept {
    auto s = session_.lock();
    return s && s->on_session_thread();
  }
  // Any thread. Returns false (and drops fn) when the session is gone.
  bool post(std::function<void()> fn) {
    auto s = session_.lock();
    if (!s) return false;
    s->post(std::move(fn));
    return true;
  }
  // Any thread: closes the session if it still exists.
  void close_session(eio::close_reason why) {
    if (auto s = session_.lock()) s->close(why);
  }
  server_core& server() noexcept { return server_; }
  // The connection's lock: keeps a packet's frames together, and guards its sockets' ack tables.
  // Held only around those: never while calling the session's upper layer or user code (an
  // eio::session::send never calls back; a send that overflows the queue closes it later).
  std::mutex& mutex() noexcept { return send_mutex_; }

 private:
  void dispatch(parser::packet& p, std::vector<binary>& attachments);
  void dispatch_unguarded(parser::packet& p, std::vector<binary>& attachments);
  void connect(const std::string& nsp, boost::json::value auth);
  void close_sockets(disconnect_reason why);
  std::shared_ptr<socket> find_socket(std::string_view nsp) const;

  // A binary packet waiting for its attachments (allocated only while one is in progress).
  struct pending_binary {
    parser::packet packet;
    std::vector<binary> attachments;
  };

  server_core& server_;
  // Weak: the session owns the client (its context); sockets kept by the application must not
  // keep a closed session alive, nor form a cycle with it.
  std::weak_ptr<eio::session> session_;
  eio::session* raw_;
  std::mutex send_mutex_;
  std::shared_ptr<eio::timer> connect_timer_;
  // One socket per namespace joined; usually one, held inline.
  boost::container::small_vector<std::shared_ptr<socket>, 1> nsps_;
  std::unique_ptr<pending_binary> pending_;
  bool closed_ = false;
};

}  // namespace sio::detail
