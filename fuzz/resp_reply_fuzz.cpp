// libFuzzer target: the RESP2 reply parser (sio/redis/resp.hpp), what a Redis server sends.
// Input: a byte choosing the limits, a split seed, then the stream. It is parsed whole, in
// random splits and, when short, byte by byte: all must give the same replies and the same
// error. Each reply is checked against the limits and written back to RESP, which must parse
// to the same reply. Between replies the parser holds at most one partial value's bytes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sio/redis/resp.hpp"

namespace redis = sio::redis;

namespace {

struct outcome {
  std::vector<redis::reply> replies;
  std::error_code error;
  bool operator==(const outcome&) const = default;
};

std::uint32_t xorshift(std::uint32_t x) {
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return x;
}

// Depth of arrays and elements of a reply; traps on what the limits forbid.
void check(const redis::resp_limits& lim, const redis::reply& r, std::size_t depth, std::size_t& elements) {
  switch (r.type()) {
    case redis::reply::kind::status:
      if (r.status().size() > lim.max_line || r.status().find_first_of("\r") != std::string::npos) __builtin_trap();
      break;
    case redis::reply::kind::error:
      if (r.error().size() > lim.max_line || r.error().find_first_of("\r") != std::string::npos) __builtin_trap();
      break;
    case redis::reply::kind::bulk:
      if (r.bulk().size() > lim.max_bulk) __builtin_trap();
      break;
    case redis::reply::kind::array:
      if (depth + 1 > lim.max_depth) __builtin_trap();
      elements += r.elements().size();
      if (elements > lim.max_elements) __builtin_trap();
      for (const auto& e : r.elements()) check(lim, e, depth + 1, elements);
      break;
    default:
      break;
  }
}

void write_resp(std::string& out, const redis::reply& r) {
  switch (r.type()) {
    case redis::reply::kind::nil: out += "$-1\r\n"; break;
    case redis::reply::kind::integer: out += ":" + std::to_string(r.integer()) + "\r\n"; break;
    case redis::reply::kind::status: out += "+" + r.status() + "\r\n"; break;
    case redis::reply::kind::error: out += "-" + r.error() + "\r\n"; break;
    case redis::reply::kind::bulk:
      out += "$" + std::to_string(r.bulk().size()) + "\r\n";
      out += r.bulk();
      out += "\r\n";
      break;
    case redis::reply::kind::array:
      out += "*" + std::to_string(r.elements().size()) + "\r\n";
      for (const auto& e : r.elements()) write_resp(out, e);
      break;
  }
}

// The bytes one incomplete value may hold: its line, or a bulk header, string and CRLF.
std::size_t partial_bound(const redis::resp_limits& lim) { return 1 + lim.max_line + 2 + lim.max_bulk + 2; }

outcome run(const redis::resp_limits& lim, std::string_view stream, std::uint32_t seed) {
  redis::reply_parser p(lim);
  outcome out;
  std::size_t at = 0;
  std::uint32_t x = seed;
  do {
    std::size_t n = stream.size() - at;
    if (seed) {
      x = xorshift(x);
      const std::size_t bound = (x >> 8) % 3 == 0 ? 1 : (x >> 8) % 3 == 1 ? 7 : 200;
      n = std::min<std::size_t>(n, x % (bound + 1));
    }
    // Half the time through prepare/commit, as the client receives.
    if (x & 0x100) {
      auto room = p.prepare(n);
      if (room.size() < n) __builtin_trap();
      std::copy(stream.begin() + at, stream.begin() + at + n, room.begin());
      p.commit(n);
    } else {
      p.feed(stream.substr(at, n));
    }
    while (auto r = p.next()) out.replies.push_back(std::move(*r));
    if (!p.error() && p.buffered() > partial_bound(lim)) __builtin_trap();
    at += n;
  } while (at < stream.size());
  out.error = p.error();
  if (out.error && p.buffered() != 0) __builtin_trap();
  return out;
}

}  // namespace

// flags: bits 0-1 max_line, 2-3 max_bulk, 4-5 max_elements, 6-7 max_depth.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint32_t seed = data[1];
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  static constexpr std::size_t lines[4] = {32, 64, 1024, 64 * 1024};
  static constexpr std::size_t bulks[4] = {0, 16, 4096, 1 << 20};
  static constexpr std::size_t elements[4] = {1, 8, 256, 1 << 20};
  static constexpr std::size_t depths[4] = {1, 2, 8, 32};
  redis::resp_limits lim;
  lim.max_line = lines[flags & 3];
  lim.max_bulk = bulks[(flags >> 2) & 3];
  lim.max_elements = elements[(flags >> 4) & 3];
  lim.max_depth = depths[(flags >> 6) & 3];

  const outcome whole = run(lim, stream, 0);
  for (const auto& r : whole.replies) {
    std::size_t n = 0;
    check(lim, r, 0, n);
  }
  if (run(lim, stream, (seed * 2654435761u) | 1) != whole) __builtin_trap();
  if (stream.size() <= 4096) {
    redis::reply_parser p(lim);
    outcome bytes;
    for (char c : stream) {
      p.feed(std::string_view(&c, 1));
      while (auto r = p.next()) bytes.replies.push_back(std::move(*r));
    }
    bytes.error = p.error();
    if (bytes != whole) __builtin_trap();
  }
  // Written back, the replies parse to themselves (a nil array comes back as a nil bulk: both
  // are the one nil of reply).
  std::string again;
  for (const auto& r : whole.replies) write_resp(again, r);
  const outcome round = run(lim, again, 0);
  if (round.error || round.replies != whole.replies) __builtin_trap();
  return 0;
}
