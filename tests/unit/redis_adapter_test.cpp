// sio::make_redis_adapter across nodes on a real redis-server (redis_server_fixture.hpp): each node
// is an event loop on its own thread with its own connections, a fake namespace and fake sockets
// (as adapter_test.cpp), and the test drives the adapters from its own thread, as a server's
// sockets would. Plus a raw Redis client that publishes what other processes would (the
// emitter, a Node.js member, garbage) and a raw subscriber that plays a silent node.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "redis_server_fixture.hpp"
#include "sio/msgpack/codec.hpp"
#include "sio/redis/client.hpp"
#include "sio/redis/subscriber.hpp"
#include "sio/redis_adapter/redis_adapter.hpp"

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Polls `done` until it holds, at most `timeout`.
template <class Pred>
bool eventually(Pred done, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

// ---- the fakes: a namespace of this node and its sockets, thread-safe ----

struct fake_socket : sio::local_socket {
  explicit fake_socket(std::string id) : id_(std::move(id)) {}
  const sio::socket_id& id() const noexcept override { return id_; }
  bool connected() const noexcept override { return true; }
  sio::delivery deliver(const sio::encoded_packet& p, const sio::broadcast_flags& f) override {
    std::lock_guard lock(mutex);
    received.push_back(p.frames);
    flags.push_back(f);
    return sio::delivery::queued;
  }
  void deliver_with_ack(const sio::encoded_packet& p, const sio::broadcast_flags& f, std::uint64_t,
                        const std::shared_ptr<sio::ack_collector>& c) override {
    std::optional<sio::payload> answer;
    {
      std::lock_guard lock(mutex);
      received.push_back(p.frames);
      flags.push_back(f);
      answer = ack_answer;
    }
    // Answers from another thread, later, as a client would.
    if (answer) std::thread([c, a = *answer] { c->on_response(a); }).detach();
  }
  void disconnect(bool close) override {
    std::lock_guard lock(mutex);
    disconnects.push_back(close);
  }
  void fetch_details(std::function<void(std::optional<sio::socket_details>)> done) override {
    auto h = std::make_shared<sio::handshake>();
    h->address = "10.1.2.3";
    h->url = "/socket.io/?EIO=4&client=" + id_;
    h->query.emplace("client", id_);
    h->headers.emplace("host", "example.org");
    h->auth = json::object{{"token", "t-" + id_}};
    h->issued = 1'700'000'000'123;
    h->time = std::chrono::system_clock::time_point(std::chrono::milliseconds(h->issued));
    done(sio::socket_details{id_, h, {id_}, json::object{{"who", id_}}});
  }

  std::size_t count() {
    std::lock_guard lock(mutex);
    return received.size();
  }
  std::vector<std::vector<sio::frame>> packets() {
    std::lock_guard lock(mutex);
    return received;
  }
  std::string last_text() {
    std::lock_guard lock(mutex);
    return received.empty() ? "" : *received.back()[0].data;
  }

  std::string id_;
  std::mutex mutex;
  std::vector<std::vector<sio::frame>> received;
  std::vector<sio::broadcast_flags> flags;
  std::vector<bool> disconnects;
  std::optional<sio::payload> ack_answer;
};

struct fake_nsp : sio::local_namespace {
  explicit fake_nsp(std::string name) : name_(std::move(name)) {}
  const std::string& name() const noexcept override { return name_; }
  std::shared_ptr<sio::local_socket> find_socket(std::string_view id) const override {
    std::lock_guard lock(mutex);
    auto it = sockets.find(std::string(id));
    return it == sockets.end() ? nullptr : it->second;
  }
  std::uint64_t next_ack_id() noexcept override { return next_id++; }
  void on_server_side_emit(sio::payload args, sio::server_side_reply reply) override {
    std::optional<sio::payload> answer;
    {
      std::lock_guard lock(mutex);
      server_side.push_back(args);
      answer = server_side_answer;
    }
    if (reply && answer) reply(*answer);
  }

  std::shared_ptr<fake_socket> add(const std::string& id) {
    auto s = std::make_shared<fake_socket>(id);
    std::lock_guard lock(mutex);
    sockets[id] = s;
    return s;
  }
  std::size_t server_side_count() {
    std::lock_guard lock(mutex);
    return server_side.size();
  }

  std::string name_;
  mutable std::mutex mutex;
  std::map<std::string, std::shared_ptr<fake_socket>> sockets;
  std::atomic<std::uint64_t> next_id{1};
  std::vector<sio::payload> server_side;
  std::optional<sio::payload> server_side_answer;
};

// The log lines an adapter wrote.
struct log_lines {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::function<void(std::string_view)> hook() {
    return [this](std::string_view l) {
      std::lock_guard lock(mutex);
      lines.emplace_back(l);
    };
  }
  std::size_t count(std::string_view needle) {
    std::lock_guard lock(mutex);
    return std::count_if(lines.begin(), lines.end(), [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  }
  std::string all() {
    std::lock_guard lock(mutex);
    std::string out;
    for (const auto& l : lines) out += l + "\n";
    return out;
  }
};

// One node of the cluster: its loop on a thread, its namespace, its adapter.
struct node {
  node(const std::string& url, std::function<void(sio::redis_adapter_options&)> tweak = {}, std::string nsp_name = "/")
      : nsp(std::move(nsp_name)) {
    sio::redis_adapter_options o;
    o.url = url;
    o.requests_timeout = 2s;
    o.reconnection_delay = 20ms;
    o.reconnection_delay_max = 100ms;
    o.log = log.hook();
    if (tweak) tweak(o);
    factory = sio::make_redis_adapter(loop, o);
    adapter = factory(nsp);
    thread = std::thread([this] { loop.run(); });
    adapter->init();
  }
  ~node() { stop(); }
  // As the apps do: the loop stops, then the adapter and the factory go.
  void stop() {
    if (!adapter) return;
    work.reset();
    loop.stop();
    if (thread.joinable()) thread.join();
    adapter.reset();
    factory = nullptr;
  }
  std::shared_ptr<fake_socket> join(const std::string& id, std::vector<std::string> rooms) {
    auto s = nsp.add(id);
    rooms.push_back(id);
    adapter->add_all(id, rooms);
    return s;
  }

  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(loop);
  log_lines log;
  fake_nsp nsp;
  sio::adapter_factory factory;
  std::unique_ptr<sio::adapter> adapter;
  std::thread thread;
};

// Calls `start(done)` and waits for done's value.
template <class T, class Start>
T await(Start start, std::chrono::milliseconds timeout = 5s) {
  auto p = std::make_shared<std::promise<T>>();
  auto f = p->get_future();
  start([p](T v) { p->set_value(std::move(v)); });
  if (f.wait_for(timeout) != std::future_status::ready) throw std::runtime_error("no completion");
  return f.get();
}

sio::result<std::size_t> server_count(node& n) {
  return await<sio::result<std::size_t>>([&](auto done) { n.adapter->server_count(done); });
}

// Collects a broadcast's acknowledgements as the server's multi_ack does.
struct collector : sio::ack_collector {
  void expect_nodes(std::size_t n) override {
    std::lock_guard lock(mutex);
    expected_nodes = n;
    told = true;
    check();
  }
  void add_client_count(std::size_t n) override {
    std::lock_guard lock(mutex);
    ++nodes;
    clients += n;
    check();
  }
  void on_response(sio::payload p) override {
    std::lock_guard lock(mutex);
    responses.push_back(std::move(p));
    check();
  }
  void on_failure(std::error_code) override {
    std::lock_guard lock(mutex);
    ++failures;
    check();
  }
  void expire() override {
    std::lock_guard lock(mutex);
    if (!done) expired = done = true;
    cv.notify_all();
  }
  void check() {
    if (told && nodes >= expected_nodes && responses.size() + failures >= clients && !done) {
      done = true;
      cv.notify_all();
    }
  }
  bool wait(std::chrono::milliseconds t = 5s) {
    std::unique_lock lock(mutex);
    return cv.wait_for(lock, t, [&] { return done; });
  }
  std::mutex mutex;
  std::condition_variable cv;
  bool told = false, done = false, expired = false;
  std::size_t expected_nodes = 0, nodes = 0, clients = 0, failures = 0;
  std::vector<sio::payload> responses;
};

sio::outgoing_packet event(json::array data, std::vector<sio::binary> bins = {}) {
  sio::outgoing_packet p;
  p.packet.data = std::move(data);
  p.attachments = std::move(bins);
  return p;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// A raw Redis connection of the test's own (what another process publishes) on its own loop.
struct raw_redis {
  explicit raw_redis(const std::string& url)
      : where(sio::redis::parse_url(url).value()), client(loop, where), thread([this] { loop.run(); }) {}
  ~raw_redis() {
    work.reset();
    loop.stop();
    thread.join();
  }
  void publish(const std::string& channel, const std::string& bytes) {
    auto done = std::make_shared<std::promise<void>>();
    auto f = done->get_future();
    client.publish(channel, bytes, [done](std::error_code, sio::redis::reply) { done->set_value(); });
    f.wait_for(5s);
  }
  asio::io_context loop;
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(loop);
  sio::redis::address where;
  sio::redis::client client;
  std::thread thread;
};

std::string msgpack(const char* json_text, std::vector<sio::msgpack::attachment> bins = {}) {
  return sio::msgpack::encode(json::parse(json_text), bins).value();
}

class RedisAdapter : public ::testing::Test {
 protected:
  // Three nodes, each with sockets: a1 in red; b1 in red and blue; b2 in blue; c1 in green.
  void SetUp() override {
    a = std::make_unique<node>(redis.url());
    b = std::make_unique<node>(redis.url());
    c = std::make_unique<node>(redis.url());
    a1 = a->join("a1", {"red"});
    b1 = b->join("b1", {"red", "blue"});
    b2 = b->join("b2", {"blue"});
    c1 = c->join("c1", {"green"});
    ASSERT_TRUE(eventually([&] { auto n = server_count(*a); return n && *n == 3; })) << a->log.all();
  }

  static inline std::unique_ptr<parley::test::redis_server> shared_redis;
  static void SetUpTestSuite() { shared_redis = std::make_unique<parley::test::redis_server>(); }
  static void TearDownTestSuite() { shared_redis.reset(); }

  parley::test::redis_server& redis = *shared_redis;
  std::unique_ptr<node> a, b, c;
  std::shared_ptr<fake_socket> a1, b1, b2, c1;
};

}  // namespace

TEST_F(RedisAdapter, BroadcastReachesEveryNode) {
  a->adapter->broadcast(event({"hello", 1}), {});
  for (auto* s : {a1.get(), b1.get(), b2.get(), c1.get()})
    ASSERT_TRUE(eventually([&] { return s->count() == 1; })) << s->id_;
  EXPECT_EQ(b1->last_text(), R"(2["hello",1])");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(a1->count(), 1u);  // its own broadcast, once: not again from Redis
}

TEST_F(RedisAdapter, RoomsExceptAndSeveralRoomsOnceEach) {
  a->adapter->broadcast(event({"to-red"}), {.rooms = {"red"}});
  ASSERT_TRUE(eventually([&] { return b1->count() == 1; }));
  a->adapter->broadcast(event({"red-and-blue-not-b2"}), {.rooms = {"red", "blue"}, .except = {"b2"}});
  ASSERT_TRUE(eventually([&] { return b1->count() == 2; }));
  a->adapter->broadcast(event({"green"}), {.rooms = {"green"}});
  ASSERT_TRUE(eventually([&] { return c1->count() == 1; }));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(a1->count(), 2u);
  EXPECT_EQ(b2->count(), 0u);
  EXPECT_EQ(b1->last_text(), R"(2["red-and-blue-not-b2"])");
}

TEST_F(RedisAdapter, BinaryVolatileCompressAndLocal) {
  sio::binary bytes(std::string("\x00\xff\x10", 3));
  a->adapter->broadcast(event({"file", sio::parser::make_placeholder(0)}, {bytes}),
                        {.rooms = {"blue"}, .flags = {.volatile_ = true, .compress = false}});
  ASSERT_TRUE(eventually([&] { return b2->count() == 1; }));
  auto frames = b2->packets()[0];
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(*frames[0].data, R"(51-["file",{"_placeholder":true,"num":0}])");
  EXPECT_TRUE(frames[1].binary);
  EXPECT_EQ(*frames[1].data, bytes.view());
  {
    std::lock_guard lock(b2->mutex);
    EXPECT_TRUE(b2->flags[0].volatile_);
    EXPECT_FALSE(b2->flags[0].compress);
  }
  a->adapter->broadcast(event({"local"}), {.flags = {.local = true}});
  ASSERT_TRUE(eventually([&] { return a1->count() == 1; }));
  a->adapter->broadcast(event({"after"}), {.rooms = {"blue"}});
  ASSERT_TRUE(eventually([&] { return b2->count() == 2; }));
  EXPECT_EQ(b2->last_text(), R"(2["after"])");  // "local" never came: it was not published
}

TEST_F(RedisAdapter, BroadcastWithAckCollectsEveryNodesClients) {
  for (auto* s : {a1.get(), b1.get(), b2.get(), c1.get()}) s->ack_answer = sio::payload{json::array{s->id_, "second"}, {}};
  auto col = std::make_shared<collector>();
  a->adapter->broadcast_with_ack(event({"q"}), {.flags = {.timeout = 2s}}, col);
  ASSERT_TRUE(col->wait());
  EXPECT_FALSE(col->expired);
  EXPECT_EQ(col->expected_nodes, 3u);
  EXPECT_EQ(col->nodes, 3u);
  EXPECT_EQ(col->clients, 4u);
  std::vector<std::string> who;
  for (auto& r : col->responses) who.emplace_back(r.args.at(0).as_string());
  EXPECT_EQ(sorted(who), (std::vector<std::string>{"a1", "b1", "b2", "c1"}));
  // A remote answer carries its first argument only, as the reference's.
  for (auto& r : col->responses) {
    if (r.args.at(0).as_string() != "a1") {
      EXPECT_EQ(r.args.size(), 1u);
    }
  }

  // Binary answers and a room.
  b1->ack_answer = sio::payload{json::array{sio::parser::make_placeholder(0)}, {sio::binary(std::string("bin"))}};
  auto col2 = std::make_shared<collector>();
  a->adapter->broadcast_with_ack(event({"q"}), {.rooms = {"red"}, .except = {"a1"}, .flags = {.timeout = 2s}}, col2);
  ASSERT_TRUE(col2->wait());
  ASSERT_EQ(col2->responses.size(), 1u);
  ASSERT_EQ(col2->responses[0].attachments.size(), 1u);
  EXPECT_EQ(col2->responses[0].attachments[0].view(), "bin");
  EXPECT_EQ(col2->clients, 1u);
}

TEST_F(RedisAdapter, BroadcastWithAckExpiresWhenAClientDoesNotAnswer) {
  a1->ack_answer = sio::payload{json::array{"a"}, {}};
  b1->ack_answer = sio::payload{json::array{"b"}, {}};  // b2 and c1 stay silent
  auto col = std::make_shared<collector>();
  const auto start = std::chrono::steady_clock::now();
  a->adapter->broadcast_with_ack(event({"q"}), {.flags = {.timeout = 300ms}}, col);
  ASSERT_TRUE(col->wait(3s));
  EXPECT_TRUE(col->expired);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 280ms);
  EXPECT_EQ(col->responses.size(), 2u);
}

TEST_F(RedisAdapter, FetchSocketsAllRoomsAndSockets) {
  auto found = await<sio::result<std::vector<sio::socket_details>>>(
      [&](auto done) { a->adapter->fetch_sockets({.rooms = {"red", "green"}}, done); });
  ASSERT_TRUE(found) << found.error().message();
  std::vector<std::string> ids;
  for (auto& d : *found) ids.push_back(d.id);
  EXPECT_EQ(sorted(ids), (std::vector<std::string>{"a1", "b1", "c1"}));
  for (auto& d : *found) {
    ASSERT_TRUE(d.handshake);
    EXPECT_EQ(d.handshake->address, "10.1.2.3");
    EXPECT_EQ(d.handshake->query.find("client")->second, d.id);
    EXPECT_EQ(d.handshake->auth.at("token").as_string(), "t-" + d.id);
    EXPECT_EQ(d.handshake->issued, 1'700'000'000'123);
    EXPECT_EQ(d.data.at("who").as_string(), d.id);
    EXPECT_EQ(d.rooms, std::vector<std::string>{d.id});
  }
  auto except = await<sio::result<std::vector<sio::socket_details>>>(
      [&](auto done) { a->adapter->fetch_sockets({.except = {"blue"}}, done); });
  ASSERT_TRUE(except);
  EXPECT_EQ(except->size(), 2u);  // a1 and c1
  auto local = await<sio::result<std::vector<sio::socket_details>>>(
      [&](auto done) { a->adapter->fetch_sockets({.flags = {.local = true}}, done); });
  ASSERT_TRUE(local);
  EXPECT_EQ(local->size(), 1u);

  auto rooms = await<sio::result<std::vector<sio::room>>>([&](auto done) { c->adapter->all_rooms(done); });
  ASSERT_TRUE(rooms);
  EXPECT_EQ(*rooms, (std::vector<std::string>{"a1", "b1", "b2", "blue", "c1", "green", "red"}));

  auto in_blue = await<sio::result<std::vector<sio::socket_id>>>([&](auto done) { a->adapter->sockets({"blue"}, done); });
  ASSERT_TRUE(in_blue);
  EXPECT_EQ(*in_blue, (std::vector<std::string>{"b1", "b2"}));
  auto everyone = await<sio::result<std::vector<sio::socket_id>>>([&](auto done) { a->adapter->sockets({}, done); });
  EXPECT_EQ(everyone->size(), 4u);
}

TEST_F(RedisAdapter, JoinLeaveAndDisconnectAcrossNodesOnceEach) {
  a->adapter->add_sockets({.rooms = {"red"}}, {"gold", "silver"});
  EXPECT_EQ(sorted(a->adapter->socket_rooms("a1")), (std::vector<std::string>{"a1", "gold", "red", "silver"}));  // at once here
  ASSERT_TRUE(eventually([&] { return sorted(b->adapter->socket_rooms("b1")).size() == 5; }));
  EXPECT_EQ(sorted(b->adapter->socket_rooms("b1")), (std::vector<std::string>{"b1", "blue", "gold", "red", "silver"}));
  EXPECT_EQ(b->adapter->socket_rooms("b2").size(), 2u);

  a->adapter->del_sockets({.rooms = {"gold"}, .except = {"a1"}}, {"silver"});
  ASSERT_TRUE(eventually([&] { return b->adapter->socket_rooms("b1").size() == 4; }));
  EXPECT_EQ(a->adapter->socket_rooms("a1").size(), 4u);

  a->adapter->disconnect_sockets({.rooms = {"red"}}, true);
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(b1->mutex);
    return b1->disconnects.size() == 1;
  }));
  std::this_thread::sleep_for(100ms);  // its own request came back from Redis meanwhile
  std::lock_guard lock(a1->mutex);
  EXPECT_EQ(a1->disconnects, std::vector<bool>{true});  // once, not again from Redis
  std::lock_guard lock2(c1->mutex);
  EXPECT_TRUE(c1->disconnects.empty());
}

TEST_F(RedisAdapter, ServerSideEmitWithAndWithoutAcks) {
  a->adapter->server_side_emit({json::array{"hi", 1}, {}}, nullptr);
  ASSERT_TRUE(eventually([&] { return b->nsp.server_side_count() == 1 && c->nsp.server_side_count() == 1; }));
  EXPECT_EQ(a->nsp.server_side_count(), 0u);  // never this node
  EXPECT_EQ(serialize(b->nsp.server_side[0].args), R"(["hi",1])");

  b->nsp.server_side_answer = sio::payload{json::array{"from-b", "ignored"}, {}};
  c->nsp.server_side_answer = sio::payload{json::array{sio::parser::make_placeholder(0)}, {sio::binary(std::string("C"))}};
  using ack_result = std::pair<std::error_code, std::vector<sio::payload>>;
  auto r = await<ack_result>([&](auto done) {
    a->adapter->server_side_emit({json::array{"ping"}, {}}, [done](std::error_code ec, std::vector<sio::payload> replies) {
      done(ack_result{ec, std::move(replies)});
    });
  });
  EXPECT_FALSE(r.first) << r.first.message();
  ASSERT_EQ(r.second.size(), 2u);
  int binary = 0;
  for (auto& p : r.second) {
    ASSERT_EQ(p.args.size(), 1u);
    if (!p.attachments.empty()) {
      ++binary;
      EXPECT_EQ(p.attachments[0].view(), "C");
    } else {
      EXPECT_EQ(p.args[0].as_string(), "from-b");
    }
  }
  EXPECT_EQ(binary, 1);
}

TEST_F(RedisAdapter, ASilentNodeMakesRequestsTimeOut) {
  // A subscriber to the request channel counts as a node and never answers.
  asio::io_context loop;
  auto work = asio::make_work_guard(loop);
  sio::redis::subscriber silent(loop, sio::redis::parse_url(redis.url()).value(), [](const sio::redis::message&) {});
  std::atomic<bool> subscribed{false};
  silent.subscribe({"socket.io-request#/#"}, [&](std::error_code ec) { subscribed = !ec; });
  std::thread t([&] { loop.run(); });
  ASSERT_TRUE(eventually([&] { return subscribed.load(); }));
  ASSERT_TRUE(eventually([&] { auto n = server_count(*a); return n && *n == 4; }));

  const auto start = std::chrono::steady_clock::now();
  auto rooms = await<sio::result<std::vector<sio::room>>>([&](auto done) { a->adapter->all_rooms(done); });
  ASSERT_FALSE(rooms);
  EXPECT_EQ(rooms.error(), sio::redis_adapter_error::request_timed_out);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1900ms);  // requests_timeout: 2 s

  b->nsp.server_side_answer = sio::payload{json::array{"b"}, {}};
  c->nsp.server_side_answer = sio::payload{json::array{"c"}, {}};
  using ack_result = std::pair<std::error_code, std::vector<sio::payload>>;
  auto r = await<ack_result>([&](auto done) {
    a->adapter->server_side_emit({json::array{"ping"}, {}}, [done](std::error_code ec, std::vector<sio::payload> replies) {
      done(ack_result{ec, std::move(replies)});
    });
  });
  EXPECT_EQ(r.first, sio::redis_adapter_error::request_timed_out);
  EXPECT_EQ(r.second.size(), 2u);  // what came in time
  loop.stop();
  t.join();
}

TEST_F(RedisAdapter, RedisDownLocalGoesOnRequestsFailFastThenItHeals) {
  redis.stop();
  ASSERT_TRUE(eventually([&] { return !server_count(*a); }));
  // This node's own clients are still served.
  a->adapter->broadcast(event({"while-down"}), {});
  ASSERT_TRUE(eventually([&] { return a1->count() == 1; }));
  a->adapter->broadcast(event({"while-down-2"}), {});
  // Requests fail at once.
  const auto start = std::chrono::steady_clock::now();
  auto rooms = await<sio::result<std::vector<sio::room>>>([&](auto done) { a->adapter->all_rooms(done); });
  EXPECT_EQ(rooms.error(), sio::redis_adapter_error::not_connected);
  auto found = await<sio::result<std::vector<sio::socket_details>>>([&](auto done) { a->adapter->fetch_sockets({}, done); });
  EXPECT_EQ(found.error(), sio::redis_adapter_error::not_connected);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  // A broadcast with acknowledgements gets this node's.
  a1->ack_answer = sio::payload{json::array{"a"}, {}};
  auto col = std::make_shared<collector>();
  a->adapter->broadcast_with_ack(event({"q"}), {.flags = {.timeout = 300ms}}, col);
  ASSERT_TRUE(col->wait(2s));
  EXPECT_EQ(col->responses.size(), 1u);
  EXPECT_TRUE(col->expired);  // the nodes last counted did not report
  // Joins made meanwhile apply here.
  a->adapter->add_sockets({}, {"offline"});
  EXPECT_EQ(a->adapter->local_sockets({"offline"}), std::vector<std::string>{"a1"});
  EXPECT_EQ(b1->count(), 0u);
  // Publications dropped: said once, not per message.
  ASSERT_TRUE(eventually([&] { return a->log.count("publications dropped") == 1; })) << a->log.all();

  redis.start();
  ASSERT_TRUE(eventually([&] { auto n = server_count(*a); return n && *n == 3; }, 10s)) << a->log.all();
  // Every node's both connections back (a node whose publisher is still reconnecting cannot answer).
  for (node* n : {b.get(), c.get()}) ASSERT_TRUE(eventually([&] { auto k = server_count(*n); return k && *k == 3; }, 10s));
  a->adapter->broadcast(event({"healed"}), {.rooms = {"blue"}});
  ASSERT_TRUE(eventually([&] { return b2->count() == 1; }));
  EXPECT_EQ(b2->last_text(), R"(2["healed"])");
  auto again = await<sio::result<std::vector<sio::room>>>([&](auto done) { a->adapter->all_rooms(done); });
  EXPECT_TRUE(again) << again.error().message() << "\n" << a->log.all();
  EXPECT_EQ(a->log.count("publication(s) were dropped"), 1u) << a->log.all();
  EXPECT_GE(a->log.count("reconnected"), 2u) << a->log.all();  // the publisher's and the subscriber's
}

TEST_F(RedisAdapter, MalformedMessagesAreLoggedAndDropped) {
  raw_redis raw(redis.url());
  const std::string garbage[] = {"", "\xc1", "{", "[1,2]", "\x93\xa1u\x80\x80", msgpack(R"(["x",{"type":2,"data":[]},{}])"),
                                 msgpack(R"(["x",{"type":2,"data":["connect"]},{}])"), msgpack(R"({"a":1})"),
                                 std::string(1, '\xdf') + "\xff\xff\xff\xff"};
  for (const auto& g : garbage) {
    raw.publish("socket.io#/#", g);
    raw.publish("socket.io#/#blue#", g);
    raw.publish("socket.io-request#/#", g);
    raw.publish("socket.io-response#/#", g);
  }
  raw.publish("socket.io-request#/#", R"({"type":5,"requestId":"x"})");  // a Node.js member would throw
  raw.publish("socket.io-response#/#", R"({"requestId":"x","sockets":"no"})");
  // Still working.
  a->adapter->broadcast(event({"still-fine"}), {.rooms = {"green"}});
  ASSERT_TRUE(eventually([&] { return c1->count() == 1; }));
  EXPECT_EQ(b1->count(), 0u);
  EXPECT_GE(b->log.count("dropped a broadcast"), 10u) << b->log.all();
  EXPECT_GE(b->log.count("dropped a request"), 9u) << b->log.all();
  EXPECT_GE(b->log.count("dropped a response"), 9u) << b->log.all();
  auto rooms = await<sio::result<std::vector<sio::room>>>([&](auto done) { a->adapter->all_rooms(done); });
  EXPECT_TRUE(rooms);
}

TEST_F(RedisAdapter, WhatTheEmitterAndNodeMembersPublish) {
  raw_redis raw(redis.url());
  // @socket.io/redis-emitter's broadcast (its key order: rooms, flags, except), with binary.
  raw.publish("socket.io#/#blue#",
              msgpack(R"(["emitter",{"type":2,"data":["from-emitter",{"_placeholder":true,"num":0},2],"nsp":"/"},{"rooms":["blue"],"flags":{"volatile":true},"except":["b1"]}])",
                      {std::make_shared<const std::string>("\x09")}));
  ASSERT_TRUE(eventually([&] { return b2->count() == 1; }));
  EXPECT_EQ(*b2->packets()[0][0].data, R"(51-["from-emitter",{"_placeholder":true,"num":0},2])");
  // Its socketsJoin (no uid) and serverSideEmit.
  raw.publish("socket.io-request#/#", R"({"type":2,"opts":{"rooms":["green"],"except":[]},"rooms":["emitted"]})");
  ASSERT_TRUE(eventually([&] { return c->adapter->local_sockets({"emitted"}).size() == 1; }));
  raw.publish("socket.io-request#/#", R"({"uid":"emitter","type":6,"data":["ping-servers","e"]})");
  ASSERT_TRUE(eventually([&] {
    return a->nsp.server_side_count() == 1 && b->nsp.server_side_count() == 1 && c->nsp.server_side_count() == 1;
  }));
  // A Node.js member's broadcast to its numeric room 42: rooms [42], channel "...#42#".
  auto n42 = b->join("n42", {"42"});
  raw.publish("socket.io#/#42#", msgpack(R"(["NodeJS",{"type":2,"data":["n"],"nsp":"/"},{"rooms":[42],"except":[],"flags":{}}])"));
  ASSERT_TRUE(eventually([&] { return n42->count() == 1; }));
  // ... and of another namespace, or for a room nobody here has: ignored.
  raw.publish("socket.io#/#blue#", msgpack(R"(["NodeJS",{"type":2,"data":["x"],"nsp":"/chat"},{"rooms":["blue"]}])"));
  raw.publish("socket.io#/#nobody#", msgpack(R"(["NodeJS",{"type":2,"data":["x"],"nsp":"/"},{"rooms":["blue"]}])"));
  a->adapter->broadcast(event({"marker"}), {.rooms = {"blue"}});
  ASSERT_TRUE(eventually([&] { return b2->count() == 2; }));
  EXPECT_EQ(b2->last_text(), R"(2["marker"])");
}

TEST_F(RedisAdapter, AnswersANodeMembersRequests) {
  raw_redis raw(redis.url());
  std::mutex m;
  std::vector<std::string> answers;
  asio::io_context loop;
  auto work = asio::make_work_guard(loop);
  sio::redis::subscriber listen(loop, raw.where, [&](const sio::redis::message& msg) {
    std::lock_guard lock(m);
    answers.emplace_back(msg.payload);
  });
  std::atomic<bool> ready{false};
  listen.subscribe({"socket.io-response#/#"}, [&](std::error_code ec) { ready = !ec; });
  std::thread t([&] { loop.run(); });
  ASSERT_TRUE(eventually([&] { return ready.load(); }));
  auto count = [&] {
    std::lock_guard lock(m);
    return answers.size();
  };
  // SOCKETS (answered by all three), a single-socket join (by b's node alone), a BROADCAST.
  raw.publish("socket.io-request#/#", R"({"uid":"NodeJS","requestId":"rq1","type":0,"rooms":["blue"]})");
  ASSERT_TRUE(eventually([&] { return count() == 3; }));
  raw.publish("socket.io-request#/#", R"({"uid":"NodeJS","requestId":"rq2","type":2,"sid":"b2","room":"solo"})");
  ASSERT_TRUE(eventually([&] { return count() == 4; }));
  EXPECT_EQ(b->adapter->local_sockets({"solo"}), std::vector<std::string>{"b2"});
  b2->ack_answer = sio::payload{json::array{"ok"}, {}};
  raw.publish("socket.io-request#/#",
              msgpack(R"({"uid":"NodeJS","requestId":"rq3","type":7,"packet":{"type":2,"data":["q"],"nsp":"/"},"opts":{"rooms":["b2"],"except":[],"flags":{"timeout":1000}}})"));
  ASSERT_TRUE(eventually([&] { return count() == 8; }));  // three client counts, one ack
  loop.stop();
  t.join();
  std::lock_guard lock(m);
  EXPECT_EQ(sorted({answers[0], answers[1], answers[2]}),
            sorted({R"({"requestId":"rq1","sockets":[]})", R"({"requestId":"rq1","sockets":[]})",
                    R"({"requestId":"rq1","sockets":["b1","b2"]})"}));
  EXPECT_EQ(answers[3], R"({"requestId":"rq2"})");
  std::vector<std::string> rest(answers.begin() + 4, answers.end());
  EXPECT_EQ(std::count(rest.begin(), rest.end(), R"({"type":8,"requestId":"rq3","clientCount":0})"), 2);
  EXPECT_EQ(std::count(rest.begin(), rest.end(), R"({"type":8,"requestId":"rq3","clientCount":1})"), 1);
  EXPECT_EQ(std::count(rest.begin(), rest.end(), msgpack(R"({"type":9,"requestId":"rq3","packet":"ok"})")), 1);
}

TEST(RedisAdapterOptions, SpecificResponseChannelAndOtherNamespaces) {
  parley::test::redis_server redis;
  auto specific = [](sio::redis_adapter_options& o) { o.publish_on_specific_response_channel = true; };
  node a(redis.url(), specific, "/chat"), b(redis.url(), specific, "/chat"), other(redis.url(), specific, "/");
  a.join("a1", {"r"});
  auto b1 = b.join("b1", {"r"});
  auto o1 = other.join("o1", {"r"});
  ASSERT_TRUE(eventually([&] { auto n = server_count(a); return n && *n == 2; }));
  auto rooms = await<sio::result<std::vector<sio::room>>>([&](auto done) { a.adapter->all_rooms(done); });
  ASSERT_TRUE(rooms) << rooms.error().message();
  EXPECT_EQ(*rooms, (std::vector<std::string>{"a1", "b1", "r"}));
  a.adapter->broadcast(event({"chat"}), {.rooms = {"r"}});
  ASSERT_TRUE(eventually([&] { return b1->count() == 1; }));
  EXPECT_EQ(b1->last_text(), R"(2/chat,["chat"])");
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(o1->count(), 0u);
}

TEST(RedisAdapterOptions, BadOptionsAreRefusedAtOnce) {
  asio::io_context loop;
  sio::redis_adapter_options o;
  o.url = "http://127.0.0.1:6379";
  EXPECT_THROW(sio::make_redis_adapter(loop, o), std::invalid_argument);
  o.url = "redis://127.0.0.1:6379";
  o.requests_timeout = 0ms;
  EXPECT_THROW(sio::make_redis_adapter(loop, o), std::invalid_argument);
}

TEST(RedisAdapterOptions, StartsWhileRedisIsDownAndJoinsWhenItComes) {
  parley::test::redis_server redis;
  const auto url = redis.url();
  redis.stop();
  node a(url), b(url);
  auto b1 = b.join("b1", {});
  auto r = server_count(a);
  EXPECT_EQ(r.error(), sio::redis_adapter_error::not_connected);
  redis.start();
  ASSERT_TRUE(eventually([&] { auto n = server_count(a); return n && *n == 2; }, 10s)) << a.log.all();
  a.adapter->broadcast(event({"hi"}), {});
  ASSERT_TRUE(eventually([&] { return b1->count() == 1; }));
}
