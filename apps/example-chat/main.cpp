// The README's example: a chat server in under 30 lines.
#include <sio/socketio/server.hpp>
#include <sio/transport/http_server.hpp>
#include <sio/transport/io_pool.hpp>
#include <iostream>

int main() {
  sio::transport::io_pool pool;            // one event loop per core
  sio::transport::http_server http(pool);
  sio::server io(http);                    // Socket.IO at /socket.io/

  io.on_connection([](const std::shared_ptr<sio::socket>& socket) {
    socket->emit("welcome", socket->id());
    socket->on("join", [socket](sio::event& ev) {  // join(room, ack)
      socket->join(ev.args().at(0).as_string());
      ev.ack("joined");
    });
    socket->on("chat", [socket](sio::event& ev) {  // chat({ room, text }, ack)
      auto& msg = ev.args().at(0).as_object();
      socket->to(msg.at("room").as_string()).emit("chat", socket->id(), msg.at("text"));
      ev.ack("sent");
    });
  });

  http.listen("127.0.0.1", 3000);
  std::cout << "listening on 127.0.0.1:3000" << std::endl;
  pool.on_signal([&] { pool.stop(); });
  pool.run();
}
