#pragma once
// The chat web page, served by parley itself (sources in web/, embedded into the binary at build
// time by cmake/embed_files.cmake, with the socket.io client bundle of node_modules):
//   GET  /                               index.html
//   GET  /<file>                         the other files of web/ (app.js, style.css, ...)
//   GET  /socket.io/socket.io.min.js     the socket.io-client bundle (also as /socket.io/socket.io.js)
//   POST /api/dev/login {"name":"Alice"} -> {"token","userId","name"}   only with dev-login on; the
//                                        token carries "devLogin": true, refused once dev-login is off
//   GET  /api/dev/login                  -> {"enabled":true}            only with dev-login on; else 404
//   GET  /api/web/config                 -> {"devLogin":true|false}     always 200: the page's probe
// Every file has an ETag (If-None-Match answers 304) and `Cache-Control: no-cache`; every answer
// has a strict Content-Security-Policy (no inline script, no other origin) and `nosniff`.
//
//   parley::web::add_routes(http, cfg, verifier);   // before http.listen()
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "parley/auth/jwt.hpp"

namespace sio::transport {
class http_server;
}

namespace parley {

struct config;

namespace web {

// One embedded file: its name (its path under web/, or "socket.io.min.js"), bytes and ETag.
struct embedded_file {
  std::string_view name;
  std::string_view bytes;
  std::string_view etag;  // quoted, ready for the header
};

// The files embedded at build time.
std::span<const embedded_file> files() noexcept;
// The embedded file `name`, or nullptr.
const embedded_file* find_file(std::string_view name) noexcept;

// How long a dev-login token lives.
inline constexpr std::chrono::seconds dev_login_ttl{12 * 3600};

// The user id the dev login derives from a display name: lower case ASCII letters and digits,
// with every run of other characters turned into one '-', trimmed, at most 32 characters
// ("Ada Lovelace" -> "ada-lovelace"); nullopt when nothing is left ("!!!", "" or non-Latin only).
std::optional<std::string> dev_user_id(std::string_view name);

// Registers the page's routes (the files, the client bundle, the dev login) on `http`.
void add_routes(sio::transport::http_server& http, const config& cfg,
                std::shared_ptr<const auth::jwt_verifier> verifier);

}  // namespace web
}  // namespace parley
