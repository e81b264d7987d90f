// The HTTP listener with routes that throw: the client gets an answer, the loop goes on.
#include <gtest/gtest.h>

#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "sio/transport/http.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

struct throwing_route final : sio::transport::route_handler {
  void handle(const std::shared_ptr<sio::transport::http_connection>&, sio::transport::request&&) override {
    throw std::runtime_error("route bug");
  }
};

struct ok_route final : sio::transport::route_handler {
  void handle(const std::shared_ptr<sio::transport::http_connection>& conn, sio::transport::request&& req) override {
    conn->respond(sio::transport::make_response(req, bhttp::status::ok, "fine"));
  }
};

// A route that streams the body and throws on its first chunk.
struct throwing_sink_route final : sio::transport::route_handler {
  struct sink final : sio::transport::body_sink {
    bool write(std::string_view) override { throw std::runtime_error("sink bug"); }
    void finish(const std::shared_ptr<sio::transport::http_connection>&, sio::transport::request&&) override {}
    void abort() override {}
  };
  void handle(const std::shared_ptr<sio::transport::http_connection>&, sio::transport::request&&) override {}
  std::shared_ptr<sio::transport::body_sink> open_body(const std::shared_ptr<sio::transport::http_connection>&,
                                                       const sio::transport::request&) override {
    return std::make_shared<sink>();
  }
};

bhttp::response<bhttp::string_body> request(std::uint16_t port, bhttp::verb verb, const std::string& target,
                                            std::string body = {}) {
  asio::io_context ctx;
  asio::ip::tcp::socket sock(ctx);
  sock.connect({asio::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::string_body> req(verb, target, 11);
  req.set(bhttp::field::host, "127.0.0.1");
  req.body() = std::move(body);
  req.prepare_payload();
  bhttp::write(sock, req);
  boost::beast::flat_buffer buf;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(sock, buf, res);
  return res;
}

}  // namespace

TEST(HttpServer, ARouteThatThrowsAnswers500AndTheServerGoesOn) {
  sio::transport::io_pool pool(1);
  std::mutex mutex;
  std::vector<std::string> reported;
  pool.on_error([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::lock_guard lock(mutex);
      reported.emplace_back(ex.what());
    }
  });
  sio::transport::http_server http(pool);
  http.add_route("/boom", 1024, std::make_shared<throwing_route>());
  http.add_route("/stream", 1 << 20, std::make_shared<throwing_sink_route>());
  http.add_route("/ok", 1024, std::make_shared<ok_route>());
  http.listen("127.0.0.1", 0);
  std::thread loop([&] { pool.run(); });

  auto boom = request(http.port(), bhttp::verb::get, "/boom");
  EXPECT_EQ(boom.result(), bhttp::status::internal_server_error);
  EXPECT_FALSE(boom.keep_alive());
  auto stream = request(http.port(), bhttp::verb::post, "/stream", std::string(100'000, 'x'));
  EXPECT_EQ(stream.result(), bhttp::status::internal_server_error);
  auto ok = request(http.port(), bhttp::verb::get, "/ok");
  EXPECT_EQ(ok.result(), bhttp::status::ok);
  EXPECT_EQ(ok.body(), "fine");

  pool.stop();
  loop.join();
  EXPECT_EQ(reported, (std::vector<std::string>{"route bug", "sink bug"}));
}
