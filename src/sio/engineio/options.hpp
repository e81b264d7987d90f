#pragma once
// Engine.IO server options, with the reference's names (in snake_case) and defaults.
#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "sio/transport/cors.hpp"

namespace sio::eio {

struct handshake_request;

struct cookie_options {
  std::string name = "io";
  std::string path = "/";
  bool http_only = true;
  std::string same_site = "Lax";
};

struct server_options {
  std::string path = "/engine.io/";
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::chrono::milliseconds upgrade_timeout{10000};
  std::size_t max_http_buffer_size = 1'000'000;  // bytes per message, and per polling request body
  bool allow_polling = true;
  bool allow_websocket = true;
  bool allow_upgrades = true;
  transport::cors_options cors;
  std::optional<cookie_options> cookie;          // the sid cookie; off by default
  bool http_compression = true;                  // gzip/deflate polling responses ...
  std::size_t http_compression_threshold = 1024; // ... of at least this many bytes
  bool per_message_deflate = false;              // WebSocket compression
  // Decides whether a handshake or upgrade request may proceed. Return an error message to
  // refuse it with HTTP 403 {"code":4,"message":...}; nullopt to accept.
  std::function<std::optional<std::string>(const handshake_request&)> allow_request;
  // A session whose unsent data grows past this many bytes is closed (a client too slow
  // to keep up must not grow the server's memory without bound).
  std::size_t max_send_queue_bytes = 16 * 1024 * 1024;
};

}  // namespace sio::eio
