#pragma once
// The Engine.IO server: sessions over HTTP long-polling and WebSocket, upgrades, heartbeat.
// It serves one path of an http_server and reports sessions to a handler (the layer above).
//
//   sio::transport::io_pool pool;
//   sio::transport::http_server http(pool);
//   my_handler h;  // implements sio::eio::handler
//   sio::eio::server eio(http, h, {.path = "/engine.io/"});
//   http.listen("127.0.0.1", 3000);
//   pool.run();
#include <cstddef>
#include <memory>

#include "sio/engineio/options.hpp"
#include "sio/engineio/session.hpp"

namespace sio::transport { class http_server; }

namespace sio::eio {

class server {
 public:
  // `h` must outlive the server. Throws std::invalid_argument for options it must not run with
  // (cors_options::validate()).
  server(transport::http_server& http, handler& h, server_options opts = {});
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  const server_options& options() const noexcept;
  std::size_t session_count() const noexcept;

  // Closes every session with server_shutting_down. Safe from any thread.
  void close_all();

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

}  // namespace sio::eio
