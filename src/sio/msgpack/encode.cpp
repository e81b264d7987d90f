// MessagePack encoding with notepack.io's choice of forms (see codec.hpp for the table).
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "sio/msgpack/codec.hpp"

namespace sio::msgpack {
namespace json = boost::json;

namespace {

// The MessagePack type bytes this file writes.
namespace tag {
constexpr std::uint8_t nil = 0xc0, false_ = 0xc2, true_ = 0xc3;
constexpr std::uint8_t bin8 = 0xc4, bin16 = 0xc5, bin32 = 0xc6;
constexpr std::uint8_t float64 = 0xcb;
constexpr std::uint8_t uint8 = 0xcc, uint16 = 0xcd, uint32 = 0xce, uint64 = 0xcf;
constexpr std::uint8_t int8 = 0xd0, int16 = 0xd1, int32 = 0xd2, int64 = 0xd3;
constexpr std::uint8_t str8 = 0xd9, str16 = 0xda, str32 = 0xdb;
constexpr std::uint8_t array16 = 0xdc, array32 = 0xdd, map16 = 0xde, map32 = 0xdf;
constexpr std::uint8_t fixmap = 0x80, fixarray = 0x90, fixstr = 0xa0;
}  // namespace tag

// Integers that fit a double exactly up to here; past 2^64 (and below -2^63) an integral double
// has no integer form (see the deviation in codec.hpp).
constexpr double two_to_the_64 = 18446744073709551616.0;
constexpr double minus_two_to_the_63 = -9223372036854775808.0;

class encoder {
 public:
  encoder(std::string& out, std::span<const attachment> attachments) : out_(out), attachments_(attachments) {}

  bool value(const json::value& v) {
    switch (v.kind()) {
      case json::kind::null: byte(tag::nil); return true;
      case json::kind::bool_: byte(v.get_bool() ? tag::true_ : tag::false_); return true;
      case json::kind::int64: integer(v.get_int64()); return true;
      case json::kind::uint64: unsigned_integer(v.get_uint64()); return true;
      case json::kind::double_: number(v.get_double()); return true;
      case json::kind::string: return string(v.get_string());
      case json::kind::array: {
        const json::array& a = v.get_array();
        if (!header(a.size(), tag::fixarray, 16, tag::array16, tag::array32)) return false;
        for (const json::value& e : a)
          if (!value(e)) return false;
        return true;
      }
      case json::kind::object: {
        const json::object& o = v.get_object();
        if (const attachment* bytes = placeholder_attachment(o)) return binary(*bytes);
        if (!header(o.size(), tag::fixmap, 16, tag::map16, tag::map32)) return false;
        for (const auto& kv : o)
          if (!string(kv.key()) || !value(kv.value())) return false;
        return true;
      }
    }
    return true;
  }

 private:
  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }

  // Big-endian, as MessagePack is.
  template <class UInt>
  void big_endian(UInt v) {
    char bytes[sizeof(UInt)];
    for (std::size_t i = 0; i < sizeof(UInt); ++i)
      bytes[i] = static_cast<char>(v >> (8 * (sizeof(UInt) - 1 - i)));
    out_.append(bytes, sizeof bytes);
  }

  void unsigned_integer(std::uint64_t n) {
    if (n < 0x80) {
      byte(static_cast<std::uint8_t>(n));  // positive fixint
    } else if (n < 0x100) {
      byte(tag::uint8);
      big_endian(static_cast<std::uint8_t>(n));
    } else if (n < 0x10000) {
      byte(tag::uint16);
      big_endian(static_cast<std::uint16_t>(n));
    } else if (n < 0x100000000) {
      byte(tag::uint32);
      big_endian(static_cast<std::uint32_t>(n));
    } else {
      byte(tag::uint64);
      big_endian(n);
    }
  }

  // notepack writes a non-negative number with the unsigned forms, a negative one with the
  // smallest signed form.
  void integer(std::int64_t n) {
    if (n >= 0) {
      unsigned_integer(static_cast<std::uint64_t>(n));
    } else if (n >= -32) {
      byte(static_cast<std::uint8_t>(n));  // negative fixint: 0xe0-0xff
    } else if (n >= std::numeric_limits<std::int8_t>::min()) {
      byte(tag::int8);
      big_endian(static_cast<std::uint8_t>(n));
    } else if (n >= std::numeric_limits<std::int16_t>::min()) {
      byte(tag::int16);
      big_endian(static_cast<std::uint16_t>(n));
    } else if (n >= std::numeric_limits<std::int32_t>::min()) {
      byte(tag::int32);
      big_endian(static_cast<std::uint32_t>(n));
    } else {
      byte(tag::int64);
      big_endian(static_cast<std::uint64_t>(n));
    }
  }

  // A JavaScript number: JS has no integer type, so an integral double is written as the integer
  // it equals, as notepack does for every number (-0 included: it is >= 0 and becomes 0).
  void number(double d) {
    if (std::isfinite(d) && std::trunc(d) == d) {
      if (d >= 0 && d < two_to_the_64) return unsigned_integer(static_cast<std::uint64_t>(d));
      if (d < 0 && d >= minus_two_to_the_63) return integer(static_cast<std::int64_t>(d));
    }
    // V8 writes the one NaN it has; a C++ NaN may carry a sign or a payload.
    const std::uint64_t bits = std::isnan(d) ? 0x7ff8000000000000u : std::bit_cast<std::uint64_t>(d);
    byte(tag::float64);
    big_endian(bits);
  }

  // The header of a string, binary, array or map of n: the fix form when n < fix_limit (with
  // the count in the tag's low bits), else the 8-bit form when there is one (fix8 != 0), else
  // 16 or 32 bits. false when n does not fit 32 bits (notepack throws "... too large").
  bool header(std::size_t n, std::uint8_t fix, std::size_t fix_limit, std::uint8_t form16, std::uint8_t form32,
              std::uint8_t form8 = 0) {
    if (fix != 0 && n < fix_limit) {
      byte(static_cast<std::uint8_t>(fix | n));
    } else if (form8 != 0 && n < 0x100) {
      byte(form8);
      big_endian(static_cast<std::uint8_t>(n));
    } else if (n < 0x10000) {
      byte(form16);
      big_endian(static_cast<std::uint16_t>(n));
    } else if (n <= 0xffffffffu) {
      byte(form32);
      big_endian(static_cast<std::uint32_t>(n));
    } else {
      return false;
    }
    return true;
  }

  bool string(std::string_view s) {
    if (!header(s.size(), tag::fixstr, 32, tag::str16, tag::str32, tag::str8)) return false;
    out_.append(s);
    return true;
  }

  bool binary(const attachment& bytes) {
    const std::string_view view = bytes ? std::string_view(*bytes) : std::string_view();
    if (!header(view.size(), 0, 0, tag::bin16, tag::bin32, tag::bin8)) return false;
    out_.append(view);
    return true;
  }

  // The attachment a placeholder object stands for: "_placeholder" is true and "num" a number
  // that indexes `attachments` (socket.io-parser's reconstructPacket asks no more of it).
  const attachment* placeholder_attachment(const json::object& o) const noexcept {
    const json::value* flag = o.if_contains("_placeholder");
    if (!flag || !flag->is_bool() || !flag->get_bool()) return nullptr;
    const json::value* num = o.if_contains("num");
    if (!num) return nullptr;
    std::uint64_t index;
    if (num->is_int64() && num->get_int64() >= 0) {
      index = static_cast<std::uint64_t>(num->get_int64());
    } else if (num->is_uint64()) {
      index = num->get_uint64();
    } else if (num->is_double() && num->get_double() >= 0 && num->get_double() < attachments_.size() &&
               std::trunc(num->get_double()) == num->get_double()) {
      index = static_cast<std::uint64_t>(num->get_double());
    } else {
      return nullptr;
    }
    return index < attachments_.size() ? &attachments_[index] : nullptr;
  }

  std::string& out_;
  std::span<const attachment> attachments_;
};

}  // namespace

result<std::string> encode(const boost::json::value& value, std::span<const attachment> attachments) {
  std::string out;
  std::size_t attachment_bytes = 0;
  for (const attachment& a : attachments) attachment_bytes += a ? a->size() : 0;
  out.reserve(256 + attachment_bytes);
  if (!encoder(out, attachments).value(value)) return make_error_code(error::value_too_large);
  return out;
}

}  // namespace sio::msgpack
