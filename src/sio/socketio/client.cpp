#include "sio/socketio/detail/client.hpp"

#include <algorithm>

#include "sio/socketio/detail/guard.hpp"
#include "sio/socketio/detail/server_core.hpp"
#include "sio/socketio/namespace.hpp"

namespace sio::detail {

namespace {
disconnect_reason map_reason(eio::close_reason r) {
  switch (r) {
    case eio::close_reason::transport_close: return disconnect_reason::transport_close;
    case eio::close_reason::transport_error: return disconnect_reason::transport_error;
    case eio::close_reason::ping_timeout: return disconnect_reason::ping_timeout;
    case eio::close_reason::parse_error: return disconnect_reason::parse_error;
    case eio::close_reason::forced_close: return disconnect_reason::forced_close;
    case eio::close_reason::server_shutting_down: return disconnect_reason::server_shutting_down;
  }
  return disconnect_reason::transport_error;
}
}  // namespace

void client::start() {
  // A client that joins no namespace holds a connection for nothing: close it after connect_timeout.
  connect_timer_ = raw_->start_timer(server_.options().connect_timeout, [w = weak_from_this()] {
    auto c = w.lock();
    if (c && c->nsps_.empty()) c->close(disconnect_reason::forced_server_close, eio::close_reason::forced_close);
  });
}

void client::on_message(std::string_view text) {
  if (closed_) return;
  if (pending_) {
    // The reference decoder: "got plaintext data when reconstructing a packet".
    close(disconnect_reason::parse_error, eio::close_reason::parse_error);
    return;
  }
  auto r = parser::decode(text, server_.options().limits);
  if (!r) {
    close(disconnect_reason::parse_error, eio::close_reason::parse_error);
    return;
  }
  parser::packet& p = *r;
  if (p.attachments > 0) {
    // Engine.IO bounds each frame's size and the decoder the count, so the buffering is bounded.
    pending_ = std::make_unique<pending_binary>();
    pending_->packet = std::move(p);
    pending_->attachments.reserve(pending_->packet.attachments);
    return;
  }
  std::vector<binary> none;
  dispatch(p, none);
}

void client::on_binary(std::string data) {
  if (closed_) return;
  if (!pending_) {
    close(disconnect_reason::parse_error, eio::close_reason::parse_error);
    return;
  }
  pending_->attachments.emplace_back(std::move(data));
  if (pending_->attachments.size() < pending_->packet.attachments) return;
  auto done = std::move(pending_);
  dispatch(done->packet, done->attachments);
}

void client::dispatch(parser::packet& p, std::vector<binary>& attachments) {
  // Each call into the application is guarded where it is made; this is the last line, for
  // what escapes the library's own code: the packet is dropped, everyone else carries on.
  guarded(server_, {.where = "packet handling", .nsp = p.nsp}, [&] { dispatch_unguarded(p, attachments); });
}

std::shared_ptr<socket> client::find_socket(std::string_view nsp) const {
  for (const auto& s : nsps_)
    if (s->nsp().name() == nsp) return s;
  return nullptr;
}

void client::dispatch_unguarded(parser::packet& p, std::vector<binary>& attachments) {
  auto s = find_socket(p.nsp);  // a copy: the handlers may remove it from nsps_
  if (!s && p.type == parser::packet_type::connect) {
    connect(p.nsp, std::move(p.data));
  } else if (s && p.type != parser::packet_type::connect && p.type != parser::packet_type::connect_error) {
    s->on_packet(p, attachments);
  } else {
    // A packet for a namespace the client has not joined, or a second CONNECT: the reference
    // closes the connection.
    close(disconnect_reason::forced_server_close, eio::close_reason::forced_close);
  }
}

void client::connect(const std::string& name, boost::json::value auth) {
  boost::json::object auth_obj;
  if (auth.is_object()) auth_obj = std::move(auth.as_object());  // the decoder allows object or nothing
  namespace_* nsp = server_.find_or_create(name, auth_obj);
  if (!nsp) {
    parser::packet err;
    err.type = parser::packet_type::connect_error;
    err.nsp = name;
    err.data = boost::json::object{{"message", "Invalid namespace"}};
    send_packet(err);
    return;
  }
  nsp->add(shared_from_this(), std::move(auth_obj));
}

void client::add_socket(const std::string& nsp, std::shared_ptr<socket> s) {
  auto it = std::find_if(nsps_.begin(), nsps_.end(), [&](const auto& e) { return e->nsp().name() == nsp; });
  if (it != nsps_.end()) *it = std::move(s);
  else nsps_.push_back(std::move(s));
  if (connect_timer_) {
    connect_timer_->cancel();
    connect_timer_.reset();
  }
}

void client::remove_socket(const socket& s) {
  auto it = std::find_if(nsps_.begin(), nsps_.end(), [&](const auto& e) { return e.get() == &s; });
  if (it != nsps_.end()) nsps_.erase(it);
}

namespace {
delivery to_delivery(eio::send_result r) {
  switch (r) {
    case eio::send_result::queued: return delivery::queued;
    case eio::send_result::dropped: return delivery::dropped;
    case eio::send_result::closed: return delivery::closed;
  }
  return delivery::closed;
}
}  // namespace

delivery client::send(const std::vector<frame>& frames, bool volatile_) {
  auto s = session_.lock();
  if (!s) return delivery::closed;
  std::lock_guard lock(send_mutex_);
  auto r = s->send({frames.front().data, frames.front().binary}, {.volatile_ = volatile_});
  if (r != eio::send_result::queued) return to_delivery(r);
  // Once the text frame is queued the attachments must follow, volatile or not.
  for (std::size_t i = 1; i < frames.size(); ++i) r = s->send({frames[i].data, frames[i].binary});
  return to_delivery(r);
}

eio::send_result client::send_packet(const parser::packet& p) {
  auto s = session_.lock();
  if (!s) return eio::send_result::closed;
  eio::message m{std::make_shared<const std::string>(parser::encode(p)), false};
  std::lock_guard lock(send_mutex_);
  return s->send(std::move(m));
}

void client::close_sockets(disconnect_reason why) {
  std::vector<std::shared_ptr<socket>> sockets(nsps_.begin(), nsps_.end());
  nsps_.clear();
  for (auto& s : sockets) s->on_close(why);
}

void client::disconnect_all() {
  std::vector<std::shared_ptr<socket>> sockets(nsps_.begin(), nsps_.end());
  for (auto& s : sockets) s->disconnect(false);
  close(disconnect_reason::forced_server_close, eio::close_reason::forced_close);
}

void client::close(disconnect_reason why, eio::close_reason engine_reason) {
  if (closed_) return;
  auto self = shared_from_this();
  closed_ = true;
  pending_.reset();
  if (connect_timer_) connect_timer_->cancel();
  close_sockets(why);
  close_session(engine_reason);
}

void client::abandon() {
  auto self = shared_from_this();
  closed_ = true;
  if (connect_timer_) connect_timer_->cancel();
  std::vector<std::shared_ptr<socket>> sockets(nsps_.begin(), nsps_.end());
  nsps_.clear();
  for (auto& s : sockets) {
    s->keep_handshake();  // if the session is still there to build it from
    s->connected_.store(false);
    s->cleanup();
  }
}

void client::on_close(eio::close_reason why) {
  auto self = shared_from_this();
  if (!closed_) {
    closed_ = true;
    pending_.reset();
    if (connect_timer_) connect_timer_->cancel();
    close_sockets(map_reason(why));
  }
  server_.remove_client(this);
}

}  // namespace sio::detail
