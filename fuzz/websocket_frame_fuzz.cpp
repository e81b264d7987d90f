// libFuzzer target: the WebSocket frame reader (RFC 6455, permessage-deflate of RFC 7692).
// Input: a flags byte, a split seed, then the bytes a client sends, taken as they are or, in
// structured mode, as frame descriptions made into well-formed masked (and maybe compressed)
// frames. The stream is read whole, then in random splits: both must give the same events and
// the same error. Each event is checked: its payload lies inside the fed chunk or wholly outside
// it (read entirely, so that ASan checks the reader's own buffers), sizes are within the limits,
// text and close reasons are UTF-8, close codes are valid, and nothing comes after close or error.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sio/transport/websocket_codec.hpp"

namespace ws = sio::transport::ws;

namespace {

struct event {
  ws::frame_event::kind type;
  std::string payload;
  std::uint16_t code;
  bool operator==(const event&) const = default;
};

struct outcome {
  std::vector<event> events;
  std::uint16_t error = 0;
  bool operator==(const outcome&) const = default;
};

struct config {
  bool deflate = false;
  ws::deflate_params params;
  std::size_t max = 0;
};

std::uint32_t xorshift(std::uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

bool valid_close_code(std::uint16_t c) {
  return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
}

void check_event(const config& cfg, const ws::frame_event& ev, const std::vector<char>& chunk) {
  const char* b = chunk.data();
  const char* e = b + chunk.size();
  const char* p = ev.payload.data();
  const std::size_t n = ev.payload.size();
  if (n > 0) {
    const bool inside = p >= b && p + n <= e;
    const bool outside = p + n <= b || p >= e;
    if (!inside && !outside) __builtin_trap();
    volatile unsigned sum = 0;  // every byte is read: out of bounds would be an ASan report
    for (std::size_t i = 0; i < n; ++i) sum = sum + static_cast<unsigned char>(p[i]);
  }
  using kind = ws::frame_event::kind;
  switch (ev.type) {
    case kind::text:
      if (!ws::valid_utf8(ev.payload)) __builtin_trap();
      [[fallthrough]];
    case kind::binary:
      if (n > cfg.max) __builtin_trap();
      break;
    case kind::ping:
    case kind::pong:
      if (n > 125) __builtin_trap();
      break;
    case kind::close:
      if (n > 123 || !ws::valid_utf8(ev.payload)) __builtin_trap();
      if (ev.close_code != ws::close_code::no_status && !valid_close_code(ev.close_code)) __builtin_trap();
      if (ev.close_code == ws::close_code::no_status && n != 0) __builtin_trap();
      break;
  }
}

// Reads `stream` in chunks: whole when seed is 0, else sizes drawn from the seed (some empty).
outcome run(const config& cfg, std::string_view stream, std::uint32_t seed) {
  ws::frame_reader r(cfg.max);
  if (cfg.deflate) r.enable_deflate(cfg.params);
  outcome out;
  bool closed = false;
  std::size_t at = 0;
  std::uint32_t x = seed;
  do {
    std::size_t n = stream.size() - at;
    if (seed) {
      x = xorshift(x);
      const std::size_t bound = (x >> 8) % 4 == 0 ? 2 : (x >> 8) % 4 == 1 ? 16 : 300;
      n = std::min<std::size_t>(n, x % (bound + 1));
    }
    std::vector<char> chunk(stream.begin() + at, stream.begin() + at + n);
    r.feed(chunk);
    while (auto ev = r.next()) {
      if (closed || r.error()) __builtin_trap();
      check_event(cfg, *ev, chunk);
      out.events.push_back({ev->type, std::string(ev->payload), ev->close_code});
      if (ev->type == ws::frame_event::kind::close) closed = true;
    }
    // Never more than a message, a header and a control frame.
    if (r.held_bytes() > cfg.max + 14 + 125) __builtin_trap();
    at += n;
  } while (at < stream.size());
  out.error = r.error();
  if (closed && out.error) __builtin_trap();
  if (out.error && r.held_bytes() != 0) __builtin_trap();
  return out;
}

// Structured mode: records of [b0][length][payload...] made into masked frames. b0: bits 0-2
// pick the opcode, bit 3 FIN, bit 4 RSV1, bit 5 compresses the payload (RSV1 not implied),
// bit 6 a 16-bit length, bit 7 a 64-bit length.
std::string build(const std::uint8_t* p, std::size_t n, ws::deflater* d) {
  static constexpr std::uint8_t ops[8] = {0x0, 0x1, 0x2, 0x8, 0x9, 0xa, 0x1, 0x3};
  std::string out;
  while (n >= 2) {
    const std::uint8_t b0 = p[0];
    const std::size_t len = std::min<std::size_t>(p[1], n - 2);
    std::string payload(reinterpret_cast<const char*>(p + 2), len);
    p += 2 + len;
    n -= 2 + len;
    if ((b0 & 0x20) && d) {
      const std::string_view pieces[] = {payload};
      payload = d->compress(pieces);
    }
    out.push_back(static_cast<char>(((b0 & 0x08) ? 0x80 : 0) | ((b0 & 0x10) ? 0x40 : 0) | ops[b0 & 7]));
    const std::uint64_t size = payload.size();
    if (b0 & 0x80) {
      out.push_back(static_cast<char>(0x80 | 127));
      for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(size >> (8 * i)));
    } else if ((b0 & 0x40) || size > 125) {
      out.push_back(static_cast<char>(0x80 | 126));
      out.push_back(static_cast<char>(size >> 8));
      out.push_back(static_cast<char>(size));
    } else {
      out.push_back(static_cast<char>(0x80 | size));
    }
    const unsigned char key[4] = {b0, static_cast<unsigned char>(len), 0x5a, 0xa5};
    out.append(reinterpret_cast<const char*>(key), 4);
    for (std::size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  }
  return out;
}

}  // namespace

// flags: bit 0 deflate, bit 1 client_no_context_takeover, bit 2 structured, bits 3-4 the
// message size limit, bits 5-7 lower client_max_window_bits from 15.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint32_t seed = data[1];
  data += 2;
  size -= 2;

  config cfg;
  static constexpr std::size_t limits[4] = {0, 125, 4096, 1 << 20};
  cfg.max = limits[(flags >> 3) & 3];
  cfg.deflate = flags & 1;
  cfg.params.client_no_context_takeover = (flags & 2) != 0;
  cfg.params.client_max_window_bits = 15 - ((flags >> 5) & 7);

  std::string stream;
  if (flags & 4) {
    // The client's compressor, as agreed: its own context unless it promised not to keep it.
    ws::deflate_params client;
    client.server_no_context_takeover = cfg.params.client_no_context_takeover;
    client.server_max_window_bits = cfg.params.client_max_window_bits;
    ws::deflater d(client);
    stream = build(data, size, &d);
  } else {
    stream.assign(reinterpret_cast<const char*>(data), size);
  }

  const outcome whole = run(cfg, stream, 0);
  if (run(cfg, stream, (seed * 2654435761u) | 1) != whole) __builtin_trap();
  if (stream.size() <= 2048) {
    // One byte at a time.
    ws::frame_reader r(cfg.max);
    if (cfg.deflate) r.enable_deflate(cfg.params);
    outcome bytes;
    for (char c : stream) {
      std::vector<char> one{c};
      r.feed(one);
      while (auto ev = r.next()) bytes.events.push_back({ev->type, std::string(ev->payload), ev->close_code});
    }
    bytes.error = r.error();
    if (bytes != whole) __builtin_trap();
  }
  return 0;
}
