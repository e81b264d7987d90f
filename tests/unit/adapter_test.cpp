// memory_adapter over fake local sockets: rooms bookkeeping, recipients, encode-once.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "sio/adapter/memory_adapter.hpp"

namespace {

struct fake_socket : sio::local_socket {
  explicit fake_socket(std::string id) : id_(std::move(id)) {}
  const sio::socket_id& id() const noexcept override { return id_; }
  bool connected() const noexcept override { return connected_; }
  sio::delivery deliver(const sio::encoded_packet& p, const sio::broadcast_flags& f) override {
    received.push_back(p.frames);
    flags.push_back(f);
    return sio::delivery::queued;
  }
  void deliver_with_ack(const sio::encoded_packet& p, const sio::broadcast_flags& f, std::uint64_t id,
                        const std::shared_ptr<sio::ack_collector>& c) override {
    received.push_back(p.frames);
    ack_id = id;
    collector = c;
  }
  void disconnect(bool close) override { disconnected = close ? 2 : 1; }
  void fetch_details(std::function<void(std::optional<sio::socket_details>)> done) override {
    done(sio::socket_details{id_, nullptr, {}, boost::json::value(id_)});
  }

  std::string id_;
  bool connected_ = true;
  std::vector<std::vector<sio::frame>> received;
  std::vector<sio::broadcast_flags> flags;
  std::uint64_t ack_id = 0;
  std::shared_ptr<sio::ack_collector> collector;
  int disconnected = 0;
};

struct fake_nsp : sio::local_namespace {
  const std::string& name() const noexcept override { return name_; }
  std::shared_ptr<sio::local_socket> find_socket(std::string_view id) const override {
    auto it = sockets.find(std::string(id));
    return it == sockets.end() ? nullptr : it->second;
  }
  std::uint64_t next_ack_id() noexcept override { return next_id++; }
  void on_server_side_emit(sio::payload, sio::server_side_reply) override {}

  std::shared_ptr<fake_socket> add(const std::string& id) {
    auto s = std::make_shared<fake_socket>(id);
    sockets[id] = s;
    return s;
  }
  std::string name_ = "/chat";
  std::map<std::string, std::shared_ptr<fake_socket>> sockets;
  std::uint64_t next_id = 7;
};

sio::outgoing_packet event(const char* name) {
  sio::outgoing_packet p;
  p.packet.data = boost::json::array{name};
  return p;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

struct AdapterTest : ::testing::Test {
  fake_nsp nsp;
  sio::memory_adapter a{nsp};
  std::shared_ptr<fake_socket> s1 = nsp.add("s1"), s2 = nsp.add("s2"), s3 = nsp.add("s3");
  void SetUp() override {
    a.add_all("s1", {"s1", "red"});
    a.add_all("s2", {"s2", "red", "blue"});
    a.add_all("s3", {"s3", "blue"});
  }
};

}  // namespace

TEST_F(AdapterTest, RoomsBookkeeping) {
  EXPECT_EQ(sorted(a.socket_rooms("s2")), (std::vector<std::string>{"blue", "red", "s2"}));
  EXPECT_EQ(sorted(a.local_sockets({"red"})), (std::vector<std::string>{"s1", "s2"}));
  EXPECT_EQ(sorted(a.local_sockets({})), (std::vector<std::string>{"s1", "s2", "s3"}));
  a.del("s2", "red");
  EXPECT_EQ(a.local_sockets({"red"}), std::vector<std::string>{"s1"});
  a.del("s1", "red");
  auto rooms = a.local_rooms();
  EXPECT_EQ(std::count(rooms.begin(), rooms.end(), "red"), 0);  // an empty room is deleted
  a.del_all("s2");
  EXPECT_TRUE(a.socket_rooms("s2").empty());
  EXPECT_EQ(a.local_sockets({"blue"}), std::vector<std::string>{"s3"});
  a.del_all("unknown");  // harmless
}

TEST_F(AdapterTest, AddAllIgnoresUnknownAndDisconnectedSockets) {
  a.add_all("ghost", {"red"});
  s3->connected_ = false;
  a.add_all("s3", {"red"});
  EXPECT_EQ(sorted(a.local_sockets({"red"})), (std::vector<std::string>{"s1", "s2"}));
}

TEST_F(AdapterTest, BroadcastEncodesOnceForEveryRecipient) {
  auto p = event("hello");
  p.attachments.emplace_back(std::string("\x01\x02", 2));
  p.packet.data.as_array().push_back(sio::parser::make_placeholder(0));
  a.broadcast(std::move(p), {.rooms = {"red", "blue"}});  // s2 is in both: once
  ASSERT_EQ(s1->received.size(), 1u);
  ASSERT_EQ(s2->received.size(), 1u);
  ASSERT_EQ(s3->received.size(), 1u);
  auto& f = s1->received[0];
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(*f[0].data, R"(51-/chat,["hello",{"_placeholder":true,"num":0}])");
  EXPECT_FALSE(f[0].binary);
  EXPECT_TRUE(f[1].binary);
  for (auto* s : {s2.get(), s3.get()}) {
    EXPECT_EQ(s->received[0][0].data.get(), f[0].data.get());  // the same buffer, not a copy
    EXPECT_EQ(s->received[0][1].data.get(), f[1].data.get());
  }
}

TEST_F(AdapterTest, BroadcastExceptAndFlags) {
  a.broadcast(event("x"), {.rooms = {}, .except = {"blue"}, .flags = {.volatile_ = true}});
  EXPECT_EQ(s1->received.size(), 1u);
  EXPECT_TRUE(s1->flags[0].volatile_);
  EXPECT_TRUE(s2->received.empty());
  EXPECT_TRUE(s3->received.empty());
  a.broadcast(event("x"), {.rooms = {"red"}, .except = {"s1"}});
  EXPECT_EQ(s1->received.size(), 1u);
  EXPECT_EQ(s2->received.size(), 1u);
  a.broadcast(event("x"), {.rooms = {"nobody"}});
  EXPECT_EQ(s1->received.size() + s2->received.size() + s3->received.size(), 2u);
}

TEST_F(AdapterTest, BroadcastWithAckUsesOneIdAndReportsCount) {
  struct counter : sio::ack_collector {
    void expect_nodes(std::size_t n) override { nodes += n; }
    void add_client_count(std::size_t n) override { count += n; ++reports; }
    void on_response(sio::payload) override {}
    void on_failure(std::error_code) override {}
    void expire() override { ++expired; }
    std::size_t nodes = 0, count = 0, reports = 0, expired = 0;
  };
  auto c = std::make_shared<counter>();
  a.broadcast_with_ack(event("q"), {.rooms = {"blue"}}, c);
  EXPECT_EQ(c->nodes, 1u);  // this node alone
  EXPECT_EQ(c->count, 2u);
  EXPECT_EQ(c->reports, 1u);
  EXPECT_EQ(c->expired, 0u);
  EXPECT_EQ(s2->ack_id, 7u);
  EXPECT_EQ(s3->ack_id, 7u);
  EXPECT_EQ(s2->collector, c);
  EXPECT_EQ(*s2->received[0][0].data, R"(2/chat,7["q"])");
}

TEST_F(AdapterTest, SocketOperations) {
  std::vector<sio::socket_details> found;
  a.fetch_sockets({.rooms = {"red"}}, [&](sio::result<std::vector<sio::socket_details>> d) { found = std::move(*d); });
  ASSERT_EQ(found.size(), 2u);
  std::vector<std::string> ids{found[0].data.as_string().c_str(), found[1].data.as_string().c_str()};
  EXPECT_EQ(sorted(ids), (std::vector<std::string>{"s1", "s2"}));
  bool called = false;
  a.fetch_sockets({.rooms = {"nobody"}}, [&](sio::result<std::vector<sio::socket_details>> d) { called = d->empty(); });
  EXPECT_TRUE(called);

  a.add_sockets({.rooms = {"blue"}}, {"green", "yellow"});
  EXPECT_EQ(sorted(a.local_sockets({"green"})), (std::vector<std::string>{"s2", "s3"}));
  a.del_sockets({.except = {"s3"}}, {"green"});
  EXPECT_EQ(a.local_sockets({"green"}), std::vector<std::string>{"s3"});

  a.disconnect_sockets({.rooms = {"red"}}, true);
  EXPECT_EQ(s1->disconnected, 2);
  EXPECT_EQ(s2->disconnected, 2);
  EXPECT_EQ(s3->disconnected, 0);
  std::size_t servers = 0;
  a.server_count([&](sio::result<std::size_t> n) { servers = *n; });
  EXPECT_EQ(servers, 1u);
  std::vector<std::string> everywhere;
  a.sockets({"red"}, [&](sio::result<std::vector<sio::socket_id>> ids) { everywhere = *ids; });
  EXPECT_EQ(sorted(everywhere), (std::vector<std::string>{"s1", "s2"}));
  std::vector<std::string> rooms;
  a.all_rooms([&](sio::result<std::vector<sio::room>> r) { rooms = *r; });
  EXPECT_EQ(sorted(rooms), sorted(a.local_rooms()));
  bool acked = false;  // a single node has no other node to ask
  a.server_side_emit({boost::json::array{"hi"}, {}}, [&](std::error_code ec, std::vector<sio::payload> replies) {
    acked = !ec && replies.empty();
  });
  EXPECT_TRUE(acked);
}

TEST_F(AdapterTest, OwnRoomBehavesLikeAnyRoom) {
  // Every socket is in the room of its own id (SetUp); others may join that room too.
  EXPECT_EQ(a.local_sockets({"s1"}), std::vector<std::string>{"s1"});
  a.add_all("s2", {"s1"});
  EXPECT_EQ(sorted(a.local_sockets({"s1"})), (std::vector<std::string>{"s1", "s2"}));
  auto rooms = a.local_rooms();
  EXPECT_EQ(std::count(rooms.begin(), rooms.end(), "s1"), 1);
  EXPECT_EQ(sorted(a.socket_rooms("s2")), (std::vector<std::string>{"blue", "red", "s1", "s2"}));

  a.broadcast(event("x"), {.rooms = {"s1"}});
  EXPECT_EQ(s1->received.size(), 1u);
  EXPECT_EQ(s2->received.size(), 1u);
  EXPECT_TRUE(s3->received.empty());
  a.broadcast(event("x"), {.rooms = {"s1", "s2", "red"}});  // each once
  EXPECT_EQ(s1->received.size(), 2u);
  EXPECT_EQ(s2->received.size(), 2u);
  a.broadcast(event("x"), {.except = {"s1"}});  // s1, and s2 through the room named s1
  EXPECT_EQ(s1->received.size(), 2u);
  EXPECT_EQ(s2->received.size(), 2u);
  EXPECT_EQ(s3->received.size(), 1u);

  a.del("s1", "s1");  // a socket may leave its own room
  EXPECT_EQ(a.local_sockets({"s1"}), std::vector<std::string>{"s2"});
  EXPECT_EQ(a.socket_rooms("s1"), std::vector<std::string>{"red"});
  rooms = a.local_rooms();
  EXPECT_EQ(std::count(rooms.begin(), rooms.end(), "s1"), 1);
  a.del("s2", "s1");
  EXPECT_TRUE(a.local_sockets({"s1"}).empty());
  rooms = a.local_rooms();
  EXPECT_EQ(std::count(rooms.begin(), rooms.end(), "s1"), 0);
  EXPECT_EQ(sorted(a.local_sockets({})), (std::vector<std::string>{"s1", "s2", "s3"}));  // still known
  a.add_all("s1", {"s1", "s1"});
  EXPECT_EQ(a.local_sockets({"s1"}), std::vector<std::string>{"s1"});
  EXPECT_EQ(sorted(a.socket_rooms("s1")), (std::vector<std::string>{"red", "s1"}));
}

TEST_F(AdapterTest, JoiningTwiceIsOnce) {
  a.add_all("s1", {"red", "red", "green"});
  a.add_sockets({.rooms = {"s1"}}, {"green"});
  EXPECT_EQ(a.local_sockets({"red"}).size(), 2u);
  EXPECT_EQ(a.local_sockets({"green"}), std::vector<std::string>{"s1"});
  EXPECT_EQ(sorted(a.socket_rooms("s1")), (std::vector<std::string>{"green", "red", "s1"}));
}

TEST_F(AdapterTest, MembersLeaveInAnyOrder) {
  std::vector<std::shared_ptr<fake_socket>> extra;
  for (int i = 0; i < 6; ++i) {
    auto id = "m" + std::to_string(i);
    extra.push_back(nsp.add(id));
    a.add_all(id, {id, "big", i % 2 ? "odd" : "even"});
  }
  auto expect_big = [&](std::vector<std::string> ids) {
    EXPECT_EQ(sorted(a.local_sockets({"big"})), sorted(ids));
    a.broadcast(event("x"), {.rooms = {"big"}});
    for (auto& s : extra) {
      const bool in = std::find(ids.begin(), ids.end(), s->id_) != ids.end();
      EXPECT_EQ(s->received.size(), in ? 1u : 0u) << s->id_;
      s->received.clear();
    }
  };
  expect_big({"m0", "m1", "m2", "m3", "m4", "m5"});
  a.del("m2", "big");  // from the middle
  expect_big({"m0", "m1", "m3", "m4", "m5"});
  a.del_all("m0");  // the first
  expect_big({"m1", "m3", "m4", "m5"});
  a.del_sockets({.rooms = {"odd"}}, {"big"});
  expect_big({"m4"});
  EXPECT_EQ(sorted(a.local_sockets({"odd"})), (std::vector<std::string>{"m1", "m3", "m5"}));
  EXPECT_EQ(sorted(a.local_sockets({"even"})), (std::vector<std::string>{"m2", "m4"}));
  a.del_all("m4");
  expect_big({});
  auto rooms = a.local_rooms();
  EXPECT_EQ(std::count(rooms.begin(), rooms.end(), "big"), 0);
  a.add_all("m1", {"big"});  // a room comes back after it emptied
  expect_big({"m1"});
}
