// The WebSocket transport of a session: accepting (directly, or as an upgrade probe from
// polling), reading frames, writing the queue in order, closing.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "sio/engineio/detail/errors.hpp"
#include "sio/engineio/detail/session_impl.hpp"

namespace sio::eio::detail {

namespace {
constexpr char type_digits[] = "0123456";

void configure(ws_connection& c, const server_options& opts, const std::string& cookie) {
  c.ws.read_message_max(opts.max_http_buffer_size);
  c.ws.auto_fragment(false);
  websocket::permessage_deflate pmd;
  pmd.server_enable = opts.per_message_deflate;
  c.ws.set_option(pmd);
  websocket::stream_base::timeout t{};
  t.handshake_timeout = std::chrono::seconds(10);
  t.idle_timeout = websocket::stream_base::none();  // Engine.IO's own heartbeat detects dead peers
  t.keep_alive_pings = false;
  c.ws.set_option(t);
  if (!cookie.empty())
    c.ws.set_option(websocket::stream_base::decorator(
        [cookie](websocket::response_type& res) { res.set(beast::http::field::set_cookie, cookie); }));
}
}  // namespace

void session_impl::on_upgrade_request(tcp::socket socket, transport::request req) {
  auto c = std::make_unique<ws_connection>(std::move(socket));
  bool refuse = state_ != state::open || ws_ != nullptr || !core_->opts.allow_upgrades;
  if (refuse) {
    // Already upgraded or upgrading: accept, then close that second WebSocket at once
    // (a plain HTTP error would surface as an uncaught error in some clients).
    configure(*c, core_->opts, {});
    auto held = std::shared_ptr<ws_connection>(std::move(c));
    held->ws.async_accept(req, [held](beast::error_code ec) {
      if (!ec) held->ws.async_close(websocket::close_code::normal, [held](beast::error_code) {});
    });
    return;
  }
  accept_websocket(std::move(c), std::move(req), true);
}

void session_impl::accept_websocket(std::shared_ptr<ws_connection> c, transport::request req, bool probe) {
  std::string cookie;
  if (!probe && core_->opts.cookie) {
    const auto& ck = *core_->opts.cookie;
    cookie = ck.name + "=" + id_ + "; Path=" + ck.path + (ck.http_only ? "; HttpOnly" : "") +
             (ck.same_site.empty() ? "" : "; SameSite=" + ck.same_site);
  }
  configure(*c, core_->opts, cookie);
  c->is_probe = probe;
  c->generation = ++ws_generation_;
  auto gen = c->generation;
  ws_ = std::move(c);
  ws_->ws.async_accept(req, [self = self(), conn = ws_, gen, probe](beast::error_code ec) {
    if (!self->ws_ || self->ws_->generation != gen) return;
    if (ec) return self->on_ws_error(gen, ec);
    if (probe) {
      self->aux_timer_.expires_after(self->core_->opts.upgrade_timeout);
      self->aux_timer_.async_wait([self, gen](beast::error_code ec) {
        if (!ec && self->ws_ && self->ws_->generation == gen && self->ws_->is_probe) self->close_ws(std::move(self->ws_));
      });
    } else {
      self->enqueue({packet_type::open, std::make_shared<const std::string>(handshake_data(*self->core_, self->id_, true))});
      self->on_opened();
      self->flush();
    }
    if (self->ws_ && self->ws_->generation == gen) self->do_ws_read(self->ws_);
  });
}

void session_impl::do_ws_read(const std::shared_ptr<ws_connection>& c) {
  // The handler holds the connection: its buffer must outlive the read even if the session
  // drops the connection meanwhile.
  c->ws.async_read(c->read_buffer, [self = self(), c, gen = c->generation](beast::error_code ec, std::size_t) {
    if (!self->ws_ || self->ws_->generation != gen) return;
    if (ec) return self->on_ws_error(gen, ec);
    self->on_ws_frame(*self->ws_, self->ws_->ws.got_text());
  });
}

void session_impl::on_ws_frame(ws_connection& c, bool text) {
  auto gen = c.generation;
  auto& buf = c.read_buffer;
  // The frame is read in place: the buffer is contiguous and outlives the handler call
  // (a closing connection is kept alive by its close operation).
  std::string_view frame(static_cast<const char*>(buf.data().data()), buf.size());
  if (c.is_probe) {
    if (!text) {
      buf.consume(buf.size());
      return close_ws(std::move(ws_));
    }
    on_probe_frame(frame);
  } else if (!text) {
    std::string data(frame);
    buf.consume(buf.size());
    on_packet(packet_type::message, {}, true, std::move(data));
  } else if (!frame.empty() && frame.front() == '4') {
    core_->upper.on_message(*this, frame.substr(1));  // the common case, without a copy
  } else {
    auto p = decode_packet(frame);
    if (!p) {
      buf.consume(buf.size());
      return finish_close(close_reason::parse_error, false);
    }
    on_packet(p->type, p->data, false, {});
  }
  if (ws_ && ws_->generation == gen && state_ != state::closed) {
    ws_->read_buffer.consume(ws_->read_buffer.size());
    // Don't keep a large buffer around for an idle connection.
    if (ws_->read_buffer.capacity() > 64 * 1024) ws_->read_buffer.shrink_to_fit();
    do_ws_read(ws_);
  }
}

void session_impl::on_probe_frame(std::string_view text) {
  if (text == "2probe") {
    ws_->probed = true;
    auto held = std::make_shared<const std::string>("3probe");
    ws_->writing = true;
    ws_->ws.text(true);
    ws_->ws.async_write(asio::buffer(*held), [self = self(), conn = ws_, gen = ws_->generation, held](beast::error_code ec, std::size_t) {
      if (!self->ws_ || self->ws_->generation != gen) return;
      self->ws_->writing = false;
      if (ec) return self->on_ws_error(gen, ec);
      if (!self->ws_->is_probe) self->flush();  // the upgrade completed while "3probe" was in flight
    });
    // Answer the pending GET now, so that the client can pause polling and finish the upgrade.
    if (pending_get_) answer_pending_get(packet_type::noop);
  } else if (text == "5") {
    finish_upgrade();
  } else {
    close_ws(std::move(ws_));
  }
}

void session_impl::finish_upgrade() {
  aux_timer_.cancel();
  ws_->is_probe = false;
  ws_->probed = false;
  if (pending_get_) {
    // A GET sent after the probe, overtaken by the upgrade packet: polling is over for this session.
    auto res = transport::make_response(*pending_get_request_, beast::http::status::bad_request,
                                        error_body(http_error::bad_request), "application/json");
    transport::apply_cors(core_->opts.cors, *pending_get_request_, res);
    auto conn = std::move(pending_get_);
    pending_get_request_.reset();
    conn->respond(std::move(res));
  }
  if (state_ == state::closing) {
    if (queue_.empty() && !ws_->writing) finish_close(closing_reason_, false);
    else do_ws_write();
    return;
  }
  flush();
}

void session_impl::do_ws_write() {
  auto& c = *ws_;
  if (c.writing || c.closing) return;
  if (queue_.empty()) {
    if (state_ == state::closing) finish_close(closing_reason_, false);
    return;
  }
  out_packet p = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= p.data ? p.data->size() : 0;
  c.writing = true;
  c.ws.text(!p.binary);
  auto on_written = [self = self(), conn = ws_, gen = c.generation, data = p.data](beast::error_code ec, std::size_t) {
    if (!self->ws_ || self->ws_->generation != gen) return;
    self->ws_->writing = false;
    if (ec) return self->on_ws_error(gen, ec);
    self->do_ws_write();
  };
  std::string_view data = p.data ? std::string_view(*p.data) : std::string_view{};
  if (p.binary) {
    c.ws.async_write(asio::buffer(data.data(), data.size()), std::move(on_written));
  } else {
    std::array<asio::const_buffer, 2> buffers{asio::buffer(&type_digits[static_cast<int>(p.type)], 1),
                                              asio::buffer(data.data(), data.size())};
    c.ws.async_write(buffers, std::move(on_written));
  }
}

namespace {
// Closes the TCP connection once the peer has had time to read what was sent last (the close
// frame): closing with unread input would send a reset, and the peer would lose that frame.
void linger_close(std::shared_ptr<ws_connection> c) {
  auto& sock = c->ws.next_layer();
  beast::error_code ec;
  sock.shutdown(tcp::socket::shutdown_send, ec);
  auto timer = std::make_shared<asio::steady_timer>(sock.get_executor(), std::chrono::seconds(2));
  timer->async_wait([c](beast::error_code) {
    beast::error_code ec;
    c->ws.next_layer().close(ec);
  });
  struct drain {
    std::shared_ptr<ws_connection> c;
    std::shared_ptr<asio::steady_timer> timer;
    std::shared_ptr<std::array<char, 4096>> scratch = std::make_shared<std::array<char, 4096>>();
    void operator()(beast::error_code ec = {}, std::size_t = 0) {
      if (ec) {
        timer->cancel();
        return;
      }
      c->ws.next_layer().async_read_some(asio::buffer(*scratch), std::move(*this));
    }
  };
  drain{std::move(c), std::move(timer)}();
}
}  // namespace

void session_impl::on_ws_error(std::uint64_t generation, beast::error_code error) {
  if (!ws_ || ws_->generation != generation) return;
  auto c = std::move(ws_);
  bool too_big = error == websocket::error::message_too_big;
  if (too_big)
    linger_close(c);
  else {
    beast::error_code ec;
    c->ws.next_layer().close(ec);
  }
  if (c->is_probe) {  // a failed upgrade leaves the session on polling
    aux_timer_.cancel();
    return;
  }
  bool peer_closed = error == websocket::error::closed || error == asio::error::eof ||
                     error == asio::error::connection_reset;
  finish_close(peer_closed ? close_reason::transport_close : close_reason::transport_error, false);
}

void session_impl::close_ws(std::shared_ptr<ws_connection> c) {
  if (!c) return;
  c->closing = true;
  auto held = std::move(c);
  if (!held->ws.is_open()) {
    beast::error_code ec;
    held->ws.next_layer().close(ec);
    return;
  }
  held->ws.async_close(websocket::close_code::normal, [held](beast::error_code) {
    beast::error_code ec;
    held->ws.next_layer().close(ec);
  });
}

}  // namespace sio::eio::detail
