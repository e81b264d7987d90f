// Engine.IO v4 packet codec and base64.
#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "sio/engineio/codec/base64.hpp"
#include "sio/engineio/codec/packet.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
namespace eio = sio::eio;
using eio::codec_error;
using eio::packet;
using eio::packet_type;

namespace {

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s;
}

}  // namespace

// ---- base64 ----

TEST(Base64, Rfc4648Vectors) {
  EXPECT_EQ(eio::base64_encode(""), "");
  EXPECT_EQ(eio::base64_encode("f"), "Zg==");
  EXPECT_EQ(eio::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(eio::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(eio::base64_encode("foob"), "Zm9vYg==");
  EXPECT_EQ(eio::base64_encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(eio::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(eio::base64_encode("\x01\x02\x03\x04"sv), "AQIDBA==");
  EXPECT_EQ(eio::base64_encode("\xff\xfe\xfd"sv), "//79");

  EXPECT_EQ(eio::base64_decode(""), "");
  EXPECT_EQ(eio::base64_decode("Zg=="), "f");
  EXPECT_EQ(eio::base64_decode("Zm8="), "fo");
  EXPECT_EQ(eio::base64_decode("Zm9v"), "foo");
  EXPECT_EQ(eio::base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(eio::base64_decode("Zm9vYmE="), "fooba");
  EXPECT_EQ(eio::base64_decode("Zm9vYmFy"), "foobar");
  EXPECT_EQ(eio::base64_decode("AQIDBA=="), "\x01\x02\x03\x04"s);
  EXPECT_EQ(eio::base64_decode("//79"), "\xff\xfe\xfd"s);
}

TEST(Base64, EncodeAppendKeepsPrefix) {
  std::string out = "b";
  eio::base64_encode_append(out, "\x01\x02\x03\x04"sv);
  EXPECT_EQ(out, "bAQIDBA==");
  eio::base64_encode_append(out, "");
  EXPECT_EQ(out, "bAQIDBA==");
}

TEST(Base64, RoundTripEveryLengthAndByte) {
  for (std::size_t len = 0; len <= 300; ++len) {
    std::string in(len, '\0');
    for (std::size_t i = 0; i < len; ++i) in[i] = static_cast<char>((i * 37 + len) & 0xff);
    const std::string enc = eio::base64_encode(in);
    EXPECT_EQ(enc.size(), (len + 2) / 3 * 4);
    const auto dec = eio::base64_decode(enc);
    ASSERT_TRUE(dec.has_value()) << enc;
    EXPECT_EQ(*dec, in);
  }
  const std::string bytes = all_bytes();
  EXPECT_EQ(eio::base64_decode(eio::base64_encode(bytes)), bytes);
}

TEST(Base64, RejectsBadLength) {
  EXPECT_FALSE(eio::base64_decode("Z"));
  EXPECT_FALSE(eio::base64_decode("Zg"));   // unpadded
  EXPECT_FALSE(eio::base64_decode("Zg="));  // short padding
  EXPECT_FALSE(eio::base64_decode("Zm9vY"));
}

TEST(Base64, RejectsBadCharacters) {
  EXPECT_FALSE(eio::base64_decode("Zm9-"));  // url-safe alphabet is not standard base64
  EXPECT_FALSE(eio::base64_decode("Zm9_"));
  EXPECT_FALSE(eio::base64_decode("Zm 9"));
  EXPECT_FALSE(eio::base64_decode("Zm9v\n"s + "YmFy"));
  EXPECT_FALSE(eio::base64_decode("Zm9\x80"sv));
  EXPECT_FALSE(eio::base64_decode("Zm9\0"sv));
  EXPECT_FALSE(eio::base64_decode("Z\xffg="sv));
}

TEST(Base64, RejectsBadPadding) {
  EXPECT_FALSE(eio::base64_decode("===="));
  EXPECT_FALSE(eio::base64_decode("Z==="));
  EXPECT_FALSE(eio::base64_decode("=Zg="));
  EXPECT_FALSE(eio::base64_decode("Zg==Zg=="));  // padding inside the text
  EXPECT_FALSE(eio::base64_decode("Z=g="));
  EXPECT_FALSE(eio::base64_decode("Zh=="));  // non-zero unused bits: not the canonical encoding
  EXPECT_FALSE(eio::base64_decode("Zm9="));
}

// ---- decode_packet ----

TEST(EngineIoDecode, EveryTextType) {
  struct row {
    std::string_view text;
    packet_type type;
    std::string_view data;
  };
  const row rows[] = {
      {R"(0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000})", packet_type::open,
       R"({"sid":"abc","upgrades":["websocket"],"pingInterval":25000})"},
      {"1", packet_type::close, ""},
      {"2", packet_type::ping, ""},
      {"2probe", packet_type::ping, "probe"},
      {"3", packet_type::pong, ""},
      {"3probe", packet_type::pong, "probe"},
      {"4hello", packet_type::message, "hello"},
      {"4", packet_type::message, ""},
      {"5", packet_type::upgrade, ""},
      {"6", packet_type::noop, ""},
  };
  for (const auto& r : rows) {
    auto p = eio::decode_packet(r.text);
    ASSERT_TRUE(p) << r.text;
    EXPECT_EQ(p->type, r.type) << r.text;
    EXPECT_FALSE(p->binary);
    EXPECT_EQ(p->data, r.data);
  }
}

TEST(EngineIoDecode, MessageDataIsKeptVerbatim) {
  auto p = eio::decode_packet("42[\"x\",\"\x1e\xe2\x82\xac\"]\n"sv);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->data, "2[\"x\",\"\x1e\xe2\x82\xac\"]\n"s);
}

TEST(EngineIoDecode, Base64Message) {
  auto p = eio::decode_packet("bAQIDBA==");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->type, packet_type::message);
  EXPECT_TRUE(p->binary);
  EXPECT_EQ(p->data, "\x01\x02\x03\x04"s);

  auto empty = eio::decode_packet("b");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->binary);
  EXPECT_EQ(empty->data, "");
}

TEST(EngineIoDecode, Errors) {
  EXPECT_EQ(eio::decode_packet("").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_packet("abc").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("7").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("9hello").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("/").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet(" 4").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("B").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("\0"sv).error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_packet("bA").error(), codec_error::invalid_base64);
  EXPECT_EQ(eio::decode_packet("b!!!!").error(), codec_error::invalid_base64);
  EXPECT_EQ(eio::decode_packet("bAQIDBA").error(), codec_error::invalid_base64);
}

TEST(EngineIoDecode, BinaryFrame) {
  const std::string bytes = all_bytes();
  packet p = eio::decode_binary_frame(bytes);
  EXPECT_EQ(p.type, packet_type::message);
  EXPECT_TRUE(p.binary);
  EXPECT_EQ(p.data, bytes);

  packet empty = eio::decode_binary_frame("");
  EXPECT_TRUE(empty.binary);
  EXPECT_EQ(empty.data, "");
}

// ---- decode_payload ----

TEST(EngineIoPayload, SpecExample) {
  auto ps = eio::decode_payload("4hello\x1e" "2\x1e" "4world");
  ASSERT_TRUE(ps);
  ASSERT_EQ(ps->size(), 3u);
  EXPECT_EQ((*ps)[0], (packet{packet_type::message, false, "hello"}));
  EXPECT_EQ((*ps)[1], (packet{packet_type::ping, false, ""}));
  EXPECT_EQ((*ps)[2], (packet{packet_type::message, false, "world"}));
}

TEST(EngineIoPayload, MixedTextAndBinary) {
  auto ps = eio::decode_payload("4hello\x1e" "bAQIDBA==");
  ASSERT_TRUE(ps);
  ASSERT_EQ(ps->size(), 2u);
  EXPECT_EQ((*ps)[0], (packet{packet_type::message, false, "hello"}));
  EXPECT_EQ((*ps)[1], (packet{packet_type::message, true, "\x01\x02\x03\x04"}));
}

TEST(EngineIoPayload, SinglePacket) {
  auto ps = eio::decode_payload("40");
  ASSERT_TRUE(ps);
  ASSERT_EQ(ps->size(), 1u);
  EXPECT_EQ((*ps)[0], (packet{packet_type::message, false, "0"}));
}

TEST(EngineIoPayload, Errors) {
  EXPECT_EQ(eio::decode_payload("").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_payload("\x1e").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_payload("4a\x1e").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_payload("\x1e" "4a").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_payload("4a\x1e\x1e" "4b").error(), codec_error::empty_packet);
  EXPECT_EQ(eio::decode_payload("abc").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_payload("4a\x1e" "abc").error(), codec_error::unknown_packet_type);
  EXPECT_EQ(eio::decode_payload("4a\x1e" "b%%%%").error(), codec_error::invalid_base64);
}

TEST(EngineIoPayload, PacketLimit) {
  std::string body;
  for (int i = 0; i < 5; ++i) eio::append_to_payload(body, packet_type::message, "x");
  auto ok = eio::decode_payload(body, 5);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->size(), 5u);
  EXPECT_EQ(eio::decode_payload(body, 4).error(), codec_error::too_many_packets);

  // A hostile body of separators only is refused before any segment is decoded.
  const std::string separators(100000, '\x1e');
  EXPECT_EQ(eio::decode_payload(separators).error(), codec_error::too_many_packets);
  EXPECT_EQ(eio::decode_payload(separators, 1000000).error(), codec_error::empty_packet);
}

// ---- encoding ----

TEST(EngineIoEncode, EveryType) {
  EXPECT_EQ(eio::encode_packet({packet_type::open, false, R"({"sid":"x"})"}), R"(0{"sid":"x"})");
  EXPECT_EQ(eio::encode_packet({packet_type::close, false, ""}), "1");
  EXPECT_EQ(eio::encode_packet({packet_type::ping, false, ""}), "2");
  EXPECT_EQ(eio::encode_packet({packet_type::ping, false, "probe"}), "2probe");
  EXPECT_EQ(eio::encode_packet({packet_type::pong, false, "probe"}), "3probe");
  EXPECT_EQ(eio::encode_packet({packet_type::message, false, "hello"}), "4hello");
  EXPECT_EQ(eio::encode_packet({packet_type::upgrade, false, ""}), "5");
  EXPECT_EQ(eio::encode_packet({packet_type::noop, false, ""}), "6");
  EXPECT_EQ(eio::encode_packet({packet_type::message, true, "\x01\x02\x03\x04"}), "bAQIDBA==");
  EXPECT_EQ(eio::encode_packet({packet_type::message, true, ""}), "b");
}

TEST(EngineIoEncode, AppendToPayload) {
  std::string body;
  eio::append_to_payload(body, packet_type::message, "hello");
  EXPECT_EQ(body, "4hello");
  eio::append_to_payload(body, packet_type::message, "\x01\x02\x03\x04", true);
  EXPECT_EQ(body, "4hello\x1e" "bAQIDBA==");
  eio::append_to_payload(body, packet_type::ping, "");
  EXPECT_EQ(body, "4hello\x1e" "bAQIDBA==\x1e" "2");
  eio::append_to_payload(body, packet_type::noop, "");
  EXPECT_EQ(body, "4hello\x1e" "bAQIDBA==\x1e" "2\x1e" "6");
}

TEST(EngineIoRoundTrip, PacketsAndPayload) {
  const std::vector<packet> packets = {
      {packet_type::open, false, R"({"sid":"lv_VI97HAXpY6yYWAAAC","upgrades":["websocket"]})"},
      {packet_type::close, false, ""},
      {packet_type::ping, false, "probe"},
      {packet_type::pong, false, ""},
      {packet_type::message, false, "2[\"hello\",\"w\xc3\xb6rld\"]"},
      {packet_type::message, true, all_bytes()},
      {packet_type::message, true, ""},
      {packet_type::upgrade, false, ""},
      {packet_type::noop, false, ""},
  };
  std::string body;
  for (const auto& p : packets) {
    auto back = eio::decode_packet(eio::encode_packet(p));
    ASSERT_TRUE(back);
    EXPECT_EQ(*back, p);
    eio::append_to_payload(body, p.type, p.data, p.binary);
  }
  auto decoded = eio::decode_payload(body);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, packets);
}

// ---- error category ----

TEST(EngineIoErrors, Category) {
  const std::error_code ec = codec_error::invalid_base64;
  EXPECT_STREQ(ec.category().name(), "sio.eio.codec");
  EXPECT_EQ(&ec.category(), &eio::codec_category());
  EXPECT_EQ(ec, eio::make_error_code(codec_error::invalid_base64));
  EXPECT_EQ(ec.message(), "invalid base64 data");
  EXPECT_EQ(std::error_code(codec_error::empty_packet).message(), "empty packet");
  EXPECT_EQ(std::error_code(codec_error::unknown_packet_type).message(), "unknown packet type");
  EXPECT_EQ(std::error_code(codec_error::too_many_packets).message(), "too many packets in payload");
  EXPECT_NE(std::error_code(codec_error::empty_packet), std::error_code(1, std::generic_category()));
}
