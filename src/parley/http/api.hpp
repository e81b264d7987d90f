#pragma once
// The chat service's HTTP API, as routes of the sio http_server:
//   GET  /api/socket/health   {"status":"ok","socket":{"initialized":true,"connected":N,"rooms":M}}
//   POST /api/files           multipart/form-data, field `file`, Bearer JWT -> 201 {fileId,name,size,contentType,url}
//                             (checked on its header, then streamed to disk: 401/429/400 before any byte is stored)
//   GET  /api/files/<id>      Bearer JWT -> the bytes (403 for a private conversation's outsiders)
//   GET  /api/dev/login       200 {"enabled":true}  (only with --dev-login: the web page's test sign-in)
//   POST /api/dev/login       {"name"} -> 200 {token, userId, name}  (a token for anyone: never in production)
//   GET  /api/web/config      200 {"devLogin":bool}  (the web page's probe, always 200)
//   (the last three are the web page's routes, in web.cpp)
//   anything else under /api/ -> 404 JSON
// Errors are JSON: {"ok":false,"error":{"code":"...","message":"..."}}. CORS from the config,
// with OPTIONS preflights answered.
//
//   http.add_route("/api/files", parley::http_api::upload_route_limit(max), parley::http_api::make_files_route(...));
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "parley/auth/jwt.hpp"
#include "parley/http/file_storage.hpp"
#include "sio/socketio/server.hpp"
#include "sio/transport/cors.hpp"
#include "sio/transport/http.hpp"

namespace parley::http_api {

namespace http = sio::transport::http;

struct files_options {
  std::size_t max_upload_bytes = 10 * 1024 * 1024;
  sio::transport::cors_options cors;
  // Whether this user may upload now (a rate limit): false answers 429 RATE_LIMITED before any
  // byte of the file is stored. Unset: always.
  std::function<bool(const std::string& user_id)> allow_upload;
};

// The body limit to give the files route: the largest allowed file plus room for the multipart
// framing, so that a file just over the limit still reaches the handler (which answers 413 in
// JSON) rather than the transport.
std::size_t upload_route_limit(std::size_t max_upload_bytes);

std::shared_ptr<sio::transport::route_handler> make_health_route(sio::server& io, sio::transport::cors_options cors);
std::shared_ptr<sio::transport::route_handler> make_files_route(files::file_storage& files,
                                                                std::shared_ptr<const auth::jwt_verifier> verifier,
                                                                files_options opts);
// JSON 404 for the rest of /api/.
std::shared_ptr<sio::transport::route_handler> make_not_found_route(sio::transport::cors_options cors);

// Helpers, exposed for tests.
sio::transport::response json_error(const sio::transport::request& req, http::status status, std::string_view code,
                                    std::string_view message);
// attachment; filename="ascii fallback"; filename*=UTF-8''percent-encoded
std::string content_disposition(std::string_view name);
// The token of an `Authorization: Bearer <token>` header, or empty.
std::string_view bearer_token(std::string_view authorization);

}  // namespace parley::http_api
