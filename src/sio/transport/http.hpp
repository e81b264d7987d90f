#pragma once
// What a route sees of an HTTP request and its connection. Includes Beast: include it only
// where requests are handled.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "sio/transport/cors.hpp"

namespace sio::transport {

namespace http = boost::beast::http;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

// One HTTP/1.1 connection, as a route sees it while handling a request.
class http_connection {
 public:
  virtual ~http_connection() = default;

  // Sends the response, then reads the next request (keep-alive) or closes.
  // Safe from any thread; at most one response per request.
  virtual void respond(response res) = 0;

  // Hands the TCP stream to the route (a WebSocket upgrade), with the bytes already read
  // past the request. Only while handling the request, on the connection's thread.
  virtual boost::beast::tcp_stream take_stream(boost::beast::flat_buffer& leftover) = 0;

  // Calls fn (on the connection's thread) if the peer goes away before respond(): the
  // cancelled long-polling request. Set it while handling the request.
  virtual void on_abort(std::function<void()> fn) = 0;

  virtual boost::asio::io_context& context() noexcept = 0;
  virtual const std::string& remote_address() const noexcept = 0;
};

// A request body received chunk by chunk instead of whole (an upload streamed to disk). Made by
// route_handler::open_body; every call comes on the connection's thread, none after finish() or
// abort().
class body_sink {
 public:
  virtual ~body_sink() = default;
  // The next bytes of the body (de-chunked), at most 64 kB at a time. Returning false stops the
  // reading: finish() follows at once, and the connection closes after its answer, the rest of the
  // body unread.
  virtual bool write(std::string_view bytes) = 0;
  // The body is complete, or write() returned false: answer, as handle() does (respond() is safe
  // from any thread). `header` is the request with an empty body.
  virtual void finish(const std::shared_ptr<http_connection>& conn, request&& header) = 0;
  // The body will not be complete: the client went away, the read failed or timed out, or the
  // body went over the route's limit (answered 413 through body_too_large()). Drop what was kept.
  virtual void abort() = 0;
};

class route_handler {
 public:
  virtual ~route_handler() = default;
  // Called on the connection's thread. Must eventually respond, take the stream, or
  // let the connection close (by dropping it without a response, after on_abort fired).
  virtual void handle(const std::shared_ptr<http_connection>& conn, request&& req) = 0;
  // Called, on the connection's thread, for a request whose body is over the route's limit
  // (only its header is read), before `res` (a plain 413) is sent and the connection closed.
  // A route may rewrite the answer (its own error format, CORS headers).
  virtual void body_too_large(const request& req, response& res) {}
  // Streaming, chosen per request: called on the connection's thread once the header of a request
  // with a body is read, before any of the body (and before "100 Continue" is sent). Either
  //  - return a sink: the body goes to it as it arrives, within the route's limit, then finish();
  //  - answer from the header (conn->respond(), say a 401, now on this thread) and return nullptr:
  //    the body is never read, the connection closes after the answer;
  //  - or return nullptr (the default): the body is read whole and the request goes to handle().
  virtual std::shared_ptr<body_sink> open_body(const std::shared_ptr<http_connection>& conn, const request& header) {
    return nullptr;
  }
};

// A response with common headers set (status, keep-alive from the request, content type).
response make_response(const request& req, http::status status, std::string body,
                       std::string_view content_type = "text/plain; charset=UTF-8");

// Adds the CORS headers `opts` grants to a request from its Origin, if any.
void apply_cors(const cors_options& opts, const request& req, response& res);
// Answers an OPTIONS preflight: 204 with the grant, or 204 with no grant for a refused origin.
response preflight_response(const cors_options& opts, const request& req);

}  // namespace sio::transport
