#include "parley/http/api.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <spdlog/spdlog.h>

#include "parley/events.hpp"
#include "parley/http/multipart.hpp"
#include "parley/store/file_access.hpp"

namespace parley::http_api {

namespace json = boost::json;
using sio::transport::http_connection;
using sio::transport::request;
using sio::transport::response;
using sio::transport::route_handler;

namespace {

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

response json_response(const request& req, http::status status, const json::value& body) {
  auto res = sio::transport::make_response(req, status, json::serialize(body), "application/json; charset=utf-8");
  res.set(http::field::cache_control, "no-store");
  return res;
}

// Answers with the CORS grant applied.
void send(const std::shared_ptr<http_connection>& conn, const sio::transport::cors_options& cors, const request& req,
          response res) {
  sio::transport::apply_cors(cors, req, res);
  conn->respond(std::move(res));
}

bool valid_file_id(std::string_view id) {
  if (id.empty() || id.size() > 200) return false;
  for (unsigned char c : id)
    if (!std::isalnum(c) && c != '-' && c != '_') return false;
  return true;
}

class health_route final : public route_handler {
 public:
  health_route(sio::server& io, sio::transport::cors_options cors) : io_(io), cors_(std::move(cors)) {}

  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    if (req.method() == http::verb::options) return conn->respond(sio::transport::preflight_response(cors_, req));
    if (path_of(req.target()) != "/api/socket/health")
      return send(conn, cors_, req, json_error(req, http::status::not_found, events::code::not_found, "not found"));
    if (req.method() != http::verb::get && req.method() != http::verb::head)
      return send(conn, cors_, req,
                  json_error(req, http::status::method_not_allowed, events::code::bad_request, "use GET"));
    auto& nsp = io_.sockets();
    std::size_t rooms = nsp.adapter() ? nsp.adapter()->local_rooms().size() : 0;  // this node's
    json::value body = {{"status", "ok"},
                        {"socket", {{"initialized", true}, {"connected", nsp.size()}, {"rooms", rooms}}}};
    send(conn, cors_, req, json_response(req, http::status::ok, body));
  }

 private:
  sio::server& io_;
  sio::transport::cors_options cors_;
};

class not_found_route final : public route_handler {
 public:
  explicit not_found_route(sio::transport::cors_options cors) : cors_(std::move(cors)) {}
  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    if (req.method() == http::verb::options) return conn->respond(sio::transport::preflight_response(cors_, req));
    send(conn, cors_, req, json_error(req, http::status::not_found, events::code::not_found, "not found"));
  }

 private:
  sio::transport::cors_options cors_;
};

bool is_files_collection(std::string_view path) { return path == "/api/files" || path == "/api/files/"; }

class files_route;

// An upload's body on its way to disk: the multipart framing parsed as it arrives, the file's
// bytes written chunk by chunk to a temporary file (small writes, on the event loop; the fsync and
// rename come later, on the blocking pool). Dropped unfinished, it removes that file.
class upload_sink final : public sio::transport::body_sink {
 public:
  upload_sink(std::shared_ptr<files_route> route, files::file_storage& files, std::string_view boundary,
              std::string user_id, std::size_t max_file_bytes)
      : route_(std::move(route)),
        files_(files),
        parser_(boundary, "file", {.max_file_bytes = max_file_bytes}),
        user_id_(std::move(user_id)) {}

  bool write(std::string_view bytes) override {
    if (failed()) return false;
    error_ = parser_.feed(bytes, [this](std::string_view data) {
      if (!writer_) writer_ = files_.open_writer();
      writer_->write(data);  // a failure shows in writer_->ok()
    });
    return !failed();
  }
  void finish(const std::shared_ptr<http_connection>& conn, request&& header) override;
  void abort() override { writer_.reset(); }

  bool disk_failed() const { return writer_ && !writer_->ok(); }
  // The body has ended: its parse error, if any.
  std::error_code end_of_body() {
    if (!error_) error_ = parser_.finish();
    return error_;
  }
  const std::optional<multipart::part>& file() const { return parser_.file(); }
  const std::string& user_id() const { return user_id_; }
  // The file's bytes so far (an empty file has no writer yet).
  std::unique_ptr<files::writer> take_writer() { return writer_ ? std::move(writer_) : files_.open_writer(); }

 private:
  bool failed() const { return error_ || disk_failed(); }

  std::shared_ptr<files_route> route_;
  files::file_storage& files_;
  multipart::stream_parser parser_;
  std::string user_id_;
  std::error_code error_;
  std::unique_ptr<files::writer> writer_;
};

class files_route final : public route_handler, public std::enable_shared_from_this<files_route> {
 public:
  files_route(files::file_storage& files, std::shared_ptr<const auth::jwt_verifier> verifier, files_options opts)
      : files_(files), verifier_(std::move(verifier)), opts_(std::move(opts)) {}

  // An upload is checked on its header (token, Content-Type) before any byte of it is stored,
  // then streamed to disk.
  std::shared_ptr<sio::transport::body_sink> open_body(const std::shared_ptr<http_connection>& conn,
                                                       const request& req) override {
    if (req.method() != http::verb::post || !is_files_collection(path_of(req.target()))) return nullptr;
    return start_upload(conn, req);
  }

  void handle(const std::shared_ptr<http_connection>& conn, request&& req) override {
    if (req.method() == http::verb::options) return conn->respond(sio::transport::preflight_response(opts_.cors, req));
    auto path = path_of(req.target());
    const bool collection = is_files_collection(path);
    std::string_view id;
    if (!collection) {
      if (!path.starts_with("/api/files/"))  // e.g. /api/filesXYZ
        return fail(conn, req, http::status::not_found, events::code::not_found, "not found");
      id = path.substr(std::string_view("/api/files/").size());
    }
    if (collection && req.method() != http::verb::post)
      return fail(conn, req, http::status::method_not_allowed, events::code::bad_request, "use POST");
    if (!collection && req.method() != http::verb::get && req.method() != http::verb::head)
      return fail(conn, req, http::status::method_not_allowed, events::code::bad_request, "use GET");

    if (collection) {  // a POST whose body was not streamed: none was announced
      auto upload = start_upload(conn, req);
      if (!upload) return;
      upload->write(req.body());
      return upload->finish(conn, std::move(req));
    }
    auto user = authorize(conn, req);
    if (!user) return;
    if (!valid_file_id(id)) return fail(conn, req, http::status::not_found, events::code::not_found, "file not found");
    download(conn, std::move(req), std::string(id), *user);
  }

  // A body far over the limit never reaches handle(): the transport refuses it, in our format.
  void body_too_large(const request& req, sio::transport::response& res) override {
    res = json_error(req, http::status::payload_too_large, events::code::payload_too_large,
                     "the file is larger than the upload limit");
    sio::transport::apply_cors(opts_.cors, req, res);
  }

 private:
  void fail(const std::shared_ptr<http_connection>& conn, const request& req, http::status status,
            std::string_view code, std::string_view message) {
    send(conn, opts_.cors, req, json_error(req, status, code, message));
  }

  // The Bearer token's user, or nothing (answered 401).
  std::optional<std::string> authorize(const std::shared_ptr<http_connection>& conn, const request& req) {
    auto token = bearer_token(req[http::field::authorization]);
    if (token.empty()) {
      fail(conn, req, http::status::unauthorized, events::code::unauthorized, "Authentication error: No token provided");
      return std::nullopt;
    }
    auto who = verifier_->verify(token);
    if (!who) {
      bool expired = who.error() == auth::auth_error::token_expired;
      fail(conn, req, http::status::unauthorized, events::code::unauthorized,
           expired ? "Authentication error: Token expired" : "Authentication error: Invalid token");
      return std::nullopt;
    }
    return std::move(who->user_id);
  }

  // The sink of an upload that may go ahead, or nothing (answered 401 or 400).
  std::shared_ptr<upload_sink> start_upload(const std::shared_ptr<http_connection>& conn, const request& req) {
    auto user = authorize(conn, req);
    if (!user) return nullptr;
    auto boundary = multipart::boundary_from_content_type(req[http::field::content_type]);
    if (!boundary) {
      fail(conn, req, http::status::bad_request, events::code::bad_request, "expected multipart/form-data with a boundary");
      return nullptr;
    }
    if (opts_.allow_upload && !opts_.allow_upload(*user)) {
      fail(conn, req, http::status::too_many_requests, events::code::rate_limited, "too many uploads: try again later");
      return nullptr;
    }
    return std::make_shared<upload_sink>(shared_from_this(), files_, *boundary, std::move(*user), opts_.max_upload_bytes);
  }

 public:
  // The body has ended (or the sink refused the rest): answer, and keep the file if all is well.
  // A refused file is removed before the answer goes out: whoever hears 413 finds nothing stored.
  void finish_upload(const std::shared_ptr<http_connection>& conn, request&& req, upload_sink& up) {
    auto refuse = [&](http::status status, std::string_view code, std::string_view message) {
      up.abort();
      fail(conn, req, status, code, message);
    };
    if (up.disk_failed()) {
      spdlog::error("upload failed: cannot write to {}", files_.dir().string());
      return refuse(http::status::internal_server_error, events::code::internal, "the file could not be stored");
    }
    if (auto ec = up.end_of_body()) {
      if (ec == multipart::error::file_too_large)
        return refuse(http::status::payload_too_large, events::code::payload_too_large,
                      "the file is larger than " + std::to_string(opts_.max_upload_bytes) + " bytes");
      return refuse(http::status::bad_request, events::code::bad_request, ec.message());
    }
    const auto& file = up.file();
    if (!file) return refuse(http::status::bad_request, events::code::bad_request, "no `file` field");
    files::file_info info{file->filename.value_or("file"),
                          file->content_type.empty() ? "application/octet-stream" : file->content_type, up.user_id()};
    auto shared = std::make_shared<request>(std::move(req));
    files_.async_commit(up.take_writer(), std::move(info),
                        [self = shared_from_this(), conn, shared](sio::result<file_record> r) {
      if (!r) {
        spdlog::error("upload failed: {}", r.error().message());
        return self->fail(conn, *shared, http::status::internal_server_error, events::code::internal,
                          "the file could not be stored");
      }
      auto body = json::value_from(events::attachment{r->id, r->name, r->size, r->content_type, files::url_for(r->id)});
      send(conn, self->opts_.cors, *shared, json_response(*shared, http::status::created, body));
    });
  }

 private:
  void download(const std::shared_ptr<http_connection>& conn, request&& req, std::string id, std::string user_id) {
    auto shared = std::make_shared<request>(std::move(req));
    auto self = shared_from_this();
    files_.db().get_file(id, [self, conn, shared, user_id](sio::result<file_record> f) {
      if (!f) {
        bool missing = f.error() == store_error::not_found;
        return self->fail(conn, *shared, missing ? http::status::not_found : http::status::internal_server_error,
                          missing ? events::code::not_found : events::code::internal,
                          missing ? "file not found" : "internal error");
      }
      std::string file_id = f->id;  // not f->id: the lambda below moves *f
      self->files_.db().file_conversations(
          std::move(file_id), [self, conn, shared, user_id, rec = std::move(*f)](sio::result<std::vector<conversation>> convs) mutable {
        if (!convs)
          return self->fail(conn, *shared, http::status::internal_server_error, events::code::internal, "internal error");
        if (!may_read_file(rec, *convs, user_id))
          return self->fail(conn, *shared, http::status::forbidden, events::code::forbidden,
                            "this file belongs to a private conversation");
        self->files_.read(rec, [self, conn, shared, rec](sio::result<std::string> bytes) {
          if (!bytes)
            return self->fail(conn, *shared, http::status::not_found, events::code::not_found, "file content missing");
          const bool head = shared->method() == http::verb::head;
          auto res = sio::transport::make_response(*shared, http::status::ok, head ? std::string() : std::move(*bytes),
                                                   rec.content_type);
          if (head) res.content_length(static_cast<std::uint64_t>(rec.size));
          res.set(http::field::content_disposition, content_disposition(rec.name));
          res.set("X-Content-Type-Options", "nosniff");
          res.set(http::field::cache_control, "private, max-age=0");
          send(conn, self->opts_.cors, *shared, std::move(res));
        });
      });
    });
  }

  files::file_storage& files_;
  std::shared_ptr<const auth::jwt_verifier> verifier_;
  files_options opts_;
};

void upload_sink::finish(const std::shared_ptr<http_connection>& conn, request&& header) {
  route_->finish_upload(conn, std::move(header), *this);
}

}  // namespace

std::size_t upload_route_limit(std::size_t max_upload_bytes) { return max_upload_bytes + 64 * 1024; }

response json_error(const request& req, http::status status, std::string_view code, std::string_view message) {
  json::value body = {{"ok", false}, {"error", {{"code", code}, {"message", message}}}};
  return json_response(req, status, body);
}

std::string content_disposition(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string ascii, encoded;
  for (unsigned char c : name) {
    ascii.push_back(c >= 0x20 && c < 0x7F && c != '"' && c != '\\' ? static_cast<char>(c) : '_');
    if (std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos) {
      encoded.push_back(static_cast<char>(c));
    } else {
      encoded.push_back('%');
      encoded.push_back(hex[c >> 4]);
      encoded.push_back(hex[c & 0xF]);
    }
  }
  if (ascii.empty()) ascii = encoded = "file";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

std::string_view bearer_token(std::string_view h) {
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  if (h.size() < 7) return {};
  for (std::size_t i = 0; i < 6; ++i)
    if (std::tolower(static_cast<unsigned char>(h[i])) != "bearer"[i]) return {};
  if (h[6] != ' ') return {};
  h.remove_prefix(7);
  while (!h.empty() && h.front() == ' ') h.remove_prefix(1);
  while (!h.empty() && h.back() == ' ') h.remove_suffix(1);
  return h;
}

std::shared_ptr<route_handler> make_health_route(sio::server& io, sio::transport::cors_options cors) {
  return std::make_shared<health_route>(io, std::move(cors));
}
std::shared_ptr<route_handler> make_files_route(files::file_storage& files,
                                                std::shared_ptr<const auth::jwt_verifier> verifier, files_options opts) {
  return std::make_shared<files_route>(files, std::move(verifier), std::move(opts));
}
std::shared_ptr<route_handler> make_not_found_route(sio::transport::cors_options cors) {
  return std::make_shared<not_found_route>(std::move(cors));
}

}  // namespace parley::http_api
