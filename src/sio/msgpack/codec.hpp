#pragma once
// MessagePack as npm notepack.io 3.0.1 writes and reads it: the format @socket.io/redis-adapter 8.x
// and @socket.io/redis-emitter 5.x publish on Redis. Pure functions over bytes, no I/O.
//
// The value model is the one sio's packets use: a boost::json::value in which binary data is a
// placeholder {"_placeholder":true,"num":N} standing for attachments[N]. On the wire that binary
// is a MessagePack `bin`, as a Node.js Buffer is.
//
//   auto bytes = sio::msgpack::encode(json::array{"uid", packet, opts}, attachments);
//   auto doc = sio::msgpack::decode(*bytes);          // doc->json, doc->attachments
//
// Encoding, form by form (notepack's choices, checked against bytes from the npm package):
//   integer n >= 0      positive fixint (< 128), uint8, uint16, uint32, uint64 (never int*)
//   integer n < 0       negative fixint (>= -32), int8, int16, int32, int64
//   double              an integral finite double is the integer above (3.0 as 3, -0.0 as 0);
//                       anything else is float64 (never float32), NaN as 7ff8000000000000.
//                       Deviation: notepack writes an integral double outside [-2^63, 2^64) as
//                       its value modulo 2^64 (1e20 arrives in Node as 7766279631452242000);
//                       we write float64, which Node reads back as the right number.
//   string              fixstr (< 32 bytes), str8, str16, str32; the bytes as they are
//   array, object       fix (< 16), 16-bit, 32-bit count; object keys in the object's order
//   placeholder         bin8/16/32 with the attachment's bytes, when `num` indexes an attachment;
//                       otherwise the object is written as the map it is
//   null, bool          nil, false/true
//
// Decoding, where MessagePack says more than JSON can (the result is what a Node.js member
// would put on the wire after notepack.decode, i.e. what JSON.stringify makes of the JS value):
//   bin                 a placeholder and an attachment, numbered in wire order
//   integers            int64, or uint64 above INT64_MAX: exact, also beyond 2^53 (where JS
//                       rounds; JSON.parse on a client rounds the same digits the same way)
//   float32, float64    double (float64 3.0 stays a double; it serialises as "3" anyway)
//   map keys            strings as they are; nil, booleans and numbers as JS names them
//                       ("null", "true", "1", "1.5"); a key that is an array, map, bin or ext is
//                       refused (notepack would make "1,2" or "[object Object]" of it).
//                       A repeated key keeps its first position and its last value, as in JS;
//                       "__proto__" is dropped (notepack sets the prototype: no own property).
//   strings             invalid UTF-8 replaced by U+FFFD as Buffer#toString does (a WebSocket
//                       client closes the connection on invalid UTF-8 in a text frame)
//   timestamp (ext -1)  a JS Date: its toJSON(), "2023-11-14T22:13:20.123Z", or null when out of
//                       the Date range. notepack writes Dates as timestamp 32/64/96 (an Invalid
//                       Date as zeros: it arrives as the epoch).
//   ext 0 in 0xd4       `undefined` (notepack 2.x wrote it so; 3.x writes nil instead and drops
//                       the key): null in an array or at the top, the key dropped in a map
//   ext 0 in 0xd7       notepack 2.x's Date (int64 milliseconds): as a timestamp
//   ext 0 in ext8/16/32 notepack 2.x's ArrayBuffer: binary, as bin
//   any other ext       [type, <binary>], as notepack's [type, Buffer]
// Refused: 0xc1, truncated input, bytes after the value, a timestamp 96 whose length is not 12,
// and anything over the limits, which are enforced while parsing.
//
// Threading: the functions are pure and reentrant.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <boost/json/value.hpp>

#include "sio/common/result.hpp"

namespace sio::msgpack {

// An attachment's bytes, shared (a sio::binary hands out the same pointer: no copy).
using attachment = std::shared_ptr<const std::string>;

// A decoded message: the JSON with placeholders, and the bytes they stand for.
struct document {
  boost::json::value json;
  std::vector<attachment> attachments;  // never null
};

struct decode_limits {
  std::size_t max_message_bytes = 32 * 1024 * 1024;  // the whole input
  std::size_t max_depth = 64;                        // nested arrays and maps
  std::size_t max_elements = 1 << 20;                // array elements plus map entries, in all
  std::size_t max_attachments = 1024;                // bin (and binary ext) values
};

enum class error {
  truncated = 1,        // the input ends inside a value
  trailing_bytes,       // bytes after the one top-level value
  invalid_type,         // 0xc1, the byte MessagePack never uses
  invalid_timestamp,    // a timestamp 96 (ext 8, type -1) whose length is not 12
  unsupported_key,      // a map key that is an array, a map, binary or an ext
  duplicate_binary_key, // a repeated map key would discard a value holding binary data
  message_too_large,    // over max_message_bytes
  too_deep,             // over max_depth
  too_many_elements,    // over max_elements
  too_many_attachments, // over max_attachments
  value_too_large,      // encode: a string, binary, array or object of 2^32 or more
};
const std::error_category& category() noexcept;
std::error_code make_error_code(error e) noexcept;

// The MessagePack bytes of `value`; a placeholder whose num indexes `attachments` becomes a bin
// of those bytes. Fails only with value_too_large. Recurses as deep as `value` is nested (what
// decode or sio's JSON parser produce is bounded by their depth limits).
result<std::string> encode(const boost::json::value& value, std::span<const attachment> attachments = {});

// The value of one MessagePack message, which must be the whole of `bytes`.
result<document> decode(std::string_view bytes, const decode_limits& limits = {});

// How the redis adapter reads a request or a response (RedisAdapter#onrequest, #onresponse): a
// message whose first byte is '{' is JSON, anything else MessagePack (an empty one too, which
// then fails to decode). Broadcasts on the main channel are always MessagePack.
enum class wire_format { json, msgpack };
wire_format request_format(std::string_view message) noexcept;

}  // namespace sio::msgpack

template <>
struct std::is_error_code_enum<sio::msgpack::error> : std::true_type {};
