#include "sio/engineio/codec/base64.hpp"

#include <array>
#include <cstdint>

namespace sio::eio {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::uint8_t invalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> t{};
  for (auto& v : t) v = invalid;
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}
constexpr auto decode_table = make_decode_table();

inline std::uint8_t lookup(char c) noexcept { return decode_table[static_cast<unsigned char>(c)]; }

}  // namespace

void base64_encode_append(std::string& out, std::string_view bytes) {
  const std::size_t n = bytes.size();
  const std::size_t start = out.size();
  // Size the output once and write into it: no per-character appends.
  out.resize(start + (n + 2) / 3 * 4);
  char* dst = out.data() + start;
  const auto* src = reinterpret_cast<const unsigned char*>(bytes.data());

  std::size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8) | src[i + 2];
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = alphabet[v & 63];
  }
  if (const std::size_t rest = n - i; rest == 1) {
    const std::uint32_t v = std::uint32_t{src[i]} << 16;
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = '=';
    *dst++ = '=';
  } else if (rest == 2) {
    const std::uint32_t v = (std::uint32_t{src[i]} << 16) | (std::uint32_t{src[i + 1]} << 8);
    *dst++ = alphabet[(v >> 18) & 63];
    *dst++ = alphabet[(v >> 12) & 63];
    *dst++ = alphabet[(v >> 6) & 63];
    *dst++ = '=';
  }
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  base64_encode_append(out, bytes);
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  const std::size_t n = text.size();
  if (n % 4 != 0) return std::nullopt;
  if (n == 0) return std::string{};

  // Padding is only allowed as the last one or two characters of the last quantum.
  std::size_t pad = 0;
  if (text[n - 1] == '=') pad = (text[n - 2] == '=') ? 2 : 1;

  std::string out;
  out.resize(n / 4 * 3 - pad);
  char* dst = out.data();

  const std::size_t full = pad ? n - 4 : n;  // quanta without padding
  for (std::size_t i = 0; i < full; i += 4) {
    const std::uint8_t a = lookup(text[i]), b = lookup(text[i + 1]), c = lookup(text[i + 2]), d = lookup(text[i + 3]);
    if ((a | b | c | d) & 0xc0) return std::nullopt;  // `invalid` has the top bits set
    const std::uint32_t v = (std::uint32_t{a} << 18) | (std::uint32_t{b} << 12) | (std::uint32_t{c} << 6) | d;
    *dst++ = static_cast<char>(v >> 16);
    *dst++ = static_cast<char>(v >> 8);
    *dst++ = static_cast<char>(v);
  }
  if (pad) {
    const std::size_t i = n - 4;
    const std::uint8_t a = lookup(text[i]), b = lookup(text[i + 1]);
    if ((a | b) & 0xc0) return std::nullopt;
    if (pad == 2) {
      // The unused low bits must be zero, so every byte string has exactly one encoding.
      if (b & 0x0f) return std::nullopt;
      *dst++ = static_cast<char>((a << 2) | (b >> 4));
    } else {
      const std::uint8_t c = lookup(text[i + 2]);
      if ((c & 0xc0) || (c & 0x03)) return std::nullopt;
      *dst++ = static_cast<char>((a << 2) | (b >> 4));
      *dst++ = static_cast<char>(((b & 0x0f) << 4) | (c >> 2));
    }
  }
  return out;
}

}  // namespace sio::eio
