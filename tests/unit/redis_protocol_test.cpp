// What of the Redis client is pure: the RESP2 parser and encoder, redis:// URLs, the backoff.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sio/redis/backoff.hpp"
#include "sio/redis/resp.hpp"
#include "sio/redis/url.hpp"

namespace sio::redis {
// gtest prints replies readably.
inline void PrintTo(const reply& r, std::ostream* os) { *os << describe(r); }
}  // namespace sio::redis

namespace {

using sio::redis::error;
using sio::redis::reply;
using sio::redis::reply_parser;
using sio::redis::resp_limits;
using sio::redis::status_reply;
using sio::redis::error_reply;
using namespace std::chrono_literals;

std::vector<reply> parse_all(std::string_view bytes, std::error_code* ec = nullptr, resp_limits limits = {}) {
  reply_parser p(limits);
  p.feed(bytes);
  std::vector<reply> out;
  while (auto r = p.next()) out.push_back(std::move(*r));
  if (ec) *ec = p.error();
  return out;
}

// Byte by byte: the same replies as whole.
std::vector<reply> parse_bytewise(std::string_view bytes, std::error_code* ec = nullptr, resp_limits limits = {}) {
  reply_parser p(limits);
  std::vector<reply> out;
  for (char c : bytes) {
    p.feed(std::string_view(&c, 1));
    while (auto r = p.next()) out.push_back(std::move(*r));
  }
  if (ec) *ec = p.error();
  return out;
}

std::error_code parse_error(std::string_view bytes, resp_limits limits = {}) {
  std::error_code whole, split;
  parse_all(bytes, &whole, limits);
  parse_bytewise(bytes, &split, limits);
  EXPECT_EQ(whole, split) << "fed whole and byte by byte differ";
  return whole;
}

TEST(RedisResp, EveryTypeOfReply) {
  using namespace std::string_literals;
  const std::string wire =
      "+OK\r\n"
      "-WRONGTYPE Operation against a key\r\n"
      ":42\r\n"
      ":-9223372036854775808\r\n"
      "$11\r\nbin\r\n\0\xff" "data\r\n"s
      "$0\r\n\r\n"
      "$-1\r\n"
      "*-1\r\n"
      "*0\r\n"
      "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+x\r\n";
  const std::vector<reply> expected = {
      reply(status_reply{"OK"}),
      reply(error_reply{"WRONGTYPE Operation against a key"}),
      reply(std::int64_t{42}),
      reply(std::numeric_limits<std::int64_t>::min()),
      reply("bin\r\n\0\xff" "data"s),
      reply(std::string()),
      reply(),
      reply(),
      reply(reply::array{}),
      reply(reply::array{reply(std::int64_t{1}), reply(reply::array{reply("a"s), reply()}), reply(status_reply{"x"})}),
  };
  std::error_code ec;
  EXPECT_EQ(parse_all(wire, &ec), expected);
  EXPECT_FALSE(ec);
  EXPECT_EQ(parse_bytewise(wire, &ec), expected);
  EXPECT_FALSE(ec);
}

TEST(RedisResp, AccessorsAndDescribe) {
  const reply r(reply::array{reply(std::int64_t{7}), reply(std::string("a\x01")), reply()});
  ASSERT_TRUE(r.is_array());
  EXPECT_EQ(r.elements()[0].integer(), 7);
  EXPECT_TRUE(r.elements()[2].is_nil());
  EXPECT_THROW((void)r.elements()[1].integer(), std::bad_variant_access);
  EXPECT_EQ(sio::redis::describe(r), "[7, \"a\\x01\", nil]");
  EXPECT_EQ(sio::redis::to_string(reply::kind::bulk), "bulk string");
}

TEST(RedisResp, IncompleteInputWaitsAndKeepsItsPlace) {
  reply_parser p;
  p.feed("*2\r\n$5\r\nhel");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.error());
  p.feed("lo\r");
  EXPECT_FALSE(p.next());
  p.feed("\n:3");
  EXPECT_FALSE(p.next());
  p.feed("\r\n+next\r\n");
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, reply(reply::array{reply(std::string("hello")), reply(std::int64_t{3})}));
  r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status(), "next");
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.buffered(), 0u);
}

TEST(RedisResp, PrepareAndCommitReceiveWithoutACopy) {
  reply_parser p;
  const std::string wire = "$3\r\nabc\r\n";
  auto room = p.prepare(4);
  ASSERT_GE(room.size(), 4u);
  std::copy(wire.begin(), wire.begin() + 4, room.begin());
  p.commit(4);
  EXPECT_FALSE(p.next());
  room = p.prepare(wire.size() - 4);
  std::copy(wire.begin() + 4, wire.end(), room.begin());
  p.commit(wire.size() - 4);
  auto r = p.next();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bulk(), "abc");
}

TEST(RedisResp, MalformedInputIsRefusedForGood) {
  EXPECT_EQ(parse_error("x\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("%1\r\n+a\r\n+b\r\n"), error::unsupported_resp3);
  EXPECT_EQ(parse_error("_\r\n"), error::unsupported_resp3);
  EXPECT_EQ(parse_error(":12a\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error(":+1\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error(":\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error(":99999999999999999999\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("$-2\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("$ 1\r\na\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("$3\r\nabcd\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("*-5\r\n"), error::protocol_error);
  EXPECT_EQ(parse_error("+OK\rX"), error::protocol_error);

  reply_parser p;
  p.feed("+OK\r\n?bad\r\n+later\r\n");
  EXPECT_TRUE(p.next());  // what came before the error is still given
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.error(), error::protocol_error);
  p.feed("+more\r\n");
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.buffered(), 0u);
  p.reset();
  p.feed("+fresh\r\n");
  ASSERT_TRUE(p.next());
}

TEST(RedisResp, LimitsAreEnforcedWhileParsing) {
  resp_limits small;
  small.max_line = 8;
  small.max_bulk = 4;
  small.max_elements = 5;
  small.max_depth = 2;
  std::error_code ec;
  EXPECT_EQ(parse_all("+12345678\r\n", &ec, small).size(), 1u);
  EXPECT_EQ(parse_error("+123456789\r\n", small), error::line_too_long);
  EXPECT_EQ(parse_error("+123456789", small), error::line_too_long);  // before its end arrives
  EXPECT_EQ(parse_all("$4\r\nabcd\r\n", &ec, small).size(), 1u);
  EXPECT_EQ(parse_error("$5\r\n", small), error::bulk_too_long);  // refused at the header
  EXPECT_EQ(parse_all("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n:4\r\n", &ec, small).size(), 1u);
  EXPECT_FALSE(ec);
  // Elements count over the whole reply, all levels: 2 + 3 + 1.
  EXPECT_EQ(parse_error("*2\r\n*3\r\n:1\r\n:2\r\n:3\r\n*1\r\n:4\r\n", small), error::too_many_elements);
  EXPECT_EQ(parse_error("*1\r\n*1\r\n*1\r\n:1\r\n", small), error::nesting_too_deep);
  EXPECT_EQ(parse_error("*1\r\n*1\r\n*0\r\n", small), error::nesting_too_deep);  // empty, still an array
  // The count starts again with each reply.
  EXPECT_EQ(parse_all("*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n*5\r\n:1\r\n:1\r\n:1\r\n:1\r\n:1\r\n", &ec, small).size(), 2u);
  EXPECT_FALSE(ec);
  // A huge announced array costs nothing until its elements arrive.
  reply_parser p;
  p.feed("*16000000\r\n:1\r\n");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.error());
}

TEST(RedisResp, CommandsAreArraysOfBulkStrings) {
  std::string out;
  const std::string_view set[] = {"SET", "k", std::string_view("v\r\n\0", 4), ""};
  sio::redis::append_command(out, set);
  EXPECT_EQ(out, std::string("*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\nv\r\n\0\r\n$0\r\n\r\n", 36));
  const std::string_view ping[] = {"PING"};
  sio::redis::append_command(out, ping);
  EXPECT_TRUE(out.ends_with("*1\r\n$4\r\nPING\r\n"));
}

// ---- URLs ----

TEST(RedisUrl, TheFormsThatAreAccepted) {
  auto a = sio::redis::parse_url("redis://127.0.0.1:6380");
  ASSERT_TRUE(a) << a.error().message();
  EXPECT_EQ(a->host, "127.0.0.1");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->password, "");
  EXPECT_EQ(a->db, 0u);

  a = sio::redis::parse_url("redis://localhost");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "localhost");
  EXPECT_EQ(a->port, 6379);

  a = sio::redis::parse_url("redis://:s3cr%40t@redis.internal:7000/2");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "redis.internal");
  EXPECT_EQ(a->port, 7000);
  EXPECT_EQ(a->username, "");
  EXPECT_EQ(a->password, "s3cr@t");
  EXPECT_EQ(a->db, 2u);

  a = sio::redis::parse_url("redis://app:pw@[::1]:6379/");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->username, "app");
  EXPECT_EQ(a->password, "pw");
  EXPECT_EQ(a->db, 0u);

  a = sio::redis::parse_url("REDIS://h/15");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->db, 15u);
}

TEST(RedisUrl, WhatIsWrongIsSaid) {
  auto err = [](std::string_view url) {
    auto a = sio::redis::parse_url(url);
    return a ? std::error_code() : a.error();
  };
  EXPECT_EQ(err("rediss://h:6380"), error::url_tls_unsupported);
  EXPECT_EQ(err("rediss://"), error::url_tls_unsupported);
  EXPECT_EQ(err("http://h"), error::url_scheme);
  EXPECT_EQ(err("unix:///tmp/redis.sock"), error::url_scheme);
  EXPECT_EQ(err("127.0.0.1:6379"), error::url_scheme);
  EXPECT_EQ(err("not a url"), error::url_scheme);
  EXPECT_EQ(err("redis://a b"), error::url_invalid);
  EXPECT_EQ(err("redis://"), error::url_missing_host);
  EXPECT_EQ(err("redis:///0"), error::url_missing_host);
  EXPECT_EQ(err("redis://h:0"), error::url_invalid_port);
  EXPECT_EQ(err("redis://h:65536"), error::url_invalid_port);
  EXPECT_EQ(err("redis://h:"), error::url_invalid_port);
  EXPECT_EQ(err("redis://user@h"), error::url_invalid_userinfo);
  EXPECT_EQ(err("redis://user:@h"), error::url_invalid_userinfo);
  EXPECT_EQ(err("redis://h/db1"), error::url_invalid_db);
  EXPECT_EQ(err("redis://h/1/2"), error::url_invalid_db);
  EXPECT_EQ(err("redis://h/-1"), error::url_invalid_db);
  EXPECT_EQ(err("redis://h/99999999999"), error::url_invalid_db);
  EXPECT_EQ(err("redis://h?db=1"), error::url_unexpected_part);
  EXPECT_EQ(err("redis://h#x"), error::url_unexpected_part);
  // Each says it in words a configuration error can show as they are.
  EXPECT_NE(std::error_code(error::url_tls_unsupported).message().find("rediss://"), std::string::npos);
}

TEST(RedisUrl, PrintedWithThePasswordMasked) {
  EXPECT_EQ(sio::redis::to_string(sio::redis::parse_url("redis://:pw@h:1/3").value()), "redis://:***@h:1/3");
  EXPECT_EQ(sio::redis::to_string(sio::redis::parse_url("redis://u:pw@[::1]").value()), "redis://u:***@[::1]:6379");
  EXPECT_EQ(sio::redis::to_string(sio::redis::parse_url("redis://h").value()), "redis://h:6379");
}

// ---- backoff ----

TEST(RedisBackoff, DoublesUpToTheBound) {
  sio::redis::backoff_policy p;
  p.initial = 100ms;
  p.max = 1000ms;
  p.jitter = 0;
  std::vector<long long> delays;
  for (unsigned attempt = 1; attempt <= 6; ++attempt)
    delays.push_back(sio::redis::backoff_delay(p, attempt, 0.9).count());
  EXPECT_EQ(delays, (std::vector<long long>{100, 200, 400, 800, 1000, 1000}));
  EXPECT_EQ(sio::redis::backoff_delay(p, 1'000'000, 0.5), 1000ms);  // no overflow
}

TEST(RedisBackoff, JitterDrawsBelowTheDelay) {
  sio::redis::backoff_policy p;
  p.initial = 400ms;
  p.max = 400ms;
  p.jitter = 0.5;
  EXPECT_EQ(sio::redis::backoff_delay(p, 3, 0.0), 400ms);
  EXPECT_EQ(sio::redis::backoff_delay(p, 3, 0.5), 300ms);
  EXPECT_EQ(sio::redis::backoff_delay(p, 3, 0.999), 200ms);
  p.jitter = 1;
  EXPECT_EQ(sio::redis::backoff_delay(p, 3, 0.999), 0ms);
}

TEST(RedisBackoff, BadPoliciesAreNamed) {
  sio::redis::backoff_policy p;
  EXPECT_EQ(sio::redis::validate(p), "");
  p.initial = 0ms;
  EXPECT_NE(sio::redis::validate(p), "");
  p = {};
  p.max = 10ms;
  EXPECT_NE(sio::redis::validate(p), "");
  p = {};
  p.multiplier = 0.5;
  EXPECT_NE(sio::redis::validate(p), "");
  p = {};
  p.jitter = 1.5;
  EXPECT_NE(sio::redis::validate(p), "");
}

}  // namespace
