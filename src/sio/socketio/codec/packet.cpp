#include "sio/socketio/codec/packet.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include <boost/json/array.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value_stack.hpp>

namespace sio::parser {
namespace json = boost::json;

namespace {

class codec_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "sio.parser"; }
  std::string message(int ev) const override {
    switch (static_cast<codec_error>(ev)) {
      case codec_error::empty_packet: return "empty packet";
      case codec_error::unknown_packet_type: return "unknown packet type";
      case codec_error::invalid_attachments: return "invalid attachment count";
      case codec_error::invalid_namespace: return "invalid namespace";
      case codec_error::invalid_ack_id: return "invalid ack id";
      case codec_error::invalid_json: return "invalid JSON data";
      case codec_error::invalid_payload: return "invalid payload for packet type";
      case codec_error::invalid_placeholder: return "invalid binary placeholder";
    }
    return "unknown socket.io codec error";
  }
};

// Number.MAX_SAFE_INTEGER: the largest id a JavaScript peer can hold exactly.
constexpr std::uint64_t max_ack_id = (std::uint64_t{1} << 53) - 1;

constexpr std::array<std::string_view, 6> reserved_events = {
    "connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener",
};

inline bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

inline bool is_binary(packet_type t) noexcept {
  return t == packet_type::binary_event || t == packet_type::binary_ack;
}

// A JavaScript number (typeof === "number"); boost::json splits it into three kinds.
inline bool is_number(const json::value& v) noexcept { return v.is_int64() || v.is_uint64() || v.is_double(); }

// The shapes the reference parser's isPayloadValid accepts (data present). Absent data is
// accepted only where the protocol allows it (connect, disconnect): the spec makes the
// event and ack payloads mandatory, and connect_error carries its reason.
bool payload_valid(packet_type type, const json::value* data) noexcept {
  switch (type) {
    case packet_type::connect: return !data || data->is_object();
    case packet_type::disconnect: return !data;
    case packet_type::connect_error: return data && (data->is_string() || data->is_object());
    case packet_type::event:
    case packet_type::binary_event: {
      const json::array* a = data ? data->if_array() : nullptr;
      if (!a || a->empty()) return false;
      const json::value& name = a->front();
      if (const json::string* s = name.if_string()) return !is_reserved_event(*s);
      return is_number(name);
    }
    case packet_type::ack:
    case packet_type::binary_ack: return data && data->is_array();
  }
  return false;
}

// Anything flagged "_placeholder": true claims to be a placeholder (as in the reference
// reconstructor) and must then index one of the attachments.
bool placeholders_valid(const json::value& v, std::size_t attachments) noexcept {
  if (const json::object* o = v.if_object()) {
    if (const json::value* flag = o->if_contains("_placeholder"); flag && flag->is_bool() && flag->get_bool()) {
      const auto n = placeholder_num(v);
      return n && *n < attachments;
    }
    for (const auto& kv : *o)
      if (!placeholders_valid(kv.value(), attachments)) return false;
  } else if (const json::array* a = v.if_array()) {
    for (const auto& e : *a)
      if (!placeholders_valid(e, attachments)) return false;
  }
  return true;
}

// ---- JSON input ----
// boost::json::parser, except for doubles: Boost 1.81 rounds about one 17-digit double in ten
// to a neighbour (it has no precise mode before 1.83), so a float a client sends would not come
// back out as sent. The number's text is re-read with std::from_chars, which rounds exactly,
// as JSON.parse does.
struct value_handler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;  // a number split across on_number_part calls (only when input is resumed)

  value_handler(unsigned char* scratch, std::size_t size) : st(json::storage_ptr(), scratch, size) {}

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) { return true; }
  bool on_object_end(std::size_t n, boost::system::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(boost::system::error_code&) { return true; }
  bool on_array_end(std::size_t n, boost::system::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, boost::system::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, boost::system::error_code&) {
    number.clear();
    st.push_int64(i);
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, boost::system::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double d, json::string_view s, boost::system::error_code&) {
    std::string_view text(s.data(), s.size());
    if (!number.empty()) {
      number.append(text);
      text = number;
    }
    double exact;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), exact);
    // Out of range (1e400, 1e-400): keep Boost's infinity or zero, as JSON.parse gives.
    st.push_double(r.ec == std::errc{} ? exact : d);
    number.clear();
    return true;
  }
  bool on_bool(bool b, boost::system::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(boost::system::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }
};

// One complete JSON text; anything after it is an error. nullopt for any parse error.
std::optional<json::value> parse_json_text(std::string_view text, std::size_t max_depth) {
  json::parse_options opts;
  opts.max_depth = max_depth;
  // Scratch space on the stack for the parser's value stack: no allocation besides the value.
  unsigned char scratch[1024];
  json::basic_parser<value_handler> p(opts, scratch, sizeof scratch);
  p.handler().st.reset(json::storage_ptr());
  boost::system::error_code ec;
  const std::size_t used = p.write_some(false, text.data(), text.size(), ec);
  if (ec || used != text.size() || !p.done()) return std::nullopt;
  return p.handler().st.release();
}

// ---- JSON output, byte for byte what JSON.stringify writes ----
// boost::json::serialize differs on doubles ("1.5E0", "Infinity"), so values are written here.

// Appends to a string through a raw cursor: the string is sized up front (geometrically when it
// must grow) and trimmed once at the end, so single characters cost no capacity check.
class writer {
 public:
  explicit writer(std::string& out) : out_(out) {
    const std::size_t used = out_.size();
    out_.resize(out_.capacity());
    cur_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }
  writer(const writer&) = delete;
  writer& operator=(const writer&) = delete;
  ~writer() { out_.resize(static_cast<std::size_t>(cur_ - out_.data())); }

  // Room for n more characters at the cursor.
  [[gnu::always_inline]] char* room(std::size_t n) {
    if (static_cast<std::size_t>(end_ - cur_) < n) [[unlikely]]
      grow(n);
    return cur_;
  }
  [[gnu::always_inline]] void advance(std::size_t n) noexcept { cur_ += n; }
  [[gnu::always_inline]] void put(char c) {
    room(1);
    *cur_++ = c;
  }
  [[gnu::always_inline]] void put(const char* s, std::size_t n) {
    std::memcpy(room(n), s, n);
    cur_ += n;
  }
  [[gnu::always_inline]] void put(std::string_view s) { put(s.data(), s.size()); }

 private:
  [[gnu::noinline]] void grow(std::size_t n) {
    const std::size_t used = static_cast<std::size_t>(cur_ - out_.data());
    out_.resize(std::max(out_.size() * 2, used + n));
    cur_ = out_.data() + used;
    end_ = out_.data() + out_.size();
  }

  std::string& out_;
  char* cur_;
  char* end_;
};

template <class Int>
void write_integer(writer& w, Int v) {
  char* p = w.room(24);
  w.advance(static_cast<std::size_t>(std::to_chars(p, p + 24, v).ptr - p));
}

// Number.prototype.toString for finite doubles (ECMA-262 Number::toString), non-finite -> null.
void write_double(writer& w, double d) {
  if (!std::isfinite(d)) {
    w.put("null");
    return;
  }
  if (d == 0) {  // also -0, which JavaScript prints as "0"
    w.put('0');
    return;
  }
  if (d < 0) {
    w.put('-');
    d = -d;
  }
  // Shortest round-trip digits, as JavaScript picks them: "d.ddde±x".
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<std::size_t>(r.ptr - buf));
  const std::size_t e_pos = sci.find('e');

  char digits[20];
  int k = 0;  // number of significant digits
  for (std::size_t i = 0; i < e_pos; ++i)
    if (sci[i] != '.') digits[k++] = sci[i];
  int exp = 0;
  std::size_t i = e_pos + 1;
  const bool neg_exp = sci[i] == '-';
  if (sci[i] == '-' || sci[i] == '+') ++i;
  for (; i < sci.size(); ++i) exp = exp * 10 + (sci[i] - '0');
  if (neg_exp) exp = -exp;
  const int n = exp + 1;  // value = 0.digits * 10^n

  char* out = w.room(32);  // at most 21 digits and zeros, or 17 digits, '.', "e-324"
  char* p = out;
  if (k <= n && n <= 21) {
    p = std::copy_n(digits, k, p);
    p = std::fill_n(p, n - k, '0');
  } else if (0 < n && n <= 21) {
    p = std::copy_n(digits, n, p);
    *p++ = '.';
    p = std::copy_n(digits + n, k - n, p);
  } else if (-6 < n && n <= 0) {
    *p++ = '0';
    *p++ = '.';
    p = std::fill_n(p, -n, '0');
    p = std::copy_n(digits, k, p);
  } else {
    *p++ = digits[0];
    if (k > 1) {
      *p++ = '.';
      p = std::copy_n(digits + 1, k - 1, p);
    }
    *p++ = 'e';
    *p++ = n - 1 < 0 ? '-' : '+';
    p = std::to_chars(p, out + 32, std::abs(n - 1)).ptr;
  }
  w.advance(static_cast<std::size_t>(p - out));
}

// 0: copy as is; otherwise the escape letter, or 'u' for \u00XX.
constexpr std::array<char, 256> make_escape_table() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr auto escape_table = make_escape_table();

// First character at or after p that needs escaping (or end). Tests 8 bytes at a time for
// a control character, '"' or '\\'; the byte loop then finds the exact one.
const char* skip_plain(const char* p, const char* end) noexcept {
  constexpr std::uint64_t ones = 0x0101010101010101u;
  constexpr std::uint64_t high = 0x8080808080808080u;
  while (end - p >= 8) {
    std::uint64_t x;
    std::memcpy(&x, p, 8);
    const std::uint64_t quote = x ^ (ones * '"');
    const std::uint64_t slash = x ^ (ones * '\\');
    // A byte is flagged when it is below 0x20 or equals '"' or '\\' (all ASCII, so `& ~x` keeps
    // UTF-8 bytes out); a false alarm only hands the block to the byte loop.
    if (((x - ones * 0x20) | (quote - ones) | (slash - ones)) & ~x & high) break;
    p += 8;
  }
  while (p < end && !escape_table[static_cast<unsigned char>(*p)]) ++p;
  return p;
}

void write_string(writer& w, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  w.put('"');
  const char* p = s.data();
  const char* const end = p + s.size();
  while (p < end) {
    // Copy the longest run that needs no escaping in one piece.
    const char* run = p;
    p = skip_plain(p, end);
    if (p != run) w.put(run, static_cast<std::size_t>(p - run));
    if (p == end) break;
    const auto c = static_cast<unsigned char>(*p++);
    const char esc = escape_table[c];
    if (esc == 'u') {
      const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      w.put(u, 6);
    } else {
      const char e[2] = {'\\', esc};
      w.put(e, 2);
    }
  }
  w.put('"');
}

void write_value(writer& w, const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: w.put("null"); break;
    case json::kind::bool_: w.put(v.get_bool() ? std::string_view("true") : std::string_view("false")); break;
    case json::kind::int64: write_integer(w, v.get_int64()); break;
    case json::kind::uint64: write_integer(w, v.get_uint64()); break;
    case json::kind::double_: write_double(w, v.get_double()); break;
    case json::kind::string: {
      const json::string& str = v.get_string();
      write_string(w, std::string_view(str.data(), str.size()));
      break;
    }
    case json::kind::array: {
      w.put('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) w.put(',');
        first = false;
        write_value(w, e);
      }
      w.put(']');
      break;
    }
    case json::kind::object: {
      w.put('{');
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) w.put(',');
        first = false;
        write_string(w, std::string_view(kv.key().data(), kv.key().size()));
        w.put(':');
        write_value(w, kv.value());
      }
      w.put('}');
      break;
    }
  }
}

}  // namespace

const std::error_category& codec_category() noexcept {
  static const codec_category_impl instance;
  return instance;
}

std::error_code make_error_code(codec_error e) noexcept { return {static_cast<int>(e), codec_category()}; }

bool is_reserved_event(std::string_view name) noexcept {
  for (auto r : reserved_events)
    if (r == name) return true;
  return false;
}

boost::json::value make_placeholder(std::size_t num) {
  // int64, as the parser reads small numbers, so a decoded placeholder compares equal.
  return json::object{{"_placeholder", true}, {"num", static_cast<std::int64_t>(num)}};
}

std::optional<std::size_t> placeholder_num(const boost::json::value& v) noexcept {
  const json::object* o = v.if_object();
  if (!o) return std::nullopt;
  const json::value* flag = o->if_contains("_placeholder");
  if (!flag || !flag->is_bool() || !flag->get_bool()) return std::nullopt;
  const json::value* num = o->if_contains("num");
  if (!num) return std::nullopt;
  if (num->is_int64()) {
    if (num->get_int64() < 0) return std::nullopt;
    return static_cast<std::size_t>(num->get_int64());
  }
  if (num->is_uint64()) return static_cast<std::size_t>(num->get_uint64());
  return std::nullopt;
}

std::size_t count_placeholders(const boost::json::value& v) noexcept {
  if (placeholder_num(v)) return 1;
  std::size_t n = 0;
  if (const json::object* o = v.if_object()) {
    for (const auto& kv : *o) n += count_placeholders(kv.value());
  } else if (const json::array* a = v.if_array()) {
    for (const auto& e : *a) n += count_placeholders(e);
  }
  return n;
}

result<packet> decode(std::string_view text, const decode_limits& limits) {
  if (text.empty()) return make_error_code(codec_error::empty_packet);
  const char t = text[0];
  if (t < '0' || t > '6') return make_error_code(codec_error::unknown_packet_type);

  packet p;
  p.type = static_cast<packet_type>(t - '0');
  const std::size_t n = text.size();
  std::size_t i = 1;

  if (is_binary(p.type)) {
    // "<digits>-": stop as soon as the count is over the limit, so no digit run can overflow.
    std::size_t count = 0;
    const std::size_t start = i;
    for (; i < n && is_digit(text[i]); ++i) {
      if (count > (std::numeric_limits<std::size_t>::max() - 9) / 10)
        return make_error_code(codec_error::invalid_attachments);
      count = count * 10 + static_cast<std::size_t>(text[i] - '0');
      if (count > limits.max_attachments) return make_error_code(codec_error::invalid_attachments);
    }
    if (i == start || i == n || text[i] != '-' || count == 0)
      return make_error_code(codec_error::invalid_attachments);
    p.attachments = count;
    ++i;
  }

  if (i < n && text[i] == '/') {
    // The namespace runs to the next ',' or, as in the reference parser, to the end.
    // Only the first max_namespace_length + 1 bytes are searched for the comma.
    const std::string_view window = text.substr(i, std::min(limits.max_namespace_length, n - i) + 1);
    const std::size_t comma = window.find(',');
    const std::size_t len = comma == std::string_view::npos ? n - i : comma;
    if (len > limits.max_namespace_length) return make_error_code(codec_error::invalid_namespace);
    p.nsp.assign(text.data() + i, len);
    i += len + (comma == std::string_view::npos ? 0 : 1);
  }

  if (i < n && is_digit(text[i])) {
    std::uint64_t id = 0;
    for (; i < n && is_digit(text[i]); ++i) {
      id = id * 10 + static_cast<std::uint64_t>(text[i] - '0');
      if (id > max_ack_id) return make_error_code(codec_error::invalid_ack_id);
    }
    p.id = id;
  }

  if (i < n) {
    auto data = parse_json_text(text.substr(i), limits.max_json_depth);
    if (!data) return make_error_code(codec_error::invalid_json);
    p.data = std::move(*data);
    if (!payload_valid(p.type, &p.data)) return make_error_code(codec_error::invalid_payload);
    if (is_binary(p.type) && !placeholders_valid(p.data, p.attachments))
      return make_error_code(codec_error::invalid_placeholder);
  } else if (!payload_valid(p.type, nullptr)) {
    return make_error_code(codec_error::invalid_payload);
  }
  return p;
}

std::string stringify(const boost::json::value& v) {
  std::string out;
  {
    writer w(out);
    write_value(w, v);
  }
  return out;
}

std::optional<boost::json::value> parse_json(std::string_view text, std::size_t max_depth) {
  return parse_json_text(text, max_depth);
}

std::string encode(const packet& p) {
  std::string out;
  const bool has_nsp = !p.nsp.empty() && p.nsp != "/";
  // Header plus room for a typical small payload: one allocation for most packets.
  out.reserve(1 + 21 + (has_nsp ? p.nsp.size() + 1 : 0) + 20 + (p.data.is_null() ? 0 : 128));
  {
    writer w(out);
    w.put(static_cast<char>('0' + static_cast<int>(p.type)));
    if (is_binary(p.type)) {
      write_integer(w, p.attachments);
      w.put('-');
    }
    if (has_nsp) {
      w.put(p.nsp);
      w.put(',');
    }
    if (p.id) write_integer(w, *p.id);
    if (!p.data.is_null()) write_value(w, p.data);
  }  // the writer trims `out` to what was written
  return out;
}

}  // namespace sio::parser
