#pragma once
// The interface between Engine.IO and the layer above it (Socket.IO, or a raw Engine.IO app).
// The upper layer sees sessions and a handler; it never sees transports, HTTP or Asio,
// so it can be tested over an in-memory session (see tests/unit/fake_session.hpp).
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/container/flat_map.hpp>

namespace sio::eio {

// Why a session closed. The names are the reference's close reasons.
enum class close_reason {
  transport_close,       // the client closed the connection, or sent a close packet
  transport_error,       // a network error, or the send queue overflowed
  ping_timeout,          // no pong within pingInterval + pingTimeout
  parse_error,           // the client sent something that is not Engine.IO
  forced_close,          // the server called close()
  server_shutting_down,  // the server is stopping
};
std::string_view to_string(close_reason r) noexcept;

// The result of a send: sends never block, never throw and never call the handler (so a caller
// may send while holding its own locks).
enum class send_result {
  queued,   // taken; it will be written in order
  dropped,  // a volatile packet the transport was not ready for
  closed,   // the session is closed, or closing because this send overflowed its queue (the
            // handler's on_close follows, from the session's loop)
};

// A message for the peer. The data is shared and immutable: a broadcast builds it once and
// every recipient's queue holds the same buffer. For text, data is the message payload
// without the Engine.IO type digit ('4' is added by the transport).
struct message {
  std::shared_ptr<const std::string> data;
  bool binary = false;
};

struct send_options {
  bool volatile_ = false;  // drop instead of queueing when the transport is not writable now
};

// What the client sent with its first request.
struct handshake_request {
  std::string url;  // path and query, as requested
  // Sorted vectors rather than node-based maps: held for the session's life, they cost about
  // half as much per entry.
  boost::container::flat_multimap<std::string, std::string, std::less<>> headers;  // names in lower case
  boost::container::flat_multimap<std::string, std::string, std::less<>> query;    // decoded
  std::string remote_address;
  std::chrono::system_clock::time_point time;
  bool secure = false;

  // The first header / query value with this name (lower-case for headers), or "".
  std::string_view header(std::string_view name) const;
  std::string_view query_param(std::string_view name) const;
};

// A cancellable timer on a session's thread.
class timer {
 public:
  virtual ~timer() = default;
  virtual void cancel() = 0;
};

// One Engine.IO session (one client connection, across transport upgrades).
//
// Threading: a session lives on one thread; its handler callbacks run there. send(),
// close() and post() may be called from any thread; the rest only from the session's thread.
class session : public std::enable_shared_from_this<session> {
 public:
  virtual ~session() = default;

  virtual const std::string& id() const noexcept = 0;
  virtual const handshake_request& request() const noexcept = 0;
  virtual std::string_view transport_name() const noexcept = 0;  // "polling" or "websocket"

  virtual send_result send(message msg, send_options opts = {}) = 0;
  virtual void close(close_reason why = close_reason::forced_close) = 0;
  virtual bool is_open() const noexcept = 0;

  // Runs `fn` on the session's thread (later, never inline).
  virtual void post(std::function<void()> fn) = 0;
  // True on the session's thread.
  virtual bool on_session_thread() const noexcept = 0;
  // Calls `fn` on the session's thread after `delay`, unless cancelled or the session closed.
  virtual std::shared_ptr<timer> start_timer(std::chrono::milliseconds delay, std::function<void()> fn) = 0;

  // Owned by the layer above (the Socket.IO client state); touched only on the session's thread.
  std::shared_ptr<void> context;
};

// Implemented by the layer above. Called on the session's thread.
class handler {
 public:
  virtual ~handler() = default;
  virtual void on_open(const std::shared_ptr<session>& s) = 0;
  virtual void on_message(session& s, std::string_view text) = 0;
  virtual void on_binary(session& s, std::string data) = 0;
  // Last call for this session. Messages sent after it are refused (send_result::closed).
  virtual void on_close(session& s, close_reason why) = 0;
};

}  // namespace sio::eio
