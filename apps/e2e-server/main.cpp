// The e2e test server: tests/e2e/CONTRACT.md implemented with Parley's sio library. The same
// contract is implemented with the npm socket.io package in tests/e2e/reference-server.mjs;
// the end-to-end tests (tests/e2e/*.test.mjs, the real socket.io-client) run against both.
//   e2e-server --port 3000
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;

namespace {

// ---- payloads with binary attachments --------------------------------------------------


// The elements of `args` as a payload, with the attachments of `from` they use.
sio::payload payload_of(const json::array& args, const std::vector<sio::binary>& from) {
  sio::payload p;
  for (const auto& a : args) p.args.push_back(sio::move_argument(a, from, p.attachments));
  return p;
}

// ---- reading commands ------------------------------------------------------------------

bool flag(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

// A room name or an array of room names.
std::vector<sio::room> rooms_of(const json::value& v) {
  std::vector<sio::room> rooms;
  if (v.is_string()) {
    rooms.emplace_back(v.get_string());
  } else {
    for (const auto& r : v.as_array()) rooms.emplace_back(r.as_string());
  }
  return rooms;
}

std::chrono::milliseconds millis(const json::value& v) {
  return std::chrono::milliseconds(json::value_to<std::int64_t>(v));
}

json::array sorted(std::vector<sio::room> rooms) {
  std::sort(rooms.begin(), rooms.end());
  json::array out;
  for (auto& r : rooms) out.emplace_back(r);
  return out;
}

json::object query_of(const sio::handshake& hs) {
  json::object q;
  for (const auto& [k, v] : hs.query) q.emplace(k, v);  // the first value of a repeated key
  return q;
}

// ---- the operator command --------------------------------------------------------------

sio::broadcast_operator build_operator(sio::socket& s, const json::object& spec) {
  sio::broadcast_operator op = flag(spec, "broadcast") ? s.broadcast() : s.nsp().all();
  if (const json::value* to = spec.if_contains("to")) op = op.to(rooms_of(*to));
  if (const json::value* except = spec.if_contains("except")) op = op.except(rooms_of(*except));
  if (flag(spec, "volatile")) op = op.volatile_();
  if (flag(spec, "local")) op = op.local();
  return op;
}

void run_operator(sio::socket& s, const sio::event& ev, const sio::ack_fn& ack) {
  const json::object& spec = ev.args().at(0).as_object();
  const auto op = build_operator(s, spec);
  const std::string_view action = spec.at("action").as_string();
  static const json::array no_args;
  const json::value* args_v = spec.if_contains("args");
  const json::array& args = args_v ? args_v->as_array() : no_args;

  if (action == "emit") {
    const std::string event(spec.at("event").as_string());
    if (const json::value* timeout = spec.if_contains("timeout")) {
      op.timeout(millis(*timeout))
          .emit_with_ack(event, payload_of(args, ev.attachments()),
                         [ack](std::error_code ec, std::vector<sio::payload> responses) {
                           // Each recipient's first ack argument, binaries included.
                           sio::payload result;
                           json::array firsts;
                           for (auto& r : responses)
                             firsts.push_back(r.args.empty() ? json::value() : sio::move_argument(r.args[0], r.attachments, result.attachments));
                           result.args.push_back(json::object{{"timedOut", static_cast<bool>(ec)}, {"responses", std::move(firsts)}});
                           ack.send(std::move(result));
                         });
      return;
    }
    if (const json::value* count = spec.if_contains("count")) {
      const auto n = json::value_to<std::int64_t>(*count);
      for (std::int64_t i = 0; i < n; ++i) {
        auto p = payload_of(args, ev.attachments());
        p.args.emplace_back(i);
        op.emit_payload(event, std::move(p));
      }
    } else {
      op.emit_payload(event, payload_of(args, ev.attachments()));
    }
    ack(json::object{{"ok", true}});
  } else if (action == "fetchSockets") {
    op.fetch_sockets([ack](sio::result<std::vector<sio::remote_socket>> found) {
      if (!found) return ack(json::object{{"error", found.error().message()}});
      std::sort(found->begin(), found->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      json::array sockets;
      for (auto& r : *found) {
        sockets.push_back(json::object{{"id", r.id}, {"rooms", sorted(r.rooms)}, {"data", r.data}});
      }
      ack(json::object{{"sockets", std::move(sockets)}});
    });
  } else if (action == "socketsJoin") {
    op.sockets_join(rooms_of(spec.at("rooms")));
    ack(json::object{{"ok", true}});
  } else if (action == "socketsLeave") {
    op.sockets_leave(rooms_of(spec.at("rooms")));
    ack(json::object{{"ok", true}});
  } else if (action == "disconnectSockets") {
    op.disconnect_sockets(flag(spec, "close"));
    ack(json::object{{"ok", true}});
  } else {
    ack(json::object{{"error", "unknown action " + std::string(action)}});
  }
}

// ---- the handlers ----------------------------------------------------------------------

// Registers a command: a malformed one (wrong argument types) is logged, never fatal.
void command(const std::shared_ptr<sio::socket>& s, std::string name, std::function<void(sio::event&)> fn) {
  s->on(name, [name, fn = std::move(fn)](sio::event& ev) {
    try {
      fn(ev);
    } catch (const std::exception& e) {
      std::cerr << name << ": " << e.what() << '\n';
    }
  });
}

void on_connection(sio::server& io, const std::shared_ptr<sio::socket>& s) {
  // Handlers run on the socket's thread while it is alive: they may use it by reference.
  // Callbacks that may run later hold a weak_ptr.
  sio::socket& self = *s;
  std::weak_ptr<sio::socket> weak = s;

  auto any_events = std::make_shared<json::array>();
  s->on_any([any_events](sio::event& ev) { any_events->emplace_back(ev.name()); });

  command(s, "echo", [&self](sio::event& ev) {
    if (ev.has_ack()) {
      ev.ack_callback().send(ev.raw());
    } else {
      self.emit_payload("echo", ev.raw());
    }
  });

  command(s, "handshake", [&self](sio::event& ev) {
    ev.ack(json::object{{"id", self.id()},
                        {"nsp", self.nsp().name()},
                        {"auth", self.handshake().auth},
                        {"query", query_of(self.handshake())}});
  });

  command(s, "join", [&self](sio::event& ev) {
    self.join(rooms_of(ev.args().at(0)));
    ev.ack(sorted(self.rooms()));
  });

  command(s, "leave", [&self](sio::event& ev) {
    self.leave(ev.args().at(0).as_string());
    ev.ack(sorted(self.rooms()));
  });

  command(s, "set-data", [&self](sio::event& ev) {
    self.data = ev.args().empty() ? json::value() : ev.args().at(0);
    ev.ack(true);
  });

  command(s, "any-events", [any_events](sio::event& ev) { ev.ack(*any_events); });

  command(s, "emit-with-ack", [&self](sio::event& ev) {
    const json::object& spec = ev.args().at(0).as_object();
    static const json::array no_args;
    const json::value* args_v = spec.if_contains("args");
    const json::array& args = args_v ? args_v->as_array() : no_args;
    self.timeout(millis(spec.at("timeout")))
        .emit_with_ack(std::string(spec.at("event").as_string()), payload_of(args, ev.attachments()),
                       [ack = ev.ack_callback()](std::error_code ec, sio::payload response) {
                         sio::payload result;
                         result.attachments = std::move(response.attachments);  // the placeholders stay valid
                         result.args.push_back(json::object{
                             {"timedOut", static_cast<bool>(ec)},
                             {"args", ec ? json::array() : std::move(response.args)}});
                         if (ec) result.attachments.clear();
                         ack.send(std::move(result));
                       });
  });

  command(s, "operator", [&self](sio::event& ev) { run_operator(self, ev, ev.ack_callback()); });

  command(s, "server-disconnect", [weak](sio::event& ev) {
    bool close = false;
    if (!ev.args().empty() && ev.args()[0].is_object()) close = flag(ev.args()[0].get_object(), "close");
    if (auto s = weak.lock()) s->disconnect(close);
  });

  s->on_disconnect([&io, id = s->id(), nsp = s->nsp().name()](sio::disconnect_reason why) {
    io.of("/").to("observers").emit("disconnected",
                                    json::object{{"id", id}, {"nsp", nsp}, {"reason", sio::to_string(why)}});
  });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parley e2e test server (tests/e2e/CONTRACT.md)"};
  std::uint16_t port = 3000;
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free port)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  sio::transport::io_pool pool;
  sio::transport::http_server http(pool);

  sio::server_options opts;
  opts.path = "/socket.io/";
  opts.engine.ping_interval = 300ms;
  opts.engine.ping_timeout = 200ms;
  opts.engine.max_http_buffer_size = 100'000;
  opts.connect_timeout = 1000ms;
  sio::server io(http, opts);

  auto& priv = io.of("/private");
  priv.use([](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
    const json::value* token = s->handshake().auth.if_contains("token");
    if (token && token->is_string() && token->get_string() == "secret") return next();
    next(sio::connect_error{"unauthorized", json::object{{"code", 401}, {"reason", "bad token"}}});
  });

  const auto handlers = [&io](const std::shared_ptr<sio::socket>& s) { on_connection(io, s); };
  io.of("/").on_connection(handlers);
  io.of("/custom").on_connection(handlers);
  io.of(std::regex("^/dyn-\\d+$")).on_connection(handlers);
  priv.on_connection(handlers);

  try {
    http.listen("127.0.0.1", port);
  } catch (const std::exception& e) {
    std::cerr << "e2e-server: " << e.what() << '\n';
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << http.port() << std::endl;
  pool.on_signal([&] {
    io.close();
    pool.stop();
  });
  pool.run();
}
