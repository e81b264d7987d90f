// Typed events: described payload structs in and out, and clean rejection of bad payloads.
#include <gtest/gtest.h>

#include <boost/describe.hpp>
#include <boost/json.hpp>

#include "fake_session.hpp"
#include "sio/socketio/server.hpp"

namespace chat {
struct message {
  std::string room;
  std::string text;
};
BOOST_DESCRIBE_STRUCT(message, (), (room, text))

struct typing {
  std::string user;
  bool on = false;
};
BOOST_DESCRIBE_STRUCT(typing, (), (user, on))

using send = sio::event_def<"send", message>;
using typing_ev = sio::event_def<"typing", typing>;
using joined = sio::event_def<"joined", std::string, int>;
}  // namespace chat

// emit<Ev> only accepts the declared payload types.
template <class Ev, class... A>
concept can_emit = requires(sio::socket& s, A... a) { s.emit<Ev>(a...); };
static_assert(can_emit<chat::send, chat::message>);
static_assert(!can_emit<chat::send, int>);
static_assert(!can_emit<chat::send, chat::typing>);
static_assert(!can_emit<chat::send>);
static_assert(can_emit<chat::joined, const char*, int>);
static_assert(!can_emit<chat::joined, std::string>);
static_assert(chat::send::name == "send");

namespace {

using sio::test::fake_session;

struct fixture : ::testing::Test {
  sio::server io;
  std::shared_ptr<sio::socket> sock;
  std::shared_ptr<fake_session> s;
  std::vector<chat::message> got;
  std::vector<std::string> errors;

  void SetUp() override {
    io.on_connection([this](const std::shared_ptr<sio::socket>& so) {
      sock = so;
      so->on<chat::send>([this](chat::message m, sio::ack_fn ack) {
        got.push_back(m);
        ack("stored", m.text.size());
      });
      so->on<chat::typing_ev>([this](chat::typing t) { got.push_back({"typing", t.user}); });
      so->on_error([this](const sio::middleware_error& e) {
        errors.push_back(e.message + ":" + std::string(e.data.at("event").as_string()));
      });
    });
    s = std::make_shared<fake_session>("e", &io.engine_handler());
    io.engine_handler().on_open(s);
    text("0");
    s->take();
  }
  void text(std::string_view t) {
    io.engine_handler().on_message(*s, t);
    s->run();
  }
};

}  // namespace

TEST_F(fixture, IncomingTypedEventWithAck) {
  text(R"(25["send",{"room":"lobby","text":"hello"}])");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].room, "lobby");
  EXPECT_EQ(got[0].text, "hello");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(35["stored",5])"});
  text(R"(2["typing",{"user":"ann","on":true},"extra"])");  // extra arguments are ignored
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].text, "ann");
  EXPECT_TRUE(errors.empty());
}

TEST_F(fixture, WrongPayloadIsRejectedCleanly) {
  text(R"(26["send",{"room":1}])");     // wrong member types
  text(R"(27["send"])");                // missing argument
  text(R"(2["send","not an object"])"); // wrong kind, no ack
  text(R"(2["typing",{"user":"x","on":"yes"}])");
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(s->take_texts(), (std::vector<std::string>{R"(36[{"error":"invalid payload"}])",
                                                       R"(37[{"error":"invalid payload"}])"}));
  EXPECT_EQ(errors, (std::vector<std::string>{"invalid payload:send", "invalid payload:send",
                                              "invalid payload:send", "invalid payload:typing"}));
  EXPECT_TRUE(s->is_open());
  EXPECT_TRUE(sock->connected());
}

TEST_F(fixture, OutgoingTypedEvents) {
  EXPECT_FALSE(sock->emit<chat::send>(chat::message{"lobby", "hi"}));
  EXPECT_FALSE(io.emit<chat::joined>("ann", 3));
  sock->join("lobby");
  EXPECT_FALSE(io.to("lobby").emit<chat::typing_ev>(chat::typing{"bob", true}));
  EXPECT_EQ(s->take_texts(), (std::vector<std::string>{R"(2["send",{"room":"lobby","text":"hi"}])",
                                                       R"(2["joined","ann",3])",
                                                       R"(2["typing",{"user":"bob","on":true}])"}));
}
