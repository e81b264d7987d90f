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
  void list_conversations(std::string, callback<std::vector<parley::conversation>> done) override {
    if (failing) return done(parley::store_error::unavailable);
    done(std::vector<parley::conversation>{});
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
      : chat(io, db, *online, files, timers, {.limits = {.max_message_length = 5}, .rate_limit = rate_limit}) {
    // Stands in for the guard: the user id is the auth payload's "user".
    io.use([](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
      s->data = json::object{{"userId", s->handshake().auth.at("user")}, {"name", "n"}};
      next();
    });
    chat.attach();
  }

  std::shared_ptr<fake_session> connect(const std::string& user) {
    auto s = std::make_shared<fake_session>("eio-" + user, &io.engine_handler());
    io.engine_handler().on_open(s);
    io.engine_handler().on_message(*s, "0{\"user\":\"" + user + "\"}");
    s->run();
    return s;
  }
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
