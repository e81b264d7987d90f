#pragma once
// The HTTP/1.1 listener: accepts TCP connections on every loop of an io_pool, reads requests
// and hands each to the route whose path prefix matches (Engine.IO's path, the application's
// own API). Free of Beast so that it is cheap to include; routes see Beast in "http.hpp".
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

namespace sio::transport {

class io_pool;
class route_handler;

struct http_options {
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{60};  // a keep-alive connection with no request in this long is closed
};

class http_server {
 public:
  http_server(io_pool& pool, http_options opts = {});
  ~http_server();
  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  // Requests whose path starts with `prefix` go to `handler`, with a body of at most
  // `max_body_bytes` (a larger body is answered 413). The longest matching prefix wins. The body
  // comes whole, or, if the handler asks for it per request (route_handler::open_body), as a
  // stream of chunks of at most 64 kB: then only one chunk at a time is held in memory.
  void add_route(std::string prefix, std::size_t max_body_bytes, std::shared_ptr<route_handler> handler);

  // Binds and starts accepting; throws std::system_error naming the address when it cannot.
  // port 0 picks a free port; port() tells which.
  void listen(const std::string& host, std::uint16_t port);
  std::uint16_t port() const noexcept;

  // Stops accepting new connections (existing ones go on until closed).
  void stop_accepting();

  io_pool& pool() noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sio::transport
