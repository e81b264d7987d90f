// The Redis adapter's messages (messages.hpp): reading and writing them. The handshake and its
// dates are in handshake_json.cpp.
#include "sio/redis_adapter/messages.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>

#include "sio/msgpack/detail/javascript.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace sio::redis_wire {

namespace json = boost::json;

namespace {

class category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.redis_wire"; }
  std::string message(int ev) const override {
    switch (static_cast<error>(ev)) {
      case error::invalid_json: return "not JSON";
      case error::not_an_object: return "not an object";
      case error::not_a_broadcast: return "not a broadcast [uid, packet, opts]";
      case error::invalid_packet: return "not an event packet {type: 2, data: [name, ...], nsp}";
      case error::invalid_opts: return "invalid broadcast options";
      case error::invalid_rooms: return "rooms that are not an array of strings and numbers";
      case error::invalid_type: return "missing or unknown request type";
      case error::invalid_request_id: return "missing or invalid requestId";
      case error::invalid_field: return "a field of the wrong type";
      case error::invalid_placeholder: return "a placeholder that names no binary attachment";
      case error::too_large: return "value too large for MessagePack";
    }
    return "unknown redis adapter message error";
  }
};

// ---- reading ----

// A message as JSON with placeholders, and the binary values they stand for.
struct parsed {
  json::value value;
  std::vector<msgpack::attachment> attachments;
};

// JSON when the first byte is '{', MessagePack otherwise (RedisAdapter#onrequest, #onresponse).
// JSON is read as Node.js reads it: Buffer#toString (invalid UTF-8 replaced), then JSON.parse.
result<parsed> parse_any(std::string_view bytes, const decode_limits& limits) {
  if (bytes.size() > limits.msgpack.max_message_bytes) return msgpack::make_error_code(msgpack::error::message_too_large);
  if (msgpack::request_format(bytes) == msgpack::wire_format::msgpack) {
    auto doc = msgpack::decode(bytes, limits.msgpack);
    if (!doc) return doc.error();
    return parsed{std::move(doc->json), std::move(doc->attachments)};
  }
  std::optional<json::value> v;
  if (msgpack::detail::is_valid_utf8(bytes)) {
    v = parser::parse_json(bytes, limits.max_json_depth);
  } else {
    std::string text;
    msgpack::detail::append_utf8_replacing_invalid(text, bytes);
    v = parser::parse_json(text, limits.max_json_depth);
  }
  if (!v) return make_error_code(error::invalid_json);
  return parsed{std::move(*v), {}};
}

// JavaScript's truthiness of a decoded value.
bool truthy(const json::value* v) {
  if (!v) return false;
  switch (v->kind()) {
    case json::kind::null: return false;
    case json::kind::bool_: return v->get_bool();
    case json::kind::int64: return v->get_int64() != 0;
    case json::kind::uint64: return v->get_uint64() != 0;
    case json::kind::double_: return v->get_double() != 0 && !std::isnan(v->get_double());
    case json::kind::string: return !v->get_string().empty();
    default: return true;
  }
}

// Absent, null (JavaScript's undefined after JSON or notepack) or the value.
const json::value* field(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

// A number that is an integer, as a double (JavaScript compares 2 and 2.0 equal).
std::optional<double> integral(const json::value& v) {
  if (!is_number(v)) return std::nullopt;
  const double d = v.to_number<double>();
  if (!std::isfinite(d) || std::trunc(d) != d) return std::nullopt;
  return d;
}

// A room: a string, or a number named by its JavaScript text (socket.join(42) is room 42 in
// Node.js, "42" here, where rooms are strings).
std::optional<room> room_of(const json::value& v) {
  if (const json::string* s = v.if_string()) return room(s->data(), s->size());
  if (v.is_int64()) return std::to_string(v.get_int64());
  if (v.is_uint64()) return std::to_string(v.get_uint64());
  if (v.is_double()) return msgpack::detail::number_to_string(v.get_double());
  return std::nullopt;
}

// `new Set(value)` for rooms: absent or null is empty; an array of rooms; a single room too
// (socket.join takes one), where JavaScript would spread a string into its characters.
template <class Out>
bool read_rooms_into(const json::value* v, Out&& add) {
  if (!v) return true;
  if (const json::array* a = v->if_array()) {
    for (const json::value& e : *a) {
      auto r = room_of(e);
      if (!r) return false;
      add(std::move(*r));
    }
    return true;
  }
  return false;
}

result<room_set> room_set_of(const json::value* v) {
  room_set out;
  if (!read_rooms_into(v, [&](room r) { out.insert(std::move(r)); })) return make_error_code(error::invalid_rooms);
  return out;
}

result<std::vector<room>> room_list_of(const json::value* v) {
  std::vector<room> out;
  if (v) {
    if (auto single = room_of(*v)) {  // socket.join("room") as well as socket.join(["room"])
      out.push_back(std::move(*single));
      return out;
    }
  }
  if (!read_rooms_into(v, [&](room r) { out.push_back(std::move(r)); })) return make_error_code(error::invalid_rooms);
  return out;
}

// BroadcastFlags: volatile and local as JavaScript tests them, compress off only when false
// (undefined leaves it to the transport), timeout when it is a number of milliseconds.
result<broadcast_flags> flags_of(const json::value* v) {
  broadcast_flags f;
  if (!v) return f;
  const json::object* o = v->if_object();
  if (!o) return make_error_code(error::invalid_opts);
  f.volatile_ = truthy(field(*o, "volatile"));
  f.local = truthy(field(*o, "local"));
  if (const json::value* c = field(*o, "compress"); c && c->is_bool() && !c->get_bool()) f.compress = false;
  if (const json::value* t = field(*o, "timeout"); t && is_number(*t)) {
    const double ms = t->to_number<double>();
    if (std::isfinite(ms) && ms >= 0 && ms < 1e15) f.timeout = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  }
  return f;
}

// {rooms, except[, flags]}: what the reference turns into Sets (missing arrays are empty).
result<broadcast_options> opts_of(const json::value* v) {
  if (!v || !v->is_object()) return make_error_code(error::invalid_opts);
  const json::object& o = v->get_object();
  broadcast_options out;
  auto rooms = room_set_of(field(o, "rooms"));
  auto except = room_set_of(field(o, "except"));
  if (!rooms || !except) return make_error_code(error::invalid_opts);
  auto flags = flags_of(field(o, "flags"));
  if (!flags) return flags.error();
  out.rooms = std::move(*rooms);
  out.except = std::move(*except);
  out.flags = *flags;
  return out;
}

// Renumbers the placeholders of `v` for a payload of its own: each names `all[num]`, which is
// appended to `out`. A placeholder that names nothing is an error (a client would refuse the
// packet: "illegal attachments").
bool adopt_attachments(json::value& v, const std::vector<msgpack::attachment>& all, std::vector<binary>& out) {
  if (json::object* o = v.if_object()) {
    if (o->contains("_placeholder")) {
      if (auto n = parser::placeholder_num(v)) {
        if (*n >= all.size()) return false;
        out.emplace_back(all[*n]);
        (*o)["num"] = static_cast<std::int64_t>(out.size() - 1);
        return true;
      }
    }
    for (auto& kv : *o)
      if (!adopt_attachments(kv.value(), all, out)) return false;
  } else if (json::array* a = v.if_array()) {
    for (auto& e : *a)
      if (!adopt_attachments(e, all, out)) return false;
  }
  return true;
}

// An event's arguments ([name, ...args]), as a payload. The name must be a string and not one
// of the names a client refuses to receive (it would drop the connection).
result<payload> event_of(json::value* v, const std::vector<msgpack::attachment>& all) {
  if (!v) return make_error_code(error::invalid_packet);
  json::array* a = v->if_array();
  if (!a || a->empty() || !(*a)[0].is_string() || parser::is_reserved_event((*a)[0].get_string()))
    return make_error_code(error::invalid_packet);
  payload p;
  if (!adopt_attachments(*v, all, p.attachments)) return make_error_code(error::invalid_placeholder);
  p.args = std::move(*a);
  return p;
}

// {type: 2, data: [...], nsp}: what socket.io's BroadcastOperator and the emitter publish. An
// id, if any, is dropped: the receiving node gives acknowledgements ids of its own.
result<outgoing_packet> packet_of(json::value* v, const std::vector<msgpack::attachment>& all) {
  if (!v || !v->is_object()) return make_error_code(error::invalid_packet);
  json::object& o = v->get_object();
  const json::value* type = field(o, "type");
  if (!type || integral(*type) != 2.0) return make_error_code(error::invalid_packet);
  outgoing_packet p;
  p.packet.type = parser::packet_type::event;
  if (const json::value* nsp = field(o, "nsp")) {
    if (!nsp->is_string()) return make_error_code(error::invalid_packet);
    p.packet.nsp = std::string(nsp->get_string());
  }  // else "/", as the reference assumes
  json::value* data = o.if_contains("data");
  auto args = event_of(data, all);
  if (!args) return args.error();
  p.packet.data = std::move(args->args);
  p.attachments = std::move(args->attachments);
  return p;
}

std::optional<std::string> string_field(const json::object& o, std::string_view key) {
  const json::value* v = field(o, key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->get_string());
}

// ---- writing ----

json::array to_array(const room_set& rooms) {
  json::array a;
  a.reserve(rooms.size());
  for (const auto& r : rooms) a.emplace_back(r);
  return a;
}

json::array to_array(const std::vector<std::string>& items) {
  json::array a;
  a.reserve(items.size());
  for (const auto& r : items) a.emplace_back(r);
  return a;
}

// The flags an operator sets, as the reference's objects hold them: only those that were set.
json::object flags_json(const broadcast_flags& f) {
  json::object o;
  if (f.volatile_) o["volatile"] = true;
  if (!f.compress) o["compress"] = false;
  if (f.timeout) o["timeout"] = static_cast<std::int64_t>(f.timeout->count());
  return o;
}

json::object opts_json(const broadcast_options& opts, bool with_flags) {
  json::object o;
  o["rooms"] = to_array(opts.rooms);
  o["except"] = to_array(opts.except);
  if (with_flags) o["flags"] = flags_json(opts.flags);
  return o;
}

json::object packet_json(const outgoing_packet& p, std::string_view nsp) {
  json::object o;
  o["type"] = 2;  // an event; socket.io-parser makes it BINARY_EVENT when it finds binary
  o["data"] = p.packet.data;
  o["nsp"] = nsp;
  return o;
}

std::vector<msgpack::attachment> shared(const std::vector<binary>& bins) {
  std::vector<msgpack::attachment> out;
  out.reserve(bins.size());
  for (const auto& b : bins) out.push_back(b.shared());
  return out;
}

result<std::string> pack(const json::value& v, const std::vector<binary>& attachments) {
  auto bytes = msgpack::encode(v, shared(attachments));
  if (!bytes) return make_error_code(error::too_large);
  return std::move(*bytes);
}

// The one value an acknowledgement carries (its first argument), or none.
const json::value* first_arg(const payload& p) { return p.args.empty() ? nullptr : &p.args[0]; }

}  // namespace

const std::error_category& category() noexcept {
  static const category_impl instance;
  return instance;
}

std::error_code make_error_code(error e) noexcept { return {static_cast<int>(e), category()}; }

// ---- broadcasts ----

result<std::string> encode_broadcast(std::string_view uid, const outgoing_packet& p, std::string_view nsp,
                                     const broadcast_options& opts) {
  const json::value message = json::array{json::string(uid), packet_json(p, nsp), opts_json(opts, true)};
  return pack(message, p.attachments);
}

result<broadcast_message> decode_broadcast(std::string_view bytes, const decode_limits& limits) {
  if (bytes.size() > limits.msgpack.max_message_bytes) return msgpack::make_error_code(msgpack::error::message_too_large);
  auto doc = msgpack::decode(bytes, limits.msgpack);
  if (!doc) return doc.error();
  json::array* a = doc->json.if_array();
  if (!a || a->size() < 3) return make_error_code(error::not_a_broadcast);
  broadcast_message m;
  if (const json::string* uid = (*a)[0].if_string()) m.uid = std::string(*uid);
  auto packet = packet_of(&(*a)[1], doc->attachments);
  if (!packet) return packet.error();
  auto opts = opts_of(&(*a)[2]);
  if (!opts) return opts.error();
  m.packet = std::move(*packet);
  m.opts = std::move(*opts);
  return m;
}

std::string_view channel_room(std::string_view channel, std::string_view prefix) noexcept {
  if (channel.size() <= prefix.size() + 1 || channel.substr(0, prefix.size()) != prefix) return {};
  return channel.substr(prefix.size(), channel.size() - prefix.size() - 1);
}

std::optional<std::string> numeric_room_alias(std::string_view room) {
  // JavaScript's isNaN(room) and parseFloat(room) both accept it when it is a decimal literal
  // (hexadecimal, Infinity and blanks, which the reference would also take, are left out).
  if (room.empty() || room.size() > 64) return std::nullopt;
  std::size_t i = 0;
  if (room[i] == '+' || room[i] == '-') ++i;
  bool digits = false;
  while (i < room.size() && room[i] >= '0' && room[i] <= '9') ++i, digits = true;
  if (i < room.size() && room[i] == '.') {
    ++i;
    while (i < room.size() && room[i] >= '0' && room[i] <= '9') ++i, digits = true;
  }
  if (!digits) return std::nullopt;
  if (i < room.size() && (room[i] == 'e' || room[i] == 'E')) {
    ++i;
    if (i < room.size() && (room[i] == '+' || room[i] == '-')) ++i;
    bool exp_digits = false;
    while (i < room.size() && room[i] >= '0' && room[i] <= '9') ++i, exp_digits = true;
    if (!exp_digits) return std::nullopt;
  }
  if (i != room.size()) return std::nullopt;
  const std::string text(room.front() == '+' ? room.substr(1) : room);
  double d = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), d);
  if (r.ec != std::errc{} && r.ec != std::errc::result_out_of_range) return std::nullopt;
  std::string alias = msgpack::detail::number_to_string(d);
  if (alias == room) return std::nullopt;
  return alias;
}

// ---- requests ----

result<request> decode_request(std::string_view bytes, const decode_limits& limits) {
  auto msg = parse_any(bytes, limits);
  if (!msg) return msg.error();
  json::object* o = msg->value.if_object();
  if (!o) return make_error_code(error::not_an_object);

  request r;
  const json::value* type = field(*o, "type");
  const auto t = type ? integral(*type) : std::nullopt;
  if (!t || *t < 0 || *t > 9) return make_error_code(error::invalid_type);
  r.type = static_cast<request_type>(static_cast<int>(*t));
  r.uid = string_field(*o, "uid");  // another type is nobody's uid: the request is someone else's
  if (const json::value* id = field(*o, "requestId")) {
    if (!id->is_string()) return make_error_code(error::invalid_request_id);
    r.request_id = std::string(id->get_string());
  }
  const bool needs_id = r.type == request_type::sockets || r.type == request_type::all_rooms ||
                        r.type == request_type::remote_fetch || r.type == request_type::broadcast;
  if (needs_id && !r.request_id) return make_error_code(error::invalid_request_id);

  switch (r.type) {
    case request_type::sockets: {
      auto rooms = room_set_of(field(*o, "rooms"));
      if (!rooms) return rooms.error();
      r.opts.rooms = std::move(*rooms);
      break;
    }
    case request_type::all_rooms:
      break;
    case request_type::remote_join:
    case request_type::remote_leave:
    case request_type::remote_disconnect: {
      if (truthy(field(*o, "opts"))) {  // the reference tests `if (request.opts)`
        auto opts = opts_of(field(*o, "opts"));
        if (!opts) return opts.error();
        r.opts = std::move(*opts);
        r.has_opts = true;
        if (r.type != request_type::remote_disconnect) {
          auto rooms = room_list_of(field(*o, "rooms"));
          if (!rooms || !field(*o, "rooms")) return make_error_code(error::invalid_rooms);
          r.rooms = std::move(*rooms);
        }
      } else {
        auto sid = string_field(*o, "sid");
        if (!sid) return make_error_code(error::invalid_field);
        r.sid = std::move(*sid);
        if (r.type != request_type::remote_disconnect) {
          const json::value* room_value = field(*o, "room");
          auto single = room_value ? room_of(*room_value) : std::nullopt;
          if (!single) return make_error_code(error::invalid_rooms);
          r.single_room = std::move(*single);
        }
      }
      if (r.type == request_type::remote_disconnect) r.close = truthy(field(*o, "close"));
      break;
    }
    case request_type::remote_fetch: {
      auto opts = opts_of(field(*o, "opts"));
      if (!opts) return opts.error();
      r.opts = std::move(*opts);
      break;
    }
    case request_type::server_side_emit: {
      auto data = event_of(o->if_contains("data"), msg->attachments);
      if (!data) return data.error() == make_error_code(error::invalid_packet) ? make_error_code(error::invalid_field) : data.error();
      r.data = std::move(*data);
      break;
    }
    case request_type::broadcast: {
      auto packet = packet_of(o->if_contains("packet"), msg->attachments);
      if (!packet) return packet.error();
      auto opts = opts_of(field(*o, "opts"));
      if (!opts) return opts.error();
      r.packet = std::move(*packet);
      r.opts = std::move(*opts);
      break;
    }
    case request_type::broadcast_client_count:
    case request_type::broadcast_ack:
      break;  // answers, not requests: the reference ignores them on this channel
  }
  return r;
}

std::string encode_sockets_request(std::string_view uid, std::string_view request_id, const room_set& rooms) {
  json::object o;
  o["uid"] = uid;
  o["requestId"] = request_id;
  o["type"] = static_cast<int>(request_type::sockets);
  o["rooms"] = to_array(rooms);
  return parser::stringify(o);
}

std::string encode_all_rooms_request(std::string_view uid, std::string_view request_id) {
  json::object o;
  o["uid"] = uid;
  o["requestId"] = request_id;
  o["type"] = static_cast<int>(request_type::all_rooms);
  return parser::stringify(o);
}

namespace {
std::string encode_room_operation(request_type type, std::string_view uid, const broadcast_options& opts,
                                  const std::vector<room>& rooms) {
  json::object o;
  o["uid"] = uid;
  o["type"] = static_cast<int>(type);
  o["opts"] = opts_json(opts, false);
  o["rooms"] = to_array(rooms);
  return parser::stringify(o);
}
}  // namespace

std::string encode_remote_join(std::string_view uid, const broadcast_options& opts, const std::vector<room>& rooms) {
  return encode_room_operation(request_type::remote_join, uid, opts, rooms);
}

std::string encode_remote_leave(std::string_view uid, const broadcast_options& opts, const std::vector<room>& rooms) {
  return encode_room_operation(request_type::remote_leave, uid, opts, rooms);
}

std::string encode_remote_disconnect(std::string_view uid, const broadcast_options& opts, bool close) {
  json::object o;
  o["uid"] = uid;
  o["type"] = static_cast<int>(request_type::remote_disconnect);
  o["opts"] = opts_json(opts, false);
  o["close"] = close;
  return parser::stringify(o);
}

std::string encode_remote_fetch(std::string_view uid, std::string_view request_id, const broadcast_options& opts) {
  json::object o;
  o["uid"] = uid;
  o["requestId"] = request_id;
  o["type"] = static_cast<int>(request_type::remote_fetch);
  o["opts"] = opts_json(opts, false);
  return parser::stringify(o);
}

result<std::string> encode_server_side_emit(std::string_view uid, std::optional<std::string_view> request_id,
                                            const payload& data) {
  json::object o;
  o["uid"] = uid;
  if (request_id) o["requestId"] = *request_id;
  o["type"] = static_cast<int>(request_type::server_side_emit);
  o["data"] = data.args;
  if (data.attachments.empty()) return parser::stringify(o);
  return pack(o, data.attachments);
}

result<std::string> encode_broadcast_request(std::string_view uid, std::string_view request_id,
                                             const outgoing_packet& p, std::string_view nsp,
                                             const broadcast_options& opts) {
  json::object o;
  o["uid"] = uid;
  o["requestId"] = request_id;
  o["type"] = static_cast<int>(request_type::broadcast);
  o["packet"] = packet_json(p, nsp);
  o["opts"] = opts_json(opts, true);
  return pack(o, p.attachments);
}

// ---- responses ----

result<response> decode_response(std::string_view bytes, const decode_limits& limits) {
  auto msg = parse_any(bytes, limits);
  if (!msg) return msg.error();
  json::object* o = msg->value.if_object();
  if (!o) return make_error_code(error::not_an_object);
  response r;
  const json::value* id = field(*o, "requestId");
  if (!id || !id->is_string()) return make_error_code(error::invalid_request_id);
  r.request_id = std::string(id->get_string());
  if (const json::value* type = field(*o, "type")) {
    if (auto t = integral(*type); t && *t >= 0 && *t <= 9) r.type = static_cast<request_type>(static_cast<int>(*t));
  }
  r.fields = std::move(*o);
  r.attachments = std::move(msg->attachments);
  return r;
}

result<std::vector<socket_id>> read_socket_ids(const response& r) {
  const json::value* v = field(r.fields, "sockets");
  const json::array* a = v ? v->if_array() : nullptr;
  if (!a) return make_error_code(error::invalid_field);
  std::vector<socket_id> out;
  out.reserve(a->size());
  for (const json::value& e : *a) {
    if (!e.is_string()) return make_error_code(error::invalid_field);
    out.emplace_back(e.get_string());
  }
  return out;
}

result<std::vector<room>> read_rooms(const response& r) {
  const json::value* v = field(r.fields, "rooms");
  if (!v || !v->is_array()) return make_error_code(error::invalid_rooms);
  std::vector<room> out;
  if (!read_rooms_into(v, [&](room x) { out.push_back(std::move(x)); })) return make_error_code(error::invalid_rooms);
  return out;
}

result<std::vector<socket_details>> read_fetched_sockets(const response& r) {
  const json::value* v = field(r.fields, "sockets");
  const json::array* a = v ? v->if_array() : nullptr;
  if (!a) return make_error_code(error::invalid_field);
  std::vector<socket_details> out;
  out.reserve(a->size());
  for (const json::value& e : *a) {
    const json::object* s = e.if_object();
    if (!s) return make_error_code(error::invalid_field);
    socket_details d;
    auto id = string_field(*s, "id");
    if (!id) return make_error_code(error::invalid_field);
    d.id = std::move(*id);
    auto rooms = room_list_of(field(*s, "rooms"));
    if (!rooms) return rooms.error();
    d.rooms = std::move(*rooms);
    if (const json::value* h = field(*s, "handshake"); h && h->is_object())
      d.handshake = std::make_shared<const handshake>(handshake_from_json(h->get_object()));
    else
      d.handshake = std::make_shared<const handshake>();
    if (const json::value* data = s->if_contains("data")) d.data = *data;
    out.push_back(std::move(d));
  }
  return out;
}

result<std::size_t> read_client_count(const response& r) {
  const json::value* v = field(r.fields, "clientCount");
  const auto n = v ? integral(*v) : std::nullopt;
  if (!n || *n < 0 || *n > 1e15) return make_error_code(error::invalid_field);
  return static_cast<std::size_t>(*n);
}

result<payload> read_reply(const response& r) {
  const char* key = r.type == request_type::broadcast_ack ? "packet" : "data";
  payload p;
  if (const json::value* v = r.fields.if_contains(key)) {
    json::value arg = *v;
    if (!adopt_attachments(arg, r.attachments, p.attachments)) return make_error_code(error::invalid_placeholder);
    p.args.push_back(std::move(arg));
  }
  return p;
}

std::string encode_sockets_response(std::string_view request_id, const std::vector<socket_id>& ids) {
  json::object o;
  o["requestId"] = request_id;
  o["sockets"] = to_array(ids);
  return parser::stringify(o);
}

std::string encode_all_rooms_response(std::string_view request_id, const std::vector<room>& rooms) {
  json::object o;
  o["requestId"] = request_id;
  o["rooms"] = to_array(rooms);
  return parser::stringify(o);
}

std::string encode_fetch_response(std::string_view request_id, const std::vector<socket_details>& sockets) {
  json::array list;
  list.reserve(sockets.size());
  static const handshake none;
  for (const auto& s : sockets) {
    json::object o;
    o["id"] = s.id;
    o["handshake"] = handshake_to_json(s.handshake ? *s.handshake : none);
    o["rooms"] = to_array(s.rooms);
    o["data"] = s.data;
    list.emplace_back(std::move(o));
  }
  json::object o;
  o["requestId"] = request_id;
  o["sockets"] = std::move(list);
  return parser::stringify(o);
}

std::string encode_done_response(std::string_view request_id) {
  json::object o;
  o["requestId"] = request_id;
  return parser::stringify(o);
}

result<std::string> encode_server_side_emit_response(std::string_view request_id, const payload& reply) {
  json::object o;
  o["type"] = static_cast<int>(request_type::server_side_emit);
  o["requestId"] = request_id;
  if (const json::value* arg = first_arg(reply)) o["data"] = *arg;  // undefined: JSON.stringify drops it
  if (reply.attachments.empty()) return parser::stringify(o);
  return pack(o, reply.attachments);
}

std::string encode_client_count_response(std::string_view request_id, std::size_t client_count) {
  json::object o;
  o["type"] = static_cast<int>(request_type::broadcast_client_count);
  o["requestId"] = request_id;
  o["clientCount"] = static_cast<std::uint64_t>(client_count);
  return parser::stringify(o);
}

result<std::string> encode_broadcast_ack_response(std::string_view request_id, const payload& reply) {
  json::object o;
  o["type"] = static_cast<int>(request_type::broadcast_ack);
  o["requestId"] = request_id;
  if (const json::value* arg = first_arg(reply)) o["packet"] = *arg;  // undefined: notepack drops it
  return pack(o, reply.attachments);
}

}  // namespace sio::redis_wire
