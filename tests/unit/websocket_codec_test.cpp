// The WebSocket protocol codec (RFC 6455, RFC 7692): handshake, frame headers, the frame
// reader (masking, fragments, control frames, limits, errors, splits), permessage-deflate, UTF-8.
#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "sio/transport/websocket_codec.hpp"

using namespace std::string_literals;
using namespace std::string_view_literals;
namespace ws = sio::transport::ws;
using kind = ws::frame_event::kind;

// ---- counting allocations (for the zero-copy fast path) ----

namespace {
std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};
}  // namespace

// Not inlined, so that GCC does not take the replaced pair for a malloc/delete mismatch.
[[gnu::noinline]] void* operator new(std::size_t n) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

constexpr std::array<std::uint8_t, 4> rfc_key = {0x37, 0xfa, 0x21, 0x3d};  // RFC 6455 section 5.7

constexpr std::uint8_t fin = 0x80, rsv1 = 0x40, rsv2 = 0x20, rsv3 = 0x10;
constexpr std::uint8_t op_cont = 0x0, op_text = 0x1, op_bin = 0x2, op_close = 0x8, op_ping = 0x9, op_pong = 0xa;

enum class len_form { minimal, bits16, bits64 };

// A client frame: first byte b0, masked with `key` unless `masked` is false.
std::string frame(std::uint8_t b0, std::string_view payload, std::array<std::uint8_t, 4> key = rfc_key,
                  bool masked = true, len_form form = len_form::minimal) {
  std::string out;
  out.push_back(static_cast<char>(b0));
  const std::uint8_t m = masked ? 0x80 : 0;
  const std::uint64_t n = payload.size();
  if (form == len_form::minimal && n < 126) {
    out.push_back(static_cast<char>(m | n));
  } else if (form != len_form::bits64 && n <= 0xffff) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(n >> (8 * i)));
  }
  if (masked) {
    for (auto k : key) out.push_back(static_cast<char>(k));
    for (std::size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ key[i % 4]));
  } else {
    out.append(payload);
  }
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xff));
  p.append(reason);
  return p;
}

std::string bytes(std::initializer_list<int> list) {
  std::string s;
  for (int b : list) s.push_back(static_cast<char>(b));
  return s;
}

struct event {
  kind type;
  std::string payload;
  std::uint16_t code = 0;
  bool operator==(const event&) const = default;
};

std::ostream& operator<<(std::ostream& os, const event& e) {
  static const char* names[] = {"text", "binary", "ping", "pong", "close"};
  return os << names[static_cast<int>(e.type)] << "(" << e.payload.size() << " bytes, code " << e.code << ")";
}

struct result {
  std::vector<event> events;
  std::uint16_t error = 0;
  bool operator==(const result&) const = default;
};

// Feeds the chunks in order, each from a buffer of its own that is freed right after (so that a
// reader keeping a pointer into an old chunk would be caught by ASan).
result read_chunks(ws::frame_reader& r, const std::vector<std::string>& chunks) {
  result out;
  for (const std::string& c : chunks) {
    std::vector<char> buf(c.begin(), c.end());
    r.feed(buf);
    while (auto ev = r.next()) out.events.push_back({ev->type, std::string(ev->payload), ev->close_code});
  }
  out.error = r.error();
  return out;
}

result read_all(std::string_view stream, std::size_t max = 1 << 20, std::optional<ws::deflate_params> deflate = {}) {
  ws::frame_reader r(max);
  if (deflate) r.enable_deflate(*deflate);
  return read_chunks(r, {std::string(stream)});
}

event text(std::string s) { return {kind::text, std::move(s)}; }
event binary(std::string s) { return {kind::binary, std::move(s)}; }
event ping(std::string s) { return {kind::ping, std::move(s)}; }
event pong(std::string s) { return {kind::pong, std::move(s)}; }
event close_ev(std::uint16_t code, std::string reason = {}) { return {kind::close, std::move(reason), code}; }

std::uint16_t error_of(std::string_view stream, std::size_t max = 1 << 20, std::optional<ws::deflate_params> d = {}) {
  return read_all(stream, max, d).error;
}

std::string hex_to_bytes(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 3)
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  return out;
}

ws::upgrade_request good_request() {
  ws::upgrade_request r;
  r.method = "GET";
  r.upgrade = "websocket";
  r.connection = "Upgrade";
  r.version = "13";
  r.key = "dGhlIHNhbXBsZSBub25jZQ==";
  return r;
}

// The Sec-WebSocket-Extensions line of an accepted answer, or "" without one.
std::string extensions_of(const ws::handshake_answer& a) {
  const std::string_view name = "Sec-WebSocket-Extensions: ";
  const auto at = a.response.find(name);
  if (at == std::string::npos) return {};
  const auto end = a.response.find("\r\n", at);
  return a.response.substr(at + name.size(), end - at - name.size());
}

ws::handshake_answer offer(std::string_view extensions, bool allow = true) {
  auto r = good_request();
  r.extensions = extensions;
  return ws::answer_handshake(r, allow);
}

}  // namespace

// ---- handshake ----

TEST(WsHandshake, AcceptKeyOfRfc6455) {
  EXPECT_EQ(ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WsHandshake, AcceptsAndBuildsThe101) {
  const auto a = ws::answer_handshake(good_request(), true, "Set-Cookie: io=abc\r\n");
  ASSERT_TRUE(a.accepted) << a.error;
  EXPECT_FALSE(a.deflate);
  EXPECT_EQ(a.response,
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Set-Cookie: io=abc\r\n"
            "\r\n");
}

TEST(WsHandshake, TokenListsAreCaseInsensitive) {
  auto r = good_request();
  r.upgrade = "WebSocket";
  r.connection = "keep-alive, UPGRADE";
  EXPECT_TRUE(ws::answer_handshake(r, false).accepted);
  r.upgrade = "h2c ,\twebsocket ";
  r.connection = " upgrade";
  EXPECT_TRUE(ws::answer_handshake(r, false).accepted);
  r.version = " 13 ";
  r.key = " dGhlIHNhbXBsZSBub25jZQ== ";
  const auto a = ws::answer_handshake(r, false);
  ASSERT_TRUE(a.accepted);
  EXPECT_NE(a.response.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), std::string::npos);
}

TEST(WsHandshake, Refusals) {
  auto refused = [](auto change) {
    auto r = good_request();
    change(r);
    const auto a = ws::answer_handshake(r, true);
    EXPECT_FALSE(a.accepted);
    EXPECT_FALSE(a.error.empty());
    EXPECT_TRUE(a.response.empty());
    return !a.accepted;
  };
  EXPECT_TRUE(refused([](auto& r) { r.method = "POST"; }));
  EXPECT_TRUE(refused([](auto& r) { r.method = "get"; }));  // methods are case-sensitive
  EXPECT_TRUE(refused([](auto& r) { r.upgrade = ""; }));
  EXPECT_TRUE(refused([](auto& r) { r.upgrade = "websockets"; }));
  EXPECT_TRUE(refused([](auto& r) { r.upgrade = "h2c"; }));
  EXPECT_TRUE(refused([](auto& r) { r.connection = "keep-alive"; }));
  EXPECT_TRUE(refused([](auto& r) { r.connection = ""; }));
  EXPECT_TRUE(refused([](auto& r) { r.connection = "upgrades"; }));
  EXPECT_TRUE(refused([](auto& r) { r.version = ""; }));
  EXPECT_TRUE(refused([](auto& r) { r.version = "8"; }));
  EXPECT_TRUE(refused([](auto& r) { r.version = "13, 8"; }));
  EXPECT_TRUE(refused([](auto& r) { r.key = ""; }));
  EXPECT_TRUE(refused([](auto& r) { r.key = "dGhlIHNhbXBsZSBub25jZQ"; }));        // no padding
  EXPECT_TRUE(refused([](auto& r) { r.key = "dGhlIHNhbXBsZSBub25jZQ=a"; }));
  EXPECT_TRUE(refused([](auto& r) { r.key = "dGhlIHNhbXBsZSBub25j"; }));          // 15 bytes
  EXPECT_TRUE(refused([](auto& r) { r.key = "dGhlIHNhbXBsZSBub25jZSE="; }));      // 17 bytes
  EXPECT_TRUE(refused([](auto& r) { r.key = "dGhlIHNhbXBsZSBub2*jZQ=="; }));
}

TEST(WsHandshake, NoDeflateUnlessOfferedAndAllowed) {
  EXPECT_EQ(extensions_of(offer("")), "");
  EXPECT_FALSE(offer("").deflate);
  EXPECT_FALSE(offer("permessage-deflate", false).deflate);
  EXPECT_EQ(extensions_of(offer("permessage-deflate", false)), "");
  EXPECT_FALSE(offer("x-webkit-deflate-frame").deflate);
}

TEST(WsHandshake, PlainOffer) {
  const auto a = offer("permessage-deflate");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(extensions_of(a), "permessage-deflate; server_no_context_takeover");
  EXPECT_TRUE(a.deflate->server_no_context_takeover);
  EXPECT_FALSE(a.deflate->client_no_context_takeover);
  EXPECT_EQ(a.deflate->server_max_window_bits, 15);
  EXPECT_EQ(a.deflate->client_max_window_bits, 15);
  // The extensions line comes before the extra headers and the blank line.
  EXPECT_TRUE(a.response.ends_with("Sec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover\r\n\r\n"));
}

TEST(WsHandshake, BrowserOffer) {
  // What Chrome and Firefox send.
  const auto a = offer("permessage-deflate; client_max_window_bits");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(extensions_of(a), "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(a.deflate->client_max_window_bits, 15);
}

TEST(WsHandshake, ParametersAreHonoured) {
  auto a = offer("permessage-deflate; client_no_context_takeover; server_no_context_takeover");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(extensions_of(a), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_TRUE(a.deflate->client_no_context_takeover);

  a = offer("permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(extensions_of(a),
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12");
  EXPECT_EQ(a.deflate->server_max_window_bits, 10);
  EXPECT_EQ(a.deflate->client_max_window_bits, 12);

  a = offer("permessage-deflate;server_max_window_bits=\"15\";client_max_window_bits=8");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(a.deflate->server_max_window_bits, 15);
  EXPECT_EQ(a.deflate->client_max_window_bits, 8);

  a = offer("PerMessage-Deflate; Client_No_Context_Takeover");  // tokens compared case-insensitively
  ASSERT_TRUE(a.deflate);
  EXPECT_TRUE(a.deflate->client_no_context_takeover);
}

TEST(WsHandshake, BadOffersAreDeclined) {
  for (const char* bad : {
           "permessage-deflate; server_max_window_bits",          // value required
           "permessage-deflate; server_max_window_bits=7",
           "permessage-deflate; server_max_window_bits=16",
           "permessage-deflate; server_max_window_bits=010",      // leading zero
           "permessage-deflate; server_max_window_bits=8",        // zlib cannot deflate with 8 bits
           "permessage-deflate; client_max_window_bits=16",
           "permessage-deflate; client_max_window_bits=abc",
           "permessage-deflate; client_max_window_bits=\"\"",
           "permessage-deflate; server_no_context_takeover=1",    // no value allowed
           "permessage-deflate; client_no_context_takeover=\"x\"",
           "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
           "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
           "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
           "permessage-deflate; unknown_param",
           "permessage-deflate; mux=1",
       }) {
    const auto a = offer(bad);
    EXPECT_TRUE(a.accepted) << bad;
    EXPECT_FALSE(a.deflate) << bad;
    EXPECT_EQ(extensions_of(a), "") << bad;
  }
}

TEST(WsHandshake, FirstHonourableOfferWins) {
  auto a = offer("permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(a.deflate->server_max_window_bits, 9);
  EXPECT_EQ(extensions_of(a), "permessage-deflate; server_no_context_takeover; server_max_window_bits=9");

  a = offer("x-webkit-deflate-frame; no_context_takeover, permessage-deflate; bogus, permessage-deflate");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(extensions_of(a), "permessage-deflate; server_no_context_takeover");

  // Quoted values may hold separators; they are not offers of their own.
  a = offer("foo; bar=\"a,b;c\", permessage-deflate; client_max_window_bits=\"10\"");
  ASSERT_TRUE(a.deflate);
  EXPECT_EQ(a.deflate->client_max_window_bits, 10);

  // Empty list elements are allowed.
  a = offer(" , permessage-deflate ,");
  EXPECT_TRUE(a.deflate);
}

TEST(WsHandshake, SyntaxErrorsDeclineDeflate) {
  for (const char* bad : {
           "permessage-deflate; client_max_window_bits=\"10",  // unterminated quote
           "permessage-deflate; =10",
           "permessage-deflate; client_max_window_bits=",
           "permessage-deflate client_no_context_takeover",
           ";permessage-deflate",
           "bad\x01, permessage-deflate",
       }) {
    const auto a = offer(bad);
    EXPECT_TRUE(a.accepted) << bad;
    EXPECT_FALSE(a.deflate) << bad;
  }
}

// ---- frames the server sends ----

TEST(WsEncode, HeaderLengths) {
  unsigned char h[ws::max_header_size];
  ASSERT_EQ(ws::encode_header(ws::opcode::text, 5, false, h), 2u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 2), bytes({0x81, 0x05}));
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 0, false, h), 2u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 2), bytes({0x82, 0x00}));
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 125, false, h), 2u);
  EXPECT_EQ(h[1], 125);
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 126, false, h), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 4), bytes({0x82, 126, 0x00, 126}));
  // RFC 6455 section 5.7: 256 bytes binary, and 64 KiB.
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 256, false, h), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 4), bytes({0x82, 0x7e, 0x01, 0x00}));
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 65535, false, h), 4u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 4), bytes({0x82, 0x7e, 0xff, 0xff}));
  ASSERT_EQ(ws::encode_header(ws::opcode::binary, 65536, false, h), 10u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 10), bytes({0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0}));
  ASSERT_EQ(ws::encode_header(ws::opcode::text, 0x0102030405060708ull, false, h), 10u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), 10), bytes({0x81, 0x7f, 1, 2, 3, 4, 5, 6, 7, 8}));
}

TEST(WsEncode, OpcodesAndRsv1) {
  unsigned char h[ws::max_header_size];
  ws::encode_header(ws::opcode::text, 7, true, h);
  EXPECT_EQ(h[0], 0xc1);  // RFC 7692 section 7.2.3.1
  ws::encode_header(ws::opcode::binary, 7, true, h);
  EXPECT_EQ(h[0], 0xc2);
  ws::encode_header(ws::opcode::ping, 0, false, h);
  EXPECT_EQ(h[0], 0x89);
  ws::encode_header(ws::opcode::pong, 0, false, h);
  EXPECT_EQ(h[0], 0x8a);
  ws::encode_header(ws::opcode::close, 0, false, h);
  EXPECT_EQ(h[0], 0x88);
}

TEST(WsEncode, CloseFrame) {
  EXPECT_EQ(ws::close_frame(1000), bytes({0x88, 0x02, 0x03, 0xe8}));
  EXPECT_EQ(ws::close_frame(1002, "bad"), bytes({0x88, 0x05, 0x03, 0xea}) + "bad");
  EXPECT_EQ(ws::close_frame(ws::close_code::no_status), bytes({0x88, 0x00}));
  EXPECT_EQ(ws::close_frame(0), bytes({0x88, 0x00}));

  // 123 bytes of reason at most, never cutting a UTF-8 sequence.
  const std::string long_ascii(200, 'a');
  EXPECT_EQ(ws::close_frame(1000, long_ascii).size(), 2u + 2 + 123);
  const std::string cut = std::string(122, 'a') + "\xc3\xa9";  // "é" would straddle the limit
  const std::string f = ws::close_frame(1000, cut);
  EXPECT_EQ(f.size(), 2u + 2 + 122);
  EXPECT_TRUE(ws::valid_utf8(std::string_view(f).substr(4)));
  const std::string euro = std::string(121, 'a') + "\xe2\x82\xac";  // 124 bytes, cut inside the euro
  EXPECT_EQ(ws::close_frame(1000, euro).size(), 2u + 2 + 121);
  const std::string fits = std::string(120, 'a') + "\xe2\x82\xac";  // exactly 123
  EXPECT_EQ(ws::close_frame(1000, fits).substr(4), fits);

  // What the server sends is what a reader accepts.
  std::string frame = ws::close_frame(1001, "bye");
  EXPECT_EQ(frame, bytes({0x88, 0x05, 0x03, 0xe9}) + "bye");
}

TEST(WsEncode, PongFrame) {
  EXPECT_EQ(ws::pong_frame("Hello"), bytes({0x8a, 0x05}) + "Hello");  // RFC 6455 section 5.7, unmasked pong
  EXPECT_EQ(ws::pong_frame(""), bytes({0x8a, 0x00}));
  const std::string big(200, 'x');
  EXPECT_EQ(ws::pong_frame(big), bytes({0x8a, 125}) + std::string(125, 'x'));
}

// ---- frame_reader: the examples of RFC 6455 section 5.7 ----

TEST(WsReader, MaskedHello) {
  const std::string f = bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58});
  EXPECT_EQ(f, frame(fin | op_text, "Hello"));
  const result r = read_all(f);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, std::vector<event>{text("Hello")});
}

TEST(WsReader, UnmaskedHelloIsAProtocolError) {
  EXPECT_EQ(error_of(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})), ws::close_code::protocol_error);
  // Fails on the first two bytes, without waiting for the rest.
  ws::frame_reader r(100);
  std::vector<char> b = {'\x81', '\x05'};
  r.feed(b);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), ws::close_code::protocol_error);
}

TEST(WsReader, FragmentedHello) {
  const std::string s = frame(op_text, "Hel") + frame(fin | op_cont, "lo");
  const result r = read_all(s);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, std::vector<event>{text("Hello")});
}

TEST(WsReader, MaskedPongAndPing) {
  // RFC 6455: "Unmasked Ping request and masked Ping response" (the response is a pong).
  EXPECT_EQ(read_all(bytes({0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58})).events,
            std::vector<event>{pong("Hello")});
  EXPECT_EQ(read_all(frame(fin | op_ping, "Hello")).events, std::vector<event>{ping("Hello")});
  EXPECT_EQ(read_all(frame(fin | op_ping, "")).events, std::vector<event>{ping("")});
  EXPECT_EQ(read_all(frame(fin | op_ping, std::string(125, 'p'))).events,
            std::vector<event>{ping(std::string(125, 'p'))});
}

TEST(WsReader, PingBetweenFragments) {
  const std::string s = frame(op_text, "Hel") + frame(fin | op_ping, "p1") + frame(op_cont, "l", {1, 2, 3, 4}) +
                        frame(fin | op_pong, "") + frame(fin | op_cont, "o", {9, 8, 7, 6});
  const result r = read_all(s);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, (std::vector<event>{ping("p1"), pong(""), text("Hello")}));
}

TEST(WsReader, LengthsOf16And64Bits) {
  std::string p256(256, '\0');
  for (int i = 0; i < 256; ++i) p256[i] = static_cast<char>(i);
  EXPECT_EQ(frame(fin | op_bin, p256).substr(0, 4), bytes({0x82, 0xfe, 0x01, 0x00}));
  EXPECT_EQ(read_all(frame(fin | op_bin, p256)).events, std::vector<event>{binary(p256)});

  std::string p64k(65536, '\0');
  for (std::size_t i = 0; i < p64k.size(); ++i) p64k[i] = static_cast<char>(i * 7);
  const std::string f = frame(fin | op_bin, p64k);
  EXPECT_EQ(f.substr(0, 10), bytes({0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(read_all(f).events, std::vector<event>{binary(p64k)});

  // Longer encodings than needed are accepted.
  for (auto form : {len_form::bits16, len_form::bits64})
    EXPECT_EQ(read_all(frame(fin | op_text, "hi", rfc_key, true, form)).events, std::vector<event>{text("hi")});
}

TEST(WsReader, EmptyMessages) {
  EXPECT_EQ(read_all(frame(fin | op_text, "")).events, std::vector<event>{text("")});
  EXPECT_EQ(read_all(frame(fin | op_bin, "")).events, std::vector<event>{binary("")});
  EXPECT_EQ(read_all(frame(op_bin, "") + frame(op_cont, "") + frame(fin | op_cont, "")).events,
            std::vector<event>{binary("")});
}

// ---- the fast path ----

TEST(WsReader, FastPathIsAViewIntoTheInputWithoutAllocation) {
  std::string s = frame(fin | op_text, "Hello") + frame(fin | op_bin, std::string(300, 'b')) +
                  frame(fin | op_ping, "x") + frame(fin | op_close, close_payload(1000, "bye"));
  std::vector<char> buf(s.begin(), s.end());
  ws::frame_reader r(1 << 20);

  std::vector<std::string_view> views;
  views.reserve(8);
  allocations = 0;
  counting = true;
  r.feed(buf);
  while (auto ev = r.next()) views.push_back(ev->payload);
  counting = false;
  EXPECT_EQ(allocations.load(), 0u);  // also: no state behind the unique_ptr

  ASSERT_EQ(views.size(), 4u);
  for (auto v : views) {
    EXPECT_GE(v.data(), buf.data());
    EXPECT_LE(v.data() + v.size(), buf.data() + buf.size());
  }
  EXPECT_EQ(views[0], "Hello");
  EXPECT_EQ(views[1], std::string(300, 'b'));
  EXPECT_EQ(views[2], "x");
  EXPECT_EQ(views[3], "bye");
  EXPECT_EQ(r.held_bytes(), 0u);
  EXPECT_EQ(r.error(), 0);
}

TEST(WsReader, IdleReaderHoldsNothing) {
  ws::frame_reader r(1 << 20);
  const std::string f = frame(fin | op_text, std::string(1000, 'a'));
  std::vector<char> a(f.begin(), f.begin() + 500), b(f.begin() + 500, f.end());
  r.feed(a);
  EXPECT_FALSE(r.next());
  EXPECT_GT(r.held_bytes(), 400u);
  r.feed(b);
  auto ev = r.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->payload, std::string(1000, 'a'));
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.held_bytes(), 0u);

  // A partial header is held too, and released when complete.
  const std::string g = frame(fin | op_text, "ok");
  std::vector<char> g1(g.begin(), g.begin() + 3), g2(g.begin() + 3, g.end());
  r.feed(g1);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.held_bytes(), 3u);
  r.feed(g2);
  ev = r.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->payload, "ok");
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.held_bytes(), 0u);

  // Idle again: a fast-path frame allocates nothing (the state was released).
  std::vector<char> h(g.begin(), g.end());
  allocations = 0;
  counting = true;
  r.feed(h);
  ev = r.next();
  const bool again = r.next().has_value();
  counting = false;
  ASSERT_TRUE(ev);
  EXPECT_FALSE(again);
  EXPECT_EQ(allocations.load(), 0u);
}

// ---- splits ----

namespace {

std::string several_frames() {
  std::string s;
  s += frame(fin | op_text, "Hello");
  s += frame(op_bin, "\x01\x02\x03"s, {1, 2, 3, 4});
  s += frame(fin | op_ping, "are you there");
  s += frame(op_cont, std::string(200, 'z'), {0xff, 0, 0x80, 7});  // 16-bit length
  s += frame(fin | op_cont, "end", {5, 6, 7, 8});
  s += frame(fin | op_text, "h\xc3\xa9llo \xf0\x9f\x98\x80");
  s += frame(fin | op_pong, "");
  s += frame(fin | op_text, std::string(70000, 'q'), {0x12, 0x34, 0x56, 0x78});  // 64-bit length
  s += frame(fin | op_text, "", {0, 0, 0, 0});
  s += frame(fin | op_close, close_payload(1001, "going"));
  s += frame(fin | op_text, "after close: never read");
  return s;
}

std::vector<event> several_events() {
  return {text("Hello"),
          ping("are you there"),
          binary("\x01\x02\x03"s + std::string(200, 'z') + "end"),
          text("h\xc3\xa9llo \xf0\x9f\x98\x80"),
          pong(""),
          text(std::string(70000, 'q')),
          text(""),
          close_ev(1001, "going")};
}

}  // namespace

TEST(WsReader, WholeStream) {
  const result r = read_all(several_frames());
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, several_events());
}

TEST(WsReader, EverySplitGivesTheSameEvents) {
  const std::string s = several_frames();
  const result expected{several_events(), 0};
  for (std::size_t cut = 0; cut <= s.size(); cut += (cut < 400 || cut > s.size() - 400) ? 1 : 997) {
    ws::frame_reader r(1 << 20);
    const result got = read_chunks(r, {s.substr(0, cut), s.substr(cut)});
    ASSERT_EQ(got, expected) << "cut at " << cut;
  }
  // Two cuts, all combinations over the first frames.
  for (std::size_t a = 0; a < 60; ++a)
    for (std::size_t b = a; b < 300; b += 3) {
      ws::frame_reader r(1 << 20);
      ASSERT_EQ(read_chunks(r, {s.substr(0, a), s.substr(a, b - a), s.substr(b)}), expected) << a << " " << b;
    }
}

TEST(WsReader, OneByteAtATime) {
  const std::string s = several_frames();
  std::vector<std::string> chunks;
  for (char c : s) chunks.emplace_back(1, c);
  ws::frame_reader r(1 << 20);
  EXPECT_EQ(read_chunks(r, chunks), (result{several_events(), 0}));
}

TEST(WsReader, RandomSplits) {
  const std::string s = several_frames();
  std::mt19937 rng(42);
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> chunks;
    for (std::size_t at = 0; at < s.size();) {
      const std::size_t n = std::min<std::size_t>(s.size() - at, rng() % (round % 2 ? 16 : 5000));
      chunks.push_back(s.substr(at, n));
      at += n;
    }
    ws::frame_reader r(1 << 20);
    ASSERT_EQ(read_chunks(r, chunks), (result{several_events(), 0})) << "round " << round;
  }
}

// ---- errors ----

TEST(WsReader, ReservedBits) {
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_text, "x")), ws::close_code::protocol_error);  // no deflate agreed
  EXPECT_EQ(error_of(frame(fin | rsv2 | op_text, "x")), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(fin | rsv3 | op_text, "x")), ws::close_code::protocol_error);
  const ws::deflate_params d;
  EXPECT_EQ(error_of(frame(fin | rsv2 | op_text, "x"), 100, d), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_ping, "x"), 100, d), ws::close_code::protocol_error);
  // RSV1 only on the first frame of a message.
  EXPECT_EQ(error_of(frame(op_text, "") + frame(fin | rsv1 | op_cont, "x"), 100, d), ws::close_code::protocol_error);
}

TEST(WsReader, UnknownOpcodes) {
  for (std::uint8_t op : {3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf})
    EXPECT_EQ(error_of(frame(fin | op, "x")), ws::close_code::protocol_error) << int(op);
}

TEST(WsReader, BadControlFrames) {
  EXPECT_EQ(error_of(frame(fin | op_ping, std::string(126, 'x'))), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(op_ping, "x")), ws::close_code::protocol_error);  // fragmented
  // A control frame's length always fits the first length field (data frames may use a longer one).
  EXPECT_EQ(error_of(frame(fin | op_pong, "x", rfc_key, true, len_form::bits16)), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(fin | op_close, "\x03"s)), ws::close_code::protocol_error);  // one byte
}

TEST(WsReader, BadContinuation) {
  EXPECT_EQ(error_of(frame(fin | op_cont, "x")), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(op_cont, "x")), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(op_text, "a") + frame(fin | op_text, "b")), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(op_text, "a") + frame(fin | op_bin, "b")), ws::close_code::protocol_error);
  EXPECT_EQ(error_of(frame(fin | op_text, "a") + frame(fin | op_cont, "b")), ws::close_code::protocol_error);
}

TEST(WsReader, LengthWithTheTopBitSet) {
  std::string f = bytes({0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4});
  EXPECT_EQ(error_of(f, SIZE_MAX), ws::close_code::protocol_error);
}

TEST(WsReader, TooBigAsSoonAsTheHeaderSaysSo) {
  // Only the header is fed: the error comes without the payload.
  const std::string f = frame(fin | op_bin, std::string(101, 'x')).substr(0, 6);
  ws::frame_reader r(100);
  std::vector<char> b(f.begin(), f.end());
  r.feed(b);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), ws::close_code::message_too_big);

  EXPECT_EQ(error_of(frame(fin | op_bin, std::string(100, 'x')), 100), 0);
  const std::string huge = bytes({0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4});
  EXPECT_EQ(error_of(huge, 100), ws::close_code::message_too_big);
  // Across fragments: 60 + 41 > 100.
  EXPECT_EQ(error_of(frame(op_text, std::string(60, 'x')) + frame(fin | op_cont, std::string(41, 'x')), 100),
            ws::close_code::message_too_big);
  EXPECT_EQ(error_of(frame(op_text, std::string(60, 'x')) + frame(fin | op_cont, std::string(40, 'x')), 100), 0);
  // Control frames do not count.
  EXPECT_EQ(error_of(frame(op_text, std::string(60, 'x')) + frame(fin | op_ping, std::string(100, 'p')) +
                         frame(fin | op_cont, std::string(40, 'x')),
                     100),
            0);
  EXPECT_EQ(error_of(frame(fin | op_text, ""), 0), 0);
  EXPECT_EQ(error_of(frame(fin | op_text, "x"), 0), ws::close_code::message_too_big);
}

TEST(WsReader, TextMustBeUtf8) {
  EXPECT_EQ(error_of(frame(fin | op_text, "\xff")), ws::close_code::invalid_payload);
  EXPECT_EQ(error_of(frame(fin | op_text, "ab\xc3")), ws::close_code::invalid_payload);
  EXPECT_EQ(error_of(frame(fin | op_bin, "\xff")), 0);  // binary is anything
  // A sequence split between fragments is fine once reassembled.
  const result r = read_all(frame(op_text, "\xe2\x82") + frame(fin | op_cont, "\xac"));
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, std::vector<event>{text("\xe2\x82\xac")});
  EXPECT_EQ(error_of(frame(op_text, "\xe2\x82") + frame(fin | op_cont, "x")), ws::close_code::invalid_payload);
}

TEST(WsReader, CloseFrames) {
  EXPECT_EQ(read_all(frame(fin | op_close, "")).events, std::vector<event>{close_ev(ws::close_code::no_status)});
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999}) {
    const result r = read_all(frame(fin | op_close, close_payload(code, "why")));
    EXPECT_EQ(r.error, 0) << code;
    EXPECT_EQ(r.events, std::vector<event>{close_ev(code, "why")}) << code;
  }
  for (std::uint16_t code : {0, 999, 1004, 1005, 1006, 1012, 1015, 1016, 2000, 2999, 5000, 65535})
    EXPECT_EQ(error_of(frame(fin | op_close, close_payload(code))), ws::close_code::protocol_error) << code;
  EXPECT_EQ(error_of(frame(fin | op_close, close_payload(1000, "\xc0\xaf"))), ws::close_code::invalid_payload);
  // What close_frame() builds, masked, is read back.
  const std::string sent = ws::close_frame(4000, "r\xc3\xa9son");
  std::string f = frame(fin | op_close, std::string_view(sent).substr(2));
  EXPECT_EQ(read_all(f).events, std::vector<event>{close_ev(4000, "r\xc3\xa9son")});
}

TEST(WsReader, NothingIsReadAfterClose) {
  ws::frame_reader r(100);
  std::string s = frame(fin | op_close, close_payload(1000)) + frame(fin | op_text, "x");
  std::vector<char> b(s.begin(), s.end());
  r.feed(b);
  auto ev = r.next();
  ASSERT_TRUE(ev);
  EXPECT_EQ(ev->type, kind::close);
  EXPECT_FALSE(r.next());
  const std::string more = frame(fin | op_text, "y");
  std::vector<char> m(more.begin(), more.end());
  r.feed(m);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), 0);
  EXPECT_EQ(r.held_bytes(), 0u);
  EXPECT_EQ(m[2], more[2]);  // not even unmasked
}

TEST(WsReader, NothingIsReadAfterAnError) {
  ws::frame_reader r(100);
  std::string s = frame(fin | op_text, "a") + frame(fin | 3, "x") + frame(fin | op_text, "b");
  const result got = read_chunks(r, {s, frame(fin | op_text, "c")});
  EXPECT_EQ(got.events, std::vector<event>{text("a")});
  EXPECT_EQ(got.error, ws::close_code::protocol_error);
  EXPECT_EQ(r.held_bytes(), 0u);
}

TEST(WsReader, ErrorsInEverySplit) {
  // The same error, with the same events before it, wherever the stream is cut.
  const std::vector<std::pair<std::string, std::uint16_t>> cases = {
      {frame(fin | op_text, "ok") + frame(fin | op_text, "\xed\xa0\x80"), ws::close_code::invalid_payload},
      {frame(fin | op_text, "ok") + frame(op_text, "a") + frame(fin | op_ping, "p") + frame(fin | op_bin, "b"),
       ws::close_code::protocol_error},
      {frame(fin | op_text, "ok") + frame(op_text, std::string(150, 'a')) + frame(fin | op_cont, std::string(51, 'a')),
       ws::close_code::message_too_big},
      {frame(fin | op_text, "ok") + frame(fin | op_close, close_payload(1005)), ws::close_code::protocol_error},
      {frame(fin | op_text, "ok") + frame(fin | op_text, "x", rfc_key, false), ws::close_code::protocol_error},
  };
  for (const auto& [s, code] : cases) {
    for (std::size_t cut = 0; cut <= s.size(); ++cut) {
      ws::frame_reader r(200);
      const result got = read_chunks(r, {s.substr(0, cut), s.substr(cut)});
      EXPECT_EQ(got.error, code) << "cut at " << cut;
      ASSERT_FALSE(got.events.empty());
      EXPECT_EQ(got.events[0], text("ok"));
    }
  }
}

// ---- UTF-8 ----

TEST(WsUtf8, Validation) {
  EXPECT_TRUE(ws::valid_utf8(""));
  EXPECT_TRUE(ws::valid_utf8("plain ascii, long enough for the eight-byte path"));
  EXPECT_TRUE(ws::valid_utf8("\x7f"));
  EXPECT_TRUE(ws::valid_utf8("\xc2\x80"));                 // U+0080
  EXPECT_TRUE(ws::valid_utf8("\xdf\xbf"));                 // U+07FF
  EXPECT_TRUE(ws::valid_utf8("\xe0\xa0\x80"));             // U+0800
  EXPECT_TRUE(ws::valid_utf8("\xed\x9f\xbf"));             // U+D7FF
  EXPECT_TRUE(ws::valid_utf8("\xee\x80\x80"));             // U+E000
  EXPECT_TRUE(ws::valid_utf8("\xef\xbf\xbf"));             // U+FFFF
  EXPECT_TRUE(ws::valid_utf8("\xf0\x90\x80\x80"));         // U+10000
  EXPECT_TRUE(ws::valid_utf8("\xf4\x8f\xbf\xbf"));         // U+10FFFF
  EXPECT_TRUE(ws::valid_utf8("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"));  // "κόσμε"
  EXPECT_TRUE(ws::valid_utf8(std::string_view("a\0b", 3)));

  EXPECT_FALSE(ws::valid_utf8("\x80"));                    // lone continuation
  EXPECT_FALSE(ws::valid_utf8("\xbf"));
  EXPECT_FALSE(ws::valid_utf8("\xc0\x80"));                // overlong NUL
  EXPECT_FALSE(ws::valid_utf8("\xc1\xbf"));                // overlong
  EXPECT_FALSE(ws::valid_utf8("\xe0\x80\xaf"));            // overlong '/'
  EXPECT_FALSE(ws::valid_utf8("\xe0\x9f\xbf"));            // overlong U+07FF
  EXPECT_FALSE(ws::valid_utf8("\xf0\x80\x80\xaf"));        // overlong
  EXPECT_FALSE(ws::valid_utf8("\xf0\x8f\xbf\xbf"));        // overlong U+FFFF
  EXPECT_FALSE(ws::valid_utf8("\xed\xa0\x80"));            // U+D800, a surrogate
  EXPECT_FALSE(ws::valid_utf8("\xed\xbf\xbf"));            // U+DFFF
  EXPECT_FALSE(ws::valid_utf8("\xed\xa0\x80\xed\xb0\x80"));  // a surrogate pair (CESU-8)
  EXPECT_FALSE(ws::valid_utf8("\xf4\x90\x80\x80"));        // U+110000
  EXPECT_FALSE(ws::valid_utf8("\xf5\x80\x80\x80"));
  EXPECT_FALSE(ws::valid_utf8("\xf8\x88\x80\x80\x80"));    // five bytes
  EXPECT_FALSE(ws::valid_utf8("\xfe"));
  EXPECT_FALSE(ws::valid_utf8("\xff"));
  EXPECT_FALSE(ws::valid_utf8("\xc3"));                    // truncated
  EXPECT_FALSE(ws::valid_utf8("\xe2\x82"));
  EXPECT_FALSE(ws::valid_utf8("\xf0\x9f\x98"));
  EXPECT_FALSE(ws::valid_utf8("\xe2\x28\xa1"));            // bad continuation
  EXPECT_FALSE(ws::valid_utf8("\xf0\x9f\x28\x80"));
  EXPECT_FALSE(ws::valid_utf8("\xf0\x9f\x98\x28"));
  EXPECT_FALSE(ws::valid_utf8("\xc3\x28"));
}

TEST(WsUtf8, InvalidBytesAtEveryPositionOfTheFastPath) {
  for (std::size_t len = 1; len < 40; ++len)
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\x80';
      EXPECT_FALSE(ws::valid_utf8(s)) << len << " " << at;
      s[at] = '\xc3';
      EXPECT_EQ(ws::valid_utf8(s), false) << len << " " << at;  // followed by 'a' or nothing
      if (at + 1 < len) {
        s[at + 1] = '\xa9';
        EXPECT_TRUE(ws::valid_utf8(s)) << len << " " << at;
      }
    }
}

TEST(WsUtf8, AgreesWithADecoderOnAllShortSequences) {
  // Every 1- and 2-byte string, and every 3-byte string with a lead byte >= 0xe0, against a
  // straightforward decoder.
  auto reference = [](std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
      const auto c = static_cast<unsigned char>(s[i]);
      std::uint32_t cp;
      std::size_t n;
      if (c < 0x80) { cp = c; n = 1; }
      else if ((c & 0xe0) == 0xc0) { cp = c & 0x1f; n = 2; }
      else if ((c & 0xf0) == 0xe0) { cp = c & 0x0f; n = 3; }
      else if ((c & 0xf8) == 0xf0) { cp = c & 0x07; n = 4; }
      else return false;
      if (i + n > s.size()) return false;
      for (std::size_t k = 1; k < n; ++k) {
        const auto d = static_cast<unsigned char>(s[i + k]);
        if ((d & 0xc0) != 0x80) return false;
        cp = (cp << 6) | (d & 0x3f);
      }
      const std::uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
      if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
      i += n;
    }
    return true;
  };
  std::string s;
  for (int a = 0; a < 256; ++a) {
    s = std::string(1, static_cast<char>(a));
    ASSERT_EQ(ws::valid_utf8(s), reference(s)) << a;
    for (int b = 0; b < 256; ++b) {
      s = {static_cast<char>(a), static_cast<char>(b)};
      ASSERT_EQ(ws::valid_utf8(s), reference(s)) << a << " " << b;
    }
  }
  for (int a = 0xe0; a < 0x100; ++a)
    for (int b = 0x70; b < 0xd0; ++b)
      for (int c = 0x70; c < 0xd0; c += 7) {
        s = {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), '\x80'};
        ASSERT_EQ(ws::valid_utf8(s), reference(s)) << a << " " << b << " " << c;
      }
}

// ---- permessage-deflate ----

namespace {
ws::deflate_params takeover() { return ws::deflate_params{}; }  // the client keeps its context
ws::deflate_params no_takeover() {
  ws::deflate_params d;
  d.client_no_context_takeover = true;
  return d;
}
std::string compress(ws::deflater& d, std::string_view s) {
  const std::string_view pieces[] = {s};
  return d.compress(pieces);
}
}  // namespace

TEST(WsDeflate, Rfc7692HelloExample) {
  // Section 7.2.3.1: "Hello" compressed, in one unmasked frame c1 07 f2 48 cd c9 c9 07 00.
  ws::deflater d(ws::deflate_params{});
  const std::string c = compress(d, "Hello");
  EXPECT_EQ(c, hex_to_bytes("f2 48 cd c9 c9 07 00"));
  unsigned char h[ws::max_header_size];
  const std::size_t n = ws::encode_header(ws::opcode::text, c.size(), true, h);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(h), n) + c, hex_to_bytes("c1 07 f2 48 cd c9 c9 07 00"));

  // From a client, masked.
  const result r = read_all(frame(fin | rsv1 | op_text, hex_to_bytes("f2 48 cd c9 c9 07 00")), 100, takeover());
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, std::vector<event>{text("Hello")});
}

TEST(WsDeflate, Rfc7692OtherExamples) {
  // 7.2.3.2: the second "Hello" using the first one's window (context takeover).
  std::string s = frame(fin | rsv1 | op_text, hex_to_bytes("f2 48 cd c9 c9 07 00")) +
                  frame(fin | rsv1 | op_text, hex_to_bytes("f2 00 11 00 00"));
  EXPECT_EQ(read_all(s, 100, takeover()).events, (std::vector<event>{text("Hello"), text("Hello")}));
  // 7.2.3.3: no compression (a stored block).
  s = frame(fin | rsv1 | op_text, hex_to_bytes("00 05 00 fa ff 48 65 6c 6c 6f 00"));
  EXPECT_EQ(read_all(s, 100, takeover()).events, std::vector<event>{text("Hello")});
  // 7.2.3.4: a compressed message in two fragments.
  s = bytes({0x41, 0x83, 1, 2, 3, 4, 0xf2 ^ 1, 0x48 ^ 2, 0xcd ^ 3}) + frame(fin | op_cont, hex_to_bytes("c9 c9 07 00"));
  EXPECT_EQ(read_all(s, 100, takeover()).events, std::vector<event>{text("Hello")});
  // 7.2.3.5: a final block (BFINAL set).
  s = frame(fin | rsv1 | op_text, hex_to_bytes("f3 48 cd c9 c9 07 00 00"));
  EXPECT_EQ(read_all(s, 100, takeover()).events, std::vector<event>{text("Hello")});
  // 7.2.3.6: two DEFLATE blocks in one message.
  s = frame(fin | rsv1 | op_text, hex_to_bytes("f2 48 05 00 00 00 ff ff ca c9 c9 07 00"));
  EXPECT_EQ(read_all(s, 100, takeover()).events, std::vector<event>{text("Hello")});
}

TEST(WsDeflate, RoundTripWithSplits) {
  ws::deflater d(ws::deflate_params{});
  std::string big;
  for (int i = 0; i < 5000; ++i) big += "message number " + std::to_string(i) + " \xe2\x82\xac; ";
  const std::string pieces_src[] = {"4", big};
  const std::string_view pieces[] = {pieces_src[0], pieces_src[1]};
  const std::string c1 = d.compress(pieces);
  EXPECT_LT(c1.size(), big.size() / 4);
  const std::string c2 = compress(d, "");
  EXPECT_EQ(c2, "\0"s);  // RFC 7692 7.2.3.6: an empty message
  const std::string c3 = compress(d, "\x01\x02\x03");

  const std::string s = frame(fin | rsv1 | op_text, c1) + frame(fin | op_ping, "p") + frame(fin | rsv1 | op_bin, c2) +
                        frame(fin | op_text, "uncompressed") + frame(fin | rsv1 | op_bin, c3, {9, 9, 9, 9});
  const std::vector<event> expected = {text("4" + big), ping("p"), binary(""), text("uncompressed"),
                                       binary("\x01\x02\x03")};
  for (auto params : {takeover(), no_takeover()}) {
    EXPECT_EQ(read_all(s, 1 << 20, params), (result{expected, 0}));
    std::mt19937 rng(7);
    for (int round = 0; round < 50; ++round) {
      std::vector<std::string> chunks;
      for (std::size_t at = 0; at < s.size();) {
        const std::size_t n = std::min<std::size_t>(s.size() - at, 1 + rng() % 3000);
        chunks.push_back(s.substr(at, n));
        at += n;
      }
      ws::frame_reader r(1 << 20);
      r.enable_deflate(params);
      ASSERT_EQ(read_chunks(r, chunks), (result{expected, 0})) << round;
    }
  }
}

TEST(WsDeflate, FragmentedCompressedMessage) {
  ws::deflater d(ws::deflate_params{});
  const std::string msg(10000, 'x');
  const std::string c = compress(d, msg);
  const std::size_t half = c.size() / 2;
  const std::string s = frame(rsv1 | op_text, c.substr(0, half)) + frame(fin | op_ping, "") +
                        frame(fin | op_cont, c.substr(half));
  const result r = read_all(s, 1 << 20, takeover());
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(r.events, (std::vector<event>{ping(""), text(msg)}));
}

TEST(WsDeflate, PiecesAreConcatenated) {
  ws::deflater d(ws::deflate_params{});
  const std::string_view pieces[] = {"4", "[\"chat\",", "", "\"hello\"]"};
  const std::string c = d.compress(pieces);
  EXPECT_EQ(read_all(frame(fin | rsv1 | op_text, c), 100, takeover()).events,
            std::vector<event>{text("4[\"chat\",\"hello\"]")});
  // server_no_context_takeover: each message alone, so the same input compresses the same.
  EXPECT_EQ(d.compress(pieces), c);
}

TEST(WsDeflate, ClientContextTakeover) {
  // A client compressor keeping its window: the second message refers to the first. The
  // reader must keep its inflate state across messages and across feeds.
  ws::deflate_params client;
  client.server_no_context_takeover = false;  // a compressor that keeps its context
  ws::deflater d(client);
  const std::string m = "the same sentence, again and again and again";
  const std::string c1 = compress(d, m), c2 = compress(d, m), c3 = compress(d, m);
  EXPECT_LT(c2.size(), c1.size());
  ws::frame_reader r(1000);
  r.enable_deflate(takeover());
  const result got = read_chunks(r, {frame(fin | rsv1 | op_text, c1) + frame(fin | rsv1 | op_text, c2),
                                     frame(fin | rsv1 | op_text, c3)});
  EXPECT_EQ(got, (result{{text(m), text(m), text(m)}, 0}));
  // Read with a reset between messages, the second one cannot be inflated alone.
  ws::frame_reader alone(1000);
  alone.enable_deflate(no_takeover());
  const result bad = read_chunks(alone, {frame(fin | rsv1 | op_text, c1) + frame(fin | rsv1 | op_text, c2)});
  EXPECT_EQ(bad.error, ws::close_code::invalid_payload);
}

TEST(WsDeflate, NoContextTakeoverResetsBetweenMessages) {
  ws::deflater d(ws::deflate_params{});  // server_no_context_takeover: each message alone
  const std::string c = compress(d, "same message");
  ws::frame_reader r(1000);
  r.enable_deflate(no_takeover());
  const result got = read_chunks(r, {frame(fin | rsv1 | op_text, c) + frame(fin | rsv1 | op_text, c),
                                     frame(fin | rsv1 | op_text, c)});
  EXPECT_EQ(got, (result{{text("same message"), text("same message"), text("same message")}, 0}));
}

TEST(WsDeflate, DecompressedSizeIsBounded) {
  ws::deflater d(ws::deflate_params{});
  const std::string zeros(1 << 20, '\0');
  const std::string c = compress(d, zeros);
  EXPECT_LT(c.size(), 2000u);
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_bin, c), 1000, takeover()), ws::close_code::message_too_big);
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_bin, c), (1 << 20) - 1, takeover()), ws::close_code::message_too_big);
  const result exact = read_all(frame(fin | rsv1 | op_bin, c), 1 << 20, takeover());
  EXPECT_EQ(exact.error, 0);
  ASSERT_EQ(exact.events.size(), 1u);
  EXPECT_EQ(exact.events[0].payload.size(), zeros.size());
}

TEST(WsDeflate, CorruptDataIsInvalidPayload) {
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_text, "\xff\xff\xff\xff"), 100, takeover()),
            ws::close_code::invalid_payload);
  // Compressed text must be UTF-8 once inflated.
  ws::deflater d(ws::deflate_params{});
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_text, compress(d, "\xff")), 100, takeover()),
            ws::close_code::invalid_payload);
  EXPECT_EQ(error_of(frame(fin | rsv1 | op_bin, compress(d, "\xff")), 100, takeover()), 0);
}

TEST(WsDeflate, SmallerWindows) {
  ws::deflate_params p;
  p.server_max_window_bits = 9;
  ws::deflater d(p);
  std::string msg;
  for (int i = 0; i < 2000; ++i) msg += static_cast<char>('a' + (i * 7) % 26);
  const std::string c = compress(d, msg);
  ws::deflate_params client;
  client.client_max_window_bits = 9;
  EXPECT_EQ(read_all(frame(fin | rsv1 | op_text, c), 10000, client).events, std::vector<event>{text(msg)});
}
