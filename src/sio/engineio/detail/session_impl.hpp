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

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "sio/engineio/codec/packet.hpp"
#include "sio/engineio/options.hpp"
#include "sio/engineio/session.hpp"
#include "sio/transport/http.hpp"

namespace sio::eio::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;

class session_impl;

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

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<session_impl>> sessions_;
  std::atomic<std::size_t> count_{0};
};

struct out_packet {
  packet_type type;
  std::shared_ptr<const std::string> data;  // may be null for packets without data
  bool binary = false;
};

// One WebSocket connection of a session (the current transport, or an upgrade probe).
struct ws_connection {
  explicit ws_connection(tcp::socket socket) : ws(std::move(socket)) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer read_buffer;
  bool writing = false;
  bool closing = false;
  bool is_probe = false;  // still upgrading from polling
  bool probed = false;    // answered "3probe"
  std::uint64_t generation = 0;
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
  void flush();
  bool writable() const noexcept;
  void on_packet(packet_type type, std::string_view data, bool binary, std::string&& binary_data);

  // heartbeat
  void schedule_ping();
  void on_pong();

  // polling
  void respond_poll(std::string body);
  void answer_pending_get(packet_type last);

  // websocket
  void accept_websocket(std::shared_ptr<ws_connection> conn, transport::request req, bool probe);
  void do_ws_read(const std::shared_ptr<ws_connection>& c);
  void on_ws_frame(ws_connection& c, bool text);
  void do_ws_write();
  void on_ws_error(std::uint64_t generation, beast::error_code error);
  void close_ws(std::shared_ptr<ws_connection> c);
  void on_probe_frame(std::string_view text);
  void finish_upgrade();

  // closing
  void finish_close(close_reason why, bool client_initiated);
  void begin_forced_close(close_reason why);
  void poll_closing_step();

  std::shared_ptr<server_core> core_;
  asio::io_context& ctx_;
  std::string id_;
  handshake_request request_;

  std::deque<out_packet> queue_;
  std::size_t queued_bytes_ = 0;

  // polling
  std::shared_ptr<transport::http_connection> pending_get_;
  std::optional<transport::request> pending_get_request_;

  // websocket (current transport, or the upgrade probe while polling is current)
  std::shared_ptr<ws_connection> ws_;
  std::uint64_t ws_generation_ = 0;

  asio::steady_timer ping_timer_;
  asio::steady_timer aux_timer_;  // upgrade timeout, or closing timeout
  bool awaiting_pong_ = false;
  bool linger_for_get_ = false;  // closed by the client; one late GET still gets its noop

  enum class state { opening, open, closing, closed };
  state state_ = state::opening;
  close_reason closing_reason_ = close_reason::forced_close;
  std::atomic<bool> closed_{false};
};

// The open packet's data: {"sid","upgrades","pingInterval","pingTimeout","maxPayload"}.
std::string handshake_data(const server_core& core, const std::string& id, bool websocket);

// Random session and socket ids: 20 url-safe characters from 15 random bytes.
std::string generate_id();

// gzip or deflate per the request's Accept-Encoding; nullopt when neither is accepted.
std::optional<std::string> compress_for(const transport::request& req, std::string_view body, std::string& encoding_out);

}  // namespace sio::eio::detail
