#include "parley/app.hpp"

#include <atomic>
#include <chrono>
#include <exception>
#include <memory>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

#include "parley/auth/guard.hpp"
#include "parley/auth/jwt.hpp"
#include "parley/handlers/brain.hpp"
#include "parley/handlers/presence.hpp"
#include "parley/http/api.hpp"
#include "parley/http/file_storage.hpp"
#include "parley/http/web.hpp"
#include "parley/store/store.hpp"
#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

namespace parley {

namespace {

sio::transport::cors_options cors_from(const config& cfg) {
  sio::transport::cors_options c;
  c.enabled = !cfg.cors_origins.empty();
  c.origins = cfg.cors_origins;
  c.credentials = cfg.cors_credentials;
  return c;
}

sio::server_options socketio_options(const config& cfg) {
  sio::server_options o;
  o.path = cfg.path;
  o.engine.ping_interval = cfg.ping_interval;
  o.engine.ping_timeout = cfg.ping_timeout;
  o.engine.max_http_buffer_size = cfg.max_http_buffer_size;
  bool polling = false, websocket = false;
  for (const auto& t : cfg.transports) {
    polling = polling || t == "polling";
    websocket = websocket || t == "websocket";
  }
  o.engine.allow_polling = polling;
  o.engine.allow_websocket = websocket;
  o.engine.allow_upgrades = polling && websocket;
  o.engine.cors = cors_from(cfg);
  // A handler that throws is a bug of ours: logged, and the server carries on.
  o.on_error = [](const sio::handler_error& e) {
    spdlog::error("{} threw (namespace {}, socket {}{}{}): {}", e.where, e.nsp, e.socket_id,
                  e.event.empty() ? "" : ", event ", e.event, e.what());
  };
  return o;
}

// Small bodies only: the routes that take none.
constexpr std::size_t small_body = 4 * 1024;

}  // namespace

int run_server(const config& cfg) {
  try {
    const bool development_secret =
        cfg.jwt.alg == auth::algorithm::hs256 && (cfg.jwt_secret_is_default || cfg.jwt.secret == development_jwt_secret);
    // Configuration parsing refuses this already; a config built in code gets the same answer.
    if (development_secret && !is_loopback_host(cfg.host)) {
      spdlog::critical("parley cannot start: the development JWT secret on the non-loopback address {}: set "
                       "--jwt-secret / PARLEY_JWT_SECRET",
                       cfg.host);
      return 2;
    }
    if (development_secret) {
      spdlog::warn("****************************************************************************");
      spdlog::warn("* the JWT secret is the DEVELOPMENT default: anyone can forge tokens.       *");
      spdlog::warn("* set --jwt-secret / PARLEY_JWT_SECRET before exposing this server.        *");
      spdlog::warn("****************************************************************************");
    }
    auto verifier = std::make_shared<const auth::jwt_verifier>(cfg.jwt);
    std::unique_ptr<store> db = make_sqlite_store({.path = cfg.database});

    boost::asio::thread_pool blocking(2);  // disk I/O of uploads, off the event loops
    files::file_storage files(blocking.get_executor(), cfg.upload_dir, *db);
    files.prepare();

    sio::transport::io_pool pool(cfg.threads);
    pool.on_error([](std::exception_ptr e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        spdlog::error("an event loop's handler threw: {}", ex.what());
      } catch (...) {
        spdlog::error("an event loop's handler threw a non-standard exception");
      }
    });
    sio::transport::http_server http(pool);
    sio::server io(http, socketio_options(cfg));
    io.use(auth::make_guard(verifier));

    auto online = make_memory_presence();
    brain_options bo;
    bo.limits.max_message_length = cfg.max_message_length;
    bo.limits.max_attachment_bytes = cfg.max_upload_bytes;
    bo.rate_limit = cfg.rate_limit;
    bo.typing_timeout = cfg.typing_timeout;
    bo.limits.max_conversation_members = cfg.max_conversation_members;
    bo.creates_per_minute = cfg.conversation_creates_per_minute;
    bo.uploads_per_minute = cfg.uploads_per_minute;
    bo.max_connections_per_user = cfg.max_connections_per_user;
    bo.max_connections_per_address = cfg.max_connections_per_address;
    brain chat(io, *db, *online, files, pool.context(0), bo);
    chat.attach();
    auto may_upload = [limits = chat.limits()](const std::string& user_id) {
      return limits->quota(user_id)->take_upload();
    };

    const auto cors = cors_from(cfg);
    http.add_route("/api/socket/health", small_body, http_api::make_health_route(io, cors));
    http.add_route("/api/files", http_api::upload_route_limit(cfg.max_upload_bytes),
                   http_api::make_files_route(files, verifier, {.max_upload_bytes = cfg.max_upload_bytes, .cors = cors,
                                                               .allow_upload = may_upload}));
    web::add_routes(http, cfg, verifier);  // the web page at /, its socket.io client bundle, the dev login
    http.add_route("/api/", small_body, http_api::make_not_found_route(cors));

    http.listen(cfg.host, cfg.port);
    spdlog::info("parley listening on http://{}:{} (storage: sqlite {})", cfg.host, http.port(), cfg.database);

    // Graceful shutdown: no new connections; pending writes commit and their acks go out while
    // the sockets are still open; then the sockets close, and the loops stop once the close
    // packets had a moment to leave. A second signal stops at once.
    std::atomic<bool> shutting_down{false};
    boost::asio::steady_timer grace(pool.context(0));
    pool.on_signal([&] {
      if (shutting_down.exchange(true)) {
        spdlog::warn("second signal: stopping now");
        pool.stop();
        return;
      }
      spdlog::info("shutting down: finishing pending writes");
      http.stop_accepting();
      chat.stop();
      boost::asio::post(blocking, [&] {
        db->close();
        boost::asio::post(pool.context(0), [&] {
          io.close();
          grace.expires_after(std::chrono::milliseconds(200));
          grace.async_wait([&](const boost::system::error_code&) { pool.stop(); });
        });
      });
    });

    pool.run();
    blocking.join();
    db->close();  // idempotent: after a second signal, the writes still finish here
    spdlog::info("parley stopped");
    return 0;
  } catch (const std::exception& e) {
    spdlog::critical("parley cannot start: {}", e.what());
    return 1;
  }
}

}  // namespace parley
