// Socket.IO v5 packet codec: decoding as the reference parser does, encoding byte for byte.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>

#include "sio/socketio/codec/packet.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
namespace json = boost::json;
using sio::parser::codec_error;
using sio::parser::decode;
using sio::parser::decode_limits;
using sio::parser::encode;
using sio::parser::packet;
using sio::parser::packet_type;

namespace {

json::value j(std::string_view text) { return json::parse(text); }

packet make(packet_type type, std::string nsp, json::value data = nullptr, std::optional<std::uint64_t> id = {},
            std::size_t attachments = 0) {
  packet p;
  p.type = type;
  p.nsp = std::move(nsp);
  p.data = std::move(data);
  p.id = id;
  p.attachments = attachments;
  return p;
}

void expect_same(const packet& a, const packet& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.nsp, b.nsp);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.data, b.data) << json::serialize(a.data) << " vs " << json::serialize(b.data);
  EXPECT_EQ(a.attachments, b.attachments);
}

// Decodes and checks the text is the canonical encoding of the result.
packet decode_canonical(std::string_view text) {
  auto p = decode(text);
  EXPECT_TRUE(p) << text << ": " << (p ? "" : p.error().message());
  if (!p) return {};
  EXPECT_EQ(encode(*p), text);
  return std::move(*p);
}

std::error_code error_of(std::string_view text, const decode_limits& limits = {}) {
  auto p = decode(text, limits);
  EXPECT_FALSE(p) << text << " decoded as " << (p ? encode(*p) : "");
  return p ? std::error_code{} : p.error();
}

}  // namespace

// ---- decoding, every packet type ----

TEST(SocketIoDecode, Connect) {
  packet p = decode_canonical("0");
  EXPECT_EQ(p.type, packet_type::connect);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_TRUE(p.data.is_null());
  EXPECT_FALSE(p.id);

  p = decode_canonical(R"(0{"token":"123"})");
  EXPECT_EQ(p.nsp, "/");
  EXPECT_EQ(p.data, j(R"({"token":"123"})"));

  p = decode_canonical(R"(0/custom,{"token":"abc"})");
  EXPECT_EQ(p.nsp, "/custom");
  EXPECT_EQ(p.data, j(R"({"token":"abc"})"));

  p = decode_canonical("0/admin,");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_TRUE(p.data.is_null());
}

TEST(SocketIoDecode, NamespaceWithoutTrailingComma) {
  // Valid at the end of the packet, as the reference parser reads it ("40/custom").
  auto p = decode("0/custom");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, packet_type::connect);
  EXPECT_EQ(p->nsp, "/custom");
  EXPECT_TRUE(p->data.is_null());
  EXPECT_EQ(encode(*p), "0/custom,");

  auto d = decode("1/custom");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, packet_type::disconnect);
  EXPECT_EQ(d->nsp, "/custom");

  // An explicit "/" is the main namespace and is omitted again on encoding.
  auto root = decode("0/,{\"a\":1}");
  ASSERT_TRUE(root);
  EXPECT_EQ(root->nsp, "/");
  EXPECT_EQ(encode(*root), "0{\"a\":1}");
  auto slash = decode("0/");
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->nsp, "/");
}

TEST(SocketIoDecode, Disconnect) {
  packet p = decode_canonical("1");
  EXPECT_EQ(p.type, packet_type::disconnect);
  EXPECT_EQ(p.nsp, "/");
  p = decode_canonical("1/admin,");
  EXPECT_EQ(p.type, packet_type::disconnect);
  EXPECT_EQ(p.nsp, "/admin");
}

TEST(SocketIoDecode, Event) {
  packet p = decode_canonical(R"(2["message",1,"2",{"3":[true]}])");
  EXPECT_EQ(p.type, packet_type::event);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_FALSE(p.id);
  EXPECT_EQ(p.data, j(R"(["message",1,"2",{"3":[true]}])"));

  p = decode_canonical(R"(2/admin,["bar"])");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.data, j(R"(["bar"])"));

  p = decode_canonical(R"(2456["message-with-ack",1,"2",{"3":[false]}])");
  EXPECT_EQ(p.id, 456u);
  EXPECT_EQ(p.data.as_array().size(), 4u);

  p = decode_canonical(R"(2/admin,1["tellme"])");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 1u);
  EXPECT_EQ(p.data, j(R"(["tellme"])"));

  p = decode_canonical(R"(20["zero id"])");
  EXPECT_EQ(p.id, 0u);
}

TEST(SocketIoDecode, EventNameMayBeANumber) {
  // The reference isPayloadValid accepts typeof payload[0] === "number".
  packet p = decode_canonical("2[42,\"x\"]");
  EXPECT_EQ(p.data.as_array()[0], j("42"));
  EXPECT_TRUE(decode("2[1.5]"));
  EXPECT_TRUE(decode("2[-1]"));
}

TEST(SocketIoDecode, Ack) {
  packet p = decode_canonical(R"(3456[1,"2",{"3":[false]}])");
  EXPECT_EQ(p.type, packet_type::ack);
  EXPECT_EQ(p.id, 456u);
  EXPECT_EQ(p.data, j(R"([1,"2",{"3":[false]}])"));

  p = decode_canonical("3/admin,13[\"bar\"]");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 13u);

  p = decode_canonical("312[]");  // an ack payload may be empty
  EXPECT_EQ(p.data, json::array{});
}

TEST(SocketIoDecode, ConnectError) {
  packet p = decode_canonical(R"(4{"message":"Not authorized"})");
  EXPECT_EQ(p.type, packet_type::connect_error);
  EXPECT_EQ(p.data, j(R"({"message":"Not authorized"})"));

  p = decode_canonical(R"(4/random,{"message":"Invalid namespace"})");
  EXPECT_EQ(p.nsp, "/random");

  p = decode_canonical(R"(4"plain string reason")");
  EXPECT_EQ(p.data, "plain string reason");

  // The reference parser reads an ack id on every type; so does this one.
  p = decode_canonical("42{}");
  EXPECT_EQ(p.type, packet_type::connect_error);
  EXPECT_EQ(p.id, 2u);
}

TEST(SocketIoDecode, BinaryEvent) {
  packet p = decode_canonical(R"(52-["message",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.type, packet_type::binary_event);
  EXPECT_EQ(p.attachments, 2u);
  EXPECT_FALSE(p.id);
  EXPECT_EQ(p.nsp, "/");
  EXPECT_EQ(sio::parser::count_placeholders(p.data), 2u);

  p = decode_canonical(R"(52-789["message-with-ack",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.id, 789u);
  EXPECT_EQ(p.attachments, 2u);

  p = decode_canonical(R"(52-/admin,["baz",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.nsp, "/admin");

  // Placeholders at any depth.
  p = decode_canonical(R"(51-["file",{"meta":{"blob":{"_placeholder":true,"num":0}}}])");
  EXPECT_EQ(sio::parser::count_placeholders(p.data), 1u);
}

TEST(SocketIoDecode, BinaryAck) {
  packet p = decode_canonical(R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  EXPECT_EQ(p.type, packet_type::binary_ack);
  EXPECT_EQ(p.id, 789u);
  EXPECT_EQ(p.attachments, 2u);

  p = decode_canonical(R"(61-/admin,1[{"_placeholder":true,"num":0}])");
  EXPECT_EQ(p.nsp, "/admin");
  EXPECT_EQ(p.id, 1u);
  EXPECT_EQ(p.attachments, 1u);
}

TEST(SocketIoDecode, AckIdOnAnyType) {
  // As in the reference parser, digits after the type (and namespace) are an id whatever the type.
  auto p = decode("01");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, packet_type::connect);
  EXPECT_EQ(p->id, 1u);
  EXPECT_TRUE(p->data.is_null());
  EXPECT_EQ(encode(*p), "01");
}

TEST(SocketIoDecode, NonCanonicalButValidInput) {
  // Leading zeros in ids and attachment counts, JSON whitespace: accepted, re-encoded canonically.
  auto p = decode("2007[\"a\"]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, 7u);
  EXPECT_EQ(encode(*p), "27[\"a\"]");

  p = decode("502-[\"f\",{\"_placeholder\":true,\"num\":1},{\"_placeholder\":true,\"num\":0}]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->attachments, 2u);

  p = decode("2 [ \"a\" , 1 ] ");
  ASSERT_TRUE(p);
  EXPECT_EQ(encode(*p), "2[\"a\",1]");

  // A placeholder with extra keys is still a placeholder (the reference replaces the whole object).
  p = decode(R"(51-["f",{"_placeholder":true,"num":0,"x":1}])");
  ASSERT_TRUE(p);
  EXPECT_EQ(sio::parser::count_placeholders(p->data), 1u);
}

// ---- decoding errors ----

TEST(SocketIoDecodeErrors, EmptyAndType) {
  EXPECT_EQ(error_of(""), codec_error::empty_packet);
  EXPECT_EQ(error_of("abc"), codec_error::unknown_packet_type);  // "4abc" on the wire
  EXPECT_EQ(error_of("7"), codec_error::unknown_packet_type);
  EXPECT_EQ(error_of("9[\"a\"]"), codec_error::unknown_packet_type);
  EXPECT_EQ(error_of(" 0"), codec_error::unknown_packet_type);
  EXPECT_EQ(error_of("-1"), codec_error::unknown_packet_type);
  EXPECT_EQ(error_of("\0"sv), codec_error::unknown_packet_type);
}

TEST(SocketIoDecodeErrors, InvalidPayloadShapes) {
  // Test-suite cases: "42{}" on the wire is an event whose payload is an object.
  EXPECT_EQ(error_of("2{}"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2[]"), codec_error::invalid_payload);          // event needs a name
  EXPECT_EQ(error_of("2"), codec_error::invalid_payload);            // event payload is mandatory
  EXPECT_EQ(error_of("2/admin,"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2[true]"), codec_error::invalid_payload);      // name neither string nor number
  EXPECT_EQ(error_of("2[null]"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2[[\"a\"]]"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2\"str\""), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2null"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("3"), codec_error::invalid_payload);            // ack payload is mandatory
  EXPECT_EQ(error_of("31"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("31{}"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("3\"x\""), codec_error::invalid_payload);
  EXPECT_EQ(error_of("0[]"), codec_error::invalid_payload);          // connect: object or nothing
  EXPECT_EQ(error_of("0\"x\""), codec_error::invalid_payload);
  EXPECT_EQ(error_of("0null"), codec_error::invalid_payload);
}

TEST(SocketIoDecodeErrors, MorePayloadShapes) {
  EXPECT_EQ(error_of("1{}"), codec_error::invalid_payload);  // disconnect carries nothing
  EXPECT_EQ(error_of("1[]"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("1null"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("4"), codec_error::invalid_payload);    // connect_error: object or string
  EXPECT_EQ(error_of("4[]"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("41"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("4null"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("51-{}"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("51-[]"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("61-1{}"), codec_error::invalid_payload);
  EXPECT_EQ(error_of("61-1"), codec_error::invalid_payload);
}

TEST(SocketIoDecodeErrors, ReservedEventNames) {
  for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}) {
    EXPECT_TRUE(sio::parser::is_reserved_event(name)) << name;
    EXPECT_EQ(error_of("2[\""s + name + "\"]"), codec_error::invalid_payload) << name;
    EXPECT_EQ(error_of("51-[\""s + name + "\",{\"_placeholder\":true,\"num\":0}]"), codec_error::invalid_payload);
  }
  EXPECT_FALSE(sio::parser::is_reserved_event("message"));
  EXPECT_FALSE(sio::parser::is_reserved_event("Connect"));
  EXPECT_FALSE(sio::parser::is_reserved_event("connect "));
  EXPECT_FALSE(sio::parser::is_reserved_event(""));
  EXPECT_TRUE(decode("2[\"disconnected\"]"));
  // Reserved names are fine as ack arguments.
  EXPECT_TRUE(decode("31[\"connect\"]"));
}

TEST(SocketIoDecodeErrors, InvalidJson) {
  // Test-suite case "42abc[...]": the text after the type is neither an id nor JSON.
  EXPECT_EQ(error_of(R"(2abc["message-with-ack",1,"2",{"3":[false]}])"), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[\"a\""), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[\"a\"]x"), codec_error::invalid_json);  // trailing garbage
  EXPECT_EQ(error_of("2[\"a\"][\"b\"]"), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[\"a\",]"), codec_error::invalid_json);  // no trailing commas
  EXPECT_EQ(error_of("2[\"a\"/*c*/]"), codec_error::invalid_json);
  EXPECT_EQ(error_of("2['a']"), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[NaN]"), codec_error::invalid_json);
  EXPECT_EQ(error_of("0/admin,x"), codec_error::invalid_json);
  EXPECT_EQ(error_of("21a[\"a\"]"), codec_error::invalid_json);
  EXPECT_EQ(error_of("2 "), codec_error::invalid_json);  // whitespace alone is no JSON text
}

TEST(SocketIoDecodeErrors, InvalidUtf8InJson) {
  EXPECT_EQ(error_of("2[\"\xff\"]"sv), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[\"\xc3\"]"sv), codec_error::invalid_json);          // truncated sequence
  EXPECT_EQ(error_of("2[\"\xc0\xaf\"]"sv), codec_error::invalid_json);      // overlong
  EXPECT_EQ(error_of("2[\"\xed\xa0\x80\"]"sv), codec_error::invalid_json);  // encoded surrogate
  EXPECT_EQ(error_of("2[\"a\",{\"\xfe\":1}]"sv), codec_error::invalid_json);
  EXPECT_EQ(error_of("2[\"\\ud800\"]"), codec_error::invalid_json);          // lone surrogate escape
  EXPECT_EQ(error_of("2[\"a\0\"]"sv), codec_error::invalid_json);           // raw control character
  // Valid multi-byte UTF-8 passes through unchanged.
  packet p = decode_canonical("2[\"w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80\"]");
  EXPECT_EQ(p.data.as_array()[0].as_string(), "w\xc3\xb6rld \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(SocketIoDecodeErrors, DeepJson) {
  const std::string deep = "2" + std::string(10000, '[') + std::string(10000, ']');
  EXPECT_EQ(error_of(deep), codec_error::invalid_json);
  const std::string unterminated = "2" + std::string(100000, '[');
  EXPECT_EQ(error_of(unterminated), codec_error::invalid_json);
  const std::string deep_objects = "0" + [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += "{\"a\":";
    return s + "1" + std::string(5000, '}');
  }();
  EXPECT_EQ(error_of(deep_objects), codec_error::invalid_json);

  // The limit is the nesting depth: exactly max_json_depth levels pass, one more fails.
  decode_limits limits;
  limits.max_json_depth = 4;
  EXPECT_TRUE(decode("2[\"a\",[[[1]]]]", limits));
  EXPECT_EQ(error_of("2[\"a\",[[[[1]]]]]", limits), codec_error::invalid_json);
  // 32 levels parse under the default limit (then fail as an event without a name); 33 do not.
  EXPECT_EQ(error_of("2" + std::string(32, '[') + "1" + std::string(32, ']')), codec_error::invalid_payload);
  EXPECT_EQ(error_of("2" + std::string(33, '[') + "1" + std::string(33, ']')), codec_error::invalid_json);
}

TEST(SocketIoDecodeErrors, Attachments) {
  const std::string ph = R"(["f",{"_placeholder":true,"num":0}])";
  EXPECT_EQ(error_of("5-" + ph), codec_error::invalid_attachments);    // no count
  EXPECT_EQ(error_of("50-" + ph), codec_error::invalid_attachments);   // zero
  EXPECT_EQ(error_of("51" + ph), codec_error::invalid_attachments);    // missing '-'
  EXPECT_EQ(error_of("5"), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("51"), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("6"), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("5a-" + ph), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("5 1-" + ph), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("5/admin,1-" + ph), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("565-" + ph), codec_error::invalid_attachments);   // over the default 64
  EXPECT_EQ(error_of("599999999999999999999999999999999-" + ph), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("5" + std::string(100000, '9') + "-" + ph), codec_error::invalid_attachments);

  decode_limits limits;
  limits.max_attachments = 2;
  EXPECT_TRUE(decode("52-" + ph, limits));
  EXPECT_EQ(error_of("53-" + ph, limits), codec_error::invalid_attachments);
  EXPECT_TRUE(decode("564-" + ph));

  // Unbounded limits still cannot overflow the count.
  limits.max_attachments = std::numeric_limits<std::size_t>::max();
  auto huge = decode("510000000000000000000-" + ph, limits);
  ASSERT_TRUE(huge);
  EXPECT_EQ(huge->attachments, 10000000000000000000u);
  EXPECT_EQ(error_of("518446744073709551616-" + ph, limits), codec_error::invalid_attachments);
  EXPECT_EQ(error_of("5" + std::string(100, '9') + "-" + ph, limits), codec_error::invalid_attachments);
}

TEST(SocketIoDecodeErrors, Placeholders) {
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true,"num":1}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(52-["a",{"_placeholder":true,"num":2}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true,"num":-1}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true,"num":0.5}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true,"num":"0"}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true}])"), codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(51-["a",{"_placeholder":true,"num":18446744073709551615}])"),
            codec_error::invalid_placeholder);
  EXPECT_EQ(error_of(R"(61-1[{"x":[{"_placeholder":true,"num":9}]}])"), codec_error::invalid_placeholder);
  // Not flagged true: plain data, not a placeholder.
  EXPECT_TRUE(decode(R"(51-["a",{"_placeholder":"true","num":5}])"));
  EXPECT_TRUE(decode(R"(51-["a",{"_placeholder":false,"num":5}])"));
  // Placeholders in a non-binary packet are plain data (the reference does not reconstruct them).
  EXPECT_TRUE(decode(R"(2["a",{"_placeholder":true,"num":7}])"));
}

TEST(SocketIoDecodeErrors, AckId) {
  // Number.MAX_SAFE_INTEGER is the largest id.
  packet p = decode_canonical("29007199254740991[\"a\"]");
  EXPECT_EQ(p.id, 9007199254740991u);
  EXPECT_EQ(error_of("29007199254740992[\"a\"]"), codec_error::invalid_ack_id);
  EXPECT_EQ(error_of("318446744073709551616[]"), codec_error::invalid_ack_id);  // would overflow 64 bits
  EXPECT_EQ(error_of("3" + std::string(10000, '9') + "[]"), codec_error::invalid_ack_id);
  EXPECT_EQ(error_of("62-/admin,99999999999999999[{\"_placeholder\":true,\"num\":0}]"),
            codec_error::invalid_ack_id);
}

TEST(SocketIoDecodeErrors, Namespace) {
  const std::string nsp_256 = "/" + std::string(255, 'n');
  auto p = decode("2" + nsp_256 + ",[\"a\"]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->nsp, nsp_256);
  auto at_end = decode("0" + nsp_256);
  ASSERT_TRUE(at_end);
  EXPECT_EQ(at_end->nsp, nsp_256);

  EXPECT_EQ(error_of("2/" + std::string(256, 'n') + ",[\"a\"]"), codec_error::invalid_namespace);
  EXPECT_EQ(error_of("0/" + std::string(256, 'n')), codec_error::invalid_namespace);
  EXPECT_EQ(error_of("0/" + std::string(1000000, 'n')), codec_error::invalid_namespace);

  decode_limits limits;
  limits.max_namespace_length = 6;
  EXPECT_TRUE(decode("0/admin,", limits));
  EXPECT_EQ(error_of("0/admins,", limits), codec_error::invalid_namespace);
  limits.max_namespace_length = std::numeric_limits<std::size_t>::max();
  auto unbounded = decode("2/admin,[\"a\"]", limits);
  ASSERT_TRUE(unbounded);
  EXPECT_EQ(unbounded->nsp, "/admin");
}

TEST(SocketIoDecodeErrors, Category) {
  const std::error_code ec = codec_error::invalid_json;
  EXPECT_STREQ(ec.category().name(), "sio.parser");
  EXPECT_EQ(&ec.category(), &sio::parser::codec_category());
  EXPECT_EQ(ec, sio::parser::make_error_code(codec_error::invalid_json));
  EXPECT_EQ(ec.message(), "invalid JSON data");
  for (int e = 1; e <= static_cast<int>(codec_error::invalid_placeholder); ++e) {
    const std::error_code c = static_cast<codec_error>(e);
    EXPECT_FALSE(c.message().empty());
    EXPECT_NE(c.message(), "unknown socket.io codec error") << e;
  }
  EXPECT_EQ(std::error_code(codec_error::invalid_placeholder).message(), "invalid binary placeholder");
}

// ---- encoding ----

TEST(SocketIoEncode, MatchesReferenceBytes) {
  EXPECT_EQ(encode(make(packet_type::connect, "/")), "0");
  EXPECT_EQ(encode(make(packet_type::connect, "/", j(R"({"sid":"wZX3oN0bSVIhsaknAAAI"})"))),
            R"(0{"sid":"wZX3oN0bSVIhsaknAAAI"})");
  EXPECT_EQ(encode(make(packet_type::connect, "/custom", j(R"({"sid":"x"})"))), R"(0/custom,{"sid":"x"})");
  EXPECT_EQ(encode(make(packet_type::disconnect, "/")), "1");
  EXPECT_EQ(encode(make(packet_type::disconnect, "/admin")), "1/admin,");
  EXPECT_EQ(encode(make(packet_type::event, "/", j(R"(["message-back",1,"2",{"3":[true]}])"))),
            R"(2["message-back",1,"2",{"3":[true]}])");
  EXPECT_EQ(encode(make(packet_type::event, "/custom", j(R"(["auth",{}])"))), R"(2/custom,["auth",{}])");
  EXPECT_EQ(encode(make(packet_type::event, "/", j(R"(["foo"])"), 12)), R"(212["foo"])");
  EXPECT_EQ(encode(make(packet_type::ack, "/", j(R"([1,"2"])"), 456)), R"(3456[1,"2"])");
  EXPECT_EQ(encode(make(packet_type::ack, "/admin", j(R"(["bar"])"), 13)), R"(3/admin,13["bar"])");
  EXPECT_EQ(encode(make(packet_type::ack, "/", json::array{}, 12)), "312[]");
  EXPECT_EQ(encode(make(packet_type::connect_error, "/random", j(R"({"message":"Invalid namespace"})"))),
            R"(4/random,{"message":"Invalid namespace"})");
  EXPECT_EQ(encode(make(packet_type::connect_error, "/", j(R"({"message":"Not authorized"})"))),
            R"(4{"message":"Not authorized"})");

  using sio::parser::make_placeholder;
  packet bin = make(packet_type::binary_event, "/",
                    json::array{"message-back", make_placeholder(0), make_placeholder(1)}, {}, 2);
  EXPECT_EQ(encode(bin),
            R"(52-["message-back",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  packet bin_ack =
      make(packet_type::binary_ack, "/", json::array{make_placeholder(0), make_placeholder(1)}, 789, 2);
  EXPECT_EQ(encode(bin_ack), R"(62-789[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  packet bin_nsp = make(packet_type::binary_ack, "/admin", json::array{make_placeholder(0)}, 1, 1);
  EXPECT_EQ(encode(bin_nsp), R"(61-/admin,1[{"_placeholder":true,"num":0}])");
}

TEST(SocketIoEncode, EmptyNamespaceIsTheMainOne) {
  EXPECT_EQ(encode(make(packet_type::event, "", j(R"(["a"])"))), R"(2["a"])");
}

TEST(SocketIoEncode, StringsAsJsonStringify) {
  // Expected bytes taken from node's JSON.stringify.
  json::array a{"\x01\x1f\x7f\b\f\n\r\t\"\\/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"};
  EXPECT_EQ(encode(make(packet_type::ack, "/", a, 1)),
            "31[\"\\u0001\\u001f\x7f\\b\\f\\n\\r\\t\\\"\\\\/\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]");
  json::object o;
  o["k\"ey\n"] = "v";
  EXPECT_EQ(encode(make(packet_type::connect, "/", o)), "0{\"k\\\"ey\\n\":\"v\"}");
  EXPECT_EQ(encode(make(packet_type::ack, "/", json::array{std::string("a\0b", 3)}, 1)), "31[\"a\\u0000b\"]");
}

TEST(SocketIoEncode, NumbersAsJavaScript) {
  // Expected bytes taken from node's JSON.stringify.
  const std::pair<double, const char*> cases[] = {
      {1.5, "1.5"},
      {0.1, "0.1"},
      {-0.5, "-0.5"},
      {1e21, "1e+21"},
      {1e20, "100000000000000000000"},
      {123456789012345680000.0, "123456789012345680000"},
      {1e-7, "1e-7"},
      {1.5e-7, "1.5e-7"},
      {0.000001, "0.000001"},
      {1.7976931348623157e308, "1.7976931348623157e+308"},
      {5e-324, "5e-324"},
      {-1e-7, "-1e-7"},
      {100.25, "100.25"},
      {2.5e-10, "2.5e-10"},
      {1.0 / 3.0, "0.3333333333333333"},
      {-0.0, "0"},
      {123e-20, "1.23e-18"},
      {4.35, "4.35"},
      {0.3, "0.3"},
      {2.0, "2"},
      {std::numeric_limits<double>::infinity(), "null"},
      {-std::numeric_limits<double>::infinity(), "null"},
      {std::numeric_limits<double>::quiet_NaN(), "null"},
  };
  for (const auto& [d, expected] : cases) {
    EXPECT_EQ(encode(make(packet_type::ack, "/", json::array{d}, 1)), "31["s + expected + "]") << expected;
  }
  EXPECT_EQ(encode(make(packet_type::ack, "/", json::array{std::int64_t{-9223372036854775807 - 1}, std::uint64_t{18446744073709551615u}, 0}, 1)),
            "31[-9223372036854775808,18446744073709551615,0]");
  // JSON.parse("[1e400]") is [Infinity], which JSON.stringify writes as null.
  auto p = decode("31[1e400,-1e400,1.0,1E2]");
  ASSERT_TRUE(p);
  EXPECT_EQ(encode(*p), "31[null,null,1,100]");
}

TEST(SocketIoRoundTrip, DoublesAreExact) {
  // Boost 1.81's own double parsing is off by one ulp for many 17-digit values; these are such.
  for (const char* text : {"474.59380568556355", "1.8446744073709558e+36", "0.30000000000000004", "5e-324",
                           "1.7976931348623157e+308", "2.2250738585072014e-308"}) {
    auto p = decode("31["s + text + "]");
    ASSERT_TRUE(p) << text;
    EXPECT_EQ(encode(*p), "31["s + text + "]");
  }
  // Any finite double goes out and comes back bit for bit.
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    if (i % 2) d = std::ldexp(static_cast<double>(rng() >> 11), -static_cast<int>(rng() % 64));  // everyday magnitudes
    const std::string text = encode(make(packet_type::ack, "/", json::array{d}, 1));
    auto back = decode(text);
    ASSERT_TRUE(back) << text;
    const json::value& v = back->data.as_array()[0];
    const double got = v.is_double() ? v.get_double() : v.to_number<double>();
    EXPECT_EQ(std::memcmp(&got, &d, sizeof d) == 0 || (d == 0 && got == 0), true) << text;
  }
}

TEST(SocketIoEncode, Placeholders) {
  using sio::parser::count_placeholders;
  using sio::parser::make_placeholder;
  using sio::parser::placeholder_num;
  EXPECT_EQ(make_placeholder(3), j(R"({"_placeholder":true,"num":3})"));
  EXPECT_EQ(placeholder_num(make_placeholder(3)), 3u);
  EXPECT_EQ(placeholder_num(j(R"({"num":0,"_placeholder":true})")), 0u);
  EXPECT_EQ(placeholder_num(j(R"({"_placeholder":true,"num":-1})")), std::nullopt);
  EXPECT_EQ(placeholder_num(j(R"({"_placeholder":true,"num":1.0})")), std::nullopt);
  EXPECT_EQ(placeholder_num(j(R"({"_placeholder":1,"num":1})")), std::nullopt);
  EXPECT_EQ(placeholder_num(j(R"({"_placeholder":true})")), std::nullopt);
  EXPECT_EQ(placeholder_num(j(R"([{"_placeholder":true,"num":1}])")), std::nullopt);
  EXPECT_EQ(placeholder_num(j("null")), std::nullopt);

  EXPECT_EQ(count_placeholders(j("null")), 0u);
  EXPECT_EQ(count_placeholders(j(R"(["a",1,{"b":[]}])")), 0u);
  EXPECT_EQ(count_placeholders(j(R"(["a",{"_placeholder":true,"num":0},[{"x":{"_placeholder":true,"num":1}}]])")),
            2u);
}

// ---- round trips ----

TEST(SocketIoRoundTrip, EveryType) {
  using sio::parser::make_placeholder;
  const packet packets[] = {
      make(packet_type::connect, "/"),
      make(packet_type::connect, "/admin", j(R"({"token":"123","n":[1,2.5,-3,true,null]})")),
      make(packet_type::disconnect, "/"),
      make(packet_type::disconnect, "/chat"),
      make(packet_type::event, "/", j(R"(["hello","w\u00f6rld",{"a":{"b":[1e-7,1e21]}}])")),
      make(packet_type::event, "/chat", j(R"(["x"])"), 9007199254740991u),
      make(packet_type::ack, "/", j("[]"), 0),
      make(packet_type::ack, "/admin", j(R"([{"ok":true}])"), 42),
      make(packet_type::connect_error, "/", j(R"({"message":"nope","data":{"code":4}})")),
      make(packet_type::connect_error, "/x", "just a string"),
      make(packet_type::binary_event, "/", json::array{"file", make_placeholder(0)}, {}, 1),
      make(packet_type::binary_event, "/up", json::array{"f", json::object{{"a", make_placeholder(1)}}, make_placeholder(0)}, 5, 2),
      make(packet_type::binary_ack, "/", json::array{make_placeholder(0)}, 7, 1),
  };
  for (const auto& p : packets) {
    const std::string text = encode(p);
    auto back = decode(text);
    ASSERT_TRUE(back) << text << ": " << back.error().message();
    expect_same(*back, p);
    EXPECT_EQ(encode(*back), text);
  }
}
