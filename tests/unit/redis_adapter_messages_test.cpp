// The Redis adapter's messages (sio/redis_adapter/messages.hpp) against bytes the npm packages
// published on a real Redis (redis-adapter-vectors/, made by capture.mjs), then the edges one by
// one: what the reference would choke on is refused here, what it accepts is read the same way.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <string_view>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "sio/msgpack/codec.hpp"
#include "sio/redis_adapter/messages.hpp"

namespace {

namespace json = boost::json;
namespace wire = sio::redis_wire;
using wire::request_type;

struct vector {
  const char* name;
  const char* channel;
  const char* kind;
  int answers;
  bool exact;
  const char* model;
  const char* hex;
};

const vector captured[] = {
#include "redis-adapter-vectors/redis_adapter_vectors.inc"
};

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

double double_of_bits(std::string_view hex) {
  const std::string b = from_hex(hex);
  std::uint64_t bits = 0;
  for (unsigned char c : b) bits = bits << 8 | c;
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

const json::object* special(const json::value& m, const char* key) {
  const json::object* o = m.if_object();
  return o && o->size() == 1 && o->contains(key) ? o : nullptr;
}

// Whether a decoded value (placeholders for `bins`) is the model's (capture.mjs: $bin, $double).
bool same(const json::value& got, const std::vector<sio::binary>& bins, const json::value& model) {
  if (auto* b = special(model, "$bin")) {
    auto n = sio::parser::placeholder_num(got);
    return n && *n < bins.size() && bins[*n].view() == from_hex(b->at("$bin").as_string());
  }
  if (auto* d = special(model, "$double")) {
    if (!(got.is_double() || got.is_int64() || got.is_uint64())) return false;
    const double want = double_of_bits(d->at("$double").as_string());
    const double have = got.to_number<double>();
    return have == want || (std::isnan(have) && std::isnan(want));
  }
  if (model.is_int64() || model.is_uint64()) {
    return (got.is_int64() || got.is_uint64() || got.is_double()) && got.to_number<double>() == model.to_number<double>();
  }
  if (model.is_array()) {
    if (!got.is_array() || got.as_array().size() != model.as_array().size()) return false;
    for (std::size_t i = 0; i < model.as_array().size(); ++i)
      if (!same(got.as_array()[i], bins, model.as_array()[i])) return false;
    return true;
  }
  if (model.is_object()) {
    if (!got.is_object() || got.as_object().size() != model.as_object().size()) return false;
    auto g = got.as_object().begin();
    for (const auto& kv : model.as_object()) {
      if (g->key() != kv.key() || !same(g->value(), bins, kv.value())) return false;
      ++g;
    }
    return true;
  }
  return got == model;
}

// Rooms as the model has them (a number is named by its JavaScript text).
std::vector<std::string> rooms_of(const json::value& model) {
  std::vector<std::string> out;
  for (const auto& r : model.as_array()) {
    if (r.is_string()) out.emplace_back(r.as_string());
    else out.push_back(std::to_string(r.to_number<std::int64_t>()));
  }
  return out;
}
std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}
std::vector<std::string> sorted(const sio::room_set& s) { return {s.begin(), s.end()}; }

void check_flags(const sio::broadcast_flags& f, const json::value& model) {
  const json::object& m = model.as_object();
  EXPECT_EQ(f.volatile_, m.contains("volatile") && m.at("volatile").as_bool());
  EXPECT_EQ(f.compress, !(m.contains("compress") && !m.at("compress").as_bool()));
  if (m.contains("timeout")) {
    ASSERT_TRUE(f.timeout);
    EXPECT_EQ(f.timeout->count(), m.at("timeout").to_number<std::int64_t>());
  } else {
    EXPECT_FALSE(f.timeout);
  }
}

void check_opts(const sio::broadcast_options& o, const json::value& model, bool with_flags) {
  const json::object& m = model.as_object();
  EXPECT_EQ(sorted(o.rooms), sorted(rooms_of(m.at("rooms"))));
  EXPECT_EQ(sorted(o.except), sorted(rooms_of(m.at("except"))));
  if (with_flags) check_flags(o.flags, m.at("flags"));
}

void check_broadcast(const vector& v, const std::string& bytes, const json::value& model) {
  auto m = wire::decode_broadcast(bytes);
  ASSERT_TRUE(m) << m.error().message();
  const auto& a = model.as_array();
  EXPECT_EQ(m->uid, a[0].as_string());
  const auto& packet = a[1].as_object();
  EXPECT_EQ(m->packet.packet.nsp, packet.at("nsp").as_string());
  EXPECT_EQ(m->packet.packet.type, sio::parser::packet_type::event);
  EXPECT_TRUE(same(m->packet.packet.data, m->packet.attachments, packet.at("data")));
  check_opts(m->opts, a[2], true);
  // Only a single-room broadcast names its room in the channel.
  const std::string prefix = "socket.io#" + m->packet.packet.nsp + "#";
  EXPECT_EQ(wire::channel_room(v.channel, prefix), m->opts.rooms.size() == 1 ? *m->opts.rooms.begin() : "");
  if (v.exact) {
    auto again = wire::encode_broadcast(m->uid, m->packet, m->packet.packet.nsp, m->opts);
    ASSERT_TRUE(again);
    EXPECT_EQ(to_hex(*again), v.hex);
  }
}

void check_request(const vector& v, const std::string& bytes, const json::value& model) {
  auto r = wire::decode_request(bytes);
  ASSERT_TRUE(r) << r.error().message();
  const json::object& m = model.as_object();
  EXPECT_EQ(static_cast<int>(r->type), m.at("type").to_number<int>());
  EXPECT_EQ(r->uid.has_value(), m.contains("uid"));
  if (r->uid) {
    EXPECT_EQ(*r->uid, m.at("uid").as_string());
  }
  EXPECT_EQ(r->request_id.has_value(), m.contains("requestId"));
  if (r->request_id) {
    EXPECT_EQ(*r->request_id, m.at("requestId").as_string());
  }
  const std::string uid = r->uid.value_or("");
  const std::string id = r->request_id.value_or("");
  std::string again;
  switch (r->type) {
    case request_type::sockets:
      EXPECT_EQ(sorted(r->opts.rooms), sorted(rooms_of(m.at("rooms"))));
      again = wire::encode_sockets_request(uid, id, r->opts.rooms);
      break;
    case request_type::all_rooms:
      again = wire::encode_all_rooms_request(uid, id);
      break;
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect:
      EXPECT_EQ(r->has_opts, m.contains("opts"));
      if (r->has_opts) {
        check_opts(r->opts, m.at("opts"), false);
        if (r->type == request_type::remote_disconnect) {
          EXPECT_EQ(r->close, m.at("close").as_bool());
          again = wire::encode_remote_disconnect(uid, r->opts, r->close);
        } else {
          EXPECT_EQ(r->rooms, rooms_of(m.at("rooms")));
          again = r->type == request_type::remote_join ? wire::encode_remote_join(uid, r->opts, r->rooms)
                                                       : wire::encode_remote_leave(uid, r->opts, r->rooms);
        }
      } else {
        EXPECT_EQ(r->sid, m.at("sid").as_string());
        if (r->type != request_type::remote_disconnect) {
          EXPECT_EQ(r->single_room, m.at("room").as_string());
        }
        return;  // nobody sends these any more: sio only answers them
      }
      break;
    case request_type::remote_fetch:
      check_opts(r->opts, m.at("opts"), false);
      again = wire::encode_remote_fetch(uid, id, r->opts);
      break;
    case request_type::server_side_emit: {
      EXPECT_TRUE(same(r->data.args, r->data.attachments, m.at("data")));
      auto e = wire::encode_server_side_emit(uid, r->request_id ? std::optional<std::string_view>(id) : std::nullopt, r->data);
      ASSERT_TRUE(e);
      again = *e;
      break;
    }
    case request_type::broadcast: {
      const auto& packet = m.at("packet").as_object();
      EXPECT_TRUE(same(r->packet.packet.data, r->packet.attachments, packet.at("data")));
      EXPECT_EQ(r->packet.packet.nsp, packet.at("nsp").as_string());
      check_opts(r->opts, m.at("opts"), true);
      auto e = wire::encode_broadcast_request(uid, id, r->packet, r->packet.packet.nsp, r->opts);
      ASSERT_TRUE(e);
      again = *e;
      break;
    }
    default:
      FAIL() << "unexpected type";
  }
  if (v.exact) {
    EXPECT_EQ(to_hex(again), v.hex);
  }
}

void check_response(const vector& v, const std::string& bytes, const json::value& model) {
  auto r = wire::decode_response(bytes);
  ASSERT_TRUE(r) << r.error().message();
  const json::object& m = model.as_object();
  EXPECT_EQ(r->request_id, m.at("requestId").as_string());
  EXPECT_EQ(r->type.has_value(), m.contains("type"));
  std::string again;
  switch (static_cast<request_type>(v.answers)) {
    case request_type::sockets: {
      auto ids = wire::read_socket_ids(*r);
      ASSERT_TRUE(ids);
      EXPECT_EQ(*ids, rooms_of(m.at("sockets")));
      again = wire::encode_sockets_response(r->request_id, *ids);
      break;
    }
    case request_type::all_rooms: {
      auto rooms = wire::read_rooms(*r);
      ASSERT_TRUE(rooms);
      EXPECT_EQ(*rooms, rooms_of(m.at("rooms")));
      again = wire::encode_all_rooms_response(r->request_id, *rooms);
      break;
    }
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect:
      EXPECT_EQ(m.size(), 1u);
      again = wire::encode_done_response(r->request_id);
      break;
    case request_type::remote_fetch: {
      auto sockets = wire::read_fetched_sockets(*r);
      ASSERT_TRUE(sockets);
      const auto& list = m.at("sockets").as_array();
      ASSERT_EQ(sockets->size(), list.size());
      for (std::size_t i = 0; i < list.size(); ++i) {
        const auto& s = list[i].as_object();
        const auto& d = (*sockets)[i];
        EXPECT_EQ(d.id, s.at("id").as_string());
        EXPECT_EQ(d.rooms, rooms_of(s.at("rooms")));
        EXPECT_EQ(d.data, s.at("data"));
        const auto& h = s.at("handshake").as_object();
        ASSERT_TRUE(d.handshake);
        EXPECT_EQ(d.handshake->address, h.at("address").as_string());
        EXPECT_EQ(d.handshake->url, h.at("url").as_string());
        EXPECT_EQ(d.handshake->issued, h.at("issued").to_number<std::int64_t>());
        EXPECT_EQ(d.handshake->auth, h.at("auth").as_object());
        EXPECT_EQ(d.handshake->query.find("client")->second, "c1");
        EXPECT_EQ(d.handshake->headers.find("upgrade")->second, "websocket");
        // Date#toString has whole seconds: the issued milliseconds, rounded down.
        EXPECT_EQ(std::chrono::duration_cast<std::chrono::seconds>(d.handshake->time.time_since_epoch()).count(),
                  d.handshake->issued / 1000);
      }
      // Written back: the same JSON value (the headers' order aside: an object's keys are
      // compared as a set).
      again = wire::encode_fetch_response(r->request_id, *sockets);
      EXPECT_EQ(json::parse(again), json::parse(bytes));
      break;
    }
    case request_type::server_side_emit:
    case request_type::broadcast_ack: {
      auto reply = wire::read_reply(*r);
      ASSERT_TRUE(reply);
      const char* key = v.answers == 6 ? "data" : "packet";
      ASSERT_EQ(reply->args.size(), m.contains(key) ? 1u : 0u);
      if (m.contains(key)) {
        EXPECT_TRUE(same(reply->args[0], reply->attachments, m.at(key)));
      }
      auto e = v.answers == 6 ? wire::encode_server_side_emit_response(r->request_id, *reply)
                              : wire::encode_broadcast_ack_response(r->request_id, *reply);
      ASSERT_TRUE(e);
      again = *e;
      break;
    }
    case request_type::broadcast_client_count: {
      auto n = wire::read_client_count(*r);
      ASSERT_TRUE(n);
      EXPECT_EQ(*n, m.at("clientCount").to_number<std::size_t>());
      again = wire::encode_client_count_response(r->request_id, *n);
      break;
    }
    default:
      FAIL() << "unexpected answer type " << v.answers;
  }
  if (v.exact) {
    EXPECT_EQ(to_hex(again), v.hex);
  }
}

}  // namespace

TEST(RedisAdapterMessages, CapturedFromTheNpmPackages) {
  ASSERT_GE(std::size(captured), 45u);
  int exact = 0;
  for (const vector& v : captured) {
    SCOPED_TRACE(v.name);
    const std::string bytes = from_hex(v.hex);
    const json::value model = json::parse(v.model);
    const std::string_view kind = v.kind;
    if (kind == "broadcast") check_broadcast(v, bytes, model);
    else if (kind == "request") check_request(v, bytes, model);
    else check_response(v, bytes, model);
    exact += v.exact;
  }
  EXPECT_GE(exact, 35);  // most are written byte for byte as the reference writes them
}

TEST(RedisAdapterMessages, UidsAndChannelsOfTheReference) {
  // The room of a channel is what follows the prefix, less its last character (slice(n, -1)).
  EXPECT_EQ(wire::channel_room("socket.io#/#", "socket.io#/#"), "");
  EXPECT_EQ(wire::channel_room("socket.io#/#room1#", "socket.io#/#"), "room1");
  EXPECT_EQ(wire::channel_room("socket.io#/#a#b#", "socket.io#/#"), "a#b");
  EXPECT_EQ(wire::channel_room("socket.io#/#x", "socket.io#/#"), "");
  EXPECT_EQ(wire::channel_room("socket.io#/#xy", "socket.io#/#"), "x");
  EXPECT_EQ(wire::channel_room("socket.io#/chat#r#", "socket.io#/#"), "");
}

TEST(RedisAdapterMessages, NumericRooms) {
  // Node.js rooms may be numbers: a broadcast to room 42 says 42 in its rooms and "42" in its channel.
  EXPECT_EQ(wire::numeric_room_alias("42"), std::nullopt);  // already the number's text
  EXPECT_EQ(wire::numeric_room_alias("42.0"), "42");
  EXPECT_EQ(wire::numeric_room_alias("4.2e1"), "42");
  EXPECT_EQ(wire::numeric_room_alias("+7"), "7");
  EXPECT_EQ(wire::numeric_room_alias("0.50"), "0.5");
  EXPECT_EQ(wire::numeric_room_alias("1e21"), "1e+21");
  EXPECT_EQ(wire::numeric_room_alias("room"), std::nullopt);
  EXPECT_EQ(wire::numeric_room_alias("12ab"), std::nullopt);
  EXPECT_EQ(wire::numeric_room_alias(""), std::nullopt);
  EXPECT_EQ(wire::numeric_room_alias("."), std::nullopt);
  EXPECT_EQ(wire::numeric_room_alias("1e"), std::nullopt);

  // Numbers in rooms and except are rooms named by their JavaScript text.
  auto bytes = sio::msgpack::encode(json::parse(R"(["u",{"type":2,"data":["e"],"nsp":"/"},{"rooms":[42,1.5,-3],"except":[7]}])"));
  auto m = wire::decode_broadcast(*bytes);
  ASSERT_TRUE(m);
  EXPECT_EQ(sorted(m->opts.rooms), (std::vector<std::string>{"-3", "1.5", "42"}));
  EXPECT_EQ(sorted(m->opts.except), (std::vector<std::string>{"7"}));
}

TEST(RedisAdapterMessages, BroadcastDefaultsAndFlags) {
  // The emitter's shape, no nsp (the reference assumes "/"), flags missing, unknown flags ignored.
  auto bytes = sio::msgpack::encode(json::parse(R"(["x",{"type":2,"data":["e",1]},{"rooms":["r"]}])"));
  auto m = wire::decode_broadcast(*bytes);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->packet.packet.nsp, "/");
  EXPECT_TRUE(m->opts.except.empty());
  EXPECT_FALSE(m->opts.flags.volatile_);
  EXPECT_TRUE(m->opts.flags.compress);

  bytes = sio::msgpack::encode(json::parse(
      R"(["x",{"type":2.0,"data":["e"],"nsp":"/","id":4},{"rooms":[],"except":[],"flags":{"volatile":1,"compress":0,"expectSingleResponse":true,"timeout":12.7,"local":true}}])"));
  m = wire::decode_broadcast(*bytes);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_FALSE(m->packet.packet.id);  // the receiving node numbers acknowledgements itself
  EXPECT_TRUE(m->opts.flags.volatile_);  // truthy
  EXPECT_TRUE(m->opts.flags.compress);   // only `false` turns it off
  EXPECT_TRUE(m->opts.flags.local);
  EXPECT_EQ(m->opts.flags.timeout, std::chrono::milliseconds(12));

  // What sio writes: only the flags that are set.
  sio::outgoing_packet p;
  p.packet.data = json::array{"e"};
  auto out = wire::encode_broadcast("abcdef", p, "/", {.rooms = {"r"}, .flags = {.compress = true}});
  auto back = sio::msgpack::decode(*out);
  EXPECT_EQ(serialize(back->json), R"(["abcdef",{"type":2,"data":["e"],"nsp":"/"},{"rooms":["r"],"except":[],"flags":{}}])");
  out = wire::encode_broadcast("abcdef", p, "/chat",
                               {.flags = {.volatile_ = true, .compress = false, .local = true, .timeout = std::chrono::milliseconds(5)}});
  back = sio::msgpack::decode(*out);
  EXPECT_EQ(serialize(back->json),
            R"(["abcdef",{"type":2,"data":["e"],"nsp":"/chat"},{"rooms":[],"except":[],"flags":{"volatile":true,"compress":false,"timeout":5}}])");
}

TEST(RedisAdapterMessages, BinaryIsRenumberedPerPayload) {
  // A bin before the packet (here in the uid's place, where nobody puts one) does not shift the
  // data's attachments: the payload's placeholders count from 0.
  sio::msgpack::attachment a = std::make_shared<const std::string>("AA");
  sio::msgpack::attachment b = std::make_shared<const std::string>("BB");
  const std::vector<sio::msgpack::attachment> bins{a, b};
  auto bytes = sio::msgpack::encode(
      json::parse(R"([{"_placeholder":true,"num":0},{"type":2,"data":["e",{"k":{"_placeholder":true,"num":1}}]},{}])"), bins);
  auto m = wire::decode_broadcast(*bytes);
  ASSERT_TRUE(m) << m.error().message();
  EXPECT_EQ(m->uid, "");  // not a string: nobody's
  ASSERT_EQ(m->packet.attachments.size(), 1u);
  EXPECT_EQ(m->packet.attachments[0].view(), "BB");
  EXPECT_EQ(serialize(m->packet.packet.data), R"(["e",{"k":{"_placeholder":true,"num":0}}])");

  // A placeholder that names nothing (a map that looks like one) is refused: a client would
  // refuse the packet.
  bytes = sio::msgpack::encode(json::parse(R"(["u",{"type":2,"data":["e",{"_placeholder":true,"num":3}]},{}])"));
  EXPECT_EQ(wire::decode_broadcast(*bytes).error(), wire::error::invalid_placeholder);
}

TEST(RedisAdapterMessages, MalformedBroadcastsAreRefused) {
  auto refuse = [](const char* json_text) {
    auto bytes = sio::msgpack::encode(json::parse(json_text));
    auto m = wire::decode_broadcast(*bytes);
    EXPECT_FALSE(m) << json_text;
    return m ? std::error_code{} : m.error();
  };
  EXPECT_EQ(refuse(R"({"uid":"u"})"), wire::error::not_a_broadcast);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]}])"), wire::error::not_a_broadcast);  // no opts: Node throws
  EXPECT_EQ(refuse(R"(["u",null,{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":3,"data":["e"]},{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":[]},{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":[1]},{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":"e"},{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["connect"]},{}])"), wire::error::invalid_packet);  // reserved
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"],"nsp":5},{}])"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]},null])"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]},{"rooms":"abc"}])"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]},{"rooms":[{}]}])"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]},{"except":[true]}])"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"(["u",{"type":2,"data":["e"]},{"flags":[]}])"), wire::error::invalid_opts);
  EXPECT_EQ(wire::decode_broadcast("").error(), sio::msgpack::error::truncated);
  EXPECT_EQ(wire::decode_broadcast("\x93\xa1").error(), sio::msgpack::error::truncated);
  EXPECT_FALSE(wire::decode_broadcast(R"({"json":"is not read here"})"));
}

TEST(RedisAdapterMessages, RequestsTheReferenceAccepts) {
  // JSON or MessagePack by the first byte.
  auto r = wire::decode_request(R"({"type":0,"requestId":"r","rooms":["a",5]})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, request_type::sockets);
  EXPECT_FALSE(r->uid);
  EXPECT_EQ(sorted(r->opts.rooms), (std::vector<std::string>{"5", "a"}));
  auto packed = sio::msgpack::encode(json::parse(R"({"uid":"u","type":1,"requestId":"r"})"));
  r = wire::decode_request(*packed);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, request_type::all_rooms);
  EXPECT_EQ(*r->uid, "u");

  // A uid that is not a string belongs to nobody; SOCKETS without rooms asks for every socket.
  r = wire::decode_request(R"({"uid":7,"type":0,"requestId":"r"})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->uid);
  EXPECT_TRUE(r->opts.rooms.empty());

  // Join and leave take one room or several; disconnect's close is JavaScript-truthy.
  r = wire::decode_request(R"({"type":2,"opts":{"rooms":["a"]},"rooms":"b"})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->has_opts);
  EXPECT_EQ(r->rooms, std::vector<std::string>{"b"});
  r = wire::decode_request(R"({"type":4,"opts":{},"close":1})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->close);
  r = wire::decode_request(R"({"type":4,"opts":{"rooms":[]}})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->close);
  r = wire::decode_request(R"({"type":4,"requestId":"r","sid":"s1","close":true})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_opts);
  EXPECT_EQ(r->sid, "s1");

  // Server-side emits with binary come as MessagePack (sio writes them so; Node reads both).
  sio::payload data{json::array{"ev", sio::parser::make_placeholder(0)}, {sio::binary(std::string("\x01\x02", 2))}};
  auto bytes = wire::encode_server_side_emit("me1234", std::nullopt, data);
  ASSERT_TRUE(bytes);
  EXPECT_NE((*bytes)[0], '{');
  r = wire::decode_request(*bytes);
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->data.attachments.size(), 1u);
  EXPECT_EQ(r->data.attachments[0].view(), std::string("\x01\x02", 2));
  EXPECT_FALSE(r->request_id);
  // Without binary, JSON exactly as JSON.stringify writes it (1.5, not 1.5E0).
  bytes = wire::encode_server_side_emit("me1234", "id1", {json::array{"ev", 1.5, nullptr}, {}});
  EXPECT_EQ(*bytes, R"({"uid":"me1234","requestId":"id1","type":6,"data":["ev",1.5,null]})");

  // Types the reference ignores on this channel are read, for the adapter to ignore.
  r = wire::decode_request(R"({"type":9,"requestId":"r"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, request_type::broadcast_ack);

  // Invalid UTF-8 in JSON is read as Node.js reads it (Buffer#toString: U+FFFD).
  r = wire::decode_request("{\"type\":6,\"data\":[\"ev\",\"a\xff\"]}");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->data.args[1].as_string(), "a\xef\xbf\xbd");
}

TEST(RedisAdapterMessages, MalformedRequestsAreRefused) {
  auto refuse = [](std::string_view text) {
    auto r = wire::decode_request(text);
    EXPECT_FALSE(r) << text;
    return r ? std::error_code{} : r.error();
  };
  EXPECT_EQ(refuse("{"), wire::error::invalid_json);
  EXPECT_EQ(refuse("{\"type\":0,\"requestId\":\"r\"} x"), wire::error::invalid_json);
  EXPECT_EQ(refuse(std::string(70, '[').insert(0, "{\"a\":") + std::string(70, ']') + "}"), wire::error::invalid_json);
  EXPECT_EQ(refuse("[1]"), sio::msgpack::error::trailing_bytes);  // MessagePack: '[' is a fixarray of 11
  EXPECT_EQ(refuse(*sio::msgpack::encode(json::parse("[1,2]"))), wire::error::not_an_object);
  EXPECT_EQ(refuse(R"({"requestId":"r"})"), wire::error::invalid_type);
  EXPECT_EQ(refuse(R"({"type":"0","requestId":"r"})"), wire::error::invalid_type);
  EXPECT_EQ(refuse(R"({"type":10,"requestId":"r"})"), wire::error::invalid_type);
  EXPECT_EQ(refuse(R"({"type":1.5,"requestId":"r"})"), wire::error::invalid_type);
  EXPECT_EQ(refuse(R"({"type":0})"), wire::error::invalid_request_id);  // nobody could use the answer
  EXPECT_EQ(refuse(R"({"type":1,"requestId":5})"), wire::error::invalid_request_id);
  EXPECT_EQ(refuse(R"({"type":0,"requestId":"r","rooms":{}})"), wire::error::invalid_rooms);
  EXPECT_EQ(refuse(R"({"type":2,"opts":{"rooms":[]}})"), wire::error::invalid_rooms);  // nothing to join
  EXPECT_EQ(refuse(R"({"type":2,"opts":{"rooms":[]},"rooms":[null]})"), wire::error::invalid_rooms);
  EXPECT_EQ(refuse(R"({"type":2,"opts":{"rooms":5},"rooms":["a"]})"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"({"type":2,"opts":[],"rooms":["a"]})"), wire::error::invalid_opts);
  EXPECT_EQ(refuse(R"({"type":3,"sid":"s"})"), wire::error::invalid_rooms);
  EXPECT_EQ(refuse(R"({"type":4,"close":true})"), wire::error::invalid_field);  // neither opts nor sid
  EXPECT_EQ(refuse(R"({"type":5,"requestId":"r"})"), wire::error::invalid_opts);  // Node throws on opts.rooms
  EXPECT_EQ(refuse(R"({"type":6,"data":"ev"})"), wire::error::invalid_field);
  EXPECT_EQ(refuse(R"({"type":6,"data":[]})"), wire::error::invalid_field);
  EXPECT_EQ(refuse(R"({"type":6,"data":[{"_placeholder":true,"num":0}]})"), wire::error::invalid_field);
  EXPECT_EQ(refuse(R"({"type":6,"data":["ev",{"_placeholder":true,"num":0}]})"), wire::error::invalid_placeholder);
  EXPECT_EQ(refuse(R"({"type":7,"requestId":"r","opts":{}})"), wire::error::invalid_packet);
  EXPECT_EQ(refuse(R"({"type":7,"requestId":"r","packet":{"type":2,"data":["e"]}})"), wire::error::invalid_opts);
}

TEST(RedisAdapterMessages, Responses) {
  auto r = wire::decode_response(R"({"requestId":"r","sockets":["a","b"]})");
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->type);
  EXPECT_EQ(*wire::read_socket_ids(*r), (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(wire::read_rooms(*r));
  EXPECT_FALSE(wire::read_client_count(*r));

  r = wire::decode_response(R"({"requestId":"r","rooms":["a",42]})");
  EXPECT_EQ(*wire::read_rooms(*r), (std::vector<std::string>{"a", "42"}));
  r = wire::decode_response(R"({"requestId":"r","sockets":["a",1]})");
  EXPECT_FALSE(wire::read_socket_ids(*r));

  r = wire::decode_response(R"({"type":8,"requestId":"r","clientCount":3})");
  EXPECT_EQ(*wire::read_client_count(*r), 3u);
  for (const char* bad : {R"({"type":8,"requestId":"r","clientCount":-1})", R"({"type":8,"requestId":"r","clientCount":1.5})",
                          R"({"type":8,"requestId":"r","clientCount":"3"})", R"({"type":8,"requestId":"r"})"}) {
    r = wire::decode_response(bad);
    ASSERT_TRUE(r);
    EXPECT_FALSE(wire::read_client_count(*r)) << bad;
  }
  EXPECT_EQ(wire::decode_response(R"({"sockets":[]})").error(), wire::error::invalid_request_id);
  EXPECT_EQ(wire::decode_response(R"({"requestId":7})").error(), wire::error::invalid_request_id);
  EXPECT_EQ(wire::decode_response(R"(["requestId"])").error(), sio::msgpack::error::trailing_bytes);

  // A fetched socket: the id and rooms are checked, the handshake read leniently.
  r = wire::decode_response(R"({"requestId":"r","sockets":[{"id":"s","rooms":["s",9],"handshake":{"headers":{"a":["1","2"],"b":3},"time":"nonsense","issued":1000,"query":{"q":"v"},"secure":"yes"}}]})");
  auto sockets = wire::read_fetched_sockets(*r);
  ASSERT_TRUE(sockets) << sockets.error().message();
  ASSERT_EQ(sockets->size(), 1u);
  const auto& s = (*sockets)[0];
  EXPECT_EQ(s.rooms, (std::vector<std::string>{"s", "9"}));
  EXPECT_TRUE(s.data.is_null());
  EXPECT_EQ(s.handshake->headers.count("a"), 2u);
  EXPECT_EQ(s.handshake->headers.count("b"), 0u);
  EXPECT_FALSE(s.handshake->secure);
  EXPECT_EQ(s.handshake->time, std::chrono::system_clock::time_point(std::chrono::seconds(1)));
  for (const char* bad : {R"({"requestId":"r","sockets":[{"rooms":[]}]})", R"({"requestId":"r","sockets":[{"id":"s","rooms":[{}]}]})",
                          R"({"requestId":"r","sockets":[5]})", R"({"requestId":"r","sockets":{}})"}) {
    r = wire::decode_response(bad);
    ASSERT_TRUE(r);
    EXPECT_FALSE(wire::read_fetched_sockets(*r)) << bad;
  }

  // An acknowledgement carries one value, binary included.
  sio::payload reply{json::array{sio::parser::make_placeholder(0), "dropped"}, {sio::binary(std::string("zz"))}};
  auto bytes = wire::encode_broadcast_ack_response("r", reply);
  r = wire::decode_response(*bytes);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->type, request_type::broadcast_ack);
  auto back = wire::read_reply(*r);
  ASSERT_EQ(back->args.size(), 1u);
  ASSERT_EQ(back->attachments.size(), 1u);
  EXPECT_EQ(back->attachments[0].view(), "zz");
  bytes = wire::encode_server_side_emit_response("r", reply);
  EXPECT_NE((*bytes)[0], '{');  // binary: MessagePack
  EXPECT_EQ(*wire::encode_server_side_emit_response("r", {json::array{"x", 2}, {}}), R"({"type":6,"requestId":"r","data":"x"})");
}

TEST(RedisAdapterMessages, HandshakeAsSocketIoWritesIt) {
  sio::handshake h;
  h.headers = {{"host", "a"}, {"host", "b"}, {"cookie", "x=1"}, {"cookie", "y=2"}, {"set-cookie", "s=1"},
               {"accept", "t/a"}, {"accept", "t/b"}};
  h.query = {{"q", "1"}, {"q", "2"}, {"EIO", "4"}};
  h.auth = json::object{{"token", "t"}};
  h.address = "10.0.0.1";
  h.url = "/socket.io/?q=1&q=2&EIO=4";
  h.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1796671905359));
  h.issued = 1796671905359;
  h.secure = true;
  h.xdomain = true;
  EXPECT_EQ(serialize(wire::handshake_to_json(h)),
            R"j({"headers":{"accept":"t/a, t/b","cookie":"x=1; y=2","host":"a","set-cookie":["s=1"]},)j"
            R"j("time":"Mon Dec 07 2026 19:31:45 GMT+0000 (Coordinated Universal Time)","address":"10.0.0.1",)j"
            R"j("xdomain":true,"secure":true,"issued":1796671905359,"url":"/socket.io/?q=1&q=2&EIO=4",)j"
            R"j("query":{"EIO":"4","q":"2"},"auth":{"token":"t"}})j");
  const sio::handshake back = wire::handshake_from_json(wire::handshake_to_json(h));
  EXPECT_EQ(back.address, h.address);
  EXPECT_EQ(back.issued, h.issued);
  EXPECT_EQ(back.time, std::chrono::system_clock::time_point(std::chrono::seconds(1796671905)));
  EXPECT_TRUE(back.secure && back.xdomain);
}

TEST(RedisAdapterMessages, JavaScriptDates) {
  using std::chrono::seconds;
  using tp = std::chrono::system_clock::time_point;
  EXPECT_EQ(wire::format_js_date(tp(seconds(0))), "Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)");
  EXPECT_EQ(wire::format_js_date(tp(seconds(951782400))), "Tue Feb 29 2000 00:00:00 GMT+0000 (Coordinated Universal Time)");
  EXPECT_EQ(wire::format_js_date(tp(seconds(-1))), "Wed Dec 31 1969 23:59:59 GMT+0000 (Coordinated Universal Time)");
  EXPECT_EQ(wire::parse_js_date("Thu Jan 01 1970 00:00:00 GMT+0000 (Coordinated Universal Time)"), tp(seconds(0)));
  // Other time zones (a Node.js member in Paris): the offset is taken away.
  EXPECT_EQ(wire::parse_js_date("Thu Jan 01 1970 01:00:00 GMT+0100 (Central European Standard Time)"), tp(seconds(0)));
  EXPECT_EQ(wire::parse_js_date("Wed Dec 31 1969 19:00:00 GMT-0500 (Eastern Standard Time)"), tp(seconds(0)));
  for (const char* bad : {"", "Thu", "Thu Foo 01 1970 00:00:00 GMT+0000", "Thu Jan 01 1970 00:00:00", "Thu Jan 01 1970 24:00:00 GMT+0000",
                          "Thu Jan 01 70 00:00:00 GMT+0000", "Thu Jan 01 275760 00:00:00 GMT+0000"})
    EXPECT_FALSE(wire::parse_js_date(bad)) << bad;
}
