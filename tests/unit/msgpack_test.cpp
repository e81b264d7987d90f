// MessagePack codec: byte for byte what npm notepack.io 3.0.1 writes, and what it reads, checked
// against bytes captured from the package (msgpack-vectors/, made by capture.mjs); then the
// deliberate deviations, the limits, and round trips.
#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sio/msgpack/codec.hpp"
#include "sio/msgpack/detail/javascript.hpp"

namespace json = boost::json;
namespace msgpack = sio::msgpack;
using msgpack::error;

namespace {

// ---- the captured vectors ----
constexpr int encodes = 1;  // encode(model) gives the bytes
constexpr int decodes = 2;  // decode(bytes) gives the model
constexpr int refused = 4;  // notepack.decode throws: decode fails

struct vector {
  const char* name;
  const char* model;       // JSON; see capture.mjs for $double, $bin, $gen
  const char* hex;         // the bytes, or "" when longer than 2048 bytes (then head and hash)
  std::size_t size;
  const char* head;
  std::uint64_t fnv1a64;
  int flags;
};

const vector notepack_vectors[] = {
#include "msgpack-vectors/notepack_vectors.inc"
};

std::string from_hex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

std::uint64_t fnv1a64(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325u;
  for (unsigned char c : bytes) h = (h ^ c) * 0x100000001b3u;
  return h;
}

json::value placeholder(std::size_t num) {
  return json::object{{"_placeholder", true}, {"num", static_cast<std::int64_t>(num)}};
}

msgpack::attachment bytes_of(std::string s) { return std::make_shared<const std::string>(std::move(s)); }

// The generators of capture.mjs, value for value.
json::value generate(std::string_view kind, std::size_t n, std::vector<msgpack::attachment>& attachments) {
  static constexpr std::string_view alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  auto small = [](std::size_t i) { return static_cast<std::int64_t>(i % 300) - 100; };
  if (kind == "str") {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[i % alphabet.size()]);
    return json::string(s);
  }
  if (kind == "bin") {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(static_cast<char>((i * 7 + 3) & 0xff));
    attachments.push_back(bytes_of(std::move(s)));
    return placeholder(attachments.size() - 1);
  }
  if (kind == "array") {
    json::array a;
    for (std::size_t i = 0; i < n; ++i) a.emplace_back(small(i));
    return a;
  }
  json::object o;
  for (std::size_t i = 0; i < n; ++i) o.emplace("k" + std::to_string(i), small(i));
  return o;
}

// A vector's model as the codec's value: the JSON with $-forms made into doubles, placeholders
// (attachments numbered in the order met) and generated values.
json::value from_model(const json::value& m, std::vector<msgpack::attachment>& attachments) {
  if (const auto* a = m.if_array()) {
    json::array out;
    for (const auto& e : *a) out.push_back(from_model(e, attachments));
    return out;
  }
  const auto* o = m.if_object();
  if (!o) return m;
  if (const auto* bits = o->if_contains("$double"))
    return std::bit_cast<double>(std::stoull(std::string(bits->as_string()), nullptr, 16));
  if (const auto* bin = o->if_contains("$bin")) {
    attachments.push_back(bytes_of(from_hex(bin->as_string())));
    return placeholder(attachments.size() - 1);
  }
  if (const auto* gen = o->if_contains("$gen"))
    return generate(gen->as_string(), static_cast<std::size_t>(o->at("n").as_int64()), attachments);
  json::object out;
  for (const auto& kv : *o) out.emplace(kv.key(), from_model(kv.value(), attachments));
  return out;
}

msgpack::document document_of(std::string_view model_json) {
  msgpack::document doc;
  doc.json = from_model(json::parse(model_json), doc.attachments);
  return doc;
}

// The attachment a placeholder stands for, or nullptr.
const msgpack::attachment* resolve(const json::value& v, const std::vector<msgpack::attachment>& attachments) {
  const auto* o = v.if_object();
  if (!o) return nullptr;
  const auto* flag = o->if_contains("_placeholder");
  const auto* num = o->if_contains("num");
  if (!flag || !flag->is_bool() || !flag->get_bool() || !num || !num->is_int64()) return nullptr;
  const auto n = num->get_int64();
  return n >= 0 && static_cast<std::size_t>(n) < attachments.size() ? &attachments[static_cast<std::size_t>(n)]
                                                                     : nullptr;
}

bool is_number(const json::value& v) { return v.is_int64() || v.is_uint64() || v.is_double(); }

// Equal as JavaScript sees the two values: numbers by value (NaN equal to NaN, int64 and double
// alike), binary by its bytes, object keys in any order (a JS object puts integer-like keys first).
bool same(const json::value& a, const std::vector<msgpack::attachment>& a_attachments, const json::value& b,
          const std::vector<msgpack::attachment>& b_attachments) {
  const auto* a_bin = resolve(a, a_attachments);
  const auto* b_bin = resolve(b, b_attachments);
  if (a_bin || b_bin) return a_bin && b_bin && **a_bin == **b_bin;
  if (is_number(a) && is_number(b)) {
    if (!a.is_double() && !b.is_double()) return a == b;
    const double x = a.to_number<double>(), y = b.to_number<double>();
    return x == y || (std::isnan(x) && std::isnan(y));
  }
  if (a.kind() != b.kind()) return false;
  if (const auto* aa = a.if_array()) {
    const auto& ba = b.get_array();
    if (aa->size() != ba.size()) return false;
    for (std::size_t i = 0; i < aa->size(); ++i)
      if (!same((*aa)[i], a_attachments, ba[i], b_attachments)) return false;
    return true;
  }
  if (const auto* ao = a.if_object()) {
    const auto& bo = b.get_object();
    if (ao->size() != bo.size()) return false;
    for (const auto& kv : *ao) {
      const auto* other = bo.if_contains(kv.key());
      if (!other || !same(kv.value(), a_attachments, *other, b_attachments)) return false;
    }
    return true;
  }
  return a == b;
}

std::string hex_of_encoding(const json::value& v, std::span<const msgpack::attachment> attachments = {}) {
  auto bytes = msgpack::encode(v, attachments);
  EXPECT_TRUE(bytes) << bytes.error().message();
  return bytes ? to_hex(*bytes) : std::string();
}

msgpack::document decoded(std::string_view hex) {
  auto doc = msgpack::decode(from_hex(hex));
  EXPECT_TRUE(doc) << hex << ": " << doc.error().message();
  return doc ? std::move(*doc) : msgpack::document{};
}

std::error_code decode_error(std::string_view bytes, const msgpack::decode_limits& limits = {}) {
  auto doc = msgpack::decode(bytes, limits);
  EXPECT_FALSE(doc) << to_hex(bytes) << " decoded to " << json::serialize(doc->json);
  return doc ? std::error_code() : doc.error();
}

// ---- notepack.io's bytes ----

TEST(MsgpackNotepack, CapturedVectors) {
  ASSERT_GT(std::size(notepack_vectors), 150u);
  for (const vector& v : notepack_vectors) {
    SCOPED_TRACE(v.name);
    const std::string bytes = from_hex(v.hex);
    if (v.flags & refused) {
      auto doc = msgpack::decode(bytes);
      ASSERT_FALSE(doc) << "decoded to " << json::serialize(doc->json);
      EXPECT_EQ(&doc.error().category(), &msgpack::category());
      continue;
    }
    const msgpack::document model = document_of(v.model);
    std::string encoded;
    if (v.flags & encodes) {
      auto out = msgpack::encode(model.json, model.attachments);
      ASSERT_TRUE(out) << out.error().message();
      encoded = std::move(*out);
      ASSERT_EQ(encoded.size(), v.size);
      if (*v.hex) {
        EXPECT_EQ(to_hex(encoded), v.hex);
      } else {
        EXPECT_EQ(to_hex(encoded.substr(0, 32)), v.head);
        EXPECT_EQ(fnv1a64(encoded), v.fnv1a64);
      }
    }
    if (v.flags & decodes) {
      // Long vectors are kept as a hash: their bytes are the encoding just checked against it.
      const std::string& input = *v.hex || v.size == 0 ? bytes : encoded;
      ASSERT_EQ(input.size(), v.size);
      auto doc = msgpack::decode(input);
      ASSERT_TRUE(doc) << doc.error().message();
      EXPECT_TRUE(same(doc->json, doc->attachments, model.json, model.attachments))
          << json::serialize(doc->json) << " vs " << v.model;
      EXPECT_EQ(doc->attachments.size(), model.attachments.size());
      if (v.flags & encodes) {
        auto again = msgpack::encode(doc->json, doc->attachments);
        ASSERT_TRUE(again);
        EXPECT_EQ(*again == input, true) << "decode then encode changed the bytes";
      }
    }
  }
}

// A number is one JS number whatever its C++ kind: int64, uint64 and an integral double encode
// alike, as the captured integer vectors say.
TEST(MsgpackNotepack, IntegerKindsEncodeAlike) {
  for (const vector& v : notepack_vectors) {
    const std::string_view name = v.name;
    if (!(v.flags & encodes) || !(name.starts_with("int ") || name.starts_with("uint "))) continue;
    SCOPED_TRACE(v.name);
    const json::value n = document_of(v.model).json;
    const double d = n.to_number<double>();
    EXPECT_EQ(hex_of_encoding(d), v.hex);
    if (d >= -9223372036854775808.0 && d < 9223372036854775808.0) {
      EXPECT_EQ(hex_of_encoding(static_cast<std::int64_t>(d)), v.hex);
    }
    if (d >= 0) {
      EXPECT_EQ(hex_of_encoding(static_cast<std::uint64_t>(d)), v.hex);
    }
  }
}

// ---- encoding beyond what JS numbers hold ----

TEST(MsgpackEncode, Int64AndUint64AreExact) {
  // JS would round these to the nearest double; C++ has the exact value and writes it.
  EXPECT_EQ(hex_of_encoding(std::uint64_t{9007199254740993}), "cf0020000000000001");
  EXPECT_EQ(hex_of_encoding(std::numeric_limits<std::uint64_t>::max()), "cfffffffffffffffff");
  EXPECT_EQ(hex_of_encoding(std::numeric_limits<std::int64_t>::max()), "cf7fffffffffffffff");
  EXPECT_EQ(hex_of_encoding(std::numeric_limits<std::int64_t>::min()), "d38000000000000000");
  EXPECT_EQ(hex_of_encoding(std::int64_t{-9007199254740993}), "d3ffdfffffffffffff");
}

TEST(MsgpackEncode, IntegralDoublesPastTwoToThe64AreFloat64) {
  // Deviation: notepack writes these modulo 2^64 ("notepack wraps" vectors), which a Node.js peer
  // reads as a different number; float64 reads back as the same one.
  EXPECT_EQ(hex_of_encoding(18446744073709551616.0), "cb43f0000000000000");
  EXPECT_EQ(hex_of_encoding(1e300), "cb7e37e43c8800759c");
  EXPECT_EQ(hex_of_encoding(-9223372036854777856.0), "cbc3e0000000000001");
  // The last integral doubles that do have an integer form.
  EXPECT_EQ(hex_of_encoding(18446744073709549568.0), "cffffffffffffff800");
  EXPECT_EQ(hex_of_encoding(-9223372036854775808.0), "d38000000000000000");
}

TEST(MsgpackEncode, NegativeZeroAndNaN) {
  EXPECT_EQ(hex_of_encoding(-0.0), "00");  // notepack: -0 >= 0, a positive fixint
  EXPECT_EQ(hex_of_encoding(std::numeric_limits<double>::quiet_NaN()), "cb7ff8000000000000");
  EXPECT_EQ(hex_of_encoding(-std::numeric_limits<double>::quiet_NaN()), "cb7ff8000000000000");
  EXPECT_EQ(hex_of_encoding(std::bit_cast<double>(std::uint64_t{0x7ff0000000000001})), "cb7ff8000000000000");
}

TEST(MsgpackEncode, PlaceholdersBecomeBin) {
  const std::vector<msgpack::attachment> attachments = {bytes_of("\x01\x02\x03"), bytes_of("")};
  EXPECT_EQ(hex_of_encoding(placeholder(0), attachments), "c403010203");
  EXPECT_EQ(hex_of_encoding(json::array{placeholder(1), placeholder(0)}, attachments), "92c400c403010203");
  // Only the flag and the number matter, as in socket.io-parser's reconstructPacket.
  EXPECT_EQ(hex_of_encoding(json::object{{"num", 0}, {"_placeholder", true}, {"x", 1}}, attachments), "c403010203");
  EXPECT_EQ(hex_of_encoding(json::object{{"_placeholder", true}, {"num", 1.0}}, attachments), "c400");
  EXPECT_EQ(hex_of_encoding(json::object{{"_placeholder", true}, {"num", std::uint64_t{1}}}, attachments), "c400");
  // Not a placeholder of these attachments: the object it is.
  EXPECT_EQ(hex_of_encoding(placeholder(2), attachments), "82ac5f706c616365686f6c646572c3a36e756d02");
  EXPECT_EQ(hex_of_encoding(json::object{{"_placeholder", "true"}, {"num", 0}}, attachments),
            "82ac5f706c616365686f6c646572a474727565a36e756d00");
  EXPECT_EQ(hex_of_encoding(json::object{{"_placeholder", true}, {"num", -1}}, attachments),
            "82ac5f706c616365686f6c646572c3a36e756dff");
  EXPECT_EQ(hex_of_encoding(json::object{{"_placeholder", true}, {"num", 0.5}}, attachments),
            "82ac5f706c616365686f6c646572c3a36e756dcb3fe0000000000000");
  // A null attachment is empty bytes rather than a crash.
  const std::vector<msgpack::attachment> null_attachment = {nullptr};
  EXPECT_EQ(hex_of_encoding(placeholder(0), null_attachment), "c400");
}

TEST(MsgpackEncode, StringBytesAsTheyAre) {
  // The codec does not judge a string's UTF-8: a JS string cannot hold these, C++ can.
  EXPECT_EQ(hex_of_encoding(json::string("\xff\x00", 2)), "a2ff00");
}

// ---- decoding ----

TEST(MsgpackDecode, IntegersAreExact) {
  auto doc = decoded("cfffffffffffffffff");
  ASSERT_TRUE(doc.json.is_uint64());
  EXPECT_EQ(doc.json.get_uint64(), std::numeric_limits<std::uint64_t>::max());
  doc = decoded("cf0020000000000001");
  ASSERT_TRUE(doc.json.is_int64());  // int64 whenever it fits, as boost::json::parse gives it
  EXPECT_EQ(doc.json.get_int64(), 9007199254740993);
  doc = decoded("d38000000000000000");
  ASSERT_TRUE(doc.json.is_int64());
  EXPECT_EQ(doc.json.get_int64(), std::numeric_limits<std::int64_t>::min());
  for (const char* hex : {"05", "cc05", "cd0005", "ce00000005", "cf0000000000000005", "d005", "d10005", "d200000005",
                          "d30000000000000005"}) {
    doc = decoded(hex);
    ASSERT_TRUE(doc.json.is_int64()) << hex;
    EXPECT_EQ(doc.json.get_int64(), 5) << hex;
  }
  EXPECT_EQ(decoded("e0").json, json::value(-32));
}

TEST(MsgpackDecode, FloatsStayDoubles) {
  auto doc = decoded("cb4008000000000000");
  ASSERT_TRUE(doc.json.is_double());
  EXPECT_EQ(doc.json.get_double(), 3.0);
  doc = decoded("ca3dcccccd");  // float32 0.1: widened exactly, not re-rounded to 0.1
  ASSERT_TRUE(doc.json.is_double());
  EXPECT_EQ(doc.json.get_double(), static_cast<double>(0.1f));
  EXPECT_TRUE(std::signbit(decoded("cb8000000000000000").json.get_double()));
}

TEST(MsgpackDecode, BinaryBecomesPlaceholdersInWireOrder) {
  // [bin "a", {"x": bin "b", "y": [bin ""]}]
  auto doc = decoded("92c4016182a178c40162a17991c400");
  ASSERT_EQ(doc.attachments.size(), 3u);
  EXPECT_EQ(*doc.attachments[0], "a");
  EXPECT_EQ(*doc.attachments[1], "b");
  EXPECT_EQ(*doc.attachments[2], "");
  const json::object inner{{"x", placeholder(1)}, {"y", json::array{placeholder(2)}}};
  EXPECT_EQ(doc.json, (json::array{placeholder(0), inner}));
  // A literal placeholder in the input is an object like any other.
  doc = decoded("82ac5f706c616365686f6c646572c3a36e756d00");
  EXPECT_TRUE(doc.attachments.empty());
  EXPECT_EQ(doc.json, placeholder(0));
}

TEST(MsgpackDecode, RepeatedKeys) {
  // The last value at the first position, as a JS object assigns it.
  EXPECT_EQ(json::serialize(decoded("83a16101a16202a16103").json), R"({"a":3,"b":2})");
  // A repeated key whose new value is binary: nothing is lost, the binary is the attachment.
  auto doc = decoded("82a16101a161c40178");
  EXPECT_EQ(doc.attachments.size(), 1u);
  EXPECT_EQ(doc.json, (json::object{{"a", placeholder(0)}}));
  // Replacing a value that held binary would leave an attachment nothing refers to.
  EXPECT_EQ(decode_error(from_hex("82a161c40178a16101")), error::duplicate_binary_key);
  EXPECT_EQ(decode_error(from_hex("82a16191c40178a161d40000")), error::duplicate_binary_key);
  // Keys that name the same property: 1 and "1".
  EXPECT_EQ(json::serialize(decoded("8201c2a131c3").json), R"({"1":true})");
}

TEST(MsgpackDecode, ProtoKeyIsDroppedWithItsBinary) {
  auto doc = decoded("83a16101a95f5f70726f746f5f5f81a162c40178a163c40179");
  EXPECT_EQ(doc.attachments.size(), 1u);
  EXPECT_EQ(*doc.attachments[0], "y");
  EXPECT_EQ(doc.json, (json::object{{"a", 1}, {"c", placeholder(0)}}));
}

TEST(MsgpackDecode, UndefinedIsWhatJsonStringifyMakesOfIt) {
  EXPECT_EQ(decoded("d40000").json, nullptr);
  EXPECT_EQ(json::serialize(decoded("93d40000c0d40000").json), "[null,null,null]");
  EXPECT_EQ(json::serialize(decoded("83a16101a162d40000a16303").json), R"({"a":1,"c":3})");
  // Defined again after undefined: kept, at its first position.
  EXPECT_EQ(json::serialize(decoded("83a162d40000a16101a16202").json), R"({"b":2,"a":1})");
  EXPECT_EQ(json::serialize(decoded("81a16182a178d40000a17901").json), R"({"a":{"y":1}})");
}

TEST(MsgpackDecode, KeysThatAreNotStrings) {
  for (const char* hex : {"8190c3", "8180c3", "81c400c3", "81d50100c3", "81c70105ffc3", "81d6ff00000000c3"})
    EXPECT_EQ(decode_error(from_hex(hex)), error::unsupported_key) << hex;
  EXPECT_EQ(decode_error(from_hex("81c1c3")), error::invalid_type);
  EXPECT_EQ(decode_error(from_hex("81d401c3")), error::unsupported_key);  // [1, Buffer] as a key
  EXPECT_EQ(decode_error(from_hex("81d400")), error::truncated);
}

TEST(MsgpackDecode, TimestampNinetySixMustBeTwelveBytes) {
  // notepack would read 12 bytes whatever the length says, running into the next value.
  EXPECT_EQ(decode_error(from_hex("c708ff0000000000000000")), error::invalid_timestamp);
  EXPECT_EQ(decode_error(from_hex("c70dff00000000000000000000000000")), error::invalid_timestamp);
  EXPECT_EQ(decode_error(from_hex("c70cff0000000000000000000000")), error::truncated);
}

TEST(MsgpackDecode, RefusesMalformedInput) {
  EXPECT_EQ(decode_error(""), error::truncated);
  EXPECT_EQ(decode_error(from_hex("c1")), error::invalid_type);
  EXPECT_EQ(decode_error(from_hex("c0c0")), error::trailing_bytes);
  // Every prefix of a valid message is cut short.
  const std::vector<msgpack::attachment> attachments = {bytes_of("\x01\x02\x03")};
  const json::value message = json::parse(R"(["Hx8yFZ", {"type": 2, "data": ["event", {"a": 1.5}, -300,
      {"_placeholder": true, "num": 0}], "nsp": "/"}, {"rooms": ["r1"], "except": [], "flags": {"volatile": true}}])");
  const std::string whole = *msgpack::encode(message, attachments);
  ASSERT_TRUE(msgpack::decode(whole));
  for (std::size_t n = 0; n < whole.size(); ++n) EXPECT_EQ(decode_error(whole.substr(0, n)), error::truncated) << n;
}

// ---- limits ----

std::string nested_arrays(std::size_t depth) { return std::string(depth, '\x91') + '\xc0'; }

TEST(MsgpackLimits, Depth) {
  msgpack::decode_limits limits;
  limits.max_depth = 10;
  EXPECT_TRUE(msgpack::decode(nested_arrays(10), limits));
  EXPECT_EQ(decode_error(nested_arrays(11), limits), error::too_deep);
  EXPECT_TRUE(msgpack::decode(std::string(9, '\x91') + "\x81\xa1" "a\xc0", limits));
  EXPECT_EQ(decode_error(std::string(10, '\x91') + "\x81\xa1" "a\xc0", limits), error::too_deep);
  // An ext other than the known ones is an array [type, binary]: a level too.
  EXPECT_EQ(decode_error(std::string(10, '\x91') + from_hex("d50100ff"), limits), error::too_deep);
  // The default stack is far from a crash: a hostile 100 000 levels are refused.
  EXPECT_EQ(decode_error(nested_arrays(100000)), error::too_deep);
}

TEST(MsgpackLimits, Elements) {
  msgpack::decode_limits limits;
  limits.max_elements = 20;
  std::string twenty = "\xdc";
  twenty += std::string("\x00\x14", 2) + std::string(20, '\x01');
  EXPECT_TRUE(msgpack::decode(twenty, limits));
  std::string twenty_one = "\xdc";
  twenty_one += std::string("\x00\x15", 2) + std::string(21, '\x01');
  EXPECT_EQ(decode_error(twenty_one, limits), error::too_many_elements);
  // Nested containers add up.
  const std::string two_arrays =
      from_hex("92") + from_hex("9a") + std::string(10, '\x01') + from_hex("99") + std::string(9, '\x01');
  EXPECT_EQ(decode_error(two_arrays, limits), error::too_many_elements);
}

TEST(MsgpackLimits, CountsBeyondTheInputAreRefusedBeforeAllocating) {
  // 2^32 - 1 elements announced in a few bytes: refused at once, nothing reserved for them.
  EXPECT_EQ(decode_error(from_hex("ddffffffff01")), error::truncated);
  EXPECT_EQ(decode_error(from_hex("dfffffffff0101")), error::truncated);
  EXPECT_EQ(decode_error(from_hex("dbffffffff61")), error::truncated);
  EXPECT_EQ(decode_error(from_hex("c6ffffffff61")), error::truncated);
  EXPECT_EQ(decode_error(from_hex("c9ffffffff0561")), error::truncated);
  EXPECT_EQ(decode_error(from_hex("9fc0c0")), error::truncated);
}

TEST(MsgpackLimits, AttachmentsAndSize) {
  msgpack::decode_limits limits;
  limits.max_attachments = 2;
  EXPECT_TRUE(msgpack::decode(from_hex("92c400c400"), limits));
  EXPECT_EQ(decode_error(from_hex("93c400c400c400"), limits), error::too_many_attachments);
  EXPECT_EQ(decode_error(from_hex("93c400c400d5010000"), limits), error::too_many_attachments);
  limits = {};
  limits.max_message_bytes = 4;
  EXPECT_TRUE(msgpack::decode(from_hex("a3616263"), limits));
  EXPECT_EQ(decode_error(from_hex("a46162636a"), limits), error::message_too_large);
}

TEST(MsgpackErrors, CategoryAndMessages) {
  const std::error_code ec = error::truncated;
  EXPECT_STREQ(ec.category().name(), "sio.msgpack");
  for (int e = static_cast<int>(error::truncated); e <= static_cast<int>(error::value_too_large); ++e)
    EXPECT_NE(msgpack::category().message(e), "unknown MessagePack error") << e;
}

// ---- the adapter's helpers ----

TEST(MsgpackRequestFormat, FirstByteDecides) {
  using msgpack::wire_format;
  EXPECT_EQ(msgpack::request_format(R"({"type":0,"requestId":"x"})"), wire_format::json);
  EXPECT_EQ(msgpack::request_format(from_hex("85a3756964")), wire_format::msgpack);
  EXPECT_EQ(msgpack::request_format(""), wire_format::msgpack);
  EXPECT_EQ(msgpack::request_format(" {}"), wire_format::msgpack);  // the reference looks at one byte
  EXPECT_EQ(msgpack::request_format("\x7b"), wire_format::json);    // also the fixint 123, as there
}

// ---- what JavaScript makes of values ----

TEST(MsgpackJavascript, NumberToString) {
  using msgpack::detail::number_to_string;
  EXPECT_EQ(number_to_string(0.0), "0");
  EXPECT_EQ(number_to_string(-0.0), "0");
  EXPECT_EQ(number_to_string(1), "1");
  EXPECT_EQ(number_to_string(-1.5), "-1.5");
  EXPECT_EQ(number_to_string(0.1), "0.1");
  EXPECT_EQ(number_to_string(123456789012345680000.0), "123456789012345680000");
  EXPECT_EQ(number_to_string(1e21), "1e+21");
  EXPECT_EQ(number_to_string(1.5e300), "1.5e+300");
  EXPECT_EQ(number_to_string(0.000001), "0.000001");
  EXPECT_EQ(number_to_string(1e-7), "1e-7");
  EXPECT_EQ(number_to_string(5e-324), "5e-324");
  EXPECT_EQ(number_to_string(std::numeric_limits<double>::max()), "1.7976931348623157e+308");
  EXPECT_EQ(number_to_string(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(number_to_string(-std::numeric_limits<double>::infinity()), "-Infinity");
}

TEST(MsgpackJavascript, DateToJson) {
  using msgpack::detail::date_to_json;
  EXPECT_EQ(date_to_json(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(date_to_json(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(date_to_json(951782400000), "2000-02-29T00:00:00.000Z");
  EXPECT_EQ(date_to_json(1.9), "1970-01-01T00:00:00.001Z");     // whole milliseconds, toward zero
  EXPECT_EQ(date_to_json(-1.9), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(date_to_json(-62167219200000), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(date_to_json(-62167219200001), "-000001-12-31T23:59:59.999Z");
  EXPECT_EQ(date_to_json(253402300800000), "+010000-01-01T00:00:00.000Z");
  EXPECT_EQ(date_to_json(8.64e15), "+275760-09-13T00:00:00.000Z");
  EXPECT_EQ(date_to_json(-8.64e15), "-271821-04-20T00:00:00.000Z");
  EXPECT_EQ(date_to_json(8.64e15 + 1), std::nullopt);
  EXPECT_EQ(date_to_json(std::numeric_limits<double>::quiet_NaN()), std::nullopt);
}

TEST(MsgpackJavascript, Utf8) {
  using msgpack::detail::append_utf8_replacing_invalid;
  using msgpack::detail::is_valid_utf8;
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain ascii, longer than eight bytes"));
  EXPECT_TRUE(is_valid_utf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(is_valid_utf8("abcdefgh\x80"));
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));
  std::string out;
  append_utf8_replacing_invalid(out, "a\xf0\x9f\x98" "b\xc3\xa9");
  EXPECT_EQ(out, "a\xef\xbf\xbd" "b\xc3\xa9");
}

// ---- round trips ----

json::value random_value(std::mt19937_64& rng, int depth, std::vector<msgpack::attachment>& attachments) {
  const int kind = static_cast<int>(rng() % (depth > 3 ? 7 : 9));
  auto pick = [&](auto... options) {
    const std::int64_t values[] = {options...};
    return values[rng() % sizeof...(options)];
  };
  switch (kind) {
    case 0: return nullptr;
    case 1: return rng() % 2 == 0;
    case 2: {  // integers around every boundary
      const std::int64_t base = pick(0, 127, 255, 65535, 4294967295, -32, -128, -32768, -2147483648, 9007199254740991);
      return base + static_cast<std::int64_t>(rng() % 3) - 1;
    }
    case 3: return std::bit_cast<double>(rng());  // any double: NaN, infinities, subnormals
    case 4: {
      std::string s(static_cast<std::size_t>(pick(0, 1, 31, 32, 255, 256, 300)), 'x');
      for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
      return json::string(s);
    }
    case 5: return static_cast<double>(static_cast<std::int64_t>(rng() >> 12)) * (rng() % 2 ? 1 : -1);
    case 6: {
      attachments.push_back(bytes_of(std::string(static_cast<std::size_t>(pick(0, 3, 256)), static_cast<char>(rng()))));
      return placeholder(attachments.size() - 1);
    }
    case 7: {
      json::array a;
      const auto n = static_cast<std::size_t>(pick(0, 1, 15, 16, 17));
      for (std::size_t i = 0; i < n; ++i) a.push_back(random_value(rng, depth + 1, attachments));
      return a;
    }
    default: {
      json::object o;
      const auto n = static_cast<std::size_t>(pick(0, 1, 15, 16));
      for (std::size_t i = 0; i < n; ++i)
        o["k" + std::to_string(rng() % 40)] = random_value(rng, depth + 1, attachments);
      return o;
    }
  }
}

TEST(MsgpackRoundTrip, RandomValues) {
  std::mt19937_64 rng(20240611);
  for (int i = 0; i < 2000; ++i) {
    std::vector<msgpack::attachment> attachments;
    const json::value v = random_value(rng, 0, attachments);
    auto bytes = msgpack::encode(v, attachments);
    ASSERT_TRUE(bytes);
    auto doc = msgpack::decode(*bytes);
    ASSERT_TRUE(doc) << to_hex(*bytes) << ": " << doc.error().message();
    ASSERT_TRUE(same(doc->json, doc->attachments, v, attachments)) << json::serialize(v);
    auto again = msgpack::encode(doc->json, doc->attachments);
    ASSERT_TRUE(again);
    ASSERT_EQ(to_hex(*again), to_hex(*bytes));
  }
}

}  // namespace
