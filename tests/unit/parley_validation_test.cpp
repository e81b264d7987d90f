// The blueprint: validation of incoming payloads (the contract's BAD_REQUEST rules) and the JSON
// shapes of outgoing payloads.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "parley/events.hpp"

namespace ev = parley::events;
namespace json = boost::json;

namespace {
json::array args(std::string_view text) { return json::parse(text).as_array(); }
const ev::limits lim{.max_message_length = 10};
const std::vector<sio::binary> no_bins;
}  // namespace

TEST(CodePoints, CountsCharactersNotBytes) {
  EXPECT_EQ(ev::code_points(""), 0u);
  EXPECT_EQ(ev::code_points("abc"), 3u);
  EXPECT_EQ(ev::code_points("\xC3\xA9t\xC3\xA9"), 3u);            // été
  EXPECT_EQ(ev::code_points("\xF0\x9F\x98\x80\xF0\x9F\x98\x80"), 2u);  // two emoji
}

TEST(ParseSend, Valid) {
  auto r = ev::parse_send(args(R"([{"conversationId":"general","content":"hi","clientMessageId":"c1"}])"), no_bins, lim);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->conversationId, "general");
  EXPECT_EQ(r->content, "hi");
  EXPECT_EQ(r->clientMessageId.value(), "c1");
  EXPECT_TRUE(r->attachments.empty());
}

TEST(ParseSend, EachBadRequestRule) {
  auto expect_bad = [](std::string_view text) {
    auto r = ev::parse_send(args(text), no_bins, lim);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, "BAD_REQUEST") << text;
    EXPECT_FALSE(r.error().message.empty());
  };
  expect_bad(R"([])");
  expect_bad(R"(["general"])");
  expect_bad(R"([{"content":"hi"}])");                               // missing conversationId
  expect_bad(R"([{"conversationId":42,"content":"hi"}])");           // non-string conversationId
  expect_bad(R"([{"conversationId":"","content":"hi"}])");
  expect_bad(R"([{"conversationId":"g"}])");                         // missing content
  expect_bad(R"([{"conversationId":"g","content":""}])");            // empty content
  expect_bad(R"([{"conversationId":"g","content":"   "}])");         // blank content
  expect_bad(R"([{"conversationId":"g","content":5}])");             // non-string content
  expect_bad(R"([{"conversationId":"g","content":{"t":"x"}}])");
  expect_bad(R"([{"conversationId":"g","content":"12345678901"}])");  // 11 > 10
  expect_bad(R"([{"conversationId":"g","content":"x","clientMessageId":7}])");
  expect_bad(R"([{"conversationId":"g","content":"x","attachments":"f1"}])");
  expect_bad(R"([{"conversationId":"g","content":"x","attachments":[{"id":"f1"}]}])");
  expect_bad(R"([{"conversationId":"g","content":"x","attachments":[{"fileId":3}]}])");
}

TEST(ParseSend, LengthInCodePoints) {
  // Ten 4-byte emoji: 40 bytes but 10 characters: allowed at a limit of 10.
  std::string ten;
  for (int i = 0; i < 10; ++i) ten += "\xF0\x9F\x98\x80";
  json::array a{json::object{{"conversationId", "g"}, {"content", ten}}};
  EXPECT_TRUE(ev::parse_send(a, no_bins, lim));
  a[0].as_object()["content"] = ten + "x";
  EXPECT_FALSE(ev::parse_send(a, no_bins, lim));
}

TEST(ParseSend, Attachments) {
  auto r = ev::parse_send(
      args(R"([{"conversationId":"g","content":"x","attachments":[{"fileId":"f1"},{"_placeholder":true,"num":0},
               {"data":{"_placeholder":true,"num":1},"name":"a.png","contentType":"image/png"}]}])"),
      {sio::binary(std::string("abc")), sio::binary(std::string("png"))}, lim);
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->attachments.size(), 3u);
  EXPECT_EQ(r->attachments[0].fileId.value(), "f1");
  EXPECT_EQ(r->attachments[1].data->view(), "abc");
  EXPECT_EQ(r->attachments[2].data->view(), "png");
  EXPECT_EQ(r->attachments[2].name, "a.png");
  EXPECT_EQ(r->attachments[2].contentType, "image/png");
  // A placeholder for an attachment that was not sent.
  EXPECT_FALSE(ev::parse_send(args(R"([{"conversationId":"g","content":"x","attachments":[{"_placeholder":true,"num":3}]}])"),
                              no_bins, lim));
}

TEST(ParseConversationRef, StringOrObject) {
  EXPECT_EQ(ev::parse_conversation_ref(args(R"(["room1"])"))->conversationId, "room1");
  EXPECT_EQ(ev::parse_conversation_ref(args(R"([{"conversationId":"room2"}])"))->conversationId, "room2");
  EXPECT_FALSE(ev::parse_conversation_ref(args(R"([])")));
  EXPECT_FALSE(ev::parse_conversation_ref(args(R"([""])")));
  EXPECT_FALSE(ev::parse_conversation_ref(args(R"([12])")));
  EXPECT_FALSE(ev::parse_conversation_ref(args(R"([{"id":"x"}])")));
  EXPECT_FALSE(ev::parse_conversation_ref(args(R"([null])")));
  json::array long_id{std::string(201, 'a')};
  EXPECT_FALSE(ev::parse_conversation_ref(long_id));
}

TEST(ParseCreate, OptionalFields) {
  auto empty = ev::parse_create(args("[]"), lim);
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->conversationId);
  EXPECT_FALSE(empty->is_private);
  auto full = ev::parse_create(args(R"([{"conversationId":"team","title":"Team","private":true,"memberIds":["a","b"]}])"), lim);
  ASSERT_TRUE(full);
  EXPECT_EQ(full->conversationId.value(), "team");
  EXPECT_EQ(full->title.value(), "Team");
  EXPECT_TRUE(full->is_private);
  EXPECT_EQ(full->memberIds, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(ev::parse_create(args(R"([{"private":"yes"}])"), lim));
  EXPECT_FALSE(ev::parse_create(args(R"([{"memberIds":"a"}])"), lim));
  EXPECT_FALSE(ev::parse_create(args(R"([{"memberIds":[1]}])"), lim));
  EXPECT_FALSE(ev::parse_create(args(R"([{"conversationId":""}])"), lim));
  EXPECT_FALSE(ev::parse_create(args(R"(["team"])"), lim));
}

TEST(ParseCreate, MembersAtMostTheCap) {
  const ev::limits three{.max_conversation_members = 3};
  EXPECT_TRUE(ev::parse_create(args(R"([{"memberIds":["a","b","c"]}])"), three));
  auto over = ev::parse_create(args(R"([{"memberIds":["a","b","c","d"]}])"), three);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, "BAD_REQUEST");
  EXPECT_NE(over.error().message.find("at most 3 members"), std::string::npos) << over.error().message;
  // The default cap: 100, not the 1000 ids of up to 200 bytes that once made 20 MB lists.
  json::array ids;
  for (int i = 0; i < 101; ++i) ids.emplace_back(std::string(200, 'x') + std::to_string(i));
  EXPECT_FALSE(ev::parse_create(json::array{json::object{{"memberIds", ids}}}, ev::limits{}));
}

TEST(ParseList, DefaultsCursorAndCap) {
  const ev::limits d{};
  for (auto text : {"[]", "[null]", "[{}]"}) {
    auto r = ev::parse_list(args(text), d);
    ASSERT_TRUE(r) << text;
    EXPECT_EQ(r->limit, 20) << text;
    EXPECT_FALSE(r->before) << text;
  }
  auto r = ev::parse_list(args(R"([{"limit":5,"before":"MTAwOmM="}])"), d);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->limit, 5);
  EXPECT_EQ(r->before.value(), "MTAwOmM=");
  EXPECT_EQ(ev::parse_list(args(R"([{"limit":1000000}])"), d)->limit, 100);  // capped, as history's
  for (auto text : {R"(["x"])", R"([{"limit":0}])", R"([{"limit":1.5}])", R"([{"limit":"5"}])", R"([{"before":5}])",
                    R"([{"before":""}])"})
    EXPECT_FALSE(ev::parse_list(args(text), d)) << text;
  json::array long_cursor{json::object{{"before", std::string(ev::max_cursor_length + 1, 'A')}}};
  EXPECT_FALSE(ev::parse_list(long_cursor, d));
}

TEST(ParseOnline, AfterIsOptional) {
  EXPECT_FALSE(ev::parse_online(args("[]"))->after);
  EXPECT_FALSE(ev::parse_online(args("[{}]"))->after);
  EXPECT_EQ(ev::parse_online(args(R"([{"after":"bob"}])"))->after.value(), "bob");
  EXPECT_FALSE(ev::parse_online(args(R"([{"after":1}])")));
  EXPECT_FALSE(ev::parse_online(args(R"([true])")));
}

TEST(ParseHistory, DefaultsAndLimits) {
  auto d = ev::parse_history(args(R"([{"conversationId":"g"}])"), {});
  ASSERT_TRUE(d);
  EXPECT_EQ(d->limit, 50);
  EXPECT_FALSE(d->before);
  auto big = ev::parse_history(args(R"([{"conversationId":"g","limit":1000,"before":"m5"}])"), {});
  ASSERT_TRUE(big);
  EXPECT_EQ(big->limit, 200);
  EXPECT_EQ(big->before.value(), "m5");
  EXPECT_EQ(ev::parse_history(args(R"([{"conversationId":"g","limit":3}])"), {})->limit, 3);
  EXPECT_FALSE(ev::parse_history(args(R"([{"conversationId":"g","limit":0}])"), {}));
  EXPECT_FALSE(ev::parse_history(args(R"([{"conversationId":"g","limit":-1}])"), {}));
  EXPECT_FALSE(ev::parse_history(args(R"([{"conversationId":"g","limit":2.5}])"), {}));
  EXPECT_FALSE(ev::parse_history(args(R"([{"conversationId":"g","limit":"10"}])"), {}));
  EXPECT_FALSE(ev::parse_history(args(R"([{"limit":10}])"), {}));
  EXPECT_FALSE(ev::parse_history(args(R"([{"conversationId":"g","before":1}])"), {}));
}

TEST(ParsePrivateAndRead, Rules) {
  EXPECT_TRUE(ev::parse_private(args(R"([{"recipientUserId":"bob","content":"hi"}])"), no_bins, lim));
  EXPECT_FALSE(ev::parse_private(args(R"([{"content":"hi"}])"), no_bins, lim));
  EXPECT_FALSE(ev::parse_private(args(R"([{"recipientUserId":"bob","content":""}])"), no_bins, lim));
  EXPECT_EQ(ev::parse_read(args(R"([{"messageId":"m1","conversationId":"g"}])"))->conversationId.value(), "g");
  EXPECT_FALSE(ev::parse_read(args(R"([{"messageId":1}])")));
  EXPECT_FALSE(ev::parse_read(args(R"([{}])")));
}

TEST(WireShapes, MessageOmitsAbsentOptionals) {
  ev::message m{"m1", "g", "alice", "hi", "2026-11-24T10:00:00.000Z", std::nullopt, {}};
  auto v = json::value_from(m);
  EXPECT_EQ(json::serialize(v),
            R"({"id":"m1","conversationId":"g","senderId":"alice","content":"hi","createdAt":"2026-11-24T10:00:00.000Z"})");
  m.clientMessageId = "c1";
  m.attachments.push_back({"f1", "a.txt", 3, "text/plain", "/api/files/f1"});
  auto o = json::value_from(m).as_object();
  EXPECT_EQ(o.at("clientMessageId"), "c1");
  EXPECT_EQ(o.at("attachments").as_array()[0].as_object().at("url"), "/api/files/f1");
  EXPECT_EQ(o.at("attachments").as_array()[0].as_object().at("size"), 3);
}

TEST(WireShapes, ConversationUsesPrivate) {
  ev::conversation c{"team", "Team", true, {"a", "b"}, "a", "2026-11-24T10:00:00.000Z"};
  auto o = json::value_from(ev::conversation_ack{true, c}).as_object();
  EXPECT_EQ(o.at("ok"), true);
  auto& conv = o.at("conversation").as_object();
  EXPECT_EQ(conv.at("private"), true);
  EXPECT_FALSE(conv.contains("is_private"));
  EXPECT_EQ(conv.at("memberIds").as_array().size(), 2u);
}

TEST(WireShapes, ErrorAck) {
  auto v = json::value_from(ev::error_ack(ev::code::forbidden, "no"));
  EXPECT_EQ(json::serialize(v), R"({"ok":false,"error":{"code":"FORBIDDEN","message":"no"}})");
}

namespace {
// Every kind of byte JSON treats differently: escaped short (\n), escaped long (\u0001), quoted
// ('"', '\\'), plain ASCII, and multi-byte UTF-8.
std::string nasty(std::size_t code_points) {
  static const char* pieces[] = {"\n", "\x01", "\"", "\\", "a", "\xC3\xA9", "\xF0\x9F\x98\x80"};
  std::string out;
  for (std::size_t i = 0; i < code_points; ++i) out += pieces[i % std::size(pieces)];
  return out;
}
// The longest of each field that clients can send or the server sets, with the costliest bytes.
ev::message worst_message(const ev::limits& lim, std::string_view content_piece) {
  ev::message m;
  m.id = "m0000000000000000042";
  m.conversationId = std::string(ev::max_id_length, '\x01');
  m.senderId = std::string(ev::max_id_length, '\x01');
  for (std::size_t i = 0; i < lim.max_message_length; ++i) m.content += content_piece;
  m.createdAt = "2026-11-24T10:00:00.000Z";
  m.clientMessageId = std::string(ev::max_id_length, '\x01');
  for (std::size_t i = 0; i < lim.max_attachments; ++i)
    m.attachments.push_back({"f-0123456789abcdef0123456789abcdef", std::string(255, '\x01'), INT64_MIN,
                             std::string(255, '\x01'), "/api/files/f-0123456789abcdef0123456789abcdef"});
  return m;
}
}  // namespace

TEST(JsonSizeBound, NeverBelowTheSerializedSize) {
  for (std::size_t n : {0u, 1u, 7u, 100u, 4000u}) {
    auto s = nasty(n);
    EXPECT_GE(ev::json_size_bound(s), json::serialize(json::value(s)).size()) << n;
  }
  const ev::limits d{};
  for (auto piece : {"\x01", "\xF0\x9F\x98\x80", "a"}) {
    auto m = worst_message(d, piece);
    const auto exact = json::serialize(json::value_from(m)).size();
    EXPECT_GE(ev::json_size_bound(m), exact);
    EXPECT_LE(ev::json_size_bound(m), exact + exact / 10);  // tight enough to be a useful budget
  }
  ev::message plain{"m1", "g", "alice", "hi", "2026-11-24T10:00:00.000Z", std::nullopt, {}};
  EXPECT_GE(ev::json_size_bound(plain), json::serialize(json::value_from(plain)).size());
  ev::conversation c{nasty(200), nasty(200), true, {}, nasty(200), "2026-11-24T10:00:00.000Z"};
  for (int i = 0; i < 1000; ++i) c.memberIds.push_back(nasty(i % 201));
  EXPECT_GE(ev::json_size_bound(c), json::serialize(json::value_from(c)).size());
  c.memberIds.clear();
  EXPECT_GE(ev::json_size_bound(c), json::serialize(json::value_from(c)).size());
}

// What the default limits allow, measured: each reply that holds a list is cut at
// max_reply_bytes, so these say when that cut can happen at all.
TEST(ReplyBounds, DefaultLimits) {
  const ev::limits d{};
  // A page of 200 messages of 4000 four-byte characters (no attachment) fits whole: legitimate
  // text is never cut.
  auto emoji = worst_message(d, "\xF0\x9F\x98\x80");
  emoji.conversationId = emoji.senderId = "general";
  emoji.clientMessageId.reset();
  emoji.attachments.clear();
  EXPECT_LT(200 * json::serialize(json::value_from(emoji)).size(), d.max_reply_bytes);
  // The costliest message (control characters everywhere, ten attachments): about 63 kB, so a
  // page of 200 would be about 12.5 MB, most of the 16 MiB send-queue bound. The cut keeps a
  // reply at 4 MiB.
  const auto worst = json::serialize(json::value_from(worst_message(d, "\x01"))).size();
  EXPECT_GT(200 * worst, d.max_reply_bytes);
  EXPECT_LT(200 * worst, std::size_t{16} << 20);
  // One conversation of the most members (1000, the option's maximum) with the longest,
  // costliest ids fits in a reply: a page of conversation:list always holds at least one.
  ev::conversation c{std::string(ev::max_id_length, '\x01'), std::string(200, '\x01'), true, {},
                     std::string(ev::max_id_length, '\x01'), "2026-11-24T10:00:00.000Z"};
  for (int i = 0; i < 1000; ++i) c.memberIds.push_back(std::string(ev::max_id_length, '\x01'));
  EXPECT_LT(ev::json_size_bound(c), d.max_reply_bytes);
}

TEST(FormatTime, IsoWithMilliseconds) {
  EXPECT_EQ(ev::format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ev::format_time(1795514400123), "2026-11-24T10:00:00.123Z");
}
