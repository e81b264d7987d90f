// A cluster member: Socket.IO on 127.0.0.1 with Parley's sio and its Redis adapter, behaving like
// tests/cluster/node-member.mjs (npm socket.io + @socket.io/redis-adapter), so that Parley and
// Node.js members serve one cluster in the tests of tests/cluster/ (README.md there).
//   cluster-member --port PORT --redis redis://127.0.0.1:RPORT [--requests-timeout MS]
// Its id is "member-PORT"; every socket's data is {"member": id}. Client events, each acknowledged
// (`room`: a room or socket id, an array of them, or null for everyone):
//   whoami → id · join / leave room → true · bcast {room, event, payload, except?, volatile?,
//   local?} → true · bcast-except {room, except, event, payload} → true · bcast-ack {room, event,
//   payload, timeout} → {error, responses} · count room → n or {error} · fetch room →
//   [{id, rooms, data, query}] or {error} · all-rooms → [rooms] or {error} · server-emit payload →
//   {error, responses} · sockets-join / sockets-leave {from, to} → true · kick room → true.
// The server-side event "ping-servers" is answered with the id, and shown to this member's clients
// as "server-ping" (payload, id). Prints "listening on 127.0.0.1:PORT" once it accepts
// connections; stops on SIGTERM / SIGINT.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include "sio/redis_adapter/redis_adapter.hpp"
#include "sio/socketio/server.hpp"
#include "sio/transport/http_server.hpp"
#include "sio/transport/io_pool.hpp"

namespace json = boost::json;

namespace {

// ---- payloads with binary attachments --------------------------------------------------


// A payload of the given values (taken from an event or a response carrying `from`).
sio::payload payload_of(std::initializer_list<const json::value*> values, const std::vector<sio::binary>& from) {
  sio::payload p;
  for (const json::value* v : values) p.args.push_back(v ? sio::move_argument(*v, from, p.attachments) : json::value());
  return p;
}

// The first argument of each response, with its binaries, as one array argument of `out`.
json::array firsts(std::vector<sio::payload>& responses, sio::payload& out) {
  json::array list;
  for (auto& r : responses) list.push_back(r.args.empty() ? json::value() : sio::move_argument(r.args[0], r.attachments, out.attachments));
  return list;
}

json::value error_of(std::error_code ec) { return ec ? json::value(ec.message()) : json::value(); }

// ---- reading commands ------------------------------------------------------------------

const json::value& arg(const sio::event& ev, std::size_t i) {
  static const json::value null;
  return i < ev.args().size() ? ev.args()[i] : null;
}

const json::value* field(const json::value& v, std::string_view key) {
  const json::object* o = v.if_object();
  return o ? o->if_contains(key) : nullptr;
}

// A field the command cannot do without. Throws when it is absent.
const json::value& require(const json::value& spec, std::string_view key) {
  if (const json::value* v = field(spec, key)) return *v;
  throw std::invalid_argument("missing \"" + std::string(key) + "\"");
}

bool flag(const json::value& spec, std::string_view key) {
  const json::value* v = field(spec, key);
  return v && v->is_bool() && v->get_bool();
}

// A room or socket id, or an array of them. Throws on anything else.
std::vector<sio::room> rooms_of(const json::value& v) {
  if (v.is_string()) return {sio::room(v.get_string())};
  std::vector<sio::room> rooms;
  for (const auto& r : v.as_array()) rooms.emplace_back(r.as_string());
  return rooms;
}

// io.in(room): everybody for null (or absent), else those rooms.
sio::broadcast_operator target(sio::server& io, const json::value* room) {
  sio::broadcast_operator op = io.sockets().all();
  return room && !room->is_null() ? op.to(rooms_of(*room)) : op;
}

std::string event_name(const json::value& spec) {
  const json::value* e = field(spec, "event");
  return e && e->is_string() ? std::string(e->get_string()) : std::string("news");
}

json::array sorted(std::vector<sio::room> rooms) {
  std::sort(rooms.begin(), rooms.end());
  json::array out;
  for (auto& r : rooms) out.emplace_back(r);
  return out;
}

json::value client_query(const sio::handshake& hs) {
  auto it = hs.query.find("client");
  return it == hs.query.end() ? json::value() : json::value(it->second);
}

// ---- the handlers ------------------------------------------------------------------------

// Registers a command: a malformed one (wrong argument types) is logged and not acknowledged,
// never fatal.
void command(const std::shared_ptr<sio::socket>& s, std::string name, std::function<void(sio::event&)> fn) {
  s->on(name, [name, fn = std::move(fn)](sio::event& ev) {
    try {
      fn(ev);
    } catch (const std::exception& e) {
      std::cerr << "cluster-member: " << name << ": " << e.what() << '\n';
    }
  });
}

void on_connection(sio::server& io, const std::string& id, const std::shared_ptr<sio::socket>& s) {
  // Handlers run on the socket's thread while it is alive: they may use it by reference.
  sio::socket& self = *s;
  self.data = json::object{{"member", id}};

  command(s, "whoami", [&id](sio::event& ev) { ev.ack(id); });

  command(s, "join", [&self](sio::event& ev) {
    self.join(rooms_of(arg(ev, 0)));
    ev.ack(true);
  });

  command(s, "leave", [&self](sio::event& ev) {
    for (const auto& r : rooms_of(arg(ev, 0))) self.leave(r);
    ev.ack(true);
  });

  command(s, "bcast", [&io](sio::event& ev) {
    const json::value& spec = arg(ev, 0);
    sio::broadcast_operator op = target(io, field(spec, "room"));
    if (const json::value* except = field(spec, "except"); except && !except->is_null()) op = op.except(rooms_of(*except));
    if (flag(spec, "volatile")) op = op.volatile_();
    if (flag(spec, "local")) op = op.local();
    op.emit_payload(event_name(spec), payload_of({field(spec, "payload")}, ev.attachments()));
    ev.ack(true);
  });

  command(s, "bcast-except", [&io](sio::event& ev) {
    const json::value& spec = arg(ev, 0);
    target(io, field(spec, "room"))
        .except(rooms_of(require(spec, "except")))
        .emit_payload(event_name(spec), payload_of({field(spec, "payload")}, ev.attachments()));
    ev.ack(true);
  });

  command(s, "bcast-ack", [&io](sio::event& ev) {
    const json::value& spec = arg(ev, 0);
    const auto timeout = std::chrono::milliseconds(json::value_to<std::int64_t>(require(spec, "timeout")));
    target(io, field(spec, "room"))
        .timeout(timeout)
        .emit_with_ack(event_name(spec), payload_of({field(spec, "payload")}, ev.attachments()),
                       [ack = ev.ack_callback()](std::error_code ec, std::vector<sio::payload> responses) {
                         sio::payload result;
                         json::array list = firsts(responses, result);
                         result.args.push_back(json::object{{"error", error_of(ec)}, {"responses", std::move(list)}});
                         ack.send(std::move(result));
                       });
  });

  command(s, "count", [&io](sio::event& ev) {
    target(io, &arg(ev, 0)).fetch_sockets([ack = ev.ack_callback()](sio::result<std::vector<sio::remote_socket>> found) {
      if (!found) return ack(json::object{{"error", found.error().message()}});
      ack(found->size());
    });
  });

  command(s, "fetch", [&io](sio::event& ev) {
    target(io, &arg(ev, 0)).fetch_sockets([ack = ev.ack_callback()](sio::result<std::vector<sio::remote_socket>> found) {
      if (!found) return ack(json::object{{"error", found.error().message()}});
      std::sort(found->begin(), found->end(), [](const auto& a, const auto& b) { return a.id < b.id; });
      json::array sockets;
      for (const auto& r : *found) {
        sockets.push_back(json::object{{"id", r.id},
                                       {"rooms", sorted(r.rooms)},
                                       {"data", r.data},
                                       {"query", r.handshake ? client_query(*r.handshake) : json::value()}});
      }
      ack(std::move(sockets));
    });
  });

  command(s, "all-rooms", [&io](sio::event& ev) {
    io.sockets().adapter()->all_rooms([ack = ev.ack_callback()](sio::result<std::vector<sio::room>> rooms) {
      if (!rooms) return ack(json::object{{"error", rooms.error().message()}});
      ack(sorted(std::move(*rooms)));
    });
  });

  command(s, "server-emit", [&io](sio::event& ev) {
    io.server_side_emit_with_ack("ping-servers", payload_of({&arg(ev, 0)}, ev.attachments()),
                                 [ack = ev.ack_callback()](std::error_code ec, std::vector<sio::payload> replies) {
                                   sio::payload result;
                                   json::array list = firsts(replies, result);
                                   result.args.push_back(json::object{{"error", error_of(ec)}, {"responses", std::move(list)}});
                                   ack.send(std::move(result));
                                 });
  });

  command(s, "sockets-join", [&io](sio::event& ev) {
    const json::value& spec = arg(ev, 0);
    target(io, field(spec, "from")).sockets_join(rooms_of(require(spec, "to")));
    ev.ack(true);
  });

  command(s, "sockets-leave", [&io](sio::event& ev) {
    const json::value& spec = arg(ev, 0);
    target(io, field(spec, "from")).sockets_leave(rooms_of(require(spec, "to")));
    ev.ack(true);
  });

  command(s, "kick", [&io](sio::event& ev) {
    target(io, &arg(ev, 0)).disconnect_sockets(false);
    ev.ack(true);
  });
}

// A server_side_emit from another member or an emitter: args.args = ["ping-servers", payload?].
void on_server_side_emit(sio::server& io, const std::string& id, const sio::payload& args,
                         const sio::server_side_reply& reply) {
  if (args.args.empty() || !args.args[0].is_string() || args.args[0].get_string() != "ping-servers") return;
  const json::value* payload = args.args.size() > 1 ? &args.args[1] : nullptr;
  const json::value member(id);
  io.local().emit_payload("server-ping", payload_of({payload, &member}, args.attachments));
  if (reply) reply(sio::payload{json::array{json::value(id)}, {}});
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parley cluster member (tests/cluster/): Socket.IO on 127.0.0.1 with the Redis adapter"};
  std::uint16_t port = 0;
  std::string redis_url;
  std::int64_t requests_timeout_ms = 5000;
  app.add_option("--port", port, "TCP port on 127.0.0.1 (0: any free port)")->required();
  app.add_option("--redis", redis_url, "Redis URL, redis://[:password@]host:port[/db]")->required();
  app.add_option("--requests-timeout", requests_timeout_ms, "how long a cross-member request waits, ms")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  sio::transport::io_pool pool;
  sio::transport::http_server http(pool);

  sio::redis_adapter_options ro;
  ro.url = redis_url;
  ro.requests_timeout = std::chrono::milliseconds(requests_timeout_ms);
  ro.log = [](std::string_view line) { std::cerr << "cluster-member: " << line << std::endl; };
  sio::server_options opts;
  try {
    opts.adapter = sio::make_redis_adapter(pool.context(0), std::move(ro));
  } catch (const std::invalid_argument& e) {
    std::cerr << "cluster-member: " << e.what() << '\n';
    return 2;
  }
  sio::server io(http, std::move(opts));

  std::string id;  // "member-PORT", set once listening, before any handler runs
  io.on_connection([&io, &id](const std::shared_ptr<sio::socket>& s) { on_connection(io, id, s); });
  io.sockets().on_server_side_emit([&io, &id](const sio::payload& args, const sio::server_side_reply& reply) {
    on_server_side_emit(io, id, args, reply);
  });

  try {
    http.listen("127.0.0.1", port);
  } catch (const std::exception& e) {
    std::cerr << "cluster-member: " << e.what() << '\n';
    return 1;
  }
  id = "member-" + std::to_string(http.port());
  std::cout << "listening on 127.0.0.1:" << http.port() << std::endl;
  pool.on_signal([&] {
    io.close();
    pool.stop();
  });
  pool.run();
  // `io` (and the adapter factory it holds) is destroyed after the loops stopped.
}
