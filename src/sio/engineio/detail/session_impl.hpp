#pragma once
// Engine.IO internals: the session state machine and its transports. Includes Beast; only the
// engineio .cpp files include it.
#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sio/engineio/codec/packet.hpp"
#include "sio/engineio/options.hpp"
#include "sio/engineio/session.hpp"
#include "sio/transport/http.hpp"
#include "sio/transport/websocket_codec.hpp"

namespace sio::eio::detail {

namespace asio = boost::asio;
namespace ws = transport::ws;
using tcp = asio::ip::tcp;

// A session's timers and WebSocket socket are bound to its loop's executor type rather than
// any_io_executor: 48 bytes less each, per connection.
using loop_timer = asio::basic_waitable_timer<std::chrono::steady_clock, asio::wait_traits<std::chrono::steady_clock>,
                                              asio::io_context::executor_type>;
using loop_socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;

class session_impl;
struct loop_state;

// What all sessions of one Engine.IO server share: options, the handler, the sid registry.
struct server_core : std::enable_shared_from_this<server_core> {
  server_core(server_options o, handler& h) : opts(std::move(o)), upper(h) {}

  server_options opts;
  handler& upper;

  std::shared_ptr<session_impl> find(const std::string& sid);
  void add(const std::shared_ptr<session_impl>& s);
  void remove(const std::string& sid);
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }
  std::vector<std::shared_ptr<session_impl>> all();
  void clear();

  // The shared state of the loop `ctx` (created on first use).
  loop_state& loop_for(asio::io_context& ctx);
  // The loop whose thread this is, or null on another thread.
  loop_state* current_loop();

 private:
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<loop_state>> loops_;  // guarded by mutex_; a few entries
  std::atomic<std::size_t> loop_count_{0};          // loops_.size(), readable without the lock
  // Keyed by a view of each session's own id (the map holds the session, so the view stays valid).
  std::unordered_map<std::string_view, std::shared_ptr<session_impl>> sessions_;
  std::atomic<std::size_t> count_{0};
};

struct out_packet {
  enum class form : std::uint8_t {
    packet,      // an Engine.IO packet: type and data
    compressed,  // a WebSocket message payload, deflated (the type digit included)
    frame,       // a whole WebSocket control frame (a pong)
  };
  packet_type type = packet_type::message;
  form what = form::packet;
  bool binary = false;
  std::shared_ptr<const std::string> data;  // may be null for packets without data
};

// The packets waiting to be written, oldest first. A vector with a read index: an idle
// session holds at most a few slots, unlike std::deque's 512-byte blocks.
class packet_queue {
 public:
  bool empty() const noexcept { return head_ == items_.size(); }
  std::size_t size() const noexcept { return items_.size() - head_; }
  out_packet& front() noexcept { return items_[head_]; }
  out_packet& operator[](std::size_t i) noexcept { return items_[head_ + i]; }
  void push_back(out_packet p) { items_.push_back(std::move(p)); }
  void pop_front() noexcept {
    items_[head_++] = {};
    if (head_ == items_.size()) clear();
  }
  void clear() noexcept {
    items_.clear();
    head_ = 0;
    if (items_.capacity() > 64) items_.shrink_to_fit();
  }
  auto begin() const noexcept { return items_.begin() + static_cast<std::ptrdiff_t>(head_); }
  auto end() const noexcept { return items_.end(); }

 private:
  std::vector<out_packet> items_;
  std::size_t head_ = 0;
};

// One WebSocket connection of a session (the current transport, or an upgrade probe), after
// the handshake: the socket (non-blocking), the frame reader, and the write state.
struct ws_connection {
  ws_connection(loop_socket s, std::size_t max_message) : socket(std::move(s)), reader(max_message) {}
  loop_socket socket;
  ws::frame_reader reader;
  std::optional<ws::deflate_params> deflate;  // permessage-deflate, when agreed on
  std::size_t front_offset = 0;  // bytes of the queue's first packet already written
  bool writing = false;          // a write or a wait for writability is under way
  bool closing = false;          // the close frame is out or going; nothing more is written
  std::uint16_t close_after_write = 0;  // the close code to send once `writing` ends
  bool is_probe = false;         // still upgrading from polling
  bool probed = false;           // answered "3probe"
  std::uint64_t generation = 0;
};

// What the sessions of one event loop share. Sends from other threads are batched: a loop
// thread collects what it sends to each other loop while it handles its ready events, and
// hands each loop its batch at once (one wake-up per batch, not per message); other threads
// post to the loop's inbox directly. Sessions with new output are flushed together once the
// loop has handled what is ready, so that the packets produced for one connection by a burst
// of events leave in one system call.
struct loop_state {
  loop_state(server_core& owner, asio::io_context& c) : core(owner), ctx(c) {}
  server_core& core;
  asio::io_context& ctx;

  struct inbox_item {
    std::shared_ptr<session_impl> session;
    out_packet packet;
    bool volatile_;
  };

  // Called from any thread: delivers (session, packet) on this loop.
  void post_send(std::shared_ptr<session_impl> s, out_packet p, bool volatile_);
  // On this loop's thread: flush `s` once the current batch of handlers is done.
  void schedule_flush(std::shared_ptr<session_impl> s);
  // Drops what is pending and the heartbeat timer (the server is going away; its loops are not
  // running).
  void clear();

  // Heartbeats. Every session of a loop has the same ping interval and timeout, so deadlines
  // come in the order they are set: two FIFO lists and one timer per loop replace a timer (and
  // its pending wait) per session. An entry whose sequence number the session has moved past
  // is stale and skipped.
  enum class beat { ping, timeout };
  void add_heartbeat(const std::shared_ptr<session_impl>& s, beat kind, std::chrono::steady_clock::time_point due,
                     std::uint32_t seq);

 private:
  struct heartbeat_entry {
    std::weak_ptr<session_impl> session;
    std::chrono::steady_clock::time_point due;
    std::uint32_t seq;
  };
  void arm_heartbeat_timer();
  void on_heartbeat_timer();
  std::deque<heartbeat_entry> pings_, timeouts_;
  std::unique_ptr<loop_timer> heartbeat_timer_;
  std::chrono::steady_clock::time_point heartbeat_armed_at_ = std::chrono::steady_clock::time_point::max();

  void take_batch(std::vector<inbox_item>& items);
  void drain_inbox();
  void flush_all();
  void post_flush();

  std::mutex inbox_mutex_;
  std::vector<inbox_item> inbox_;  // guarded by inbox_mutex_
  // The rest belongs to this loop's thread.
  std::vector<std::pair<loop_state*, std::vector<inbox_item>>> outbox_;  // for other loops
  std::vector<std::shared_ptr<session_impl>> dirty_;
  bool flush_posted_ = false;
};

class session_impl final : public session {
 public:
  session_impl(std::shared_ptr<server_core> core, asio::io_context& ctx, std::string id, handshake_request req);
  ~session_impl() override;

  // session
  const std::string& id() const noexcept override { return id_; }
  const handshake_request& request() const noexcept override { return request_; }
  std::string_view transport_name() const noexcept override { return ws_ && !ws_->is_probe ? "websocket" : "polling"; }
  send_result send(message msg, send_options opts) override;
  void close(close_reason why) override;
  bool is_open() const noexcept override { return !closed_.load(std::memory_order_acquire); }
  void post(std::function<void()> fn) override;
  bool on_session_thread() const noexcept override;
  std::shared_ptr<timer> start_timer(std::chrono::milliseconds delay, std::function<void()> fn) override;

  asio::io_context& io() noexcept { return ctx_; }
  bool upgraded() const noexcept { return ws_ && !ws_->is_probe; }
  bool upgrading() const noexcept { return ws_ && ws_->is_probe; }

  // Entry points from the server, on the session's thread.
  void open_with_polling(const std::shared_ptr<transport::http_connection>& conn, transport::request req);
  void open_with_websocket(tcp::socket socket, transport::request req);
  void on_poll_get(const std::shared_ptr<transport::http_connection>& conn, transport::request req);
  void on_poll_post(const std::shared_ptr<transport::http_connection>& conn, transport::request req);
  void on_upgrade_request(tcp::socket socket, transport::request req);
  void on_payload_too_large();
  void on_get_aborted(const transport::http_connection* conn);

 private:
  std::shared_ptr<session_impl> self() { return std::static_pointer_cast<session_impl>(shared_from_this()); }

  void on_opened();
  void enqueue(out_packet p);
  // The send queue overflowed in send(): closes without calling the upper layer from inside it.
  void close_from_send();
  void flush();
  bool writable() const noexcept;
  void on_packet(packet_type type, std::string_view data, bool binary, std::string&& binary_data);

  // heartbeat
  void schedule_ping();
  void on_pong();
  loop_timer& aux_timer();  // created on first use: most sessions never need it

 public:
  // From the loop's heartbeat list: the ping (or the pong timeout) set with `seq` is due.
  void on_heartbeat(loop_state::beat kind, std::uint32_t seq, std::chrono::steady_clock::time_point due);

 private:

  // polling
  void respond_poll(std::string body);
  void answer_pending_get(packet_type last);

  // websocket
  void accept_websocket(std::shared_ptr<ws_connection> conn, const transport::request& req, bool probe);
  void do_ws_read(const std::shared_ptr<ws_connection>& c);
  void on_ws_readable(const std::shared_ptr<ws_connection>& c);
  bool on_ws_event(ws_connection& c, const ws::frame_event& ev);  // false: stop reading
  void do_ws_write();
  void wait_ws_writable();
  void on_ws_error(std::uint64_t generation, boost::system::error_code error);
  void end_ws(std::uint16_t close_code, close_reason why);
  void close_ws(std::shared_ptr<ws_connection> c, std::uint16_t code = ws::close_code::normal);
  void on_probe_frame(std::string_view text);
  void finish_upgrade();

 public:
  // On the session's thread: queue a packet (a send from another thread, via the loop's inbox).
  void send_here(out_packet p, bool volatile_);
  // On the session's thread, from the loop's flush: write what is queued.
  void flush_now();

 private:
  bool ws_current(const ws_connection& c) const noexcept { return ws_.get() == &c; }

  // closing
  void finish_close(close_reason why, bool client_initiated);
  void begin_forced_close(close_reason why);
  void poll_closing_step();

  std::shared_ptr<server_core> core_;
  asio::io_context& ctx_;
  std::string id_;
  handshake_request request_;

  loop_state& loop_;
  packet_queue queue_;
  std::size_t queued_bytes_ = 0;
  bool flush_scheduled_ = false;

  // polling
  std::shared_ptr<transport::http_connection> pending_get_;
  std::unique_ptr<transport::request> pending_get_request_;  // only while a GET is held

  // websocket (current transport, or the upgrade probe while polling is current)
  std::shared_ptr<ws_connection> ws_;
  std::uint64_t ws_generation_ = 0;

  std::unique_ptr<loop_timer> aux_timer_;  // upgrade timeout, or closing timeout
  std::uint32_t heartbeat_seq_ = 0;         // the heartbeat entry that counts; older ones are stale
  bool awaiting_pong_ = false;
  bool linger_for_get_ = false;  // closed by the client; one late GET still gets its noop

  enum class state { opening, open, closing, closed };
  state state_ = state::opening;
  close_reason closing_reason_ = close_reason::forced_close;
  std::atomic<bool> closed_{false};
};

// The open packet's data: {"sid","upgrades","pingInterval","pingTimeout","maxPayload"}.
std::string handshake_data(const server_core& core, const std::string& id, bool websocket);

// The socket of a WebSocket connection, rebound to the session's loop (`ctx`).
loop_socket adopt_socket(asio::io_context& ctx, tcp::socket socket);

// gzip or deflate per the request's Accept-Encoding; nullopt when neither is accepted.
std::optional<std::string> compress_for(const transport::request& req, std::string_view body, std::string& encoding_out);

}  // namespace sio::eio::detail
