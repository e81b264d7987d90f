// The only file of the Socket.IO server that knows the real Engine.IO server: everything else is
// testable over in-memory sessions.
#include "sio/engineio/server.hpp"
#include "sio/socketio/detail/server_core.hpp"
#include "sio/socketio/server.hpp"

namespace sio {

server::server(transport::http_server& http, server_options opts) : server(std::move(opts)) {
  auto engine = std::make_shared<eio::server>(http, *core_, core_->options().engine);
  core_->engine_close = [e = std::weak_ptr<eio::server>(engine)] {
    if (auto s = e.lock()) s->close_all();
  };
  engine_ = std::move(engine);
}

}  // namespace sio
