// The benchmark server: the handlers of bench/reference-server.mjs (the npm socket.io
// package) on Parley's sio library, so that bench/loadgen measures both on equal terms.
//   bench-server --port 0 --threads 2      # prints "listening on 127.0.0.1:<port>"
//
// Default namespace, no auth, the reference's default options:
//   join  (room, ack)          joins the room, then acks (no arguments)
//   bcast ({ room, payload })  to(room).emit("msg", payload), the sender excluded
//   echo  (arg, ack)           acks arg
#include <cstdint>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

int main(int argc, char** argv) {
  CLI::App app{"Parley's benchmark server (the handlers of bench/reference-server.mjs)"};
  std::uint16_t port = 3000;
  std::size_t threads = 0;
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free port)");
  app.add_option("--threads", threads, "I/O threads (0: one per core)");
  CLI11_PARSE(app, argc, argv);

  try {
    sio::transport::io_pool pool(threads);
    sio::transport::http_server http(pool);
    sio::server io(http);

    io.on_connection([](const std::shared_ptr<sio::socket>& socket) {
      sio::socket* s = socket.get();  // handlers live in the socket: no owning capture (no cycle)
      socket->on("join", [s](sio::event& ev) {
        const auto& args = ev.args();
        if (!args.empty() && args[0].is_string()) s->join(args[0].get_string());
        ev.ack();
      });
      socket->on("bcast", [s](sio::event& ev) {
        const auto& args = ev.args();
        if (args.empty() || !args[0].is_object()) return;
        const auto& o = args[0].get_object();
        const auto* room = o.if_contains("room");
        const auto* payload = o.if_contains("payload");
        if (!room || !room->is_string() || !payload) return;
        s->to(room->get_string()).emit("msg", *payload);
      });
      socket->on("echo", [](sio::event& ev) {
        if (ev.args().empty()) {
          ev.ack();
        } else {
          ev.ack(std::move(ev.args()[0]));  // as the reference hands its object back: no copy
        }
      });
    });

    http.listen("127.0.0.1", port);
    std::cout << "listening on 127.0.0.1:" << http.port() << std::endl;
    pool.on_signal([&] {
      io.close();
      pool.stop();
    });
    pool.run();
  } catch (const std::exception& e) {
    std::cerr << "bench-server: " << e.what() << std::endl;
    return 1;
  }
}
