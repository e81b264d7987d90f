#include "client.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <future>

#include <boost/asio/post.hpp>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

namespace bench {

using tcp = asio::ip::tcp;

void append_frame_header(std::string& out, std::size_t n) {
  out.push_back(static_cast<char>(0x81));  // FIN, text
  if (n < 126) {
    out.push_back(static_cast<char>(0x80 | n));
  } else if (n < 65536) {
    out.push_back(static_cast<char>(0x80 | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(0x80 | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * i)) & 0xff));
  }
  out.append(4, '\0');  // the zero masking key: the payload goes as is
}

void append_frame(std::string& out, std::string_view payload) {
  append_frame_header(out, payload.size());
  out.append(payload);
}

std::int64_t find_number(std::string_view text, std::string_view key) noexcept {
  auto at = text.find(key);
  if (at == std::string_view::npos) return -1;
  std::int64_t v = 0;
  bool any = false;
  for (std::size_t i = at + key.size(); i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    v = v * 10 + (text[i] - '0');
    any = true;
  }
  return any ? v : -1;
}

// ---- session ---------------------------------------------------------------------------

session::session(worker& w, std::uint32_t index, session_listener* l)
    : worker_(&w), listener_(l), socket_(w.context()), index_(index) {}

session::~session() {
  if (socket_.is_open()) {
    boost::system::error_code ec;
    socket_.set_option(asio::socket_base::linger(true, 0), ec);  // RST: no TIME_WAIT to eat ports
    socket_.close(ec);
  }
}

void session::start() {
  state_ = state::connecting;
  started_ns_ = now_ns();
  boost::system::error_code ec;
  socket_.open(tcp::v4(), ec);
  if (!ec) {
    int one = 1;
    // Pick the source port at connect() time, per destination: one source address then
    // serves as many connections as the ephemeral range holds, to each server port.
    ::setsockopt(socket_.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    int n = std::max(1, worker_->where().source_addresses);
    auto src = asio::ip::address_v4(0x7f000001u + index_ % static_cast<std::uint32_t>(n));
    socket_.bind(tcp::endpoint(src, 0), ec);
  }
  if (!ec) socket_.non_blocking(true, ec);
  if (!ec) socket_.set_option(tcp::no_delay(true), ec);
  if (ec) {
    // Failing here (EMFILE...) would recurse into the next start(): report from the loop.
    asio::post(worker_->context(), [this, msg = ec.message()] { fail("socket: " + msg); });
    return;
  }
  socket_.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), worker_->where().port),
                        [this](const boost::system::error_code& ec) {
                          if (state_ == state::closed) return;
                          if (ec) return fail("connect: " + ec.message());
                          state_ = state::upgrading;
                          const auto& req = worker_->upgrade_request();
                          write(req.data(), req.size());
                          if (state_ != state::closed) wait_read();
                        });
}

void session::send_text(std::string_view text) {
  // Small frames are built on the stack; the kernel copies them.
  char stack[512];
  if (text.size() + 14 <= sizeof stack) {
    std::size_t h = 0;
    stack[h++] = static_cast<char>(0x81);
    if (text.size() < 126) {
      stack[h++] = static_cast<char>(0x80 | text.size());
    } else {
      stack[h++] = static_cast<char>(0x80 | 126);
      stack[h++] = static_cast<char>(text.size() >> 8);
      stack[h++] = static_cast<char>(text.size() & 0xff);
    }
    std::memset(stack + h, 0, 4);
    h += 4;
    std::memcpy(stack + h, text.data(), text.size());
    write(stack, h + text.size());
    return;
  }
  std::string frame;
  append_frame(frame, text);
  write(frame.data(), frame.size());
}

void session::send_frames(std::string_view frames) { write(frames.data(), frames.size()); }

void session::close() {
  if (state_ == state::closed) return;
  state_ = state::closed;
  boost::system::error_code ec;
  socket_.set_option(asio::socket_base::linger(true, 0), ec);
  socket_.close(ec);
}

void session::fail(std::string_view why) {
  if (state_ == state::closed) return;
  bool handshaking = state_ != state::ready;
  close();
  if (handshaking) worker_->on_session_done(*this, false);
  if (listener_) listener_->on_failed(*this, why);
}

void session::write(const char* data, std::size_t n) {
  if (state_ == state::closed || n == 0) return;
  if (out_.empty()) {
    ssize_t w = ::send(socket_.native_handle(), data, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(std::string("send: ") + std::strerror(errno));
      w = 0;
    }
    if (static_cast<std::size_t>(w) == n) return;
    out_.assign(data + w, n - static_cast<std::size_t>(w));
    wait_write();
    return;
  }
  out_.append(data, n);
}

void session::wait_write() {
  if (writing_) return;
  writing_ = true;
  socket_.async_wait(tcp::socket::wait_write, [this](const boost::system::error_code& ec) {
    writing_ = false;
    if (state_ == state::closed) return;
    if (ec) return fail("wait_write: " + ec.message());
    on_writable();
  });
}

void session::on_writable() {
  ssize_t w = ::send(socket_.native_handle(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  if (w < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) return fail(std::string("send: ") + std::strerror(errno));
    w = 0;
  }
  out_.erase(0, static_cast<std::size_t>(w));
  if (!out_.empty()) wait_write();
}

void session::wait_read() {
  if (reading_) return;
  reading_ = true;
  socket_.async_wait(tcp::socket::wait_read, [this](const boost::system::error_code& ec) {
    reading_ = false;
    if (state_ == state::closed) return;
    if (ec) return fail("wait_read: " + ec.message());
    on_readable();
  });
}

void session::on_readable() {
  char* buf = worker_->buffer();
  const std::size_t cap = worker_->buffer_size();
  for (int round = 0; round < 4 && state_ != state::closed; ++round) {
    ssize_t r = ::recv(socket_.native_handle(), buf, cap, MSG_DONTWAIT);
    if (r == 0) return fail("closed by the server");
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail(std::string("recv: ") + std::strerror(errno));
    }
    const auto n = static_cast<std::size_t>(r);
    if (in_.empty()) {
      std::size_t used = parse_frames(buf, n);
      if (state_ != state::closed && used < n) in_.assign(buf + used, n - used);
    } else {
      in_.append(buf, n);
      std::size_t used = parse_frames(in_.data(), in_.size());
      if (state_ != state::closed) in_.erase(0, used);
    }
    if (n < cap) break;  // drained
  }
  if (state_ != state::closed) wait_read();
}

std::size_t session::parse_frames(const char* data, std::size_t n) {
  std::size_t pos = 0;
  if (state_ == state::upgrading) {
    std::string_view text(data, n);
    auto end = text.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (n > 16 * 1024) fail("HTTP response too long");
      return 0;
    }
    if (text.rfind("HTTP/1.1 101", 0) != 0) {
      fail("upgrade refused: " + std::string(text.substr(0, text.find("\r\n"))));
      return n;
    }
    state_ = state::opening;
    pos = end + 4;
  }
  const auto* u = reinterpret_cast<const unsigned char*>(data);
  while (n - pos >= 2 && state_ != state::closed) {
    const unsigned b0 = u[pos], b1 = u[pos + 1];
    std::uint64_t len = b1 & 0x7f;
    std::size_t header = 2;
    if (len == 126) {
      if (n - pos < 4) break;
      len = (static_cast<std::uint64_t>(u[pos + 2]) << 8) | u[pos + 3];
      header = 4;
    } else if (len == 127) {
      if (n - pos < 10) break;
      len = 0;
      for (int i = 0; i < 8; ++i) len = (len << 8) | u[pos + 2 + i];
      header = 10;
    }
    if (b1 & 0x80) {
      fail("masked frame from the server");
      return n;
    }
    if (n - pos - header < len) break;
    std::string_view payload(data + pos + header, static_cast<std::size_t>(len));
    pos += header + static_cast<std::size_t>(len);
    const bool fin = b0 & 0x80;
    switch (b0 & 0x0f) {
      case 0x0:  // continuation
        frag_.append(payload);
        if (fin) {
          std::string whole = std::move(frag_);
          frag_.clear();
          on_message(whole);
        }
        break;
      case 0x1:
      case 0x2:
        if (fin) {
          on_message(payload);
        } else {
          frag_.assign(payload);
        }
        break;
      case 0x8:
        fail("WebSocket close from the server");
        break;
      case 0x9: {  // ping: pong with the same payload
        std::string pong;
        append_frame(pong, payload);
        pong[0] = static_cast<char>(0x8a);
        write(pong.data(), pong.size());
        break;
      }
      default:
        break;
    }
  }
  return pos;
}

void session::on_message(std::string_view p) {
  if (p.empty()) return;
  switch (p[0]) {
    case '0':  // Engine.IO open: join the default namespace
      if (state_ == state::opening) {
        state_ = state::joining;
        std::string connect = "40";
        if (worker_->where().connect_payload) connect += worker_->where().connect_payload(index_);
        send_text(connect);
      }
      return;
    case '2': {  // ping: pong, echoing any data ("2probe" → "3probe")
      if (p.size() == 1) {
        static const std::string pong = [] { std::string f; append_frame(f, "3"); return f; }();
        write(pong.data(), pong.size());
      } else {
        std::string text(p);
        text[0] = '3';
        send_text(text);
      }
      return;
    }
    case '1':
      return fail("Engine.IO close from the server");
    case '4':
      break;
    default:  // pong, noop
      return;
  }
  std::string_view sio = p.substr(1);
  if (sio.empty()) return;
  switch (sio[0]) {
    case '0':
      if (state_ == state::joining) {
        state_ = state::ready;
        worker_->on_session_done(*this, true);
        if (listener_) listener_->on_ready(*this);
      }
      return;
    case '2':
      if (listener_) listener_->on_event(*this, sio);
      return;
    case '3': {
      std::uint64_t id = 0;
      std::size_t i = 1;
      for (; i < sio.size() && sio[i] >= '0' && sio[i] <= '9'; ++i) id = id * 10 + static_cast<std::uint64_t>(sio[i] - '0');
      if (listener_) listener_->on_ack(*this, id, sio.substr(i));
      return;
    }
    case '4':
      return fail("connect_error: " + std::string(sio.substr(1)));
    case '1':
      return fail("Socket.IO disconnect from the server");
    default:
      return;
  }
}

// ---- worker ----------------------------------------------------------------------------

worker::worker(const target& t, std::size_t index, std::size_t stride, std::atomic<std::uint64_t>& ready,
               std::atomic<std::uint64_t>& failed)
    : target_(t), index_(index), stride_(stride), ready_(ready), failed_(failed) {
  upgrade_request_ = "GET " + t.path + "?EIO=4&transport=websocket" + t.query +
                     " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(t.port) +
                     "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

worker::~worker() { stop(); }

void worker::connect(std::size_t n, std::size_t concurrency, session_listener* l) {
  asio::post(ctx_, [this, n, concurrency, l] {
    concurrency_ = std::max<std::size_t>(1, concurrency);
    connect_ns_ = histogram{};
    sessions_.reserve(sessions_.size() + n);
    for (std::size_t i = 0; i < n; ++i) {
      // Indexes are global across workers (and spread the source addresses evenly).
      auto idx = static_cast<std::uint32_t>(sessions_.size() * stride_ + index_);
      sessions_.push_back(std::make_unique<session>(*this, idx, l));
    }
    start_next();
  });
}

void worker::start_next() {
  while (in_progress_ < concurrency_ && next_to_start_ < sessions_.size()) {
    session& s = *sessions_[next_to_start_++];
    ++in_progress_;
    s.start();
  }
}

void worker::on_session_done(session& s, bool ok) {
  --in_progress_;
  if (ok) {
    connect_ns_.record(now_ns() - s.started_ns());
    ready_.fetch_add(1, std::memory_order_relaxed);
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
  }
  start_next();
}

void worker::run() {
  if (running_) return;
  running_ = true;
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(ctx_);
    ctx_.run();
  });
}

void worker::stop() {
  if (running_) {
    ctx_.stop();
    thread_.join();
    running_ = false;
  }
  sessions_.clear();
}

// ---- generator -------------------------------------------------------------------------

generator::generator(target t, std::size_t threads) : target_(std::move(t)) {
  threads = std::max<std::size_t>(1, threads);
  for (std::size_t i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<worker>(target_, i, threads, ready_, failed_));
    workers_.back()->run();
  }
}

generator::~generator() {
  for (auto& w : workers_) w->stop();
}

void generator::on_each(const std::function<void(worker&)>& fn) {
  std::vector<std::promise<void>> done(workers_.size());
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::post(workers_[i]->context(), [&, i] {
      fn(*workers_[i]);
      done[i].set_value();
    });
  }
  for (auto& d : done) d.get_future().wait();
}

generator::connect_result generator::connect(std::size_t n, std::size_t concurrency, session_listener* l,
                                             std::chrono::seconds timeout) {
  connect_result r;
  const auto ready0 = ready_.load(), failed0 = failed_.load();
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t t = workers_.size();
  for (std::size_t i = 0; i < t; ++i) {
    std::size_t share = n / t + (i < n % t ? 1 : 0);
    if (share) workers_[i]->connect(share, std::max<std::size_t>(1, concurrency / t), l);
  }
  auto deadline = t0 + timeout;
  while (true) {
    r.ready = ready_.load() - ready0;
    r.failed = failed_.load() - failed0;
    if (r.ready + r.failed >= n) break;
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  r.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  on_each([&](worker& w) { r.latency_ns.merge(w.connect_latency()); });
  return r;
}

}  // namespace bench
