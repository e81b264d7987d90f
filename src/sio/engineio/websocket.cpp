// The WebSocket transport of a session: the opening handshake (directly, or as an upgrade probe
// from polling), reading frames, writing the queue, closing. The protocol itself is
// transport/websocket_codec (pure); this file drives it over a non-blocking socket:
//   - reading waits for readability and reads into the loop's buffer, so an idle connection
//     holds no read buffer;
//   - writing gathers every queued packet (frame header, type digit, shared payload) into one
//     system call, and waits for writability only when the kernel's buffer is full.
#include <array>

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/field.hpp>

#include "sio/engineio/detail/errors.hpp"
#include "sio/engineio/detail/session_impl.hpp"

namespace sio::eio::detail {

namespace http = transport::http;
using error_code = boost::system::error_code;

namespace {

constexpr char type_digits[] = "0123456";

// Plain new/delete, for operations that stay pending for long.
template <class T>
struct exact_allocator {
  using value_type = T;
  exact_allocator() = default;
  template <class U>
  exact_allocator(const exact_allocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T))); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p); }
  friend bool operator==(const exact_allocator&, const exact_allocator&) noexcept { return true; }
};

// What the loop's sessions read into, one at a time: nothing is kept between reads.
std::span<char> loop_read_buffer() {
  thread_local std::array<char, 64 * 1024> buffer;
  return buffer;
}

// One compressor per thread and window size: each message is compressed alone
// (server_no_context_takeover), so connections can take turns.
ws::deflater& loop_deflater(const ws::deflate_params& params) {
  thread_local std::array<std::unique_ptr<ws::deflater>, 16> by_window_bits;
  auto& d = by_window_bits[static_cast<std::size_t>(params.server_max_window_bits) & 15];
  if (!d) d = std::make_unique<ws::deflater>(params);
  return *d;
}

// Messages smaller than this are not worth compressing (the reference's threshold).
constexpr std::size_t compression_threshold = 1024;

// Writes `bytes` now if the socket takes them, else in the background (marking the connection
// as writing); then calls done(error). A close requested meanwhile goes out instead of done.
void send_close(std::shared_ptr<ws_connection> c, std::uint16_t code);

template <class Done>
void write_all(const std::shared_ptr<ws_connection>& c, std::string bytes, Done done) {
  error_code ec;
  std::size_t n = c->socket.write_some(asio::buffer(bytes), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) n = 0, ec = {};
  if (ec || n == bytes.size()) return done(ec);
  c->writing = true;
  auto held = std::make_shared<std::string>(std::move(bytes));
  asio::async_write(c->socket, asio::buffer(held->data() + n, held->size() - n),
                    [c, held, done = std::move(done)](error_code ec, std::size_t) mutable {
                      c->writing = false;
                      if (!ec && c->close_after_write) return send_close(c, std::exchange(c->close_after_write, 0));
                      done(ec);
                    });
}

// Closes the TCP connection once the peer has had time to read what was sent last (the close
// frame): closing with unread input would send a reset, and the peer would lose that frame.
void linger_close(std::shared_ptr<ws_connection> c) {
  error_code ec;
  c->socket.shutdown(loop_socket::shutdown_send, ec);
  auto timer = std::make_shared<asio::steady_timer>(c->socket.get_executor(), std::chrono::seconds(2));
  timer->async_wait([c](error_code) {
    error_code ec;
    c->socket.close(ec);
  });
  // Discards what arrives (the peer's close frame, the rest of a refused message) until the
  // peer closes. Always from a fresh handler: the loop's read buffer may be in use right now.
  struct drain {
    std::shared_ptr<ws_connection> c;
    std::shared_ptr<asio::steady_timer> timer;
    void operator()(error_code ec) {
      auto buffer = loop_read_buffer();
      while (!ec) {
        std::size_t n = c->socket.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) {
          c->socket.async_wait(loop_socket::wait_read, std::move(*this));
          return;
        }
        if (n == 0) break;
      }
      timer->cancel();
    }
  };
  c->socket.async_wait(loop_socket::wait_read, drain{c, std::move(timer)});
}

// Sends a close frame, then lingers until the peer closes (or 2 s).
void send_close(std::shared_ptr<ws_connection> c, std::uint16_t code) {
  c->closing = true;
  write_all(c, ws::close_frame(code), [c](error_code ec) {
    if (!ec) return linger_close(c);
    c->socket.close(ec);
  });
}

ws::upgrade_request upgrade_fields(const transport::request& req) {
  return {.method = req.method_string(),
          .upgrade = req[http::field::upgrade],
          .connection = req[http::field::connection],
          .version = req[http::field::sec_websocket_version],
          .key = req[http::field::sec_websocket_key],
          .extensions = req[http::field::sec_websocket_extensions]};
}

// Answers the opening handshake with 101, then calls then(error); false (after answering 400
// and closing) when the request is not a valid one.
template <class Then>
bool switch_protocols(const std::shared_ptr<ws_connection>& c, const transport::request& req, const server_options& opts,
                      std::string_view extra_headers, Then then) {
  auto answer = ws::answer_handshake(upgrade_fields(req), opts.per_message_deflate, extra_headers);
  if (!answer.accepted) {
    std::string body = error_body(http_error::bad_request);
    std::string res = "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: " +
                      std::to_string(body.size()) + "\r\n\r\n" + body;
    c->closing = true;
    write_all(c, std::move(res), [c](error_code ec) {
      if (!ec) linger_close(c);
    });
    return false;
  }
  if (answer.deflate) {
    c->deflate = answer.deflate;
    c->reader.enable_deflate(*answer.deflate);
  }
  error_code ec;
  c->socket.non_blocking(true, ec);
  write_all(c, std::move(answer.response), std::move(then));
  return true;
}

std::string cookie_line(const cookie_options& ck, const std::string& sid) {
  std::string v = "Set-Cookie: " + ck.name + "=" + sid + "; Path=" + ck.path;
  if (ck.http_only) v += "; HttpOnly";
  if (!ck.same_site.empty()) v += "; SameSite=" + ck.same_site;
  return v + "\r\n";
}

}  // namespace

loop_socket adopt_socket(asio::io_context& ctx, tcp::socket socket) {
  error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  loop_socket out(ctx);
  auto fd = socket.release(ec);
  if (!ec) out.assign(protocol, fd, ec);
  return out;
}

void session_impl::on_upgrade_request(tcp::socket socket, transport::request req) {
  auto c = std::make_shared<ws_connection>(adopt_socket(ctx_, std::move(socket)), core_->opts.max_http_buffer_size);
  bool refuse = state_ != state::open || ws_ != nullptr || !core_->opts.allow_upgrades;
  if (refuse) {
    // Already upgraded or upgrading: accept, then close that second WebSocket at once
    // (a plain HTTP error would surface as an uncaught error in some clients).
    switch_protocols(c, req, core_->opts, {}, [c](error_code ec) {
      if (!ec) send_close(c, ws::close_code::normal);
    });
    return;
  }
  accept_websocket(std::move(c), req, true);
}

void session_impl::accept_websocket(std::shared_ptr<ws_connection> c, const transport::request& req, bool probe) {
  std::string cookie;
  if (!probe && core_->opts.cookie) cookie = cookie_line(*core_->opts.cookie, id_);
  c->is_probe = probe;
  c->generation = ++ws_generation_;
  auto gen = c->generation;
  ws_ = c;
  auto on_switched = [self = self(), gen, probe](error_code ec) {
    if (!self->ws_ || self->ws_->generation != gen) return;
    if (ec) return self->on_ws_error(gen, ec);
    if (probe) {
      self->aux_timer().expires_after(self->core_->opts.upgrade_timeout);
      self->aux_timer().async_wait([self, gen](error_code ec) {
        if (!ec && self->ws_ && self->ws_->generation == gen && self->ws_->is_probe) self->close_ws(std::move(self->ws_));
      });
    } else {
      self->enqueue({.type = packet_type::open,
                     .data = std::make_shared<const std::string>(handshake_data(*self->core_, self->id_, true))});
      self->on_opened();
      self->flush();
    }
    if (self->ws_ && self->ws_->generation == gen) self->do_ws_read(self->ws_);
  };
  if (!switch_protocols(c, req, core_->opts, cookie, std::move(on_switched))) {
    ws_.reset();
    if (!probe) finish_close(close_reason::transport_error, false);
  }
}

// ---- reading ----

void session_impl::do_ws_read(const std::shared_ptr<ws_connection>& c) {
  // An idle connection's one pending operation: allocated at its own size rather than from
  // Asio's per-thread cache, which would hand it whatever larger block was freed last.
  c->socket.async_wait(loop_socket::wait_read,
                       asio::bind_allocator(exact_allocator<void>{}, [self = self(), c](error_code ec) {
                         if (!self->ws_current(*c)) return;
                         if (ec) return self->on_ws_error(c->generation, ec);
                         self->on_ws_readable(c);
                       }));
}

void session_impl::on_ws_readable(const std::shared_ptr<ws_connection>& c) {
  auto buffer = loop_read_buffer();
  // A few reads per wake-up, then back to the loop so that one busy client cannot starve others.
  for (int round = 0; round < 4; ++round) {
    error_code ec;
    std::size_t n = c->socket.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) return on_ws_error(c->generation, ec);
    c->reader.feed(buffer.first(n));
    while (auto ev = c->reader.next())
      if (!on_ws_event(*c, *ev) || !ws_current(*c)) return;
    // A protocol error, invalid UTF-8 or a message over maxHttpBufferSize: the close frame says which.
    if (auto code = c->reader.error()) return end_ws(code, close_reason::transport_error);
    if (n < buffer.size()) break;
  }
  if (ws_current(*c) && state_ != state::closed) do_ws_read(c);
}

bool session_impl::on_ws_event(ws_connection& c, const ws::frame_event& ev) {
  using kind = ws::frame_event::kind;
  switch (ev.type) {
    case kind::ping:
      if (c.closing) return true;
      if (c.is_probe) {
        if (!c.writing) write_all(ws_, ws::pong_frame(ev.payload), [](error_code) {});
        return true;
      }
      // A client that pings without reading the pongs would grow the queue without bound.
      if (queued_bytes_ > core_->opts.max_send_queue_bytes) {
        finish_close(close_reason::transport_error, false);
        return false;
      }
      // Control frames may go between messages: queued like one, written in order.
      enqueue({.what = out_packet::form::frame, .data = std::make_shared<const std::string>(ws::pong_frame(ev.payload))});
      flush();
      return true;
    case kind::pong:
      return true;
    case kind::close:
      // The peer closes: answer with its code (or 1000), then it is a transport close.
      end_ws(ev.close_code == ws::close_code::no_status ? ws::close_code::normal : ev.close_code, close_reason::transport_close);
      return false;
    case kind::binary:
      if (c.is_probe) {
        close_ws(std::move(ws_));
        return false;
      }
      on_packet(packet_type::message, {}, true, std::string(ev.payload));
      break;
    case kind::text:
      if (c.is_probe) {
        on_probe_frame(ev.payload);
        break;
      }
      if (!ev.payload.empty() && ev.payload.front() == '4') {
        core_->upper.on_message(*this, ev.payload.substr(1));  // the common case, without a copy
      } else {
        auto p = decode_packet(ev.payload);
        if (!p) {
          finish_close(close_reason::parse_error, false);
          return false;
        }
        on_packet(p->type, p->data, false, {});
      }
      break;
  }
  return state_ != state::closed;
}

void session_impl::on_probe_frame(std::string_view text) {
  if (text == "2probe") {
    ws_->probed = true;
    auto c = ws_;
    std::array<unsigned char, ws::max_header_size> head{};
    auto len = ws::encode_header(ws::opcode::text, 6, false, head.data());
    std::string frame(reinterpret_cast<const char*>(head.data()), len);
    frame += "3probe";
    write_all(c, std::move(frame), [self = self(), c](error_code ec) {
      if (!self->ws_current(*c)) return;
      if (ec) return self->on_ws_error(c->generation, ec);
      if (!c->is_probe) self->flush();  // the upgrade completed while "3probe" was in flight
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
  if (aux_timer_) aux_timer_->cancel();
  ws_->is_probe = false;
  ws_->probed = false;
  if (pending_get_) {
    // A GET sent after the probe, overtaken by the upgrade packet: polling is over for this session.
    auto res = transport::make_response(*pending_get_request_, http::status::bad_request,
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

// ---- writing ----

void session_impl::do_ws_write() {
  auto& c = *ws_;
  if (c.writing || c.closing) return;
  // Frame headers and type digits of one round; payloads are referenced, never copied.
  constexpr std::size_t max_packets = 64;
  struct piece_heads {
    std::array<unsigned char, ws::max_header_size + 1> bytes;  // header, then the type digit
    std::size_t size;
  };
  std::array<piece_heads, max_packets> heads;
  std::array<asio::const_buffer, max_packets * 2> buffers;

  while (!queue_.empty()) {
    std::size_t count = std::min(queue_.size(), max_packets);
    std::size_t nbuf = 0;
    std::size_t total = 0;
    for (std::size_t i = 0; i < count; ++i) {
      out_packet& p = queue_[i];
      if (c.deflate && p.what == out_packet::form::packet && !(i == 0 && c.front_offset > 0)) {
        std::size_t size = (p.data ? p.data->size() : 0) + (p.binary ? 0 : 1);
        if (size >= compression_threshold) {
          std::array<std::string_view, 2> pieces{std::string_view(&type_digits[static_cast<int>(p.type)], p.binary ? 0 : 1),
                                                 p.data ? std::string_view(*p.data) : std::string_view{}};
          p.data = std::make_shared<const std::string>(loop_deflater(*c.deflate).compress(pieces));
          p.what = out_packet::form::compressed;
        }
      }
      bool compressed = p.what == out_packet::form::compressed;
      std::string_view data = p.data ? std::string_view(*p.data) : std::string_view{};
      bool digit = !p.binary && p.what == out_packet::form::packet;
      auto& h = heads[i];
      h.size = 0;
      if (p.what != out_packet::form::frame)
        h.size = ws::encode_header(p.binary ? ws::opcode::binary : ws::opcode::text, data.size() + (digit ? 1 : 0),
                                   compressed, h.bytes.data());
      if (digit) h.bytes[h.size++] = static_cast<unsigned char>(type_digits[static_cast<int>(p.type)]);
      asio::const_buffer head(h.bytes.data(), h.size);
      asio::const_buffer body(data.data(), data.size());
      if (i == 0 && c.front_offset > 0) {  // the rest of a packet the socket took in part
        std::size_t skip = c.front_offset;
        if (skip >= head.size()) {
          body += skip - head.size();
          head = {};
        } else {
          head += skip;
        }
      }
      if (head.size()) buffers[nbuf++] = head;
      if (body.size()) buffers[nbuf++] = body;
      total += head.size() + body.size();
    }
    error_code ec;
    std::size_t written = c.socket.write_some(std::span(buffers.data(), nbuf), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) return wait_ws_writable();
    if (ec) return on_ws_error(c.generation, ec);
    // Drop what went out; remember how far into the first remaining packet the socket got.
    std::size_t left = written + c.front_offset;
    c.front_offset = 0;
    while (!queue_.empty()) {
      out_packet& p = queue_.front();
      std::size_t size = p.data ? p.data->size() : 0;
      bool digit = !p.binary && p.what == out_packet::form::packet;
      std::size_t frame_size = size + (digit ? 1 : 0);
      if (p.what != out_packet::form::frame) frame_size += frame_size < 126 ? 2 : frame_size <= 0xffff ? 4 : 10;
      if (left < frame_size) {
        c.front_offset = left;
        break;
      }
      left -= frame_size;
      queued_bytes_ -= size;
      queue_.pop_front();
    }
    if (written < total) return wait_ws_writable();
  }
  if (state_ == state::closing) finish_close(closing_reason_, false);
}

void session_impl::wait_ws_writable() {
  ws_->writing = true;
  ws_->socket.async_wait(loop_socket::wait_write, [self = self(), c = ws_](error_code ec) {
    c->writing = false;
    if (!ec && c->close_after_write) return send_close(c, std::exchange(c->close_after_write, 0));
    if (!self->ws_current(*c)) return;
    if (ec) return self->on_ws_error(c->generation, ec);
    self->do_ws_write();
  });
}

// ---- closing ----

void session_impl::on_ws_error(std::uint64_t generation, error_code error) {
  if (!ws_ || ws_->generation != generation) return;
  auto c = std::move(ws_);
  error_code ec;
  c->socket.close(ec);
  if (c->is_probe) {  // a failed upgrade leaves the session on polling
    if (aux_timer_) aux_timer_->cancel();
    return;
  }
  bool peer_closed = error == asio::error::eof || error == asio::error::connection_reset;
  finish_close(peer_closed ? close_reason::transport_close : close_reason::transport_error, false);
}

void session_impl::end_ws(std::uint16_t close_code, close_reason why) {
  auto c = std::move(ws_);
  close_ws(c, close_code);
  if (c->is_probe) {  // a failed upgrade leaves the session on polling
    if (aux_timer_) aux_timer_->cancel();
    return;
  }
  finish_close(why, false);
}

void session_impl::close_ws(std::shared_ptr<ws_connection> c, std::uint16_t code) {
  if (!c || c->closing) return;
  c->closing = true;
  if (c->front_offset > 0 || !c->socket.is_open()) {  // mid-frame: no clean close is possible
    error_code ec;
    c->socket.close(ec);
    return;
  }
  if (c->writing) {  // after the write under way (the 101 response, "3probe", a wait to write)
    c->close_after_write = code;
    return;
  }
  send_close(std::move(c), code);
}

}  // namespace sio::eio::detail
