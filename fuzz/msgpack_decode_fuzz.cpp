// libFuzzer target: one MessagePack message as it may come from a Redis channel. Decoding never
// crashes and fails only with a sio.msgpack error, under the default limits and under tight ones.
// A decoded message re-encodes to bytes that decode to the same value (as JavaScript compares:
// numbers by value, binary by its bytes), and those bytes are a fixed point of decode-then-encode.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "sio/msgpack/codec.hpp"

namespace {

namespace json = boost::json;
namespace msgpack = sio::msgpack;
using attachments = std::vector<msgpack::attachment>;

// The attachment an object stands for, by the encoder's rule (codec.hpp): "_placeholder" true
// and a "num" that indexes the attachments. A literal placeholder in the input counts too: it
// is written as the binary it names, and must compare equal to it.
const msgpack::attachment* resolve(const json::value& v, const attachments& list) {
  const json::object* o = v.if_object();
  if (!o) return nullptr;
  const json::value* flag = o->if_contains("_placeholder");
  const json::value* num = o->if_contains("num");
  if (!flag || !flag->is_bool() || !flag->get_bool() || !num) return nullptr;
  double index;
  if (num->is_int64()) index = static_cast<double>(num->get_int64());
  else if (num->is_uint64()) index = static_cast<double>(num->get_uint64());
  else if (num->is_double()) index = num->get_double();
  else return nullptr;
  if (!(index >= 0) || index >= static_cast<double>(list.size()) || std::trunc(index) != index) return nullptr;
  return &list[static_cast<std::size_t>(index)];
}

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

bool same(const json::value& a, const attachments& a_list, const json::value& b, const attachments& b_list) {
  const auto* a_bin = resolve(a, a_list);
  const auto* b_bin = resolve(b, b_list);
  if (a_bin || b_bin) return a_bin && b_bin && **a_bin == **b_bin;
  if (is_number(a) && is_number(b)) {
    if (!a.is_double() && !b.is_double()) return a == b;
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || (std::isnan(x) && std::isnan(y));
  }
  if (a.kind() != b.kind()) return false;
  if (const json::array* aa = a.if_array()) {
    const json::array& ba = b.get_array();
    if (aa->size() != ba.size()) return false;
    for (std::size_t i = 0; i < aa->size(); ++i)
      if (!same((*aa)[i], a_list, ba[i], b_list)) return false;
    return true;
  }
  if (const json::object* ao = a.if_object()) {
    const json::object& bo = b.get_object();
    if (ao->size() != bo.size()) return false;
    auto bi = bo.begin();
    for (const auto& kv : *ao) {  // in order: decoding keeps the wire's key order
      if (kv.key() != bi->key() || !same(kv.value(), a_list, bi->value(), b_list)) return false;
      ++bi;
    }
    return true;
  }
  return a == b;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  msgpack::decode_limits tight;
  tight.max_depth = 6;
  tight.max_elements = 40;
  tight.max_attachments = 3;
  tight.max_message_bytes = 2048;
  if (auto small = msgpack::decode(input, tight); !small && small.error().category() != msgpack::category())
    __builtin_trap();

  auto doc = msgpack::decode(input);
  if (!doc) {
    if (doc.error().category() != msgpack::category()) __builtin_trap();
    return 0;
  }
  auto bytes = msgpack::encode(doc->json, doc->attachments);
  if (!bytes) __builtin_trap();
  auto again = msgpack::decode(*bytes);
  if (!again) __builtin_trap();
  if (!same(doc->json, doc->attachments, again->json, again->attachments)) __builtin_trap();
  auto bytes_again = msgpack::encode(again->json, again->attachments);
  if (!bytes_again || *bytes_again != *bytes) __builtin_trap();
  return 0;
}
