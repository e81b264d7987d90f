// The Socket.IO server driven through its Engine.IO handler over in-memory sessions.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "fake_session.hpp"
#include "sio/adapter/memory_adapter.hpp"
#include "sio/socketio/server.hpp"

using namespace std::chrono_literals;
using sio::test::fake_session;
namespace json = boost::json;

namespace {

struct harness {
  sio::server io;
  explicit harness(sio::server_options o = {}) : io(std::move(o)) {}

  std::shared_ptr<fake_session> open(std::string id = "eio") {
    auto s = std::make_shared<fake_session>(std::move(id), &io.engine_handler());
    io.engine_handler().on_open(s);
    return s;
  }
  void text(fake_session& s, std::string_view t) {
    io.engine_handler().on_message(s, t);
    s.run();
  }
  void bin(fake_session& s, std::string d) {
    io.engine_handler().on_binary(s, std::move(d));
    s.run();
  }
  // Connects and returns the socket id from the CONNECT answer.
  std::string connect(fake_session& s, const std::string& nsp = "/", const std::string& auth = "") {
    std::string pkt = "0";
    if (nsp != "/") pkt += nsp + ",";
    pkt += auth;
    text(s, pkt);
    auto texts = s.take_texts();
    EXPECT_EQ(texts.size(), 1u);
    if (texts.empty()) return {};
    auto p = sio::parser::decode(texts[0]);
    EXPECT_TRUE(p.has_value()) << texts[0];
    EXPECT_EQ(p->type, sio::parser::packet_type::connect) << texts[0];
    EXPECT_EQ(p->nsp, nsp);
    return std::string(p->data.at("sid").as_string());
  }
};

sio::parser::packet decode(const std::string& t) {
  auto p = sio::parser::decode(t);
  EXPECT_TRUE(p.has_value()) << t;
  return p ? *p : sio::parser::packet{};
}

}  // namespace

TEST(SocketIoServer, ConnectToMainNamespaceSendsOwnSid) {
  harness h;
  std::shared_ptr<sio::socket> seen;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { seen = s; });
  auto s = h.open("engine-sid");
  auto sid = h.connect(*s);
  ASSERT_TRUE(seen);
  EXPECT_EQ(sid, seen->id());
  EXPECT_EQ(sid.size(), 20u);
  EXPECT_NE(sid, "engine-sid");  // never the Engine.IO id
  EXPECT_TRUE(seen->connected());
  EXPECT_EQ(seen->rooms(), std::vector<std::string>{sid});  // in the room of its own id
  EXPECT_EQ(seen->nsp().name(), "/");
  EXPECT_EQ(h.io.sockets().size(), 1u);
}

TEST(SocketIoServer, CustomNamespaceWithAuthAndHandshake) {
  harness h;
  std::shared_ptr<sio::socket> seen;
  h.io.of("/admin").on_connection([&](const std::shared_ptr<sio::socket>& s) { seen = s; });
  auto s = h.open();
  s->mutable_request().headers.emplace("origin", "http://x");
  s->mutable_request().query.emplace("room", "42");
  auto sid = h.connect(*s, "/admin", R"({"token":"abc"})");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->id(), sid);
  EXPECT_EQ(seen->handshake().auth.at("token").as_string(), "abc");
  EXPECT_EQ(seen->handshake().query.find("room")->second, "42");
  EXPECT_TRUE(seen->handshake().xdomain);
  EXPECT_EQ(seen->handshake().address, "127.0.0.1");
  EXPECT_GT(seen->handshake().issued, 0);
  EXPECT_EQ(h.io.of("/admin").size(), 1u);
  EXPECT_EQ(h.io.sockets().size(), 0u);
}

TEST(SocketIoServer, UnknownNamespaceIsRefusedButConnectionStays) {
  harness h;
  auto s = h.open();
  h.text(*s, "0/random,");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(4/random,{"message":"Invalid namespace"})"});
  EXPECT_TRUE(s->is_open());
  h.connect(*s);  // still usable
}

TEST(SocketIoServer, DynamicNamespacesByRegexAndPredicate) {
  harness h;
  int parent_conn = 0;
  auto& parent = h.io.of(std::regex("^/dyn-\\d+$"));
  parent.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    ++parent_conn;
    EXPECT_EQ(s->nsp().name(), "/dyn-12");
  });
  h.io.of([](std::string_view name, const json::object& auth) {
    return name == "/by-auth" && auth.contains("ok");
  });
  auto s = h.open();
  h.connect(*s, "/dyn-12");
  EXPECT_EQ(parent_conn, 1);
  ASSERT_EQ(parent.children().size(), 1u);
  EXPECT_EQ(parent.children()[0]->name(), "/dyn-12");

  h.text(*s, "0/dyn-x,");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(4/dyn-x,{"message":"Invalid namespace"})"});
  h.text(*s, "0/by-auth,");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(4/by-auth,{"message":"Invalid namespace"})"});
  h.connect(*s, "/by-auth", R"({"ok":1})");

  // A broadcast on the parent reaches its children.
  h.io.of("/dyn-12");  // existing child
  parent.emit("hi", 1);
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(2/dyn-12,["hi",1])"});
}

TEST(SocketIoServer, MiddlewareErrorWithAndWithoutData) {
  harness h;
  h.io.of("/a").use([](const std::shared_ptr<sio::socket>&, sio::next_fn next) {
    next(sio::connect_error{"not authorized", json::object{{"code", 401}}});
  });
  h.io.of("/b").use([](const std::shared_ptr<sio::socket>&, sio::next_fn next) { next(sio::connect_error{"nope", {}}); });
  int connected = 0;
  h.io.of("/a").on_connection([&](auto&) { ++connected; });
  auto s = h.open();
  h.text(*s, "0/a,");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(4/a,{"message":"not authorized","data":{"code":401}})"});
  h.text(*s, "0/b,");
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(4/b,{"message":"nope"})"});
  EXPECT_EQ(connected, 0);
  EXPECT_EQ(h.io.of("/a").size(), 0u);
  EXPECT_TRUE(s->is_open());
}

TEST(SocketIoServer, MiddlewaresRunInOrderAndMayFinishLater) {
  harness h;
  std::vector<int> order;
  std::optional<sio::next_fn> later;
  h.io.use([&](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
    order.push_back(1);
    s->data = json::object{{"user", "ann"}};
    next();
  });
  h.io.use([&](const std::shared_ptr<sio::socket>&, sio::next_fn next) {
    order.push_back(2);
    later = next;  // e.g. waiting for a database
  });
  std::string user;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { user = s->data.at("user").as_string().c_str(); });
  auto s = h.open();
  h.text(*s, "0");
  EXPECT_TRUE(s->take_texts().empty());
  ASSERT_TRUE(later);
  s->on_thread = false;  // next() from another thread: posted to the session
  (*later)();
  (*later)();  // a second call is ignored
  s->on_thread = true;
  EXPECT_EQ(s->pending_tasks(), 1u);
  s->run();
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(user, "ann");
  ASSERT_EQ(s->sent.size(), 1u);
  EXPECT_EQ(decode(*s->sent[0].data).type, sio::parser::packet_type::connect);
}

TEST(SocketIoServer, ConnectWithNonObjectAuthClosesWithParseError) {
  harness h;
  auto s = h.open();
  h.text(*s, R"(0/admin,"token")");
  EXPECT_FALSE(s->is_open());
  EXPECT_EQ(s->closed_with, sio::eio::close_reason::parse_error);
  auto s2 = h.open();
  h.text(*s2, "0[1]");
  EXPECT_EQ(s2->closed_with, sio::eio::close_reason::parse_error);
}

TEST(SocketIoServer, EventsAndAcks) {
  harness h;
  std::vector<json::array> got;
  int acks_sent = 0;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->on("hello", [&](sio::event& ev) {
      got.push_back(ev.args());
      if (ev.has_ack()) {
        ev.ack("world", 2);
        ev.ack("again");  // once only
        ++acks_sent;
      }
    });
  });
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2["hello",1,{"a":true}])");
  h.text(*s, R"(27["hello"])");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], (json::array{1, json::object{{"a", true}}}));
  EXPECT_TRUE(got[1].empty());
  EXPECT_EQ(acks_sent, 1);
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(37["world",2])"});
  h.text(*s, R"(2["unhandled"])");  // no handler: nothing happens
  EXPECT_TRUE(s->is_open());
}

TEST(SocketIoServer, ServerEmitWithAckAnswersTimesOutAndIgnoresUnknownIds) {
  harness h;
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { sock = s; });
  auto s = h.open();
  h.connect(*s);
  std::vector<std::pair<std::error_code, json::array>> results;
  auto cb = [&](std::error_code ec, json::array a) { results.emplace_back(ec, std::move(a)); };
  EXPECT_FALSE(sock->timeout(100ms).emit_with_ack("ping", 1, cb));
  EXPECT_FALSE(sock->timeout(100ms).emit_with_ack("ping", 2, cb));
  EXPECT_EQ(s->take_texts(), (std::vector<std::string>{R"(20["ping",1])", R"(21["ping",2])"}));
  h.text(*s, R"(30["pong"])");
  h.text(*s, R"(30["twice"])");  // already answered: ignored
  h.text(*s, R"(399["who"])");   // unknown id: ignored
  ASSERT_EQ(results.size(), 1u);
  EXPECT_FALSE(results[0].first);
  EXPECT_EQ(results[0].second, json::array{"pong"});
  s->advance(100ms);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1].first, sio::error::timed_out);
  h.text(*s, R"(31["late"])");
  EXPECT_EQ(results.size(), 2u);
  EXPECT_TRUE(s->is_open());

  // Without a timeout, a disconnect fails the pending ack.
  EXPECT_FALSE(sock->emit_with_ack("ping", cb));
  h.text(*s, "1");
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[2].first, sio::error::disconnected);
}

TEST(SocketIoServer, BinaryEventRoundTripsLikeTheOfficialSuite) {
  harness h;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->on("message", [s](sio::event& ev) { s->emit_payload("message-back", ev.raw()); });
    s->on("message-with-ack", [](sio::event& ev) { ev.ack_callback().send(ev.raw()); });
  });
  auto s = h.open();
  h.connect(*s, "/");
  s->take();
  const std::string ph = R"({"_placeholder":true,"num":0},{"_placeholder":true,"num":1})";
  h.text(*s, "52-[\"message\"," + ph + "]");
  EXPECT_TRUE(s->sent.empty());  // waiting for the attachments
  h.bin(*s, std::string("\x01\x02\x03", 3));
  h.bin(*s, std::string("\x04\x05\x06", 3));
  auto out = s->take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(*out[0].data, "52-[\"message-back\"," + ph + "]");
  EXPECT_TRUE(out[1].binary);
  EXPECT_EQ(*out[1].data, std::string("\x01\x02\x03", 3));
  EXPECT_EQ(*out[2].data, std::string("\x04\x05\x06", 3));

  h.text(*s, "52-789[\"message-with-ack\"," + ph + "]");
  h.bin(*s, "a");
  h.bin(*s, "b");
  out = s->take();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(*out[0].data, "62-789[" + ph + "]");
  EXPECT_EQ(*out[1].data, "a");
  EXPECT_EQ(*out[2].data, "b");
}

TEST(SocketIoServer, ServerSendsBinaryAndReceivesBinaryAck) {
  harness h;
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { sock = s; });
  auto s = h.open();
  h.connect(*s);
  sio::payload answer;
  sock->emit_with_ack("file", "name.bin", sio::binary{std::string("xyz")},
                      [&](std::error_code ec, sio::payload p) { answer = std::move(p); });
  auto out = s->take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(*out[0].data, R"(51-0["file","name.bin",{"_placeholder":true,"num":0}])");
  EXPECT_EQ(*out[1].data, "xyz");
  h.text(*s, R"(61-0[{"_placeholder":true,"num":0}])");
  h.bin(*s, "ok!");
  ASSERT_EQ(answer.attachments.size(), 1u);
  EXPECT_EQ(answer.attachments[0].view(), "ok!");
  EXPECT_EQ(sio::parser::placeholder_num(answer.args.at(0)), 0u);
}

TEST(SocketIoServer, BadBinaryInputClosesOnlyThatClient) {
  harness h;
  auto good = h.open("good");
  h.connect(*good);
  // Text while attachments are expected (a lying attachment count).
  auto a = h.open("a");
  h.connect(*a);
  h.text(*a, R"(52-["x",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}])");
  h.bin(*a, "one");
  h.text(*a, R"(2["x"])");
  EXPECT_EQ(a->closed_with, sio::eio::close_reason::parse_error);
  // A binary frame nobody announced.
  auto b = h.open("b");
  h.connect(*b);
  h.bin(*b, "stray");
  EXPECT_EQ(b->closed_with, sio::eio::close_reason::parse_error);
  // A placeholder beyond the announced count.
  auto c = h.open("c");
  h.connect(*c);
  h.text(*c, R"(51-["x",{"_placeholder":true,"num":3}])");
  EXPECT_EQ(c->closed_with, sio::eio::close_reason::parse_error);
  // Too many attachments.
  auto d = h.open("d");
  h.text(*d, R"(5999-["x"])");
  EXPECT_EQ(d->closed_with, sio::eio::close_reason::parse_error);

  EXPECT_TRUE(good->is_open());
  EXPECT_EQ(h.io.sockets().size(), 1u);
  h.io.emit("still", "here");
  EXPECT_EQ(good->take_texts(), std::vector<std::string>{R"(2["still","here"])"});
}

TEST(SocketIoServer, BadPacketsCloseTheConnection) {
  harness h;
  for (std::string bad : {"9", "2[\"connect\"]", "2[\"disconnecting\"]", "2{}", "0/admin,"}) {
    auto s = h.open();
    if (bad != "0/admin,") h.connect(*s);
    h.io.of("/admin");
    if (bad == "0/admin,") {
      h.connect(*s, "/admin");
      h.text(*s, bad);  // a second CONNECT to the same namespace
      EXPECT_EQ(s->closed_with, sio::eio::close_reason::forced_close) << bad;
      continue;
    }
    h.text(*s, bad);
    EXPECT_FALSE(s->is_open()) << bad;
  }
  // An event for a namespace the client has not joined.
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2/admin,["x"])");
  EXPECT_EQ(s->closed_with, sio::eio::close_reason::forced_close);
}

TEST(SocketIoServer, ReservedNamesCannotBeEmitted) {
  harness h;
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { sock = s; });
  auto s = h.open();
  h.connect(*s);
  EXPECT_EQ(sock->emit("disconnect"), sio::error::reserved_event);
  EXPECT_EQ(h.io.emit("connect"), sio::error::reserved_event);
  EXPECT_EQ(sock->to("x").emit("connect_error"), sio::error::reserved_event);
  EXPECT_TRUE(s->take_texts().empty());
}

TEST(SocketIoServer, RoomsAndBroadcastOperators) {
  harness h;
  std::vector<std::shared_ptr<sio::socket>> socks;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { socks.push_back(s); });
  std::vector<std::shared_ptr<fake_session>> ss;
  for (int i = 0; i < 4; ++i) {
    ss.push_back(h.open("e" + std::to_string(i)));
    h.connect(*ss.back());
  }
  socks[0]->join("a");
  socks[1]->join(std::vector<std::string>{"a", "b"});
  socks[2]->join("b");
  socks[3]->join("c");
  EXPECT_EQ(socks[1]->rooms().size(), 3u);
  auto texts = [&] {
    std::vector<int> who;
    for (int i = 0; i < 4; ++i)
      if (!ss[i]->take_texts().empty()) who.push_back(i);
    return who;
  };
  h.io.to("a").emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{0, 1}));
  h.io.to({"a", "b"}).emit("m");  // socket 1 once
  EXPECT_EQ(ss[1]->sent.size(), 1u);
  EXPECT_EQ(texts(), (std::vector<int>{0, 1, 2}));
  h.io.to("a").to("b").except("c").emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{0, 1, 2}));
  h.io.except({"a", "c"}).emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{2}));
  h.io.emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{0, 1, 2, 3}));
  socks[1]->broadcast().emit("m");  // all but the sender
  EXPECT_EQ(texts(), (std::vector<int>{0, 2, 3}));
  socks[1]->to("b").emit("m");  // the room but the sender
  EXPECT_EQ(texts(), (std::vector<int>{2}));
  h.io.to(socks[3]->id()).emit("private");  // the room of a socket id
  EXPECT_EQ(texts(), (std::vector<int>{3}));
  h.io.in("a").local().emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{0, 1}));
  ss[0]->writable = false;  // volatile is dropped for a busy transport only
  h.io.volatile_().emit("typing");
  EXPECT_EQ(texts(), (std::vector<int>{1, 2, 3}));
  EXPECT_FALSE(socks[0]->volatile_().emit("typing"));
  EXPECT_EQ(texts(), std::vector<int>{});
  ss[0]->writable = true;

  socks[1]->leave("a");
  h.io.to("a").emit("m");
  EXPECT_EQ(texts(), (std::vector<int>{0}));

  // One encoding shared by every recipient.
  h.io.emit("shared", sio::binary{std::string("bytes")});
  ASSERT_EQ(ss[0]->sent.size(), 2u);
  for (int i = 1; i < 4; ++i) {
    ASSERT_EQ(ss[i]->sent.size(), 2u);
    EXPECT_EQ(ss[i]->sent[0].data.get(), ss[0]->sent[0].data.get());
    EXPECT_EQ(ss[i]->sent[1].data.get(), ss[0]->sent[1].data.get());
  }
  EXPECT_EQ(*ss[0]->sent[0].data, R"(51-["shared",{"_placeholder":true,"num":0}])");
  texts();

  // Rooms empty out when the socket leaves.
  h.text(*ss[3], "1");
  EXPECT_TRUE(h.io.to("c").local_sockets().empty());
  EXPECT_EQ(h.io.sockets().size(), 3u);
}

TEST(SocketIoServer, BroadcastWithAckCollectsEveryResponse) {
  harness h;
  std::vector<std::shared_ptr<fake_session>> ss;
  for (int i = 0; i < 3; ++i) {
    ss.push_back(h.open("e" + std::to_string(i)));
    h.connect(*ss.back());
  }
  std::optional<std::pair<std::error_code, std::vector<json::array>>> result;
  h.io.timeout(1s).emit_with_ack("question", 42, [&](std::error_code ec, std::vector<json::array> r) {
    result.emplace(ec, std::move(r));
  });
  for (auto& s : ss) EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(20["question",42])"});
  h.text(*ss[0], R"(30[1])");
  h.text(*ss[1], R"(30[2])");
  EXPECT_FALSE(result);
  h.text(*ss[2], R"(30[3])");
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->first);
  EXPECT_EQ(result->second, (std::vector<json::array>{{1}, {2}, {3}}));

  // One does not answer: a timeout error with what did arrive.
  result.reset();
  h.io.timeout(1s).emit_with_ack("question", [&](std::error_code ec, std::vector<json::array> r) {
    result.emplace(ec, std::move(r));
  });
  h.text(*ss[0], R"(31["a"])");
  h.text(*ss[2], R"(31["c"])");
  EXPECT_FALSE(result);
  ss[1]->advance(1s);
  ASSERT_TRUE(result);
  EXPECT_EQ(result->first, sio::error::timed_out);
  EXPECT_EQ(result->second, (std::vector<json::array>{{"a"}, {"c"}}));

  // Nobody in the room: done at once, no error.
  result.reset();
  h.io.to("empty").timeout(1s).emit_with_ack("q", [&](std::error_code ec, std::vector<json::array> r) {
    result.emplace(ec, std::move(r));
  });
  ASSERT_TRUE(result);
  EXPECT_FALSE(result->first);
  EXPECT_TRUE(result->second.empty());
}

TEST(SocketIoServer, FetchSocketsJoinLeaveAndDisconnectSockets) {
  harness h;
  std::vector<std::shared_ptr<sio::socket>> socks;
  std::vector<std::string> reasons;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    socks.push_back(s);
    s->data = json::object{{"n", socks.size()}};
    s->on_disconnect([&](sio::disconnect_reason r) { reasons.emplace_back(sio::to_string(r)); });
  });
  std::vector<std::shared_ptr<fake_session>> ss;
  for (int i = 0; i < 3; ++i) {
    ss.push_back(h.open("e" + std::to_string(i)));
    h.connect(*ss.back());
  }
  socks[0]->join("vip");
  std::vector<sio::remote_socket> found;
  h.io.in("vip").fetch_sockets([&](sio::result<std::vector<sio::remote_socket>> r) { found = std::move(*r); });
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].id, socks[0]->id());
  EXPECT_EQ(found[0].data.at("n").to_number<int>(), 1);
  EXPECT_EQ(found[0].local, socks[0]);
  EXPECT_EQ(found[0].rooms.size(), 2u);
  found[0].emit("direct", true);
  EXPECT_EQ(ss[0]->take_texts(), std::vector<std::string>{R"(2["direct",true])"});

  h.io.except("vip").sockets_join("plain");
  EXPECT_EQ(h.io.to("plain").local_sockets().size(), 2u);
  h.io.sockets_leave("plain");
  EXPECT_TRUE(h.io.to("plain").local_sockets().empty());

  h.io.to("vip").disconnect_sockets();
  EXPECT_EQ(ss[0]->take_texts(), std::vector<std::string>{"1"});
  EXPECT_TRUE(ss[0]->is_open());  // only the namespace
  EXPECT_EQ(reasons, std::vector<std::string>{"server namespace disconnect"});
  h.io.disconnect_sockets(true);
  EXPECT_FALSE(ss[1]->is_open());
  EXPECT_FALSE(ss[2]->is_open());
  ss[1]->run();
  ss[2]->run();
  EXPECT_EQ(h.io.sockets().size(), 0u);
  EXPECT_EQ(reasons.size(), 3u);
}

TEST(SocketIoServer, DisconnectReasons) {
  harness h;
  std::map<std::string, std::string> reason_of;
  std::map<std::string, bool> in_rooms_while_disconnecting;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->join("r");
    s->on_disconnecting([&, s](sio::disconnect_reason) {
      in_rooms_while_disconnecting[s->id()] = s->rooms().size() == 2;
    });
    s->on_disconnect([&, s](sio::disconnect_reason r) { reason_of[s->id()] = sio::to_string(r); });
  });
  std::vector<std::pair<sio::eio::close_reason, std::string>> engine_cases = {
      {sio::eio::close_reason::transport_close, "transport close"},
      {sio::eio::close_reason::transport_error, "transport error"},
      {sio::eio::close_reason::ping_timeout, "ping timeout"},
      {sio::eio::close_reason::forced_close, "forced close"},
      {sio::eio::close_reason::server_shutting_down, "server shutting down"},
  };
  for (auto& [why, expected] : engine_cases) {
    auto s = h.open();
    auto sid = h.connect(*s);
    h.io.engine_handler().on_close(*s, why);
    EXPECT_EQ(reason_of[sid], expected);
    EXPECT_TRUE(in_rooms_while_disconnecting[sid]);
  }
  auto s = h.open();
  auto sid = h.connect(*s);
  h.text(*s, "1");
  EXPECT_EQ(reason_of[sid], "client namespace disconnect");
  EXPECT_TRUE(s->is_open());
  auto s2 = h.open();
  auto sid2 = h.connect(*s2);
  h.io.sockets().find(sid2)->disconnect();
  EXPECT_EQ(s2->take_texts(), std::vector<std::string>{"1"});
  EXPECT_EQ(reason_of[sid2], "server namespace disconnect");
  auto s3 = h.open();
  auto sid3 = h.connect(*s3);
  h.text(*s3, R"(2["x")");  // invalid JSON
  EXPECT_EQ(reason_of[sid3], "parse error");
  EXPECT_TRUE(h.io.to("r").local_sockets().empty());
}

TEST(SocketIoServer, ConnectTimeoutClosesIdleClientsOnly) {
  sio::server_options o;
  o.connect_timeout = 1000ms;
  harness h(std::move(o));
  auto idle = h.open("idle");
  auto busy = h.open("busy");
  h.connect(*busy);
  idle->advance(999ms);
  EXPECT_TRUE(idle->is_open());
  idle->advance(1ms);
  EXPECT_FALSE(idle->is_open());
  EXPECT_EQ(idle->closed_with, sio::eio::close_reason::forced_close);
  busy->advance(5s);
  EXPECT_TRUE(busy->is_open());
}

TEST(SocketIoServer, SocketMiddlewareErrorsGoToOnErrorAndOnAny) {
  harness h;
  std::vector<std::string> log;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->use([&](sio::event& ev, sio::next_fn next) {
      if (ev.name() == "forbidden") next(sio::middleware_error{"not allowed", {}});
      else next();
    });
    s->on_error([&](const sio::middleware_error& e) { log.push_back("error:" + e.message); });
    s->on_any([&](sio::event& ev) { log.push_back("any:" + std::string(ev.name())); });
    s->on("ok", [&](sio::event&) { log.push_back("ok"); });
    s->on("forbidden", [&](sio::event&) { log.push_back("forbidden"); });
    s->on_any_outgoing([&](std::string_view name, const json::array& args) {
      log.push_back("out:" + std::string(name) + json::serialize(args));
    });
  });
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2["ok"])");
  h.text(*s, R"(2["forbidden"])");
  h.io.emit("news", 1);
  EXPECT_EQ(log, (std::vector<std::string>{"any:ok", "ok", "error:not allowed", "out:news[1]"}));
}

TEST(SocketIoServer, EmitFromAnotherThreadIsSafeAndDisconnectIsPosted) {
  harness h;
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { sock = s; });
  auto s = h.open();
  h.connect(*s);
  s->on_thread = false;
  sock->emit("x");  // send() is thread-safe: goes straight out
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(2["x"])"});
  sock->disconnect();
  EXPECT_TRUE(sock->connected());  // posted to the session thread
  s->on_thread = true;
  s->run();
  EXPECT_FALSE(sock->connected());
  EXPECT_EQ(sock->emit("y"), sio::error::not_connected);
}

TEST(SocketIoServer, CloseShutsEveryConnection) {
  harness h;
  std::string reason;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->on_disconnect([&](sio::disconnect_reason r) { reason = sio::to_string(r); });
  });
  auto s = h.open();
  h.connect(*s);
  h.io.close();
  EXPECT_FALSE(s->is_open());
  s->run();
  EXPECT_EQ(reason, "server shutting down");
}

TEST(SocketIoServer, HandshakeOutlivesTheSession) {
  harness h;
  std::shared_ptr<sio::socket> seen;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { seen = s; });
  auto s = h.open();
  s->mutable_request().headers.emplace("origin", "http://x");
  s->mutable_request().query.emplace("room", "42");
  h.connect(*s, "/", R"({"token":"abc"})");
  ASSERT_TRUE(seen);
  h.io.engine_handler().on_close(*s, sio::eio::close_reason::transport_close);
  s.reset();  // the Engine.IO session is gone; the application still holds the socket
  EXPECT_FALSE(seen->connected());
  const auto& hs = seen->handshake();
  EXPECT_EQ(&hs, &seen->handshake());  // one object for the socket's life
  EXPECT_EQ(hs.auth.at("token").as_string(), "abc");
  EXPECT_EQ(hs.query.find("room")->second, "42");
  EXPECT_EQ(hs.url, "/socket.io/?EIO=4&transport=websocket");
  EXPECT_EQ(hs.address, "127.0.0.1");
  EXPECT_TRUE(hs.xdomain);
  EXPECT_GT(hs.issued, 0);
}

TEST(SocketIoServer, MiddlewareSeesTheHandshakeAfterTheConnectionClosed) {
  harness h;
  std::shared_ptr<sio::socket> pending;
  std::optional<sio::next_fn> next;
  h.io.use([&](const std::shared_ptr<sio::socket>& s, sio::next_fn n) {
    pending = s;
    next = std::move(n);  // finishes later (async auth)
  });
  auto s = h.open();
  s->mutable_request().query.emplace("token", "t");
  h.text(*s, "0");
  ASSERT_TRUE(pending);
  h.io.engine_handler().on_close(*s, sio::eio::close_reason::transport_close);
  s.reset();
  EXPECT_EQ(pending->handshake().query.find("token")->second, "t");
  (*next)();  // the connection is gone: the socket never connects
  EXPECT_FALSE(pending->connected());
}

TEST(SocketIoServer, HandlersChangedDuringAnEventApplyFromTheNextOne) {
  harness h;
  std::vector<std::string> log;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    sio::socket* raw = s.get();
    raw->on("a", [&log, raw](sio::event&) {
      log.push_back("a1");
      raw->on("a", [&log](sio::event&) { log.push_back("a-late"); });
      raw->off("b");
    });
    raw->on("b", [&log](sio::event&) { log.push_back("b"); });
    raw->on("a", [&log](sio::event&) { log.push_back("a2"); });  // after "b", still in order for "a"
    raw->on_any([&log, raw](sio::event& ev) {
      if (ev.name() == "c") raw->on("c", [&log](sio::event&) { log.push_back("c-from-any"); });
    });
  });
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2["a"])");
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "a2"}));  // the snapshot: no a-late yet
  log.clear();
  h.text(*s, R"(2["b"])");
  EXPECT_TRUE(log.empty());  // removed by the first event
  h.text(*s, R"(2["c"])");   // catch-all handlers run before the named ones are looked up
  EXPECT_EQ(log, std::vector<std::string>{"c-from-any"});
  log.clear();
  h.text(*s, R"(2["a"])");
  EXPECT_EQ(log, (std::vector<std::string>{"a1", "a2", "a-late"}));
}

// ---- the application's exceptions (issue 9, item 3) -----------------------------------------
// Every call into the application is guarded where it is made: what it throws goes to
// server_options::on_error, and the library finishes its own work. Most of these calls run from
// posted work or timers (fake_session::run / advance here, a bare loop thread in a real server),
// where an exception used to escape: to std::terminate in a server, into the test here.

namespace {
struct error_log {
  std::vector<std::string> entries;  // "where|event"
  sio::server_options options() {
    sio::server_options o;
    o.on_error = [this](const sio::handler_error& e) {
      entries.push_back(std::string(e.where) + "|" + std::string(e.event) + "|" + e.what());
    };
    return o;
  }
};
}  // namespace

TEST(ApplicationExceptions, EventHandlersAreReportedAndTheOthersStillRun) {
  error_log log;
  harness h(log.options());
  int second = 0, any = 0;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->on_any([&](sio::event&) {
      ++any;
      throw std::runtime_error("any");
    });
    s->on("x", [](sio::event&) { throw std::runtime_error("first"); });
    s->on("x", [&](sio::event& ev) {
      ++second;
      ev.ack("ok");
    });
  });
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(21["x"])");
  EXPECT_EQ(any, 1);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(31["ok"])"});
  EXPECT_EQ(log.entries, (std::vector<std::string>{"catch-all event handler|x|any", "event handler|x|first"}));
  EXPECT_TRUE(s->is_open());
}

TEST(ApplicationExceptions, AMiddlewareFinishingLaterLeadsToAThrowingHandler) {
  error_log log;
  harness h(log.options());
  std::optional<sio::next_fn> pending;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->use([&](sio::event&, sio::next_fn next) { pending = next; });
    s->on("x", [](sio::event&) { throw std::runtime_error("late"); });
  });
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2["x"])");
  ASSERT_TRUE(pending);
  s->on_thread = false;  // the middleware finishes on another thread: the rest is posted
  (*pending)();
  s->on_thread = true;
  s->run();  // the session's loop runs the posted continuation
  EXPECT_EQ(log.entries, std::vector<std::string>{"event handler|x|late"});
  EXPECT_TRUE(s->is_open());
}

TEST(ApplicationExceptions, AThrowingMiddlewareRefusesTheEventOrTheConnection) {
  error_log log;
  harness h(log.options());
  std::vector<std::string> socket_errors;
  h.io.use([](const std::shared_ptr<sio::socket>& s, sio::next_fn next) {
    if (s->handshake().auth.contains("bad")) throw std::runtime_error("connect");
    next();
  });
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    s->use([](sio::event&, sio::next_fn) { throw std::runtime_error("event"); });
    s->on_error([&](const sio::middleware_error& e) { socket_errors.push_back(e.message); });
    s->on("x", [](sio::event&) { FAIL() << "refused by its middleware"; });
  });
  auto bad = h.open("bad");
  h.text(*bad, R"(0{"bad":1})");
  EXPECT_EQ(bad->take_texts(), std::vector<std::string>{R"(4{"message":"server error"})"});
  auto s = h.open();
  h.connect(*s);
  h.text(*s, R"(2["x"])");
  EXPECT_EQ(socket_errors, std::vector<std::string>{"server error"});
  EXPECT_EQ(log.entries, (std::vector<std::string>{"connection middleware||connect", "event middleware|x|event"}));
}

TEST(ApplicationExceptions, ConnectionHandlersAreReportedAndTheNextOneRuns) {
  error_log log;
  harness h(log.options());
  int second = 0;
  h.io.on_connection([](const std::shared_ptr<sio::socket>&) { throw std::runtime_error("first"); });
  h.io.on_connection([&](const std::shared_ptr<sio::socket>&) { ++second; });
  auto s = h.open();
  h.connect(*s);
  EXPECT_EQ(second, 1);
  EXPECT_EQ(h.io.sockets().size(), 1u);
  EXPECT_EQ(log.entries, std::vector<std::string>{"connection handler||first"});
}

TEST(ApplicationExceptions, AckTimeoutCallbacksAreReported) {
  error_log log;
  harness h(log.options());
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { sock = s; });
  auto s = h.open();
  h.connect(*s);
  sock->timeout(100ms).emit_with_ack("ping", [](std::error_code, json::array) { throw std::runtime_error("ack"); });
  int broadcast_acks = 0;
  h.io.timeout(100ms).emit_with_ack("all", [&](std::error_code, std::vector<json::array>) {
    ++broadcast_acks;
    throw std::runtime_error("broadcast ack");
  });
  s->advance(100ms);  // both time out, from a timer
  EXPECT_EQ(broadcast_acks, 1);
  EXPECT_EQ(log.entries, (std::vector<std::string>{"ack callback||ack", "broadcast ack callback||broadcast ack"}));
  EXPECT_TRUE(s->is_open());
}

TEST(ApplicationExceptions, DisconnectHandlersAreReportedAndTheSocketStillLeavesItsRooms) {
  error_log log;
  harness h(log.options());
  std::shared_ptr<sio::socket> sock;
  int acks_failed = 0;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    sock = s;
    s->join("room");
    s->on_disconnecting([](sio::disconnect_reason) { throw std::runtime_error("disconnecting"); });
    s->on_disconnect([](sio::disconnect_reason) { throw std::runtime_error("disconnect"); });
    s->emit_with_ack("pending", [&](std::error_code ec, json::array) {
      acks_failed += ec == sio::error::disconnected;
      throw std::runtime_error("failed ack");
    });
  });
  auto s = h.open();
  h.text(*s, "0");
  EXPECT_EQ(s->take_texts().size(), 2u);  // CONNECT, "pending"
  // The transport closes: on_close comes from the Engine.IO loop, outside any packet handling.
  h.io.engine_handler().on_close(*s, sio::eio::close_reason::transport_close);
  EXPECT_EQ(acks_failed, 1);
  EXPECT_EQ(log.entries, (std::vector<std::string>{"disconnecting handler||disconnecting", "ack callback||failed ack",
                                                    "disconnect handler||disconnect"}));
  EXPECT_FALSE(sock->connected());
  EXPECT_EQ(h.io.sockets().size(), 0u);
  EXPECT_TRUE(h.io.sockets().adapter()->local_rooms().empty());
}

TEST(ApplicationExceptions, FetchSocketsServerSideEmitAndOutgoingHandlersAreReported) {
  error_log log;
  harness h(log.options());
  std::shared_ptr<sio::socket> sock;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) {
    sock = s;
    s->on_any_outgoing([](std::string_view, const json::array&) { throw std::runtime_error("outgoing"); });
  });
  h.io.sockets().on_server_side_emit([](const sio::payload&, const sio::server_side_reply&) { throw std::runtime_error("server side"); });
  auto s = h.open();
  h.connect(*s);
  s->on_thread = false;  // asked from another thread: the snapshot and the completion are posted
  h.io.fetch_sockets([](sio::result<std::vector<sio::remote_socket>>) { throw std::runtime_error("fetch"); });
  s->on_thread = true;
  s->run();
  // What a cluster adapter calls when another node's server_side_emit arrives.
  h.io.sockets().adapter()->nsp().on_server_side_emit({json::array{"hello"}, {}}, nullptr);
  sock->emit("out", 1);
  EXPECT_EQ(s->take_texts(), std::vector<std::string>{R"(2["out",1])"});
  EXPECT_EQ(log.entries, (std::vector<std::string>{"fetch_sockets callback||fetch", "server-side emit handler||server side",
                                                    "outgoing event handler|out|outgoing"}));
}

TEST(ApplicationExceptions, WithoutAHookTheyGoToStderr) {
  harness h;
  h.io.on_connection([](const std::shared_ptr<sio::socket>& s) {
    s->on("x", [](sio::event&) { throw std::runtime_error("to stderr"); });
  });
  auto s = h.open();
  h.connect(*s);
  testing::internal::CaptureStderr();
  h.text(*s, R"(2["x"])");
  auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("event handler for \"x\""), std::string::npos) << err;
  EXPECT_NE(err.find("threw: to stderr"), std::string::npos) << err;
}

// ---- the adapter's view and the cluster operations on one node (issue 10) ----------------------

TEST(AdapterFacing, ClusterOperationsCompleteOnASingleNode) {
  harness h;
  std::vector<std::shared_ptr<sio::socket>> socks;
  h.io.on_connection([&](const std::shared_ptr<sio::socket>& s) { socks.push_back(s); });
  std::vector<std::shared_ptr<fake_session>> ss;
  for (int i = 0; i < 3; ++i) {
    ss.push_back(h.open("e" + std::to_string(i)));
    h.connect(*ss.back());
  }
  socks[0]->join("a");
  socks[1]->join("a");
  socks[1]->join("b");
  std::vector<std::string> ids;
  h.io.in("a").all_sockets([&](sio::result<std::vector<sio::socket_id>> r) { ids = *r; });
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected{socks[0]->id(), socks[1]->id()};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(ids, expected);
  ids.clear();
  h.io.in("a").except("b").all_sockets([&](sio::result<std::vector<sio::socket_id>> r) { ids = *r; });
  EXPECT_EQ(ids, std::vector<std::string>{socks[0]->id()});

  // server_side_emit reaches the other nodes only: on one node an ack completes at once, empty.
  int handled = 0;
  h.io.sockets().on_server_side_emit([&](const sio::payload&, const sio::server_side_reply&) { ++handled; });
  std::optional<std::pair<std::error_code, std::size_t>> acked;
  EXPECT_FALSE(h.io.server_side_emit_with_ack("ping", 1, [&](std::error_code ec, std::vector<sio::payload> replies) {
    acked.emplace(ec, replies.size());
  }));
  ASSERT_TRUE(acked);
  EXPECT_FALSE(acked->first);
  EXPECT_EQ(acked->second, 0u);
  EXPECT_EQ(handled, 0);
  EXPECT_EQ(h.io.server_side_emit("reserved-is-checked", 1), std::error_code{});
  EXPECT_EQ(h.io.server_side_emit("connect"), sio::error::reserved_event);
}

// What another node's server_side_emit does here: every handler sees it, the first reply is the
// node's answer (once), and a request without an ack gets an empty reply function.
TEST(AdapterFacing, ServerSideEmitFromAnotherNodeRepliesOnce) {
  harness h;
  std::vector<std::string> seen;
  h.io.sockets().on_server_side_emit([&](const sio::payload& p, const sio::server_side_reply& reply) {
    seen.emplace_back(p.args.at(0).as_string());
    if (reply) reply({json::array{"first"}, {}});
  });
  h.io.sockets().on_server_side_emit([&](const sio::payload&, const sio::server_side_reply& reply) {
    if (reply) reply({json::array{"second"}, {}});
  });
  auto& view = h.io.sockets().adapter()->nsp();  // what an adapter calls
  std::vector<json::array> replies;
  view.on_server_side_emit({json::array{"ping", 1}, {}}, [&](sio::payload p) { replies.push_back(p.args); });
  view.on_server_side_emit({json::array{"news"}, {}}, nullptr);
  EXPECT_EQ(seen, (std::vector<std::string>{"ping", "news"}));
  EXPECT_EQ(replies, std::vector<json::array>{json::array{"first"}});
}

// The adapter factory and init() run without the server's lock: an adapter may call the server
// from init() (a cluster adapter subscribes there, and may answer at once).
TEST(AdapterFacing, AdapterInitRunsOutsideTheServersLock) {
  struct probing_adapter final : sio::memory_adapter {
    probing_adapter(sio::local_namespace& n, sio::server*& io, std::vector<std::string>& log)
        : memory_adapter(n), io_(io), log_(log) {}
    void init() override {
      log_.push_back("init " + nsp().name());
      if (io_ && nsp().name() == "/first") io_->of("/second");  // re-enters the server
    }
    sio::server*& io_;
    std::vector<std::string>& log_;
  };
  sio::server* io_ptr = nullptr;
  std::vector<std::string> log;
  sio::server_options o;
  o.adapter = [&](sio::local_namespace& n) { return std::make_unique<probing_adapter>(n, io_ptr, log); };
  harness h(std::move(o));
  io_ptr = &h.io;
  h.io.of("/first");
  EXPECT_EQ(log, (std::vector<std::string>{"init /", "init /first", "init /second"}));
}

// A cluster adapter that never hears from one node expires the collector: the broadcast's
// callback still runs, once, with timed_out and the responses it has.
TEST(AdapterFacing, AnExpiredBroadcastAckCompletesOnce) {
  struct one_silent_node final : sio::memory_adapter {
    using memory_adapter::memory_adapter;
    void broadcast_with_ack(sio::outgoing_packet p, const sio::broadcast_options& opts,
                            std::shared_ptr<sio::ack_collector> c) override {
      c->expect_nodes(2);  // this node and one that will never report
      local_broadcast_with_ack(std::move(p), opts, c);
      pending = std::move(c);
    }
    std::shared_ptr<sio::ack_collector> pending;
  };
  one_silent_node* adapter = nullptr;
  sio::server_options o;
  o.adapter = [&](sio::local_namespace& n) {
    auto a = std::make_unique<one_silent_node>(n);
    adapter = a.get();
    return a;
  };
  harness h(std::move(o));
  auto s = h.open();
  h.connect(*s);
  int calls = 0;
  std::optional<std::pair<std::error_code, std::size_t>> result;
  h.io.emit_with_ack("q", [&](std::error_code ec, std::vector<json::array> r) {
    ++calls;
    result.emplace(ec, r.size());
  });
  auto sent = s->take_texts();
  ASSERT_EQ(sent.size(), 1u);
  h.text(*s, "3" + sent[0].substr(1, sent[0].find('[') - 1) + R"(["a"])");  // this node's client answers
  EXPECT_EQ(calls, 0);  // the other node has not reported
  ASSERT_TRUE(adapter && adapter->pending);
  adapter->pending->expire();
  adapter->pending->expire();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result->first, sio::error::timed_out);
  EXPECT_EQ(result->second, 1u);
}
