#include "parley/http/web.hpp"

#include <algorithm>
#include <cctype>
#include <exception>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <spdlog/spdlog.h>

#include "parley/config/config.hpp"
#include "parley/events.hpp"
#include "parley/http/api.hpp"
#include "sio/transport/http.hpp"
#include "sio/transport/http_server.hpp"

namespace parley::web {

// The generated table (cmake/embed_files.cmake).
extern const embedded_file embedded_files[];
extern const std::size_t embedded_file_count;

namespace {

namespace http = sio::transport::http;
namespace json = boost::json;
using sio::transport::http_connection;
using sio::transport::request;
using sio::transport::response;
using sio::transport::route_handler;

// The page loads its scripts, styles and the socket from its own origin only; no inline script or
// style, so an injected string cannot run. Images may be blob: URLs (previews of attachments,
// fetched with the token) and data: URLs.
constexpr std::string_view content_security_policy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'";

constexpr std::size_t small_body = 4 * 1024;

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string_view content_type_of(std::string_view name) {
  auto dot = name.rfind('.');
  auto ext = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "ico") return "image/x-icon";
  if (ext == "json" || ext == "map") return "application/json; charset=utf-8";
  if (ext == "webmanifest") return "application/manifest+json";
  if (ext == "txt") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

void secure(response& res) {
  res.set("Content-Security-Policy", content_security_policy);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  res.set("X-Frame-Options", "DENY");
}

response text_response(const request& req, http::status status, std::string body) {
  auto res = sio::transport::make_response(req, status, std::move(body));
  res.set(http::field::cache_control, "no-store");
  secure(res);
  return res;
}

// Does an If-None-Match header list `etag` (or "*")?
bool matches(std::string_view if_none_match, std::string_view etag) {
  while (!if_none_match.empty()) {
    auto comma = if_none_match.find(',');
    auto item = if_none_match.substr(0, comma);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag || item == "*") return true;
    if (comma == std::string_view::npos) break;
    if_none_match.remove_prefix(comma + 1);
  }
  return false;
}

// Serves embedded files: `aliases` maps a request path to a file name; with `directory` set, any
// other path under it names a file of the table directly ("/app.js" -> "app.js").
class files_route final : public route_handler {
 public:
  static constexpr std::string_view bundle = "socket.io.min.js";  // its name in the table
  struct alias {
    std::string path;
    std::string_view file;
  };
  files_route(std::vector<alias> aliases, bool directory) : aliases_(std::move(aliases)), directory_(directory) {}
  void add_alias(std::string path, std::string_view file) { aliases_.push_back({std::move(path), file}); }

  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      auto res = text_response(req, http::status::method_not_allowed, "use GET\n");
      res.set(http::field::allow, "GET, HEAD");
      return conn->respond(std::move(res));
    }
    const embedded_file* file = resolve(path_of(req.target()));
    if (!file) return conn->respond(text_response(req, http::status::not_found, "not found\n"));

    const bool head = req.method() == http::verb::head;
    const bool fresh = matches(req[http::field::if_none_match], file->etag);
    response res{fresh ? http::status::not_modified : http::status::ok, req.version()};
    res.keep_alive(req.keep_alive());
    res.set(http::field::etag, file->etag);
    // Revalidated on every load (a 304 is cheap), so a new build is seen at once.
    res.set(http::field::cache_control, "no-cache");
    secure(res);
    if (!fresh) {
      res.set(http::field::content_type, content_type_of(file->name));
      if (!head) res.body().assign(file->bytes.data(), file->bytes.size());
      res.content_length(file->bytes.size());
    }
    conn->respond(std::move(res));
  }

 private:
  const embedded_file* resolve(std::string_view path) const {
    for (const auto& a : aliases_)
      if (a.path == path) return find_file(a.file);
    if (!directory_ || !path.starts_with('/')) return nullptr;
    auto name = path.substr(1);
    // Only the page's own files: not the client bundle under another name, no dot-files.
    if (name.empty() || name.starts_with('.') || name.find("..") != std::string_view::npos || name == bundle)
      return nullptr;
    return find_file(name);
  }

  std::vector<alias> aliases_;
  bool directory_;
};

void send_json(const std::shared_ptr<http_connection>& conn, const request& req, http::status status,
               const json::value& body) {
  auto res = sio::transport::make_response(req, status, json::serialize(body), "application/json; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  secure(res);
  conn->respond(std::move(res));
}

void send_error(const std::shared_ptr<http_connection>& conn, const request& req, http::status status,
                std::string_view code, std::string_view message) {
  auto res = http_api::json_error(req, status, code, message);
  secure(res);
  conn->respond(std::move(res));
}

// GET /api/web/config: what the page must know before anyone signs in. Always 200, whatever it
// says: the page asks it on every load, and a 404 there is a console error in every browser.
class page_config_route final : public route_handler {
 public:
  static constexpr std::string_view path = "/api/web/config";
  explicit page_config_route(const config& cfg) : body_(json::object{{"devLogin", cfg.dev_login}}) {}

  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    if (path_of(req.target()) != path)
      return send_error(conn, req, http::status::not_found, events::code::not_found, "not found");
    if (req.method() != http::verb::get)
      return send_error(conn, req, http::status::method_not_allowed, events::code::bad_request, "use GET");
    send_json(conn, req, http::status::ok, body_);
  }

 private:
  json::value body_;
};

// POST /api/dev/login {"name": "..."}: a token for anyone who asks, for trying the page.
class dev_login_route final : public route_handler {
 public:
  dev_login_route(bool enabled, std::shared_ptr<const auth::jwt_verifier> verifier)
      : enabled_(enabled), verifier_(std::move(verifier)) {}

  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    namespace code = events::code;
    if (!enabled_ || path_of(req.target()) != "/api/dev/login")
      return send_error(conn, req, http::status::not_found, code::not_found, "not found");
    if (req.method() == http::verb::get || req.method() == http::verb::head)
      return send_json(conn, req, http::status::ok, json::object{{"enabled", true}});
    if (req.method() != http::verb::post)
      return send_error(conn, req, http::status::method_not_allowed, code::bad_request, "use POST");
    // application/json only: a cross-site form cannot send it without a CORS preflight, which
    // this route does not grant.
    auto type = req[http::field::content_type];
    if (!type.starts_with("application/json"))
      return send_error(conn, req, http::status::unsupported_media_type, code::bad_request, "send application/json");

    boost::system::error_code ec;
    json::value body = json::parse(req.body(), ec);
    const json::string* name = nullptr;
    if (!ec && body.is_object())
      if (auto* n = body.as_object().if_contains("name"); n && n->is_string()) name = &n->get_string();
    if (!name) return send_error(conn, req, http::status::bad_request, code::bad_request, "expected {\"name\": \"...\"}");
    std::string display = trimmed(*name);
    if (display.empty() || display.size() > 64)
      return send_error(conn, req, http::status::bad_request, code::bad_request, "a name is 1 to 64 characters");
    auto user_id = dev_user_id(display);
    if (!user_id)
      return send_error(conn, req, http::status::bad_request, code::bad_request,
                        "a name needs at least one Latin letter or digit");
    try {
      auto token = verifier_->sign_dev_login({*user_id, display}, dev_login_ttl);
      spdlog::info("dev login: a token for user {}", *user_id);
      send_json(conn, req, http::status::ok, json::object{{"token", token}, {"userId", *user_id}, {"name", display}});
    } catch (const std::exception& e) {  // RS256 / ES256 without a private key
      spdlog::error("dev login: cannot sign: {}", e.what());
      send_error(conn, req, http::status::internal_server_error, code::internal, "the server cannot sign tokens");
    }
  }

 private:
  static std::string trimmed(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return std::string(s);
  }

  bool enabled_;
  std::shared_ptr<const auth::jwt_verifier> verifier_;
};

}  // namespace

std::span<const embedded_file> files() noexcept { return {embedded_files, embedded_file_count}; }

const embedded_file* find_file(std::string_view name) noexcept {
  for (const auto& f : files())
    if (f.name == name) return &f;
  return nullptr;
}

std::optional<std::string> dev_user_id(std::string_view name) {
  std::string id;
  bool dash = false;
  for (unsigned char c : name) {
    if (std::isalnum(c) && c < 0x80) {
      if (dash && !id.empty()) id.push_back('-');
      dash = false;
      id.push_back(static_cast<char>(std::tolower(c)));
    } else {
      dash = true;
    }
    if (id.size() >= 32) break;
  }
  if (id.empty()) return std::nullopt;
  return id;
}

void add_routes(sio::transport::http_server& http, const config& cfg,
                std::shared_ptr<const auth::jwt_verifier> verifier) {
  // "/" is the longest-prefix fallback: whatever no other route takes is looked up here.
  http.add_route("/", small_body, std::make_shared<files_route>(std::vector<files_route::alias>{{"/", "index.html"}}, true));
  // As the reference server does, the client bundle under the Socket.IO path (the page expects
  // the default one): these more specific prefixes win over the Engine.IO route.
  std::string base = cfg.path.ends_with('/') ? cfg.path : cfg.path + '/';
  for (std::string_view file : {"socket.io.min.js", "socket.io.js"}) {
    auto route = std::make_shared<files_route>(std::vector<files_route::alias>{}, false);
    std::string path = base + std::string(file);
    route->add_alias(path, files_route::bundle);
    http.add_route(std::move(path), small_body, std::move(route));
  }
  http.add_route("/api/dev/login", small_body, std::make_shared<dev_login_route>(cfg.dev_login, std::move(verifier)));
  http.add_route(std::string(page_config_route::path), small_body, std::make_shared<page_config_route>(cfg));
}

}  // namespace parley::web
