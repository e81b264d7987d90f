// libFuzzer target: one Socket.IO packet text. A decoded packet must encode to a text that decodes to
// the same packet, and that text must be a fixed point (encode(decode(t)) == t).
// The input itself need not be canonical: leading zeros, JSON whitespace and "1.0" are accepted.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

#include "sio/socketio/codec/packet.hpp"

namespace {

// Doubles do not keep their kind through the text ("1.0" comes back as the integer 1), and
// JSON.parse("1e400") is Infinity, which JSON.stringify writes as null: such data changes shape.
struct doubles {
  bool any = false;
  bool non_finite = false;
};
void scan(const boost::json::value& v, doubles& d) {
  if (v.is_double()) {
    d.any = true;
    d.non_finite |= !std::isfinite(v.get_double());
  } else if (const auto* a = v.if_array()) {
    for (const auto& e : *a) scan(e, d);
  } else if (const auto* o = v.if_object()) {
    for (const auto& kv : *o) scan(kv.value(), d);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  namespace parser = sio::parser;

  auto p = parser::decode(input);
  if (!p) {
    if (p.error().category() != parser::codec_category()) __builtin_trap();
    return 0;
  }

  const bool binary = p->type == parser::packet_type::binary_event || p->type == parser::packet_type::binary_ack;
  if (binary != (p->attachments > 0)) __builtin_trap();
  if (p->nsp.empty() || p->nsp.front() != '/') __builtin_trap();
  if (p->id && *p->id > (std::uint64_t{1} << 53) - 1) __builtin_trap();

  const std::string text = parser::encode(*p);
  doubles d;
  scan(p->data, d);
  if (d.non_finite) return 0;

  auto again = parser::decode(text);
  if (!again) __builtin_trap();
  if (again->type != p->type || again->nsp != p->nsp || again->id != p->id || again->attachments != p->attachments)
    __builtin_trap();
  if (parser::encode(*again) != text) __builtin_trap();
  if (!d.any && again->data != p->data) __builtin_trap();
  if (parser::count_placeholders(again->data) != parser::count_placeholders(p->data)) __builtin_trap();
  return 0;
}
