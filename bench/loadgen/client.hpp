#pragma once
// The load generator's client: Engine.IO v4 / Socket.IO v5 over a hand-rolled WebSocket on
// Asio, built to hold tens of thousands of sessions in one process without being the
// bottleneck:
//  - one io_context per thread (a `worker`), each session owned by one worker, no locks;
//  - no per-session read buffer: a session waits for readability and reads into its worker's
//    64 kB buffer; only a partial frame is kept per session;
//  - writes go straight to the socket (non-blocking) and only what the kernel refuses is
//    queued, so a burst of small frames costs one syscall each and no allocation;
//  - client frames are masked with the all-zero key (valid per RFC 6455), so a frame is its
//    payload behind a header and can be encoded once and sent to many sessions;
//  - received packets are handed over as string_views; nobody parses JSON on this path.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "histogram.hpp"

namespace bench {

namespace asio = boost::asio;

inline std::int64_t now_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Appends a client WebSocket text frame (FIN, masked with the zero key) holding `payload`.
void append_frame(std::string& out, std::string_view payload);
// Appends only such a frame's header, for a payload of `n` bytes that the caller appends.
void append_frame_header(std::string& out, std::size_t n);

struct target {
  std::uint16_t port = 0;
  std::string path = "/socket.io/";
  std::string query;             // extra query parameters, "&a=b"
  // The Socket.IO CONNECT body of session i, e.g. {"token":"..."}; null or empty: none.
  std::function<std::string(std::uint32_t)> connect_payload;
  int source_addresses = 8;      // connect from 127.0.0.1 .. 127.0.0.N (more ephemeral ports)
};

class session;
class worker;

// A scenario's callbacks, on the session's worker thread.
class session_listener {
 public:
  virtual ~session_listener() = default;
  virtual void on_ready(session&) {}
  virtual void on_failed(session&, std::string_view why) {}
  // A Socket.IO EVENT, without the Engine.IO type: `2["name",...]` (or `2<id>[...]`).
  virtual void on_event(session&, std::string_view packet) {}
  // A Socket.IO ACK `3<id>[...]`: the id and what follows it.
  virtual void on_ack(session&, std::uint64_t id, std::string_view args) {}
};

class session {
 public:
  enum class state : std::uint8_t { idle, connecting, upgrading, opening, joining, ready, closed };

  session(worker& w, std::uint32_t index, session_listener* l);
  ~session();

  void start();                           // worker thread
  void send_text(std::string_view text);  // frames and sends one Engine.IO packet
  void send_frames(std::string_view frames);  // pre-encoded frames
  void close();

  worker& owner() noexcept { return *worker_; }
  std::uint32_t index() const noexcept { return index_; }
  state current() const noexcept { return state_; }
  std::uint64_t next_ack_id() noexcept { return ack_id_++; }
  std::int64_t started_ns() const noexcept { return started_ns_; }
  void set_listener(session_listener* l) noexcept { listener_ = l; }

 private:
  void fail(std::string_view why);
  void wait_read();
  void wait_write();
  void on_readable();
  void on_writable();
  // Consumes what it can of [data, data+n); returns the bytes used.
  std::size_t parse_frames(const char* data, std::size_t n);
  void on_message(std::string_view payload);
  void write(const char* data, std::size_t n);

  worker* worker_;
  session_listener* listener_;
  asio::ip::tcp::socket socket_;
  std::string in_;   // a partial frame (or HTTP response) carried to the next read
  std::string out_;  // what the kernel did not take yet
  std::string frag_; // a fragmented message, until its last frame
  std::int64_t started_ns_ = 0;
  std::uint64_t ack_id_ = 0;
  std::uint32_t index_;
  state state_ = state::idle;
  bool reading_ = false;
  bool writing_ = false;
};

// One thread, one io_context, the sessions it owns.
class worker {
 public:
  // Worker `index` of `stride`: its sessions get the indexes index, index+stride, ...
  worker(const target& t, std::size_t index, std::size_t stride, std::atomic<std::uint64_t>& ready,
         std::atomic<std::uint64_t>& failed);
  ~worker();

  asio::io_context& context() noexcept { return ctx_; }
  const target& where() const noexcept { return target_; }
  std::size_t index() const noexcept { return index_; }
  char* buffer() noexcept { return buffer_.data(); }
  const std::string& upgrade_request() const noexcept { return upgrade_request_; }
  std::size_t buffer_size() const noexcept { return buffer_.size(); }

  // Creates `n` more sessions (any thread, before they are started) and starts them on the
  // worker thread, at most `concurrency` handshakes at a time.
  void connect(std::size_t n, std::size_t concurrency, session_listener* l);
  std::vector<std::unique_ptr<session>>& sessions() noexcept { return sessions_; }
  histogram& connect_latency() noexcept { return connect_ns_; }

  void run();   // starts the thread
  void stop();  // stops the loop, joins, closes every session

  // Called by sessions.
  void on_session_done(session& s, bool ok);

 private:
  void start_next();

  const target& target_;
  std::size_t index_;
  std::size_t stride_;
  asio::io_context ctx_{1};
  std::vector<char> buffer_ = std::vector<char>(64 * 1024);
  std::string upgrade_request_;
  std::vector<std::unique_ptr<session>> sessions_;
  std::size_t next_to_start_ = 0;
  std::size_t in_progress_ = 0;
  std::size_t concurrency_ = 1;
  histogram connect_ns_;
  std::atomic<std::uint64_t>& ready_;
  std::atomic<std::uint64_t>& failed_;
  std::thread thread_;
  bool running_ = false;
};

// The generator: `threads` workers; sessions spread round-robin.
class generator {
 public:
  generator(target t, std::size_t threads);
  ~generator();

  std::size_t threads() const noexcept { return workers_.size(); }
  worker& at(std::size_t i) noexcept { return *workers_[i]; }

  // Opens n sessions (spread over the workers) with `concurrency` handshakes in flight in all,
  // and waits until every one is ready or failed, or the timeout. Returns the wall time.
  struct connect_result {
    std::size_t ready = 0;
    std::size_t failed = 0;
    double wall_s = 0;
    histogram latency_ns;
    bool timed_out = false;
  };
  connect_result connect(std::size_t n, std::size_t concurrency, session_listener* l, std::chrono::seconds timeout);

  // Runs fn on every worker's thread and waits for it.
  void on_each(const std::function<void(worker&)>& fn);

  std::uint64_t ready() const noexcept { return ready_.load(); }
  std::uint64_t failed() const noexcept { return failed_.load(); }

 private:
  target target_;
  std::atomic<std::uint64_t> ready_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::vector<std::unique_ptr<worker>> workers_;
};

// A decimal number right after `key` in `text` (e.g. key `"t":`), or -1.
std::int64_t find_number(std::string_view text, std::string_view key) noexcept;

}  // namespace bench
