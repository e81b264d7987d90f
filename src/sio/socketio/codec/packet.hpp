#pragma once
// Socket.IO protocol v5 packet codec: pure functions, no I/O.
//
// Text form: <type>[<attachments>-][<namespace>,][<ack id>][<JSON data>]
//   "0" connect, "40/admin,{...}" connect with auth, "2[\"hello\",1]" event,
//   "212[\"hello\"]" event with ack id 12, "3[...]" / "312[...]" ack,
//   "51-[\"file\",{\"_placeholder\":true,\"num\":0}]" binary event followed by 1 binary frame.
// Binary attachments stay out of the JSON: the data holds {"_placeholder":true,"num":N}
// where N indexes the binary frames that follow the text frame.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/value.hpp>

#include "sio/common/result.hpp"

namespace sio::parser {

enum class packet_type : std::uint8_t {
  connect = 0,
  disconnect = 1,
  event = 2,
  ack = 3,
  connect_error = 4,
  binary_event = 5,
  binary_ack = 6,
};

struct packet {
  packet_type type = packet_type::event;
  std::string nsp = "/";
  std::optional<std::uint64_t> id;  // ack id
  boost::json::value data;          // null when the packet has no data
  std::size_t attachments = 0;      // binary_event / binary_ack: binary frames that follow
};

struct decode_limits {
  std::size_t max_attachments = 64;    // a larger count is refused (no unbounded buffering)
  std::size_t max_json_depth = 32;     // nesting deeper than this is refused
  std::size_t max_namespace_length = 256;
};

enum class codec_error {
  empty_packet = 1,
  unknown_packet_type,
  invalid_attachments,  // missing '-', not a number, zero, or over the limit
  invalid_namespace,    // too long, or not terminated by ','
  invalid_ack_id,       // not a number, or over 2^53 - 1
  invalid_json,         // not JSON, trailing garbage, or too deep
  invalid_payload,      // JSON of the wrong shape for the packet type
  invalid_placeholder,  // a placeholder number not below the attachment count
};
const std::error_category& codec_category() noexcept;
std::error_code make_error_code(codec_error e) noexcept;

// Decodes one text frame (the Engine.IO message data). Validates the payload for its type,
// as the reference parser does: connect: object or absent; disconnect: absent;
// connect_error: object or string; event: non-empty array whose first element is a string
// (not one of the reserved names); ack: array. Binary packets' placeholders are checked too.
result<packet> decode(std::string_view text, const decode_limits& limits = {});

// Encodes the text frame of a packet. For binary_* packets the data must already hold
// placeholders and `attachments` the number of binary frames.
std::string encode(const packet& p);

// JSON as JavaScript writes and reads it, for other JSON on the wire (a cluster adapter's
// requests): stringify is JSON.stringify's text (doubles as Number#toString prints them,
// non-finite ones as null); parse_json reads one JSON text as JSON.parse does (doubles rounded
// exactly), or nullopt when it is not JSON, has bytes after the value or is nested deeper than
// max_depth.
std::string stringify(const boost::json::value& v);
std::optional<boost::json::value> parse_json(std::string_view text, std::size_t max_depth);

// The placeholder object {"_placeholder":true,"num":n}.
boost::json::value make_placeholder(std::size_t num);
// The placeholder's number when `v` is a placeholder object.
std::optional<std::size_t> placeholder_num(const boost::json::value& v) noexcept;
// Counts placeholders in `v` (any depth).
std::size_t count_placeholders(const boost::json::value& v) noexcept;

// Event names a client may not send (they name the server's own events).
bool is_reserved_event(std::string_view name) noexcept;

}  // namespace sio::parser

template <>
struct std::is_error_code_enum<sio::parser::codec_error> : std::true_type {};
