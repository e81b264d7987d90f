#include "sio/redis_emitter/redis_emitter.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include "sio/redis/url.hpp"
#include "sio/redis_emitter/detail/wire.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace sio {
namespace wire = detail::emitter_wire;

namespace {

class emitter_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.redis_emitter"; }
  std::string message(int ev) const override {
    switch (static_cast<emitter_error>(ev)) {
      case emitter_error::reserved_event: return "a reserved event name";
    }
    return "unknown redis emitter error";
  }
};

redis::address address_of(std::string_view url) {
  auto where = redis::parse_url(url);
  if (!where) throw std::invalid_argument("redis_emitter: bad Redis URL: " + where.error().message());
  return std::move(*where);
}

// [name, args...] from a name and a payload whose args follow it.
boost::json::array event_array(std::string_view name, boost::json::array args) {
  boost::json::array data;
  data.reserve(1 + args.size());
  data.emplace_back(name);
  for (auto& a : args) data.push_back(std::move(a));
  return data;
}

}  // namespace

const std::error_category& emitter_category() noexcept {
  static const emitter_category_impl instance;
  return instance;
}

std::error_code make_error_code(emitter_error e) noexcept { return {static_cast<int>(e), emitter_category()}; }

void detail::emitter_args::add_room(std::vector<room>& rooms, std::string_view r) {
  if (std::find(rooms.begin(), rooms.end(), r) == rooms.end()) rooms.emplace_back(r);
}

// ---- emitter_broadcast_operator ----

emitter_broadcast_operator emitter_broadcast_operator::to(std::string_view room) const {
  return with_rooms(room_list::to, std::array{room});
}

emitter_broadcast_operator emitter_broadcast_operator::except(std::string_view room) const {
  return with_rooms(room_list::except, std::array{room});
}

emitter_broadcast_operator emitter_broadcast_operator::volatile_() const {
  emitter_broadcast_operator copy = *this;
  copy.flags_["volatile"] = true;  // a key already there keeps its place, as in JavaScript
  return copy;
}

emitter_broadcast_operator emitter_broadcast_operator::compress(bool on) const {
  emitter_broadcast_operator copy = *this;
  copy.flags_["compress"] = on;
  return copy;
}

bool emitter_broadcast_operator::is_reserved(std::string_view name) noexcept {
  // The npm emitter's RESERVED_EVENTS are the client's, which parser::is_reserved_event names.
  return parser::is_reserved_event(name);
}

std::error_code emitter_broadcast_operator::emit_payload(std::string_view name, payload p) const {
  if (is_reserved(name)) return make_error_code(emitter_error::reserved_event);
  p.args = event_array(name, std::move(p.args));
  return publish_event(std::move(p));
}

std::error_code emitter_broadcast_operator::publish_event(payload data) const {
  auto message = wire::encode_broadcast(nsp_, std::move(data.args), data.attachments, {rooms_, except_}, flags_);
  if (!message) return message.error();
  emitter_->publish(wire::broadcast_channel(emitter_->key(), nsp_, rooms_), *message);
  return {};
}

void emitter_broadcast_operator::sockets_join(std::initializer_list<std::string_view> rooms) const {
  sockets_join(std::vector<room>(rooms.begin(), rooms.end()));
}
void emitter_broadcast_operator::sockets_join(const std::vector<room>& rooms) const {
  publish_rooms_request(membership::join, rooms);
}
void emitter_broadcast_operator::sockets_leave(std::initializer_list<std::string_view> rooms) const {
  sockets_leave(std::vector<room>(rooms.begin(), rooms.end()));
}
void emitter_broadcast_operator::sockets_leave(const std::vector<room>& rooms) const {
  publish_rooms_request(membership::leave, rooms);
}

void emitter_broadcast_operator::publish_rooms_request(membership change, const std::vector<room>& rooms) const {
  const auto type = change == membership::join ? wire::request_type::remote_join : wire::request_type::remote_leave;
  emitter_->publish(wire::request_channel(emitter_->key(), nsp_), wire::encode_rooms_request(type, {rooms_, except_}, rooms));
}

void emitter_broadcast_operator::disconnect_sockets(bool close) const {
  emitter_->publish(wire::request_channel(emitter_->key(), nsp_), wire::encode_disconnect_request({rooms_, except_}, close));
}

// ---- emitter_namespace ----

emitter_namespace emitter_namespace::of(std::string_view nsp) const {
  std::string name;
  if (nsp.empty() || nsp.front() != '/') name = "/";  // npm: (nsp[0] !== "/" ? "/" : "") + nsp
  name.append(nsp);
  return emitter_namespace(emitter(), std::move(name));
}

bool emitter_namespace::is_reserved_server_side(std::string_view name) noexcept {
  // socket.io's Namespace RESERVED_EVENTS: the events a namespace emits on itself.
  return name == "connect" || name == "connection" || name == "new_namespace";
}

std::error_code emitter_namespace::server_side_emit_payload(std::string_view name, payload p) const {
  if (is_reserved_server_side(name)) return make_error_code(emitter_error::reserved_event);
  p.args = event_array(name, std::move(p.args));
  return publish_server_side(std::move(p));
}

std::error_code emitter_namespace::publish_server_side(payload data) const {
  auto message = wire::encode_server_side_emit(std::move(data.args), data.attachments);
  if (!message) return message.error();
  emitter().publish(wire::request_channel(emitter().key(), nsp()), *message);
  return {};
}

// ---- redis_emitter ----

struct redis_emitter::state {
  state(boost::asio::io_context& loop, redis::address where, redis::client_options options)
      : client(loop, std::move(where), std::move(options)) {}

  // The first publish that failed since the last flush completed. Only the loop's thread (the
  // reply handlers) touches it. Declared before the client: the client's destructor calls the
  // handlers still pending, which record here.
  std::error_code first_failure;
  redis::client client;
};

redis_emitter::redis_emitter(boost::asio::io_context& loop, redis_emitter_options options)
    : emitter_namespace(*this, "/"),
      key_(std::move(options.key)),
      state_(std::make_unique<state>(loop, address_of(options.url), std::move(options.redis))) {}

redis_emitter::~redis_emitter() = default;

void redis_emitter::publish(const std::string& channel, const std::string& message) {
  state_->client.publish(channel, message, [s = state_.get()](std::error_code ec, const redis::reply&) {
    if (ec && !s->first_failure) s->first_failure = ec;
  });
}

void redis_emitter::flush(std::function<void(std::error_code)> done) {
  // The client answers in the order commands were given (a refused one too: its handler is
  // posted in turn), so when PING's reply is handled every earlier publish's has been.
  state_->client.command({"PING"}, [s = state_.get(), done = std::move(done)](std::error_code ec, const redis::reply&) {
    const std::error_code failure = s->first_failure ? s->first_failure : ec;
    s->first_failure = {};
    if (done) done(failure);  // last: it may destroy the emitter
  });
}

bool redis_emitter::connected() const noexcept { return state_->client.connected(); }

}  // namespace sio
