#pragma once
// The WebSocket protocol (RFC 6455) for a server, without I/O: the opening handshake's answer,
// frame headers for what the server sends, an incremental reader for what clients send, and
// permessage-deflate (RFC 7692). Pure and free of Asio and Beast, so that it is tested and
// fuzzed alone; the Engine.IO transport drives it over a socket.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace sio::transport::ws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// Close codes this server sends (RFC 6455 section 7.4.1).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status = 1005;  // only reported, never sent
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t message_too_big = 1009;
}  // namespace close_code

// ---- opening handshake ----

// The header values of an HTTP upgrade request ("" when a header is absent).
struct upgrade_request {
  std::string_view method;      // must be GET
  std::string_view upgrade;     // must contain the token "websocket" (case-insensitive)
  std::string_view connection;  // must contain the token "upgrade" (case-insensitive)
  std::string_view version;     // Sec-WebSocket-Version, must be 13
  std::string_view key;         // Sec-WebSocket-Key, base64 of 16 bytes
  std::string_view extensions;  // Sec-WebSocket-Extensions, the client's offers
};

// What permessage-deflate was agreed on.
struct deflate_params {
  bool server_no_context_takeover = true;   // this server always compresses each message alone
  bool client_no_context_takeover = false;  // the client agreed to compress each message alone
  int server_max_window_bits = 15;
  int client_max_window_bits = 15;
};

struct handshake_answer {
  bool accepted = false;
  std::string error;                     // why not (the 400 response's body), when refused
  std::optional<deflate_params> deflate;  // set when permessage-deflate was agreed on
  // The complete "101 Switching Protocols" response when accepted, ending with the blank line.
  std::string response;
};

// Validates the upgrade request and builds the answer. `extra_headers` are complete header lines
// added to the 101 response (e.g. "Set-Cookie: io=...\r\n"). permessage-deflate is agreed on only
// when allow_deflate is true and the client offered it with parameters this server can honour.
handshake_answer answer_handshake(const upgrade_request& req, bool allow_deflate, std::string_view extra_headers = {});

// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC's GUID)).
std::string accept_key(std::string_view key);

// ---- frames the server sends (unmasked, FIN set, never fragmented) ----

inline constexpr std::size_t max_header_size = 10;

// Writes the header of a frame carrying `payload_size` bytes into `out` (at least
// max_header_size bytes) and returns its length: 2, 4 or 10. `compressed` sets RSV1
// (only for the data frames of a permessage-deflate connection).
std::size_t encode_header(opcode op, std::uint64_t payload_size, bool compressed, unsigned char* out) noexcept;

// A whole close frame: the code, then the reason (at most 123 bytes, truncated on a UTF-8 boundary).
// close_code::no_status (or 0) gives a close frame without payload.
std::string close_frame(std::uint16_t code, std::string_view reason = {});

// A whole pong frame answering a ping's payload (at most 125 bytes).
std::string pong_frame(std::string_view payload);

// ---- permessage-deflate ----

// Compresses whole messages for one connection. With server_no_context_takeover every message is
// compressed alone, so one compressor may serve many connections of a thread in turn.
class deflater {
 public:
  explicit deflater(const deflate_params& params);
  ~deflater();
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;
  // The compressed payload of one message whose bytes are `pieces` concatenated (RFC 7692
  // section 7.2.1: raw DEFLATE, sync-flushed, the final 00 00 ff ff removed).
  std::string compress(std::span<const std::string_view> pieces);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

// ---- what clients send ----

struct frame_event {
  enum class kind { text, binary, ping, pong, close };
  kind type;
  // The whole message (text or binary, reassembled from fragments, decompressed), the ping or
  // pong payload, or the close reason. Valid until the next call to next() or feed().
  std::string_view payload;
  std::uint16_t close_code = 0;  // for close: the code, or close_code::no_status without one
};

// Reads client frames incrementally. Usage:
//   reader.feed(bytes_just_read);
//   while (auto ev = reader.next()) handle(*ev);
//   if (reader.error()) fail the connection with close_frame(reader.error())
// The reader keeps no buffer while it holds no partial frame or message, so an idle
// connection costs only the object itself.
class frame_reader {
 public:
  explicit frame_reader(std::size_t max_message_size);
  ~frame_reader();
  frame_reader(frame_reader&&) noexcept;
  frame_reader& operator=(frame_reader&&) noexcept;

  // Agreed on in the handshake: messages with RSV1 set are inflated.
  void enable_deflate(const deflate_params& params);

  // Gives the reader the bytes just read from the socket. They are unmasked in place, so they
  // must be writable, and must stay valid until next() has returned nullopt. Call next() until
  // it returns nullopt before feeding again.
  void feed(std::span<char> bytes);

  // The next complete message or control frame, or nullopt when more bytes are needed or after
  // an error. After a close event, nothing more is read.
  std::optional<frame_event> next();

  // 0, or the close code to fail the connection with: protocol_error (unmasked, reserved bits
  // or opcodes, bad control frames, bad continuation), invalid_payload (text or close reason
  // not UTF-8, compressed data that does not inflate), message_too_big (a message over
  // max_message_size, decompressed or not).
  std::uint16_t error() const noexcept;

  // Bytes held between feeds (a partial frame or a fragmented message).
  std::size_t held_bytes() const noexcept;

 private:
  struct state;
  struct frame_header;
  bool check_start(unsigned char b0, unsigned char b1);
  bool read_header(frame_header& h);
  std::optional<frame_event> on_control(opcode op, std::string_view payload);
  std::optional<frame_event> on_message(opcode op, bool compressed, std::string_view payload);
  std::uint16_t inflate_message(std::string_view compressed);
  bool fail(std::uint16_t code);
  void trim();

  std::unique_ptr<state> state_;  // allocated on first use of anything beyond the fast path
  std::size_t max_message_size_;
  std::span<char> input_;
  std::uint16_t error_ = 0;
  bool closed_ = false;
};

// True when `text` is valid UTF-8.
bool valid_utf8(std::string_view text) noexcept;

}  // namespace sio::transport::ws
