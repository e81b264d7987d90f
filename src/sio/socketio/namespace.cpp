#include "sio/socketio/namespace.hpp"

#include "sio/common/random_id.hpp"
#include "sio/socketio/detail/client.hpp"
#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/detail/server_core.hpp"
#include "sio/socketio/socket.hpp"

namespace sio {

namespace_::namespace_(passkey, detail::server_core& srv, std::string name, namespace_* parent, matcher m)
    : server_(srv), name_(std::move(name)), parent_(parent), matcher_(std::move(m)) {
  if (!matcher_) adapter_ = srv.make_adapter(*this);  // a parent has no sockets of its own
}

void namespace_::start() {
  if (adapter_) detail::guarded(server_, {.where = "adapter init", .nsp = name_}, [&] { adapter_->init(); });
}

namespace_::~namespace_() = default;

namespace_& namespace_::use(middleware mw) {
  std::lock_guard lock(mutex_);
  fns_.push_back(std::move(mw));
  return *this;
}

namespace_& namespace_::on_connection(connection_handler h) {
  std::lock_guard lock(mutex_);
  on_connection_.push_back(std::move(h));
  return *this;
}

namespace_& namespace_::on_server_side_emit(server_side_handler h) {
  std::lock_guard lock(mutex_);
  on_server_side_.push_back(std::move(h));
  return *this;
}

void namespace_::on_server_side_emit(payload args, server_side_reply reply) {
  std::vector<server_side_handler> handlers;
  {
    std::lock_guard lock(mutex_);
    handlers = on_server_side_;
  }
  // Every handler gets the same reply; the first answer is the node's (as the reference's
  // listeners share one callback).
  server_side_reply once;
  if (reply)
    once = [reply = std::move(reply), sent = std::make_shared<std::atomic<bool>>(false)](payload p) {
      if (!sent->exchange(true)) reply(std::move(p));
    };
  for (auto& h : handlers)
    detail::guarded(server_, {.where = "server-side emit handler", .nsp = name_}, [&] { h(args, once); });
}

std::error_code namespace_::server_side_emit_packet(outgoing_packet p, server_side_ack ack) {
  auto& arr = p.packet.data.as_array();
  if (parser::is_reserved_event(arr.at(0).as_string())) return error::reserved_event;
  if (ack) {
    // Called on the adapter's thread: guarded like every call into the application.
    ack = [this, ack = std::move(ack)](std::error_code ec, std::vector<payload> replies) {
      detail::guarded(server_, {.where = "server-side emit ack callback", .nsp = name_},
                      [&] { ack(ec, std::move(replies)); });
    };
  }
  if (adapter_) adapter_->server_side_emit(payload{std::move(arr), std::move(p.attachments)}, std::move(ack));
  else if (ack) ack({}, {});  // a parent namespace: no node of its own to reach
  return {};
}

std::shared_ptr<socket> namespace_::find(std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = sockets_.find(id);
  return it == sockets_.end() ? nullptr : it->second;
}

std::shared_ptr<local_socket> namespace_::find_socket(std::string_view id) const {
  auto s = find(id);
  if (!s) return nullptr;
  local_socket* adapter_view = s.get();  // a private base of socket, reachable here (a friend)
  return std::shared_ptr<local_socket>(std::move(s), adapter_view);
}

std::size_t namespace_::size() const {
  std::lock_guard lock(mutex_);
  return sockets_.size();
}

std::vector<namespace_*> namespace_::children() const {
  std::lock_guard lock(mutex_);
  return children_;
}

void namespace_::add_child(namespace_* child) {
  std::lock_guard lock(mutex_);
  children_.push_back(child);
}

std::vector<namespace_::middleware> namespace_::all_middlewares() const {
  std::vector<middleware> out;
  if (parent_) out = parent_->all_middlewares();  // the parent's apply first, as the reference copies them
  std::lock_guard lock(mutex_);
  out.insert(out.end(), fns_.begin(), fns_.end());
  return out;
}

std::vector<namespace_::connection_handler> namespace_::all_connection_handlers() const {
  std::vector<connection_handler> out;
  if (parent_) out = parent_->all_connection_handlers();
  std::lock_guard lock(mutex_);
  out.insert(out.end(), on_connection_.begin(), on_connection_.end());
  return out;
}

void namespace_::add(const std::shared_ptr<detail::client>& c, boost::json::object auth) {
  auto s = std::make_shared<socket>(socket::passkey{}, *this, c, sio::random_id(), std::move(auth));
  auto fns = std::make_shared<std::vector<middleware>>(all_middlewares());
  if (fns->empty()) return do_connect(s);
  // Middlewares usually read the handshake, and may still hold the socket after a refusal or
  // after the connection closed (when no disconnection builds it): built now, from the session.
  s->keep_handshake();
  run_middlewares(std::move(s), 0, std::move(fns));
}

void namespace_::run_middlewares(std::shared_ptr<socket> s, std::size_t i,
                                 std::shared_ptr<std::vector<middleware>> fns) {
  auto& fn = (*fns)[i];
  next_fn next([this, s, i, fns, called = std::make_shared<std::atomic<bool>>(false)](
                   std::optional<middleware_error> err) mutable {
    if (called->exchange(true)) return;
    auto go = [this, s, i, fns, err = std::move(err)]() mutable {
      auto& c = *s->client_;
      if (!c.open()) return;  // closed while the middleware ran: the socket never existed
      if (err) {
        parser::packet p;
        p.type = parser::packet_type::connect_error;
        p.nsp = name_;
        boost::json::object o{{"message", err->message}};
        if (!err->data.is_null()) o["data"] = std::move(err->data);
        p.data = std::move(o);
        c.send_packet(p);
        return;
      }
      if (i + 1 < fns->size()) return run_middlewares(std::move(s), i + 1, std::move(fns));
      do_connect(s);
    };
    // Middlewares may finish on another thread (async auth); the socket's life goes on at home.
    if (s->client_->on_thread()) go();
    else s->client_->post(std::move(go));
  });
  // A middleware that throws refused the connection (unless it called next first): the client
  // gets a CONNECT_ERROR rather than silence until its connect timeout.
  if (!detail::guarded(server_, {.where = "connection middleware", .nsp = name_, .socket_id = s->id()},
                       [&] { fn(s, next); }))
    next(middleware_error{"server error", {}});
}

void namespace_::do_connect(const std::shared_ptr<socket>& s) {
  if (!s->client_->open()) return;
  {
    std::lock_guard lock(mutex_);
    sockets_.emplace(s->id(), s);
  }
  s->client_->add_socket(name_, s);
  // Internal connect first (rooms, CONNECT packet), so the user's handlers see a connected socket.
  s->on_connect();
  for (auto& h : all_connection_handlers()) {
    if (!s->connected()) break;
    detail::guarded(server_, {.where = "connection handler", .nsp = name_, .socket_id = s->id()}, [&] { h(s); });
  }
}

void namespace_::remove(const socket& s) {
  std::shared_ptr<socket> keep;  // released after the lock
  std::lock_guard lock(mutex_);
  if (auto it = sockets_.find(s.id()); it != sockets_.end()) {
    keep = std::move(it->second);
    sockets_.erase(it);
  }
}

}  // namespace sio
