// The Socket.IO server over the real Engine.IO server and HTTP listener, on a loop thread, with
// a raw HTTP long-polling client: the paths that the in-memory fake_session cannot take.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// One HTTP/1.1 request on a fresh connection; returns the response body.
std::string request(std::uint16_t port, http::verb verb, const std::string& target, const std::string& body = {}) {
  asio::io_context ctx;
  asio::ip::tcp::socket sock(ctx);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req(verb, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "text/plain;charset=UTF-8");
  req.body() = body;
  req.prepare_payload();
  http::write(sock, req);
  boost::beast::flat_buffer buf;
  http::response<http::string_body> res;
  http::read(sock, buf, res);
  return res.body();
}

// A server on one loop thread, and what its handlers saw.
struct live_server {
  sio::transport::io_pool pool{1};
  sio::transport::http_server http{pool};
  std::optional<sio::server> io;
  std::thread thread;

  explicit live_server(sio::server_options opts) {
    io.emplace(http, std::move(opts));
  }
  void start() {
    http.listen("127.0.0.1", 0);
    thread = std::thread([this] { pool.run(); });
  }
  ~live_server() {
    pool.stop();
    if (thread.joinable()) thread.join();
    io.reset();
  }
};

}  // namespace

// A handler floods a client that does not read (a polling client without a pending GET) past the
// send-queue bound, from the session's own thread: the send that overflows must close the
// session without running the socket's disconnect handlers inside that send (they used to run
// there, under the connection's send lock: user code that takes its own lock and broadcasts
// could then deadlock against another thread doing the same in the other order).
TEST(SocketIoLive, OverflowCloseRunsNoHandlerInsideTheSend) {
  sio::server_options opts;
  opts.engine.max_send_queue_bytes = 256 * 1024;
  opts.engine.allow_websocket = false;
  live_server srv(std::move(opts));

  std::atomic<bool> inside_emit{false};
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<std::string> reason;
  bool handler_ran_inside_emit = true;
  std::size_t emits_refused = 0;
  srv.io->on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->on("flood", [&, s](sio::event&) {
      const std::string chunk(16 * 1024, 'x');
      inside_emit = true;
      for (int i = 0; i < 64; ++i) emits_refused += s->emit("chunk", chunk) ? 1 : 0;
      inside_emit = false;
    });
    s->on_disconnect([&](sio::disconnect_reason why) {
      std::lock_guard lock(mutex);
      handler_ran_inside_emit = inside_emit.load();
      reason = std::string(sio::to_string(why));
      cv.notify_all();
    });
  });
  srv.start();
  const auto port = srv.http.port();

  auto open = request(port, http::verb::get, "/socket.io/?EIO=4&transport=polling");
  ASSERT_FALSE(open.empty());
  ASSERT_EQ(open[0], '0') << open;
  auto sid = std::string(boost::json::parse(open.substr(1)).at("sid").as_string());
  const auto target = "/socket.io/?EIO=4&transport=polling&sid=" + sid;
  EXPECT_EQ(request(port, http::verb::post, target, "40"), "ok");
  EXPECT_EQ(request(port, http::verb::post, target, R"(42["flood"])"), "ok");

  std::unique_lock lock(mutex);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return reason.has_value(); })) << "the flooded client was never closed";
  EXPECT_EQ(*reason, "transport error");
  EXPECT_FALSE(handler_ran_inside_emit) << "the disconnect handler ran inside the send that overflowed";
  // The socket disconnects once the handler has returned: until then its emits are accepted (and
  // dropped by the closed session).
  EXPECT_EQ(emits_refused, 0u);
}
