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
  auto empty = ev::parse_create(args("[]"));
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->conversationId);
  EXPECT_FALSE(empty->is_private);
  auto full = ev::parse_create(args(R"([{"conversationId":"team","title":"Team","private":true,"memberIds":["a","b"]}])"));
  ASSERT_TRUE(full);
  EXPECT_EQ(full->conversationId.value(), "team");
  EXPECT_EQ(full->title.value(), "Team");
  EXPECT_TRUE(full->is_private);
  EXPECT_EQ(full->memberIds, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(ev::parse_create(args(R"([{"private":"yes"}])")));
  EXPECT_FALSE(ev::parse_create(args(R"([{"memberIds":"a"}])")));
  EXPECT_FALSE(ev::parse_create(args(R"([{"memberIds":[1]}])")));
  EXPECT_FALSE(ev::parse_create(args(R"([{"conversationId":""}])")));
  EXPECT_FALSE(ev::parse_create(args(R"(["team"])")));
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

TEST(FormatTime, IsoWithMilliseconds) {
  EXPECT_EQ(ev::format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(ev::format_time(1795514400123), "2026-11-24T10:00:00.123Z");
}
