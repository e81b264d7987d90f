#include "sio/redis_emitter/detail/wire.hpp"

#include <vector>

#include <boost/json/value.hpp>

#include "sio/msgpack/codec.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace sio::detail::emitter_wire {
namespace json = boost::json;

namespace {

json::array to_json(std::span<const room> rooms) {
  json::array out;
  out.reserve(rooms.size());
  for (const room& r : rooms) out.emplace_back(r);
  return out;
}

// {"rooms":[...],"except":[...]}: the `opts` of a request (a broadcast's opts put flags between).
json::object request_opts(target to) {
  json::object opts;
  opts.reserve(2);
  opts.emplace("rooms", to_json(to.rooms));
  opts.emplace("except", to_json(to.except));
  return opts;
}

std::vector<msgpack::attachment> shared_bytes(std::span<const binary> attachments) {
  std::vector<msgpack::attachment> out;
  out.reserve(attachments.size());
  for (const binary& b : attachments) out.push_back(b.shared());  // no copy of the bytes
  return out;
}

}  // namespace

std::string broadcast_channel(std::string_view key, std::string_view nsp, std::span<const room> rooms) {
  std::string channel;
  channel.reserve(key.size() + nsp.size() + 2 + (rooms.size() == 1 ? rooms[0].size() + 1 : 0));
  channel.append(key).append("#").append(nsp).append("#");
  if (rooms.size() == 1) channel.append(rooms[0]).append("#");
  return channel;
}

std::string request_channel(std::string_view key, std::string_view nsp) {
  std::string channel;
  channel.reserve(key.size() + nsp.size() + 10);
  channel.append(key).append("-request#").append(nsp).append("#");
  return channel;
}

result<std::string> encode_broadcast(std::string_view nsp, json::array data, std::span<const binary> attachments,
                                     target to, const json::object& flags) {
  json::array message;
  message.reserve(3);
  message.emplace_back(uid);
  json::object& packet = message.emplace_back(json::object{}).get_object();
  packet.reserve(3);
  packet.emplace("type", static_cast<std::int64_t>(parser::packet_type::event));
  packet.emplace("data", std::move(data));
  packet.emplace("nsp", nsp);
  json::object& opts = message.emplace_back(json::object{}).get_object();
  opts.reserve(3);
  opts.emplace("rooms", to_json(to.rooms));
  opts.emplace("flags", flags);
  opts.emplace("except", to_json(to.except));
  const auto bytes = shared_bytes(attachments);
  return msgpack::encode(message, bytes);
}

std::string encode_rooms_request(request_type type, target to, std::span<const room> rooms) {
  json::object request;
  request.reserve(3);
  request.emplace("type", static_cast<std::int64_t>(type));
  request.emplace("opts", request_opts(to));
  request.emplace("rooms", to_json(rooms));
  return json_stringify(std::move(request));
}

std::string encode_disconnect_request(target to, bool close) {
  json::object request;
  request.reserve(3);
  request.emplace("type", static_cast<std::int64_t>(request_type::remote_disconnect));
  request.emplace("opts", request_opts(to));
  request.emplace("close", close);
  return json_stringify(std::move(request));
}

result<std::string> encode_server_side_emit(json::array data, std::span<const binary> attachments) {
  json::object request;
  request.reserve(3);
  request.emplace("uid", uid);
  request.emplace("type", static_cast<std::int64_t>(request_type::server_side_emit));
  request.emplace("data", std::move(data));
  if (attachments.empty()) return json_stringify(std::move(request));
  const auto bytes = shared_bytes(attachments);
  return msgpack::encode(request, bytes);
}

std::string json_stringify(json::value value) {
  // A Socket.IO packet's text is its type digit followed by JSON.stringify of its data, and the
  // packet encoder is sio's one JSON writer that writes numbers and escapes as JavaScript does.
  parser::packet text_of;
  text_of.type = parser::packet_type::event;
  text_of.data = std::move(value);
  std::string text = parser::encode(text_of);
  text.erase(0, 1);
  return text;
}

}  // namespace sio::detail::emitter_wire
