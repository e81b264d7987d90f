#include "sio/engineio/codec/packet.hpp"

#include <algorithm>

#include "sio/engineio/codec/base64.hpp"

namespace sio::eio {
namespace {

class codec_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.eio.codec"; }
  std::string message(int ev) const override {
    switch (static_cast<codec_error>(ev)) {
      case codec_error::empty_packet: return "empty packet";
      case codec_error::unknown_packet_type: return "unknown packet type";
      case codec_error::invalid_base64: return "invalid base64 data";
      case codec_error::too_many_packets: return "too many packets in payload";
    }
    return "unknown engine.io codec error";
  }
};

inline char type_digit(packet_type t) noexcept { return static_cast<char>('0' + static_cast<int>(t)); }

}  // namespace

const std::error_category& codec_category() noexcept {
  static const codec_category_impl instance;
  return instance;
}

std::error_code make_error_code(codec_error e) noexcept { return {static_cast<int>(e), codec_category()}; }

result<packet> decode_packet(std::string_view text) {
  if (text.empty()) return make_error_code(codec_error::empty_packet);
  const char t = text.front();
  if (t == 'b') {
    // Binary message sent over polling.
    auto bytes = base64_decode(text.substr(1));
    if (!bytes) return make_error_code(codec_error::invalid_base64);
    return packet{packet_type::message, true, std::move(*bytes)};
  }
  if (t < '0' || t > '6') return make_error_code(codec_error::unknown_packet_type);
  return packet{static_cast<packet_type>(t - '0'), false, std::string(text.substr(1))};
}

packet decode_binary_frame(std::string_view bytes) { return packet{packet_type::message, true, std::string(bytes)}; }

result<std::vector<packet>> decode_payload(std::string_view body, std::size_t max_packets) {
  if (body.empty()) return make_error_code(codec_error::empty_packet);
  // Count first: refuses oversized payloads before decoding anything and sizes the vector once.
  const std::size_t count = static_cast<std::size_t>(std::count(body.begin(), body.end(), record_separator)) + 1;
  if (count > max_packets) return make_error_code(codec_error::too_many_packets);

  std::vector<packet> packets;
  packets.reserve(count);
  std::size_t pos = 0;
  for (;;) {
    const std::size_t end = body.find(record_separator, pos);
    auto p = decode_packet(body.substr(pos, end == std::string_view::npos ? std::string_view::npos : end - pos));
    if (!p) return p.error();
    packets.push_back(std::move(*p));
    if (end == std::string_view::npos) break;
    pos = end + 1;
  }
  return packets;
}

std::string encode_packet(const packet& p) {
  std::string out;
  append_to_payload(out, p.type, p.data, p.binary);
  return out;
}

void append_to_payload(std::string& body, packet_type type, std::string_view data, bool binary) {
  const bool sep = !body.empty();
  // A binary packet is always a message: 'b' replaces the type digit.
  const std::size_t need = body.size() + sep + 1 + (binary ? (data.size() + 2) / 3 * 4 : data.size());
  // Grow geometrically: a body is built by many appends.
  if (need > body.capacity()) body.reserve(std::max(need, body.capacity() * 2));
  if (sep) body.push_back(record_separator);
  if (binary) {
    body.push_back('b');
    base64_encode_append(body, data);
  } else {
    body.push_back(type_digit(type));
    body.append(data);
  }
}

}  // namespace sio::eio
