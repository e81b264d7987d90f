#pragma once
// Engine.IO protocol v4 packet codec: pure functions over bytes, no I/O.
//
// A packet on the wire is one type digit followed by its data:
//   "0{...}" open, "1" close, "2" ping, "3" pong, "4hello" message, "5" upgrade, "6" noop.
// WebSocket carries one packet per frame; a binary frame is a binary message (no type digit).
// HTTP long-polling joins packets with the record separator '\x1e'; a binary message
// travels there as 'b' followed by the base64 of its bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "sio/common/result.hpp"

namespace sio::eio {

enum class packet_type : std::uint8_t { open = 0, close = 1, ping = 2, pong = 3, message = 4, upgrade = 5, noop = 6 };

inline constexpr char record_separator = '\x1e';

struct packet {
  packet_type type = packet_type::message;
  bool binary = false;  // only for message packets: data holds raw bytes
  std::string data;

  friend bool operator==(const packet&, const packet&) = default;
};

enum class codec_error {
  empty_packet = 1,     // a frame or polling segment with no type digit
  unknown_packet_type,  // type digit outside 0..6
  invalid_base64,       // 'b' segment whose data is not valid base64
  too_many_packets,     // a polling payload over the caller's packet limit
};
const std::error_category& codec_category() noexcept;
std::error_code make_error_code(codec_error e) noexcept;

// One WebSocket text frame, or one segment of a polling payload ("b..." decodes to a binary message).
result<packet> decode_packet(std::string_view text);

// One WebSocket binary frame: a binary message packet.
packet decode_binary_frame(std::string_view bytes);

// A polling request body: packets separated by '\x1e'. An empty body is an error.
result<std::vector<packet>> decode_payload(std::string_view body, std::size_t max_packets = 1024);

// The text form of one packet: type digit + data; a binary message becomes "b" + base64 (polling form).
std::string encode_packet(const packet& p);

// Appends one packet to a polling response body, with a separator when the body is not empty.
void append_to_payload(std::string& body, packet_type type, std::string_view data, bool binary = false);

}  // namespace sio::eio

template <>
struct std::is_error_code_enum<sio::eio::codec_error> : std::true_type {};
