// The brain over in-memory sessions and an in-memory store: one ack per event, BAD_REQUEST
// stores nothing, a failing store acks INTERNAL, the rate limit refuses and does nothing.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include "fake_session.hpp"
#include "parley/handlers/brain.hpp"
#include "sio/socketio/codec/packet.hpp"

namespace json = boost::json;
using sio::test::fake_session;

namespace {

// Just enough of a store, answering at once; `failing` makes every call fail as a broken database would.
class memory_store final : public parley::store {
 public:
  bool failing = false;
  int inserts = 0;

  void create_conversation(parley::conversation c, callback<parley::conversation> done) override {
    if (failing) return done(parley::store_error::unavailable);
    if (convs.count(c.id)) return done(parley::store_error::conflict);
    convs[c.id] = c;
    done(c);
  }
  void get_conversation(std::string id, callback<parley::conversation> done) override {
    if (failing) return done(parley::store_error::unavailable);
    auto it = convs.find(id);
    if (it == convs.end()) return done(parley::store_error::not_found);
    done(it->second);
  }
  void list_conversations(std::string user, std::optional<parley::conversation_cursor> after, int limit,
                          callback<parley::conversation_page> done) override {
    if (failing) return done(parley::store_error::unavailable);
    // Newest first: (created_at, id) descending.
    std::vector<parley::conversation> mine;
    for (auto& [id, c] : convs)
      if (std::find(c.member_ids.begin(), c.member_ids.end(), user) != c.member_ids.end()) mine.push_back(c);
    auto newer = [](const parley::conversation& a, const parley::conversation& b) {
      return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
    };
    std::sort(mine.begin(), mine.end(), newer);
    parley::conversation_page page;
    for (auto& c : mine) {
      if (after && !(std::tie(c.created_at, c.id) < std::tie(after->created_at, after->id))) continue;
      if (page.conversations.size() == static_cast<std::size_t>(limit)) {
        page.more = true;
        break;
      }
      page.conversations.push_back(c);
    }
    done(std::move(page));
  }
  void direct_conversation(std::string a, std::string b, parley::time_ms, callback<parley::conversation> done) override {
    if (failing) return done(parley::store_error::unavailable);
    parley::conversation c{"dm:" + std::min(a, b) + ":" + std::max(a, b), "", true, {std::min(a, b), std::max(a, b)}, a, 0};
    convs[c.id] = c;
    done(c);
  }
  void insert_message(parley::new_message m, callback<parley::insert_result> done) override {
    if (failing) return done(parley::store_error::unavailable);
    if (m.client_message_id) {
      auto key = m.sender_id + "\n" + *m.client_message_id;
      if (auto it = by_client_id.find(key); it != by_client_id.end()) return done(parley::insert_result{it->second, false});
    }
    ++inserts;
    parley::stored_message s{"m" + std::to_string(inserts), m.conversation_id, m.sender_id, m.content, m.created_at,
                             m.client_message_id, {}};
    if (m.client_message_id) by_client_id[m.sender_id + "\n" + *m.client_message_id] = s;
    messages.push_back(s);
    done(parley::insert_result{s, true});
  }
  void history(std::string conv, std::optional<std::string>, int limit,
               callback<std::vector<parley::stored_message>> done) override {
    if (failing) return done(parley::store_error::unavailable);
    std::vector<parley::stored_message> out;
    for (auto& m : messages)
      if (m.conversation_id == conv) out.push_back(m);
    done(out);
  }
  void get_message(std::string id, callback<parley::stored_message> done) override {
    if (failing) return done(parley::store_error::unavailable);
    for (auto& m : messages)
      if (m.id == id) return done(m);
    done(parley::store_error::not_found);
  }
  void mark_read(std::string id, std::string user, parley::time_ms now, callback<parley::read_result> done) override {
    if (failing) return done(parley::store_error::unavailable);
    for (auto& m : messages)
      if (m.id == id) return done(parley::read_result{reads.insert(id + user).second, m, now});
    done(parley::store_error::not_found);
  }
  void save_file(parley::file_record f, callback<parley::file_record> done) override { done(f); }
  void get_file(std::string, callback<parley::file_record> done) override { done(parley::store_error::not_found); }
  void file_conversations(std::string, callback<std::vector<parley::conversation>> done) override { done(std::vector<parley::conversation>{}); }
  void close() override {}

  std::map<std::string, parley::conversation> convs;
  std::map<std::string, parley::stored_message> by_client_id;
  std::vector<parley::stored_message> messages;
  std::set<std::string> reads;
};

struct harness {
  boost::asio::io_context timers;
  memory_store db;
  std::unique_ptr<parley::presence> online = parley::make_memory_presence();
  parley::files::file_storage files{timers.get_executor(), "/nonexistent-parley-test", db};
  sio::server io;
  parley::brain chat;

  explicit harness(double rate_limit = 1000)
      : harness(parley::brain_options{.limits = {.max_message_length = 5}, .rate_limit = rate_limit}) {}
  explicit harness(parley::brain_options opts) : chat(io, db, *online, files, timers, opts) {
    // Stands in for the guard: the user id is the auth payload's "user".
    io.use([](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
      s->data = json::object{{"userId", s->handshake().auth.at("user")}, {"name", "n"}};
      next();
    });
    chat.attach();
  }

  std::shared_ptr<fake_session> connect(const std::string& user, const std::string& address = "127.0.0.1") {
    auto s = std::make_shared<fake_session>("eio-" + user + "-" + std::to_string(++sessions), &io.engine_handler());
    s->mutable_request().remote_address = address;
    io.engine_handler().on_open(s);
    io.engine_handler().on_message(*s, "0{\"user\":\"" + user + "\"}");
    s->run();
    return s;
  }
  // The first ack of `event` sent now by `s` (its packets so far are dropped).
  json::value request(fake_session& s, std::string_view event, std::string_view arg = "") {
    packets(s);
    send(s, "420[\"" + std::string(event) + "\"" + (arg.empty() ? "" : "," + std::string(arg)) + "]");
    auto a = acks(s);
    EXPECT_EQ(a.size(), 1u) << event;
    return a.empty() ? json::value() : a.begin()->second.at(0);
  }
  int sessions = 0;
  // A client packet as seen on the wire, "42..." (the Engine.IO "4" is dropped here).
  void send(fake_session& s, std::string_view packet) {
    packet.remove_prefix(1);
    io.engine_handler().on_message(s, packet);
    s.run();
  }
  // The decoded packets sent to s (and forgets them).
  static std::vector<sio::parser::packet> packets(fake_session& s) {
    std::vector<sio::parser::packet> out;
    for (auto& t : s.take_texts()) {
      auto p = sio::parser::decode(t);
      EXPECT_TRUE(p.has_value()) << t;
      if (p) out.push_back(*p);
    }
    return out;
  }
  // The acks among them, by id.
  static std::map<std::uint64_t, std::vector<json::value>> acks(fake_session& s) {
    std::map<std::uint64_t, std::vector<json::value>> out;
    for (auto& p : packets(s))
      if (p.type == sio::parser::packet_type::ack) out[*p.id].push_back(p.data.as_array().at(0));
    return out;
  }
};

}  // namespace

TEST(Brain, ConnectedCarriesSocketAndUser) {
  harness h;
  auto s = h.connect("alice");
  auto ps = harness::packets(*s);
  ASSERT_EQ(ps.size(), 2u);  // CONNECT, then `connected`
  EXPECT_EQ(ps[0].type, sio::parser::packet_type::connect);
  auto& ev = ps[1].data.as_array();
  EXPECT_EQ(ev.at(0), "connected");
  EXPECT_EQ(ev.at(1).at("socketId"), ps[0].data.at("sid"));
  EXPECT_EQ(ev.at(1).at("userId"), "alice");
}

TEST(Brain, BadRequestsStoreNothingAndAckOnce) {
  harness h;
  auto s = h.connect("alice");
  harness::packets(*s);
  h.send(*s, R"(421["message:send",{"conversationId":"g"}])");
  h.send(*s, R"(422["message:send",{"conversationId":"g","content":"toolong"}])");
  h.send(*s, R"(423["message:send",{"conversationId":"g","content":"ok"}])");
  auto acks = harness::acks(*s);
  ASSERT_EQ(acks.size(), 3u);
  for (auto id : {1u, 2u}) {
    ASSERT_EQ(acks[id].size(), 1u);
    EXPECT_EQ(acks[id][0].at("ok"), false);
    EXPECT_EQ(acks[id][0].at("error").at("code"), "BAD_REQUEST");
  }
  ASSERT_EQ(acks[3].size(), 1u);
  EXPECT_EQ(acks[3][0].at("ok"), true);
  EXPECT_EQ(acks[3][0].at("message").at("content"), "ok");
  EXPECT_EQ(h.db.inserts, 1);
}

TEST(Brain, StoreFailureAcksInternal) {
  harness h;
  auto s = h.connect("alice");
  harness::packets(*s);
  h.db.failing = true;
  h.send(*s, R"(421["message:send",{"conversationId":"g","content":"hi"}])");
  h.send(*s, R"(422["conversation:create",{"conversationId":"x"}])");
  h.send(*s, R"(423["message:history",{"conversationId":"g"}])");
  h.send(*s, R"(424["conversation:join","g"])");
  h.send(*s, R"(425["private:message",{"recipientUserId":"bob","content":"hi"}])");
  h.send(*s, R"(426["message:read",{"messageId":"m1"}])");
  h.send(*s, R"(427["conversation:list"])");
  auto acks = harness::acks(*s);
  ASSERT_EQ(acks.size(), 7u);
  for (auto& [id, list] : acks) {
    ASSERT_EQ(list.size(), 1u) << id;
    EXPECT_EQ(list[0].at("error").at("code"), "INTERNAL") << id;
  }
}

TEST(Brain, RetryDeliversOnce) {
  harness h;
  auto a = h.connect("alice");
  auto b = h.connect("bob");
  h.send(*b, R"(421["conversation:join","g"])");
  harness::packets(*a);
  harness::packets(*b);
  h.send(*a, R"(421["message:send",{"conversationId":"g","content":"hi","clientMessageId":"c"}])");
  h.send(*a, R"(422["message:send",{"conversationId":"g","content":"hi","clientMessageId":"c"}])");
  auto acks = harness::acks(*a);
  EXPECT_EQ(acks[1][0], acks[2][0]);
  int news = 0;
  for (auto& p : harness::packets(*b))
    if (p.type == sio::parser::packet_type::event && p.data.as_array().at(0) == "message:new") ++news;
  EXPECT_EQ(news, 1);
  EXPECT_EQ(h.db.inserts, 1);
}

TEST(Brain, RateLimitRefusesAndDoesNothing) {
  harness h(1);  // 1 event/s, burst 2
  auto s = h.connect("alice");
  harness::packets(*s);
  for (int i = 1; i <= 4; ++i)
    h.send(*s, "42" + std::to_string(i) + R"(["message:send",{"conversationId":"g","content":"x"}])");
  auto acks = harness::acks(*s);
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[1][0].at("ok"), true);
  EXPECT_EQ(acks[2][0].at("ok"), true);
  EXPECT_EQ(acks[3][0].at("error").at("code"), "RATE_LIMITED");
  EXPECT_EQ(acks[4][0].at("error").at("code"), "RATE_LIMITED");
  EXPECT_EQ(h.db.inserts, 2);
}

TEST(Brain, PrivateConversationIsForMembersOnly) {
  harness h;
  auto owner = h.connect("owner");
  auto eve = h.connect("eve");
  h.send(*owner, R"(421["conversation:create",{"conversationId":"p","private":true}])");
  harness::packets(*owner);
  harness::packets(*eve);
  h.send(*eve, R"(421["conversation:join","p"])");
  h.send(*eve, R"(422["message:send",{"conversationId":"p","content":"hi"}])");
  h.send(*eve, R"(423["conversation:join","user:owner"])");
  auto acks = harness::acks(*eve);
  for (auto id : {1u, 2u, 3u}) EXPECT_EQ(acks[id][0].at("error").at("code"), "FORBIDDEN") << id;
  EXPECT_EQ(h.db.inserts, 0);
}

TEST(Brain, RateLimitIsPerUserAcrossSockets) {
  harness h(1);  // 1 event/s, burst 2: for each user, whichever socket sends
  auto a1 = h.connect("alice");
  auto a2 = h.connect("alice");
  auto b = h.connect("bob");
  EXPECT_EQ(h.request(*a1, "get:online:count").at("ok"), true);
  EXPECT_EQ(h.request(*a2, "get:online:count").at("ok"), true);
  EXPECT_EQ(h.request(*a2, "get:online:count").at("error").at("code"), "RATE_LIMITED");
  EXPECT_EQ(h.request(*a1, "message:send", R"({"conversationId":"g","content":"x"})").at("error").at("code"),
            "RATE_LIMITED");
  EXPECT_EQ(h.request(*b, "get:online:count").at("ok"), true);  // another user's bucket
  EXPECT_EQ(h.db.inserts, 0);
}

namespace {
// The CONNECT_ERROR a refused socket got, or null.
json::value connect_error(fake_session& s) {
  for (auto& p : harness::packets(s))
    if (p.type == sio::parser::packet_type::connect_error) return p.data;
  return nullptr;
}
}  // namespace

TEST(Brain, ConnectionsPerUserAreBounded) {
  harness h(parley::brain_options{.max_connections_per_user = 2});
  auto a1 = h.connect("alice");
  auto a2 = h.connect("alice");
  auto a3 = h.connect("alice");
  EXPECT_TRUE(connect_error(*a1).is_null());
  EXPECT_TRUE(connect_error(*a2).is_null());
  auto refused = connect_error(*a3);
  ASSERT_TRUE(refused.is_object());
  EXPECT_EQ(refused.at("message"), "Connection refused: too many connections for this user");
  EXPECT_EQ(refused.at("data").at("code"), "RATE_LIMITED");
  EXPECT_TRUE(connect_error(*h.connect("bob")).is_null());  // others are not affected

  // A closed connection gives its place back.
  a1->close(sio::eio::close_reason::transport_close);
  a1->run();
  EXPECT_TRUE(connect_error(*h.connect("alice")).is_null());
  EXPECT_FALSE(connect_error(*h.connect("alice")).is_null());
}

TEST(Brain, ConnectionsPerAddressAreBounded) {
  harness h(parley::brain_options{.max_connections_per_address = 2});
  EXPECT_TRUE(connect_error(*h.connect("a", "192.0.2.1")).is_null());
  EXPECT_TRUE(connect_error(*h.connect("b", "192.0.2.1")).is_null());
  auto refused = connect_error(*h.connect("c", "192.0.2.1"));
  ASSERT_TRUE(refused.is_object());
  EXPECT_EQ(refused.at("message"), "Connection refused: too many connections from this address");
  EXPECT_TRUE(connect_error(*h.connect("c", "192.0.2.2")).is_null());
}

TEST(Brain, ConversationCreatesArePerUserAndMembersCapped) {
  harness h(parley::brain_options{.limits = {.max_conversation_members = 3}, .creates_per_minute = 2});
  auto a1 = h.connect("alice");
  auto a2 = h.connect("alice");
  auto too_many = h.request(*a1, "conversation:create", R"({"memberIds":["b","c","d"]})");  // + alice: 4
  EXPECT_EQ(too_many.at("error").at("code"), "BAD_REQUEST");
  EXPECT_EQ(h.request(*a1, "conversation:create", R"({"memberIds":["b","c","alice"]})").at("ok"), true);
  EXPECT_EQ(h.request(*a2, "conversation:create").at("ok"), true);
  EXPECT_EQ(h.request(*a2, "conversation:create").at("error").at("code"), "RATE_LIMITED");
  EXPECT_EQ(h.request(*a1, "conversation:create").at("error").at("code"), "RATE_LIMITED");
  EXPECT_EQ(h.db.convs.size(), 2u);
  EXPECT_EQ(h.request(*h.connect("bob"), "conversation:create").at("ok"), true);
}

TEST(Brain, ConversationListPagesWithinTheReplyBound) {
  harness h(parley::brain_options{.limits = {.max_reply_bytes = 1500}});
  for (int i = 0; i < 25; ++i) {
    parley::conversation c{"c" + std::to_string(100 + i), "", true, {"alice", "bob"}, "bob", 1000 + i};
    h.db.convs[c.id] = c;
  }
  auto a = h.connect("alice");
  std::vector<std::string> seen;
  std::string before;
  for (int page = 0; page < 30; ++page) {
    auto r = h.request(*a, "conversation:list", before.empty() ? R"({"limit":10})" : R"({"limit":10,"before":")" + before + "\"}");
    ASSERT_EQ(r.at("ok"), true) << r;
    EXPECT_LE(json::serialize(r).size(), 1500u);
    const auto& list = r.at("conversations").as_array();
    EXPECT_LE(list.size(), 10u);
    EXPECT_GE(list.size(), 1u);
    for (const auto& c : list) seen.emplace_back(c.at("id").as_string());
    if (r.at("next").is_null()) break;
    before = std::string(r.at("next").as_string());
  }
  std::vector<std::string> expected;
  for (int i = 24; i >= 0; --i) expected.push_back("c" + std::to_string(100 + i));
  EXPECT_EQ(seen, expected);

  // No argument: the first page, of the default size.
  harness big;
  for (int i = 0; i < 25; ++i) big.db.convs["c" + std::to_string(i)] = {"c" + std::to_string(i), "", true, {"alice"}, "alice", i};
  auto first = big.request(*big.connect("alice"), "conversation:list");
  EXPECT_EQ(first.at("conversations").as_array().size(), 20u);
  EXPECT_TRUE(first.at("next").is_string());
  for (auto bad : {R"({"before":"not a cursor"})", R"({"before":"MTIz"})", R"("x")"})
    EXPECT_EQ(big.request(*big.connect("carol"), "conversation:list", bad).at("error").at("code"), "BAD_REQUEST") << bad;
}

TEST(Brain, ListCursorRoundTrip) {
  for (const parley::conversation_cursor& c :
       {parley::conversation_cursor{0, "a"}, parley::conversation_cursor{1795514400123, "dm:al%3Aice:bob"},
        parley::conversation_cursor{-5, std::string("with:colon\x01\"")}}) {
    auto text = parley::format_list_cursor(c);
    auto back = parley::parse_list_cursor(text);
    ASSERT_TRUE(back) << text;
    EXPECT_EQ(back->created_at, c.created_at);
    EXPECT_EQ(back->id, c.id);
  }
  for (auto bad : {"", "!!!!", "MTIz" /* "123" */, "OmE=" /* ":a" */, "MTI6" /* "12:" */, "eDph" /* "x:a" */})
    EXPECT_FALSE(parley::parse_list_cursor(bad)) << bad;
}

TEST(Brain, OnlineUsersPagesWithinTheReplyBound) {
  harness h(parley::brain_options{.limits = {.max_reply_bytes = 300}});
  std::vector<std::string> users;
  std::vector<std::shared_ptr<fake_session>> sockets;
  for (int i = 0; i < 40; ++i) {
    users.push_back("user-" + std::to_string(1000 + i));
    sockets.push_back(h.connect(users.back()));
  }
  std::vector<std::string> seen;
  std::string after;
  int pages = 0;
  for (; pages < 40; ++pages) {
    auto r = h.request(*sockets[0], "users:online", after.empty() ? "" : R"({"after":")" + after + "\"}");
    ASSERT_EQ(r.at("ok"), true) << r;
    EXPECT_LE(json::serialize(r).size(), 300u);
    for (const auto& u : r.at("userIds").as_array()) seen.emplace_back(u.as_string());
    if (r.at("next").is_null()) break;
    after = std::string(r.at("next").as_string());
  }
  EXPECT_GT(pages, 1);
  EXPECT_EQ(seen, users);
}

TEST(Brain, HistoryKeepsTheNewestThatFitTheReplyBound) {
  harness h(parley::brain_options{.limits = {.max_message_length = 5, .max_reply_bytes = 700}});
  auto a = h.connect("alice");
  for (int i = 0; i < 8; ++i)
    h.request(*a, "message:send", R"({"conversationId":"g","content":"m)" + std::to_string(i) + "\"}");
  auto r = h.request(*a, "message:history", R"({"conversationId":"g","limit":200})");
  ASSERT_EQ(r.at("ok"), true) << r;
  EXPECT_LE(json::serialize(r).size(), 700u);
  const auto& list = r.at("messages").as_array();
  ASSERT_GE(list.size(), 1u);
  ASSERT_LT(list.size(), 8u);
  // The newest, oldest first.
  for (std::size_t i = 0; i < list.size(); ++i)
    EXPECT_EQ(list[i].at("content").as_string(), "m" + std::to_string(8 - list.size() + i));
}
