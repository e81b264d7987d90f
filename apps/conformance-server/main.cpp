// The server the official protocol suites run against (docs/engine.io-protocol/v4-test-suite
// and docs/socket.io-protocol/v5-test-suite in socketio/socket.io): a raw Engine.IO echo at
// /engine.io/ and Socket.IO at /socket.io/, with the timings those suites expect.
#include <exception>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "sio/engineio/server.hpp"
#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

namespace {

// Echoes every Engine.IO message back, text as text and binary as binary.
class echo_handler final : public sio::eio::handler {
 public:
  void on_open(const std::shared_ptr<sio::eio::session>&) override {}
  void on_message(sio::eio::session& s, std::string_view text) override {
    s.send({std::make_shared<const std::string>(text), false});
  }
  void on_binary(sio::eio::session& s, std::string data) override {
    s.send({std::make_shared<const std::string>(std::move(data)), true});
  }
  void on_close(sio::eio::session&, sio::eio::close_reason) override {}
};

}  // namespace

int main(int argc, char** argv) try {
  CLI::App app{"Parley protocol conformance server"};
  std::uint16_t port = 3000;
  std::string host = "127.0.0.1";
  app.add_option("--port", port, "TCP port")->capture_default_str();
  app.add_option("--host", host, "address to listen on")->capture_default_str();
  // Extra options for the project's own protocol tests; the official suites use none of them.
  std::vector<std::string> cors_origins;
  bool cors_credentials = false, cookie = false, per_message_deflate = false;
  app.add_option("--cors-origin", cors_origins, "allowed CORS origin (repeatable)");
  app.add_flag("--cors-credentials", cors_credentials, "allow credentials in CORS requests");
  app.add_flag("--cookie", cookie, "set the io cookie on handshakes");
  app.add_flag("--per-message-deflate", per_message_deflate, "agree on permessage-deflate for /engine.io/ WebSockets");
  CLI11_PARSE(app, argc, argv);

  sio::transport::io_pool pool;
  sio::transport::http_server http(pool);

  sio::eio::server_options eio_opts;
  eio_opts.path = "/engine.io/";
  eio_opts.ping_interval = std::chrono::milliseconds(300);
  eio_opts.ping_timeout = std::chrono::milliseconds(200);
  eio_opts.max_http_buffer_size = 1'000'000;
  if (!cors_origins.empty()) {
    eio_opts.cors.enabled = true;
    eio_opts.cors.origins = cors_origins;
    eio_opts.cors.credentials = cors_credentials;
  }
  if (cookie) eio_opts.cookie = sio::eio::cookie_options{};
  // A handshake carrying this header is refused: exercises allow_request (error 4).
  eio_opts.allow_request = [](const sio::eio::handshake_request& req) -> std::optional<std::string> {
    if (!req.header("x-refuse-me").empty()) return "refused by allow_request";
    return std::nullopt;
  };
  echo_handler echo;
  sio::eio::server_options echo_opts = eio_opts;  // /socket.io/ keeps the defaults
  echo_opts.per_message_deflate = per_message_deflate;
  sio::eio::server engine(http, echo, echo_opts);

  sio::server_options sio_opts;
  sio_opts.engine = eio_opts;
  sio_opts.path = "/socket.io/";
  sio_opts.connect_timeout = std::chrono::milliseconds(1000);
  sio::server io(http, sio_opts);
  // The suites' handlers, on "/" and "/custom": greet with the auth payload, echo events,
  // acknowledge with the event's own arguments (binary included).
  auto handlers = [](const std::shared_ptr<sio::socket>& socket) {
    socket->emit("auth", socket->handshake().auth);
    socket->on("message", [socket](sio::event& ev) { socket->emit_payload("message-back", ev.raw()); });
    socket->on("message-with-ack", [](sio::event& ev) { ev.ack_callback().send(ev.raw()); });
  };
  io.on_connection(handlers);
  io.of("/custom").on_connection(handlers);

  try {
    http.listen(host, port);
  } catch (const std::system_error& e) {
    std::cerr << "conformance-server: " << e.what() << std::endl;
    return 1;
  }
  std::cout << "listening on " << host << ":" << http.port() << std::endl;
  pool.on_signal([&] { pool.stop(); });
  pool.run();
} catch (const std::exception& e) {  // options the library refuses (e.g. CORS "*" with credentials)
  std::cerr << "conformance-server: " << e.what() << std::endl;
  return 1;
}
