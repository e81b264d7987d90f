#include "sio/engineio/server.hpp"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/url/parse.hpp>

#include "sio/common/random_id.hpp"
#include "sio/engineio/detail/errors.hpp"
#include "sio/engineio/detail/session_impl.hpp"
#include "sio/transport/http_server.hpp"

namespace sio::eio {

namespace http = transport::http;
using detail::http_error;
using detail::server_core;
using detail::session_impl;

std::shared_ptr<session_impl> server_core::find(const std::string& sid) {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second;
}

void server_core::add(const std::shared_ptr<session_impl>& s) {
  std::lock_guard lock(mutex_);
  sessions_.emplace(s->id(), s);
  count_.store(sessions_.size(), std::memory_order_relaxed);
}

void server_core::remove(const std::string& sid) {
  std::lock_guard lock(mutex_);
  sessions_.erase(sid);
  count_.store(sessions_.size(), std::memory_order_relaxed);
}

void server_core::clear() {
  decltype(sessions_) gone;
  {
    std::lock_guard lock(mutex_);
    gone.swap(sessions_);
    count_.store(0, std::memory_order_relaxed);
    for (auto& l : loops_) l->clear();
  }
}

std::vector<std::shared_ptr<session_impl>> server_core::all() {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<session_impl>> out;
  out.reserve(sessions_.size());
  for (auto& [_, s] : sessions_) out.push_back(s);
  return out;
}

namespace {

handshake_request make_handshake_request(const transport::request& req, const std::string& remote) {
  handshake_request hr;
  hr.url = std::string(req.target());
  hr.headers.reserve(static_cast<std::size_t>(std::distance(req.begin(), req.end())));  // exactly: no slack kept
  for (const auto& field : req) {
    std::string name(field.name_string());
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    hr.headers.emplace(std::move(name), std::string(field.value()));
  }
  if (auto url = boost::urls::parse_origin_form(req.target())) {
    hr.query.reserve(url->params().size());
    for (auto param : url->params()) hr.query.emplace(param.key, param.value);
  }
  hr.remote_address = remote;
  hr.time = std::chrono::system_clock::now();
  return hr;
}

bool is_websocket_upgrade(const transport::request& req) { return boost::beast::websocket::is_upgrade(req); }

// The route Engine.IO serves: checks the request as the reference does, then hands it to a
// new or existing session on that session's thread.
class route final : public transport::route_handler {
 public:
  explicit route(std::shared_ptr<server_core> core) : core_(std::move(core)) {}

  void handle(const std::shared_ptr<transport::http_connection>& conn, transport::request&& req) override {
    const auto& opts = core_->opts;
    if (req.method() == http::verb::options && opts.cors.enabled)
      return conn->respond(transport::preflight_response(opts.cors, req));

    auto url = boost::urls::parse_origin_form(req.target());
    if (!url) return refuse(conn, req, http_error::bad_request);
    auto params = url->params();
    auto param = [&](std::string_view key) -> std::optional<std::string> {
      auto it = params.find(key);
      if (it == params.end()) return std::nullopt;
      return std::string((*it).value);
    };

    bool upgrade = is_websocket_upgrade(req);
    auto transport_name = param("transport").value_or("");
    bool known = (transport_name == "polling" && opts.allow_polling) ||
                 (transport_name == "websocket" && opts.allow_websocket);
    if (!known) return refuse(conn, req, http_error::unknown_transport);

    if (auto sid = param("sid")) {
      auto session = core_->find(*sid);
      if (!session) return refuse(conn, req, http_error::unknown_sid);
      if (upgrade) {
        if (transport_name != "websocket") return refuse(conn, req, http_error::bad_request);
        return hand_over_upgrade(conn, std::move(req), session);
      }
      if (transport_name != "polling") return refuse(conn, req, http_error::bad_request);
      return dispatch_poll(conn, std::move(req), session);
    }

    // A new session: the handshake.
    if (req.method() != http::verb::get) return refuse(conn, req, http_error::bad_handshake_method);
    if (param("EIO").value_or("") != "4") return refuse(conn, req, http_error::unsupported_protocol_version);
    if (transport_name == "websocket" && !upgrade) return refuse(conn, req, http_error::bad_request);
    if (transport_name == "polling" && upgrade) return refuse(conn, req, http_error::bad_request);

    auto hr = make_handshake_request(req, conn->remote_address());
    if (opts.allow_request)
      if (auto refusal = opts.allow_request(hr)) return refuse(conn, req, http_error::forbidden, *refusal);

    auto session = std::make_shared<session_impl>(core_, conn->context(), sio::random_id(), std::move(hr));
    core_->add(session);
    if (upgrade) {
      boost::beast::flat_buffer leftover;
      auto stream = conn->take_stream(leftover);
      session->open_with_websocket(stream.release_socket(), std::move(req));
    } else {
      session->open_with_polling(conn, std::move(req));
    }
  }

  void body_too_large(const transport::request& req, transport::response& res) override {
    transport::apply_cors(core_->opts.cors, req, res);
    auto url = boost::urls::parse_origin_form(req.target());
    if (!url) return;
    auto it = url->params().find("sid");
    if (it == url->params().end()) return;
    if (auto session = core_->find(std::string((*it).value)))
      session->post([session] { session->on_payload_too_large(); });
  }

 private:
  void refuse(const std::shared_ptr<transport::http_connection>& conn, const transport::request& req, http_error code,
              std::string_view message = {}) {
    auto status = code == http_error::forbidden ? http::status::forbidden : http::status::bad_request;
    auto res = transport::make_response(req, status, detail::error_body(code, message), "application/json");
    transport::apply_cors(core_->opts.cors, req, res);
    if (is_websocket_upgrade(req)) res.keep_alive(false);
    conn->respond(std::move(res));
  }

  void dispatch_poll(const std::shared_ptr<transport::http_connection>& conn, transport::request&& req,
                     const std::shared_ptr<session_impl>& session) {
    bool get = req.method() == http::verb::get;
    if (!get && req.method() != http::verb::post) return refuse(conn, req, http_error::bad_request);
    if (get) {
      // A cancelled long-polling request closes the session (set here, on the connection's thread).
      conn->on_abort([session, c = conn.get()] { session->post([session, c] { session->on_get_aborted(c); }); });
    }
    // The session's state belongs to its thread; the request may have arrived on another.
    auto run = [conn, session, get, req = std::move(req)]() mutable {
      if (get)
        session->on_poll_get(conn, std::move(req));
      else
        session->on_poll_post(conn, std::move(req));
    };
    if (session->on_session_thread())
      run();
    else
      boost::asio::post(session->io(), std::move(run));
  }

  void hand_over_upgrade(const std::shared_ptr<transport::http_connection>& conn, transport::request&& req,
                         const std::shared_ptr<session_impl>& session) {
    boost::beast::flat_buffer leftover;
    auto socket = conn->take_stream(leftover).release_socket();
    if (&conn->context() == &session->io()) return session->on_upgrade_request(std::move(socket), std::move(req));
    // Move the socket to the session's loop, so that the session and its transport share a thread.
    boost::system::error_code ec;
    auto protocol = socket.local_endpoint(ec).protocol();
    auto fd = socket.release(ec);
    if (ec) return;
    boost::asio::post(session->io(), [session, fd, protocol, req = std::move(req)]() mutable {
      detail::tcp::socket moved(session->io());
      boost::system::error_code ec;
      moved.assign(protocol, fd, ec);
      if (ec) {
        ::close(fd);
        return;
      }
      session->on_upgrade_request(std::move(moved), std::move(req));
    });
  }

  std::shared_ptr<server_core> core_;
};

}  // namespace

struct server::impl {
  std::shared_ptr<server_core> core;
};

server::server(transport::http_server& http, handler& h, server_options opts) : impl_(std::make_shared<impl>()) {
  opts.cors.validate();  // fail at start, not per request
  if (opts.path.empty() || opts.path.front() != '/') opts.path.insert(opts.path.begin(), '/');
  if (opts.path.back() != '/') opts.path.push_back('/');
  impl_->core = std::make_shared<server_core>(std::move(opts), h);
  http.add_route(impl_->core->opts.path, impl_->core->opts.max_http_buffer_size, std::make_shared<route>(impl_->core));
}

server::~server() {
  // Sessions hold the core and the core holds them: drop the registry so that neither outlives
  // the server (their pending handlers release the sessions when the loops run or are destroyed).
  impl_->core->clear();
}

const server_options& server::options() const noexcept { return impl_->core->opts; }

std::size_t server::session_count() const noexcept { return impl_->core->count(); }

void server::close_all() {
  for (auto& s : impl_->core->all()) s->close(close_reason::server_shutting_down);
}

}  // namespace sio::eio
