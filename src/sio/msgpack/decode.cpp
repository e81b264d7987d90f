// MessagePack decoding into the JSON-with-placeholders model (see codec.hpp for what each form
// becomes). One pass, recursive descent bounded by max_depth; every count is checked against the
// bytes left and the limits before anything is allocated for it.
#include <bit>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>

#include "sio/msgpack/codec.hpp"
#include "sio/msgpack/detail/javascript.hpp"

namespace sio::msgpack {
namespace json = boost::json;

namespace {

// notepack's ext types: -1 is the MessagePack timestamp; 0 is its own older encodings
// (undefined in fixext 1, a Date in fixext 8, an ArrayBuffer in ext 8/16/32).
constexpr std::int8_t ext_timestamp = -1;
constexpr std::int8_t ext_notepack_legacy = 0;

constexpr double two_to_the_32 = 4294967296.0;

class decoder {
 public:
  decoder(std::string_view bytes, const decode_limits& limits, std::vector<attachment>& attachments)
      : p_(reinterpret_cast<const unsigned char*>(bytes.data())),
        end_(p_ + bytes.size()),
        limits_(limits),
        attachments_(attachments) {}

  std::error_code failure() const noexcept { return error_; }
  bool at_end() const noexcept { return p_ == end_; }

  // Reads one value into `out` (left null for `undefined`, which sets `undefined`).
  // `depth` is the number of arrays and maps around it.
  bool value(json::value& out, bool& undefined, std::size_t depth) {
    undefined = false;
    if (!need(1)) return false;
    const std::uint8_t b = *p_++;
    if (b <= 0x7f) return set_integer(out, b);                          // positive fixint
    if (b <= 0x8f) return map(out, b & 0x0f, depth);                     // fixmap
    if (b <= 0x9f) return array(out, b & 0x0f, depth);                   // fixarray
    if (b <= 0xbf) return string(out.emplace_string(), b & 0x1f);        // fixstr
    if (b >= 0xe0) return set_integer(out, static_cast<std::int8_t>(b)); // negative fixint
    switch (b) {
      case 0xc0: out = nullptr; return true;
      case 0xc1: return fail(error::invalid_type);
      case 0xc2: out = false; return true;
      case 0xc3: out = true; return true;
      case 0xc4: return sized<std::uint8_t>([&](std::size_t n) { return binary(out, n); });
      case 0xc5: return sized<std::uint16_t>([&](std::size_t n) { return binary(out, n); });
      case 0xc6: return sized<std::uint32_t>([&](std::size_t n) { return binary(out, n); });
      case 0xc7: return sized<std::uint8_t>([&](std::size_t n) { return ext(out, n, 0xc7, undefined, depth); });
      case 0xc8: return sized<std::uint16_t>([&](std::size_t n) { return ext(out, n, 0xc8, undefined, depth); });
      case 0xc9: return sized<std::uint32_t>([&](std::size_t n) { return ext(out, n, 0xc9, undefined, depth); });
      case 0xca: {
        std::uint32_t bits;
        if (!read(bits)) return false;
        out = static_cast<double>(std::bit_cast<float>(bits));
        return true;
      }
      case 0xcb: {
        std::uint64_t bits;
        if (!read(bits)) return false;
        out = std::bit_cast<double>(bits);
        return true;
      }
      case 0xcc: return read_integer<std::uint8_t>(out);
      case 0xcd: return read_integer<std::uint16_t>(out);
      case 0xce: return read_integer<std::uint32_t>(out);
      case 0xcf: return read_integer<std::uint64_t>(out);
      case 0xd0: return read_integer<std::int8_t>(out);
      case 0xd1: return read_integer<std::int16_t>(out);
      case 0xd2: return read_integer<std::int32_t>(out);
      case 0xd3: return read_integer<std::int64_t>(out);
      case 0xd4: return ext(out, 1, 0xd4, undefined, depth);
      case 0xd5: return ext(out, 2, 0xd5, undefined, depth);
      case 0xd6: return ext(out, 4, 0xd6, undefined, depth);
      case 0xd7: return ext(out, 8, 0xd7, undefined, depth);
      case 0xd8: return ext(out, 16, 0xd8, undefined, depth);
      case 0xd9: return sized<std::uint8_t>([&](std::size_t n) { return string(out.emplace_string(), n); });
      case 0xda: return sized<std::uint16_t>([&](std::size_t n) { return string(out.emplace_string(), n); });
      case 0xdb: return sized<std::uint32_t>([&](std::size_t n) { return string(out.emplace_string(), n); });
      case 0xdc: return sized<std::uint16_t>([&](std::size_t n) { return array(out, n, depth); });
      case 0xdd: return sized<std::uint32_t>([&](std::size_t n) { return array(out, n, depth); });
      case 0xde: return sized<std::uint16_t>([&](std::size_t n) { return map(out, n, depth); });
      case 0xdf: return sized<std::uint32_t>([&](std::size_t n) { return map(out, n, depth); });
    }
    return fail(error::invalid_type);  // unreachable: every byte is handled above
  }

 private:
  // What the decoder remembers about each entry of the maps being read (a stack shared by the
  // nested maps): the attachments its value created, and whether that value is `undefined`.
  struct map_entry {
    std::size_t first_attachment;
    std::size_t end_attachment;
    bool undefined;
  };

  bool fail(error e) {
    error_ = make_error_code(e);
    return false;
  }

  std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }

  bool need(std::size_t n) { return n <= left() || fail(error::truncated); }

  // A big-endian unsigned or signed integer.
  template <class Int>
  bool read(Int& v) {
    if (!need(sizeof(Int))) return false;
    std::make_unsigned_t<Int> u = 0;
    for (std::size_t i = 0; i < sizeof(Int); ++i) u = static_cast<decltype(u)>((u << 8) | p_[i]);
    p_ += sizeof(Int);
    v = static_cast<Int>(u);
    return true;
  }

  // Reads a length of type Size, then hands it to `then`.
  template <class Size, class Then>
  bool sized(Then&& then) {
    Size n;
    return read(n) && then(static_cast<std::size_t>(n));
  }

  // Integers are int64 when they fit (as boost::json::parse gives them), else uint64.
  template <class Int>
  bool set_integer(json::value& out, Int n) {
    if constexpr (std::is_same_v<Int, std::uint64_t>) {
      if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        out = n;
        return true;
      }
    }
    out = static_cast<std::int64_t>(n);
    return true;
  }

  template <class Int>
  bool read_integer(json::value& out) {
    Int n;
    return read(n) && set_integer(out, n);
  }

  // Text as Node's Buffer#toString reads it: valid UTF-8 as is, invalid bytes as U+FFFD.
  bool string(json::string& out, std::size_t n) {
    if (!need(n)) return false;
    const std::string_view bytes(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    if (detail::is_valid_utf8(bytes)) {
      out.assign(bytes.data(), bytes.size());
    } else {
      std::string text;
      detail::append_utf8_replacing_invalid(text, bytes);
      out.assign(text.data(), text.size());
    }
    return true;
  }

  // A bin: an attachment, and a placeholder for it where the value was.
  bool binary(json::value& out, std::size_t n) {
    if (!need(n)) return false;
    if (attachments_.size() >= limits_.max_attachments) return fail(error::too_many_attachments);
    const std::size_t num = attachments_.size();
    attachments_.push_back(std::make_shared<const std::string>(reinterpret_cast<const char*>(p_), n));
    p_ += n;
    // As sio::parser::make_placeholder builds it (num an int64), so that the two compare equal.
    out = json::object{{"_placeholder", true}, {"num", static_cast<std::int64_t>(num)}};
    return true;
  }

  // Checks the limits for a container of n elements (map entries count once) at `depth`.
  bool count_container(std::size_t n, std::size_t depth) {
    if (depth >= limits_.max_depth) return fail(error::too_deep);
    if (n > limits_.max_elements - elements_) return fail(error::too_many_elements);
    elements_ += n;
    return true;
  }

  // Before reserving room for n elements: each takes at least `min_bytes_each` bytes of input
  // (a map entry two), so a count the input cannot hold is refused before any allocation.
  bool enter(std::size_t n, std::size_t min_bytes_each, std::size_t depth) {
    if (n > left() / min_bytes_each) return fail(error::truncated);
    return count_container(n, depth);
  }

  bool array(json::value& out, std::size_t n, std::size_t depth) {
    if (!enter(n, 1, depth)) return false;
    json::array& a = out.emplace_array();
    a.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      bool undefined;  // in an array, as JSON.stringify writes it: null (the value stays null)
      if (!value(a.emplace_back(nullptr), undefined, depth + 1)) return false;
    }
    return true;
  }

  bool map(json::value& out, std::size_t n, std::size_t depth) {
    if (!enter(n, 2, depth)) return false;
    json::object& o = out.emplace_object();
    o.reserve(n);
    const std::size_t entries_base = entries_.size();
    bool any_undefined = false;
    std::string key;
    for (std::size_t i = 0; i < n; ++i) {
      if (!map_key(key)) return false;
      const std::size_t first_attachment = attachments_.size();
      json::value v;
      bool undefined;
      if (!value(v, undefined, depth + 1)) return false;
      if (key == "__proto__") {
        // JS: `obj["__proto__"] = v` sets the prototype (or does nothing): no own property, so
        // nothing of it reaches JSON, binary included.
        attachments_.resize(first_attachment);
        continue;
      }
      const map_entry entry{first_attachment, attachments_.size(), undefined};
      any_undefined |= undefined;
      if (auto it = o.find(key); it != o.end()) {
        // JS keeps the key where it first came and takes the last value. A binary the earlier
        // value held would be an attachment nothing refers to: such a message is refused.
        map_entry& earlier = entries_[entries_base + static_cast<std::size_t>(it - o.begin())];
        if (earlier.first_attachment != earlier.end_attachment) return fail(error::duplicate_binary_key);
        it->value() = std::move(v);
        earlier = entry;
      } else {
        o.emplace(key, std::move(v));
        entries_.push_back(entry);
      }
    }
    if (any_undefined) {
      // A key whose (last) value is undefined is an own property JSON.stringify leaves out.
      json::object kept;
      kept.reserve(o.size());
      for (std::size_t i = 0; i < o.size(); ++i) {
        auto& kv = o.begin()[i];
        if (!entries_[entries_base + i].undefined) kept.emplace(kv.key(), std::move(kv.value()));
      }
      o = std::move(kept);
    }
    entries_.resize(entries_base);
    return true;
  }

  // A map key as a JS object's property name: notepack assigns `obj[key]`, which names the key
  // with String(key). Keys whose string would be "1,2", "[object Object]" or the text of a Date
  // (which depends on the time zone) are refused instead.
  bool map_key(std::string& key) {
    key.clear();
    if (!need(1)) return false;
    const std::uint8_t b = *p_;
    auto number_key = [&](double d) {
      key = detail::number_to_string(d);
      return true;
    };
    auto text_key = [&](std::size_t n) {
      if (!need(n)) return false;
      const std::string_view bytes(reinterpret_cast<const char*>(p_), n);
      p_ += n;
      if (detail::is_valid_utf8(bytes))
        key.assign(bytes);
      else
        detail::append_utf8_replacing_invalid(key, bytes);
      return true;
    };
    if (b >= 0xa0 && b <= 0xbf) {
      ++p_;
      return text_key(b & 0x1f);
    }
    if (b <= 0x7f || b >= 0xe0 || (b >= 0xca && b <= 0xd3)) {
      // Read as a value, then named as JS names the number it is.
      json::value n;
      bool undefined;
      if (!value(n, undefined, 0)) return false;
      if (n.is_int64()) return number_key(static_cast<double>(n.get_int64()));
      if (n.is_uint64()) return number_key(static_cast<double>(n.get_uint64()));
      return number_key(n.get_double());
    }
    ++p_;
    switch (b) {
      case 0xc0: key = "null"; return true;
      case 0xc2: key = "false"; return true;
      case 0xc3: key = "true"; return true;
      case 0xc1: return fail(error::invalid_type);
      case 0xd4: {  // notepack 2.x's undefined, named "undefined" as a key
        std::int8_t type;
        if (!read(type) || !need(1)) return false;
        if (type != ext_notepack_legacy) return fail(error::unsupported_key);
        ++p_;
        key = "undefined";
        return true;
      }
      case 0xd9: return sized<std::uint8_t>(text_key);
      case 0xda: return sized<std::uint16_t>(text_key);
      case 0xdb: return sized<std::uint32_t>(text_key);
    }
    return fail(error::unsupported_key);
  }

  // An ext of n data bytes; `form` is its type byte (0xc7-0xc9 ext 8/16/32, 0xd4-0xd8 fixext).
  bool ext(json::value& out, std::size_t n, std::uint8_t form, bool& undefined, std::size_t depth) {
    std::int8_t type;
    if (!read(type)) return false;
    if (type == ext_timestamp) {
      if (form == 0xd6 || form == 0xd7) return timestamp(out, n);
      // notepack reads a timestamp 96 from any ext 8 of type -1, 12 bytes whatever its length
      // says: only a length of 12 means the same thing to both sides.
      if (form == 0xc7) return n == 12 ? timestamp(out, n) : fail(error::invalid_timestamp);
    } else if (type == ext_notepack_legacy) {
      if (form >= 0xc7 && form <= 0xc9) return binary(out, n);  // notepack 2.x's ArrayBuffer
      if (form == 0xd4) {                                        // notepack 2.x's undefined
        if (!need(1)) return false;
        ++p_;
        undefined = true;
        out = nullptr;
        return true;
      }
      if (form == 0xd7) {  // notepack 2.x's Date: signed 64-bit milliseconds
        std::int32_t hi;
        std::uint32_t lo;
        if (!read(hi) || !read(lo)) return false;
        return date(out, static_cast<double>(hi) * two_to_the_32 + static_cast<double>(lo));
      }
    }
    // Any other ext is notepack's [type, Buffer]: an array of its type and a binary.
    if (!count_container(2, depth)) return false;
    json::array& a = out.emplace_array();
    a.reserve(2);
    a.emplace_back(static_cast<std::int64_t>(type));
    return binary(a.emplace_back(nullptr), n);
  }

  // The MessagePack timestamp (ext -1) as the JS Date notepack makes of it, computed in doubles
  // as notepack does (so that rounding, and nanoseconds past 999999999, come out the same).
  bool timestamp(json::value& out, std::size_t n) {
    if (n == 4) {  // timestamp 32: unsigned seconds
      std::uint32_t seconds;
      if (!read(seconds)) return false;
      return date(out, static_cast<double>(seconds) * 1e3);
    }
    if (n == 8) {  // timestamp 64: 30 bits of nanoseconds, 34 bits of seconds
      std::uint32_t hi, lo;
      if (!read(hi) || !read(lo)) return false;
      const double seconds = static_cast<double>(hi & 0x3) * two_to_the_32 + static_cast<double>(lo);
      return date(out, seconds * 1e3 + static_cast<double>(hi >> 2) / 1e6);
    }
    // timestamp 96: unsigned nanoseconds, signed 64-bit seconds
    std::uint32_t nanoseconds, lo;
    std::int32_t hi;
    if (!read(nanoseconds) || !read(hi) || !read(lo)) return false;
    const double seconds = static_cast<double>(hi) * two_to_the_32 + static_cast<double>(lo);
    return date(out, seconds * 1e3 + static_cast<double>(nanoseconds) / 1e6);
  }

  bool date(json::value& out, double time_value) {
    if (auto text = detail::date_to_json(time_value))
      out.emplace_string().assign(text->data(), text->size());
    else
      out = nullptr;
    return true;
  }

  const unsigned char* p_;
  const unsigned char* const end_;
  const decode_limits& limits_;
  std::vector<attachment>& attachments_;
  std::vector<map_entry> entries_;
  std::size_t elements_ = 0;
  std::error_code error_;
};

}  // namespace

result<document> decode(std::string_view bytes, const decode_limits& limits) {
  if (bytes.size() > limits.max_message_bytes) return make_error_code(error::message_too_large);
  document doc;
  decoder d(bytes, limits, doc.attachments);
  bool undefined;  // at the top, as in an array: null
  if (!d.value(doc.json, undefined, 0)) return d.failure();
  if (!d.at_end()) return make_error_code(error::trailing_bytes);
  return doc;
}

}  // namespace sio::msgpack
