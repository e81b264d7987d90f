// sio::redis_emitter against a real redis-server (redis_server_fixture.hpp):
//   - its bytes: every case of redis-emitter-vectors/capture.mjs, which recorded what npm
//     @socket.io/redis-emitter 5.1 publishes, done again with the C++ API, and what a raw
//     subscriber receives compared with the recorded channel and bytes;
//   - its effect: a Node.js cluster (two socket.io servers on @socket.io/redis-adapter 8.3, with
//     socket.io-client clients: redis-emitter-peer.mjs) receiving what the C++ emitter sends;
//   - flush(), failures and lifetime.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe/class.hpp>
#include <boost/json.hpp>

#include "redis_server_fixture.hpp"
#include "sio/msgpack/codec.hpp"
#include "sio/redis/subscriber.hpp"
#include "sio/redis_emitter/redis_emitter.hpp"
#include "sio/socketio/typed_events.hpp"  // sio::event_def works with the emitter too

namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;
using namespace std::string_literals;

// ---- helpers ----

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(digits[c >> 4]);
    out.push_back(digits[c & 15]);
  }
  return out;
}

// An event loop on a thread of its own: the emitter is used from the test's thread, as a worker
// would use it from its own threads.
struct loop_thread {
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ctx);
  std::thread thread{[this] { ctx.run(); }};
  ~loop_thread() { stop(); }
  void stop() {
    work.reset();
    ctx.stop();
    if (thread.joinable()) thread.join();
  }
};

// Stops the loop when it goes out of scope. Declared after the emitters and subscribers of a
// test, it goes first: they are destroyed with their loop stopped, as they must be (also when an
// assertion returns early).
struct loop_stopper {
  loop_thread& loop;
  ~loop_stopper() { loop.stop(); }
};

// Every message published on the Redis server, in the order a subscriber got it.
class redis_tap {
 public:
  redis_tap(asio::io_context& ctx, const std::string& url)
      : sub_(ctx, sio::redis::parse_url(url).value(), [this](const sio::redis::message& m) {
          std::lock_guard lock(mutex_);
          messages_.emplace_back(std::string(m.channel), std::string(m.payload));
          arrived_.notify_all();
        }) {
    auto subscribed = std::make_shared<std::promise<std::error_code>>();
    sub_.psubscribe({"*"}, [subscribed](std::error_code ec) { subscribed->set_value(ec); });
    auto ready = subscribed->get_future();
    if (ready.wait_for(5s) != std::future_status::ready || ready.get())
      throw std::runtime_error("redis_tap: could not subscribe");
  }
  // The n-th message (from 0), waiting for it at most `timeout`.
  std::optional<std::pair<std::string, std::string>> at(std::size_t n, std::chrono::milliseconds timeout = 5s) {
    std::unique_lock lock(mutex_);
    if (!arrived_.wait_for(lock, timeout, [&] { return messages_.size() > n; })) return std::nullopt;
    return messages_[n];
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }

 private:
  std::mutex mutex_;
  std::condition_variable arrived_;
  std::vector<std::pair<std::string, std::string>> messages_;
  sio::redis::subscriber sub_;  // last: its handler uses the members above
};

std::error_code flush(sio::redis_emitter& emitter, std::chrono::milliseconds timeout = 5s) {
  auto done = std::make_shared<std::promise<std::error_code>>();
  auto result = done->get_future();
  emitter.flush([done](std::error_code ec) { done->set_value(ec); });
  if (result.wait_for(timeout) != std::future_status::ready) return std::make_error_code(std::errc::timed_out);
  return result.get();
}

json::object placeholder(std::int64_t n) { return {{"_placeholder", true}, {"num", n}}; }

// ---- the npm emitter's bytes ----

struct vector {
  const char* name;
  const char* channel;
  const char* hex;
  const char* refused;  // the npm emitter's error, or empty
};
const vector npm_vectors[] = {
#include "redis-emitter-vectors/emitter_vectors.inc"
};

// The C++ twin of each case of capture.mjs: `io` is an emitter with the default key, `custom` one
// with key "myapp".
using emitter_case = std::function<std::error_code(sio::redis_emitter& io, sio::redis_emitter& custom)>;
std::map<std::string, emitter_case> cpp_cases() {
  std::map<std::string, emitter_case> c;
  auto done = [](auto&& f) {  // the operations that return nothing
    return [f](sio::redis_emitter& io, sio::redis_emitter& custom) {
      f(io, custom);
      return std::error_code();
    };
  };
  using E = sio::redis_emitter;
  using strings = std::vector<std::string>;
  // Broadcasts.
  c["emit to everyone"] = [](E& io, E&) {
    return io.emit("news", "hello", 42, 2.5, -7, nullptr, true, false,
                   json::object{{"a", json::array{1, "b", json::object{{"c", nullptr}}}}}, json::array{});
  };
  c["emit without arguments"] = [](E& io, E&) { return io.emit("ping"); };
  c["to one room"] = [](E& io, E&) { return io.to("room1").emit("news", json::object{{"hello", "world"}}); };
  c["in is to"] = [](E& io, E&) { return io.in("room1").emit("news", 1); };
  c["to two rooms"] = [](E& io, E&) { return io.to("room1").to("room2").emit("news", 1); };
  c["to rooms, repeats dropped"] = [](E& io, E&) {
    return io.to({"r1", "r2"}).to("r1").in(strings{"r3", "r2"}).emit("news", 1);
  };
  c["to no room"] = [](E& io, E&) { return io.to(strings{}).emit("news", 1); };
  c["to the empty room"] = [](E& io, E&) { return io.to("").emit("news", 1); };
  c["except"] = [](E& io, E&) { return io.except("banned").emit("news", 1); };
  c["to and except"] = [](E& io, E&) { return io.to("room1").except({"r2", "r3"}).except("r2").emit("news"); };
  c["volatile"] = [](E& io, E&) { return io.volatile_().emit("tick", 1); };
  c["compress false"] = [](E& io, E&) { return io.compress(false).emit("big", "x"); };
  c["compress then volatile"] = [](E& io, E&) { return io.compress(true).volatile_().emit("news", 1); };
  c["volatile then compress"] = [](E& io, E&) { return io.to("room1").volatile_().compress(false).emit("news", 1); };
  c["a flag set twice keeps its place"] = [](E& io, E&) {
    return io.compress(true).volatile_().compress(false).emit("news", 1);
  };
  c["binary"] = [](E& io, E&) {
    // Binary below the top level: a payload with placeholders (emit's arguments cover the top).
    sio::payload p;
    p.args = {placeholder(0),
              json::object{{"name", "a.bin"}, {"data", placeholder(1)}, {"parts", json::array{placeholder(2), placeholder(3)}}}};
    p.attachments = {sio::binary("\x01\x02\x03"s), sio::binary("abc"s), sio::binary(), sio::binary(std::string(300, '\x07'))};
    return io.emit_payload("file", std::move(p));
  };
  c["namespace"] = [](E& io, E&) { return io.of("/other").emit("news", 1); };
  c["namespace without its slash"] = [](E& io, E&) { return io.of("admin").to("room1").emit("news", 1); };
  c["namespace of a namespace"] = [](E& io, E&) { return io.of("/a").of("b").emit("news", 1); };
  c["the empty namespace is /"] = [](E& io, E&) { return io.of("").emit("news", 1); };
  c["custom key"] = [](E&, E& custom) { return custom.of("/chat").to("room1").emit("news", 1); };
  c["unicode room and event"] = [](E& io, E&) { return io.to("salle é 日本").emit("événement", "😀"); };
  c["numbers"] = [](E& io, E&) {
    return io.emit("n", 0, -0.0, 1.5, 0.1, 1e15, 18446744073709549568.0, std::int64_t{2147483648},
                   std::int64_t{-2147483649}, std::uint64_t{1} << 53, 5e-324, -1.5e-7);
  };
  c["connection is no reserved name here"] = [](E& io, E&) { return io.emit("connection", 1); };
  for (const char* name : {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"})
    c["reserved "s + name] = [name](E& io, E&) { return io.to("room1").emit(name, 1); };
  // Requests.
  c["socketsJoin a room"] = done([](E& io, E&) { io.sockets_join("room1"); });
  c["socketsJoin rooms, targeted"] = done([](E& io, E&) { io.in("room1").except("banned").sockets_join({"a", "b", "a"}); });
  c["socketsJoin, custom key and namespace"] = done([](E&, E& custom) { custom.of("/chat").sockets_join("salle é"); });
  c["socketsLeave"] = done([](E& io, E&) { io.to({"r1", "r2"}).sockets_leave("r1"); });
  c["socketsLeave rooms"] = done([](E& io, E&) { io.of("/other").sockets_leave(strings{"r1", "r2"}); });
  c["disconnectSockets"] = done([](E& io, E&) { io.disconnect_sockets(); });
  c["disconnectSockets close"] = done([](E& io, E&) { io.to("room1").except("vip").disconnect_sockets(true); });
  c["disconnectSockets volatile"] = done([](E& io, E&) { io.volatile_().disconnect_sockets(false); });
  c["serverSideEmit"] = [](E& io, E&) {
    return io.server_side_emit("hello", "world", json::object{{"n", 1.5}, {"list", json::array{1, 2}}});
  };
  c["serverSideEmit without arguments"] = [](E& io, E&) { return io.server_side_emit("ping"); };
  c["serverSideEmit, strings that need escapes"] = [](E& io, E&) {
    return io.of("/admin").server_side_emit(
        "text", "quote \" backslash \\ newline \n tab \t nul \0 unit \x1f del \x7f é 😀 / <"s);
  };
  c["serverSideEmit numbers"] = [](E& io, E&) {
    return io.server_side_emit("n", 0, -0.0, 1.5, 1e21, 1e-7, std::int64_t{123456789012}, -2.5e-10,
                               std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity());
  };
  return c;
}

class RedisEmitter : public ::testing::Test {
 protected:
  parley::test::redis_server redis;
  loop_thread loop;
};

TEST_F(RedisEmitter, PublishesTheBytesOfTheNpmEmitter) {
  redis_tap tap(loop.ctx, redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  sio::redis_emitter custom(loop.ctx, {.url = redis.url(), .key = "myapp"});
  loop_stopper stop_first{loop};
  auto cases = cpp_cases();
  ASSERT_GE(std::size(npm_vectors), 40u);
  std::size_t published = 0;
  std::set<std::string> covered;
  for (const vector& v : npm_vectors) {
    SCOPED_TRACE(v.name);
    auto found = cases.find(v.name);
    ASSERT_NE(found, cases.end()) << "no C++ twin for this case of capture.mjs";
    covered.insert(v.name);
    const std::error_code ec = found->second(io, custom);
    if (*v.refused) {
      EXPECT_EQ(ec, sio::emitter_error::reserved_event) << "npm refused it: " << v.refused;
      continue;
    }
    ASSERT_FALSE(ec) << ec.message();
    auto got = tap.at(published++);
    ASSERT_TRUE(got) << "nothing published";
    EXPECT_EQ(got->first, v.channel);
    EXPECT_EQ(to_hex(got->second), v.hex);
  }
  EXPECT_EQ(covered.size(), cases.size()) << "a C++ case without its npm vector";
  // Nothing else went out (a refused emit included): the next message is this one.
  ASSERT_FALSE(io.emit("last"));
  auto last = tap.at(published);
  ASSERT_TRUE(last);
  EXPECT_NE(last->second.find("last"), std::string::npos);
  EXPECT_EQ(tap.count(), published + 1);
}

// ---- what the npm emitter does not have, or does otherwise ----

TEST_F(RedisEmitter, ServerSideEmitWithBinaryIsMessagePack) {
  // npm JSON.stringifies a Buffer ({"type":"Buffer","data":[...]}): MessagePack keeps the bytes,
  // and the Redis adapter reads a request that does not start with '{' as MessagePack.
  redis_tap tap(loop.ctx, redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  loop_stopper stop_first{loop};
  ASSERT_FALSE(io.server_side_emit("upload", "name", sio::binary("\x00\xff"s)));
  auto got = tap.at(0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->first, "socket.io-request#/#");
  EXPECT_EQ(sio::msgpack::request_format(got->second), sio::msgpack::wire_format::msgpack);
  // {"uid":"emitter","type":6,"data":["upload","name",<bin 00ff>]}
  EXPECT_EQ(to_hex(got->second), "83a3756964a7656d6974746572a47479706506a46461746193a675706c6f6164a46e616d65c40200ff");
  auto doc = sio::msgpack::decode(got->second);
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->json, (json::value{{"uid", "emitter"}, {"type", 6}, {"data", {"upload", "name", placeholder(0)}}}));
  ASSERT_EQ(doc->attachments.size(), 1u);
  EXPECT_EQ(*doc->attachments[0], "\x00\xff"s);
}

TEST_F(RedisEmitter, ServerSideEmitRefusesTheServersOwnEvents) {
  redis_tap tap(loop.ctx, redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  loop_stopper stop_first{loop};
  for (const char* name : {"connect", "connection", "new_namespace"}) {
    EXPECT_EQ(io.server_side_emit(name, 1), sio::emitter_error::reserved_event) << name;
    EXPECT_EQ(io.of("/other").server_side_emit_payload(name, {}), sio::emitter_error::reserved_event) << name;
  }
  // What a client reserves, a server does not: a server-side "disconnect" is an ordinary event.
  EXPECT_FALSE(io.server_side_emit("disconnect"));
  ASSERT_FALSE(flush(io));
  auto got = tap.at(0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->second, R"({"uid":"emitter","type":6,"data":["disconnect"]})");
  EXPECT_EQ(tap.count(), 1u);
}

struct job {
  std::string id;
  int attempts = 0;
};
BOOST_DESCRIBE_STRUCT(job, (), (id, attempts))

// A typed event of one's own, and sio::event_def: both name an event and its payload types.
struct job_done {
  static constexpr std::string_view name = "job-done";
  using payload_types = std::tuple<job>;
};
using job_failed = sio::event_def<"job-failed", job, std::string>;
using reserved_typed = sio::event_def<"disconnect", int>;

template <class Op, class Ev, class... A>
concept can_emit = requires(const Op& op, A&&... a) { op.template emit<Ev>(std::forward<A>(a)...); };
static_assert(can_emit<sio::emitter_broadcast_operator, job_done, job>);
static_assert(!can_emit<sio::emitter_broadcast_operator, job_done, int>);
static_assert(!can_emit<sio::emitter_broadcast_operator, job_failed, job>);  // one argument short
static_assert(can_emit<sio::emitter_broadcast_operator, job_failed, job, const char*>);

TEST_F(RedisEmitter, TypedEvents) {
  redis_tap tap(loop.ctx, redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  loop_stopper stop_first{loop};
  ASSERT_FALSE(io.to("ops").emit<job_done>(job{"j1", 2}));
  ASSERT_FALSE(io.emit<job_failed>(job{"j2", 3}, "timeout"));
  EXPECT_EQ(io.emit<reserved_typed>(1), sio::emitter_error::reserved_event);
  auto done = tap.at(0);
  auto failed = tap.at(1);
  ASSERT_TRUE(done && failed);
  EXPECT_EQ(done->first, "socket.io#/#ops#");
  auto decoded = sio::msgpack::decode(done->second);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->json.at(1).at("data"), (json::value{"job-done", {{"id", "j1"}, {"attempts", 2}}}));
  decoded = sio::msgpack::decode(failed->second);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->json.at(1).at("data"), (json::value{"job-failed", {{"id", "j2"}, {"attempts", 3}}, "timeout"}));
}

TEST_F(RedisEmitter, RoomsFromAnyRangeOfStrings) {
  redis_tap tap(loop.ctx, redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  loop_stopper stop_first{loop};
  const sio::room_set rooms{"b", "a"};
  const std::array<std::string_view, 2> more{"c", "a"};
  const auto op = io.to(rooms).in(more).except(std::vector<std::string>{"x"});
  EXPECT_EQ(op.rooms(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(op.except_rooms(), (std::vector<std::string>{"x"}));
  op.sockets_join(rooms);
  auto got = tap.at(0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->second, R"({"type":2,"opts":{"rooms":["a","b","c"],"except":["x"]},"rooms":["a","b"]})");
}

TEST_F(RedisEmitter, FlushReportsWhatDidNotReachRedis) {
  sio::redis::client_options quick;
  quick.reconnect.initial = 10ms;
  quick.reconnect.max = 50ms;
  sio::redis_emitter io(loop.ctx, {.url = redis.url(), .redis = quick});
  loop_stopper stop_first{loop};
  io.emit("a", 1);
  EXPECT_FALSE(flush(io));
  EXPECT_TRUE(io.connected());

  redis.stop();
  for (auto deadline = std::chrono::steady_clock::now() + 5s; io.connected();) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_FALSE(io.emit("lost", 1));  // given: the failure is asynchronous
  const std::error_code ec = flush(io);
  EXPECT_TRUE(ec == sio::redis::error::not_connected || ec == sio::redis::error::connection_lost) << ec.message();

  redis.start();
  for (auto deadline = std::chrono::steady_clock::now() + 5s; !io.connected();) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline);
    std::this_thread::sleep_for(5ms);
  }
  io.emit("again", 1);
  EXPECT_FALSE(flush(io));  // the failure was reported once, by the flush that covered it
}

TEST_F(RedisEmitter, PendingFlushesCompleteWhenTheEmitterIsDestroyed) {
  loop.stop();  // nothing runs: the flush stays pending until the destructor
  std::error_code seen;
  int calls = 0;
  {
    sio::redis_emitter io(loop.ctx, {.url = redis.url()});
    io.emit("x", 1);
    io.flush([&](std::error_code ec) {
      seen = ec;
      ++calls;
    });
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(seen, sio::redis::error::client_closed);
}

TEST(RedisEmitterOptions, ABadUrlFailsAtConstruction) {
  asio::io_context ctx;
  EXPECT_THROW(sio::redis_emitter(ctx, {.url = "http://127.0.0.1:6379"}), std::invalid_argument);
  EXPECT_THROW(sio::redis_emitter(ctx, {.url = "redis://127.0.0.1:99999"}), std::invalid_argument);
}

// ---- a Node.js cluster receiving it ----

// A child process with its stdout read line by line (stdin open until it is destroyed, stderr
// shared with the test's). It dies with the test (PR_SET_PDEATHSIG), even if the test crashes.
class child_process {
 public:
  explicit child_process(std::vector<std::string> argv) {
    int out[2], in[2];
    if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::execvp(args[0], args.data());
      ::_exit(127);
    }
    ::close(out[1]);
    ::close(in[0]);
    out_ = out[0];
    in_ = in[1];
  }
  ~child_process() {
    ::close(in_);  // the peer stops when its stdin closes; SIGTERM in case it does not read it
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    ::close(out_);
  }
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  // The next line, without its '\n'; nullopt at the deadline or at the end of the output.
  std::optional<std::string> line(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string l = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return l;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char chunk[4096];
      const ssize_t n = ::read(out_, chunk, sizeof chunk);
      if (n <= 0) return std::nullopt;
      buffer_.append(chunk, static_cast<std::size_t>(n));
    }
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int in_ = -1;
  std::string buffer_;
};

// The peer: what its clients and servers report (redis-emitter-peer.mjs).
class node_cluster {
 public:
  explicit node_cluster(const std::string& redis_url)
      : peer_({node_program(), PARLEY_SOURCE_DIR "/tests/unit/redis-emitter-peer.mjs", "--redis", redis_url}) {
    auto first = peer_.line(std::chrono::steady_clock::now() + 30s);
    if (!first) throw std::runtime_error("redis-emitter-peer.mjs did not start (is node installed? npm ci?)");
    const json::value ready = json::parse(*first);
    for (const auto& [name, id] : ready.at("ready").as_object()) ids_[std::string(name)] = std::string(id.as_string());
    connected_ = {"a", "b", "c", "d"};
  }

  const std::string& id(const std::string& client) const { return ids_.at(client); }

  // Runs `act` with the emitter, then broadcasts a marker to both namespaces and returns what the
  // clients and servers reported before every connected client had its marker. Redis delivers
  // one publisher's messages in order on each subscriber connection, and each server handles
  // them in order, so whatever `act` caused has arrived by then.
  std::vector<json::value> observe(sio::redis_emitter& io, const std::function<void()>& act) {
    act();
    const std::int64_t marker = ++markers_;
    EXPECT_FALSE(io.emit("marker", marker));
    EXPECT_FALSE(io.of("/other").emit("marker", marker));
    std::vector<json::value> seen;
    std::set<std::string> waiting = connected_;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!waiting.empty()) {
      auto l = peer_.line(deadline);
      if (!l) {
        ADD_FAILURE() << "no marker " << marker << " from " << waiting.size() << " client(s), e.g. " << *waiting.begin();
        break;
      }
      json::value v = json::parse(*l);
      const auto& o = v.as_object();
      if (o.contains("to") && o.contains("event") && o.at("event").as_string() == "marker") {
        EXPECT_EQ(o.at("args"), json::value(json::array{marker})) << *l;
        waiting.erase(std::string(o.at("to").as_string()));
        continue;
      }
      if (o.contains("disconnect")) {
        connected_.erase(std::string(o.at("to").as_string()));
        waiting.erase(std::string(o.at("to").as_string()));
      }
      seen.push_back(std::move(v));
    }
    return seen;
  }

 private:
  static std::string node_program() {
    const char* node = std::getenv("NODE");
    return node ? node : "node";
  }
  child_process peer_;
  std::map<std::string, std::string> ids_;
  std::set<std::string> connected_;
  std::int64_t markers_ = 0;
};

// The same reports, in any order (two servers, four clients: no order among them).
void expect_reports(std::vector<json::value> seen, std::vector<json::value> expected) {
  for (const auto& e : expected) {
    auto it = std::find(seen.begin(), seen.end(), e);
    if (it == seen.end()) {
      ADD_FAILURE() << "missing: " << json::serialize(e);
      continue;
    }
    seen.erase(it);
  }
  for (const auto& s : seen) ADD_FAILURE() << "unexpected: " << json::serialize(s);
}

json::value got(const char* client, const char* event, json::array args) {
  return json::object{{"to", client}, {"event", event}, {"args", std::move(args)}};
}
json::value server_got(const char* server, const char* nsp, const char* event, json::array args) {
  return json::object{{"server", server}, {"nsp", nsp}, {"event", event}, {"args", std::move(args)}};
}
json::value bin(const char* hex) { return json::object{{"$bin", hex}}; }

TEST_F(RedisEmitter, ANodeClusterReceivesWhatItSends) {
  node_cluster cluster(redis.url());
  sio::redis_emitter io(loop.ctx, {.url = redis.url()});
  loop_stopper stop_first{loop};
  // Clients: a (server s1, room1), b (s1, room1 room2), c (s2, room2); d (s2, room1) on "/other".
  const auto step = [&](const char* what, const std::function<void()>& act, std::vector<json::value> expected) {
    SCOPED_TRACE(what);
    expect_reports(cluster.observe(io, act), std::move(expected));
  };

  step("to everyone", [&] { io.emit("news", "hello", 42, 1.5, json::object{{"k", json::array{1, "x"}}}); },
       {got("a", "news", {"hello", 42, 1.5, {{"k", {1, "x"}}}}), got("b", "news", {"hello", 42, 1.5, {{"k", {1, "x"}}}}),
        got("c", "news", {"hello", 42, 1.5, {{"k", {1, "x"}}}})});
  step("to a room, on both servers", [&] { io.to("room2").emit("news", 1); }, {got("b", "news", {1}), got("c", "news", {1})});
  step("to two rooms", [&] { io.to("room1").to("room2").emit("news", 2); },
       {got("a", "news", {2}), got("b", "news", {2}), got("c", "news", {2})});
  step("except a room", [&] { io.except("room1").emit("news", 3); }, {got("c", "news", {3})});
  step("to a room except a socket", [&] { io.to("room2").except(cluster.id("c")).emit("news", 4); }, {got("b", "news", {4})});
  step("to a socket id", [&] { io.to(cluster.id("a")).emit("news", 5); }, {got("a", "news", {5})});

  step("binary", [&] { io.to("room2").emit("file", sio::binary("\x01\x02\x03"s), "name"); },
       {got("b", "file", {bin("010203"), "name"}), got("c", "file", {bin("010203"), "name"})});
  step("binary inside a payload",
       [&] {
         sio::payload p;
         p.args = {json::object{{"data", placeholder(0)}, {"more", json::array{placeholder(1)}}}};
         p.attachments = {sio::binary("abc"s), sio::binary("\xff"s)};
         io.to(cluster.id("a")).emit_payload("files", std::move(p));
       },
       {got("a", "files", {{{"data", bin("616263")}, {"more", {bin("ff")}}}})});

  step("volatile", [&] { io.volatile_().to("room1").emit("tick", 1); }, {got("a", "tick", {1}), got("b", "tick", {1})});
  const std::string big(4000, 'z');
  step("compress false", [&] { io.compress(false).to(cluster.id("c")).emit("big", big); },
       {got("c", "big", {json::string(big)})});

  step("another namespace", [&] { io.of("/other").emit("news", "other"); }, {got("d", "news", {"other"})});
  step("another namespace, a room", [&] { io.of("other").to("room1").emit("news", 6); }, {got("d", "news", {6})});

  step("a reserved name goes nowhere", [&] { EXPECT_EQ(io.emit("disconnect"), sio::emitter_error::reserved_event); }, {});
  step("typed", [&] { io.to(cluster.id("b")).emit<job_done>(job{"j1", 2}); },
       {got("b", "job-done", {{{"id", "j1"}, {"attempts", 2}}})});

  step("sockets_join, then a broadcast to the room",
       [&] {
         io.in("room2").sockets_join("vip");
         io.to("vip").emit("vip-news", 1);
       },
       {got("b", "vip-news", {1}), got("c", "vip-news", {1})});
  step("sockets_join several rooms, except",
       [&] {
         io.except("room2").sockets_join({"x", "y"});
         io.to("y").emit("y-news", 1);
       },
       {got("a", "y-news", {1})});
  step("sockets_leave",
       [&] {
         io.to(cluster.id("b")).sockets_leave("vip");
         io.to("vip").emit("vip-news", 2);
       },
       {got("c", "vip-news", {2})});

  step("server_side_emit reaches every server's handler",
       [&] { io.server_side_emit("job-done", "j1", json::object{{"ok", true}}); },
       {server_got("s1", "/", "job-done", {"j1", {{"ok", true}}}), server_got("s2", "/", "job-done", {"j1", {{"ok", true}}})});
  step("server_side_emit to another namespace", [&] { io.of("/other").server_side_emit("connection-count"); },
       {server_got("s1", "/other", "connection-count", {}), server_got("s2", "/other", "connection-count", {})});
  step("server_side_emit with binary: a Buffer on the server", [&] { io.server_side_emit("job-done", sio::binary("\x00\x01"s)); },
       {server_got("s1", "/", "job-done", {bin("0001")}), server_got("s2", "/", "job-done", {bin("0001")})});

  step("disconnect_sockets", [&] { io.in("room1").except(cluster.id("b")).disconnect_sockets(); },
       {json::object{{"to", "a"}, {"disconnect", "io server disconnect"}}});
  // c and d share their connection to s2 (socket.io-client multiplexes namespaces): closing it
  // disconnects d too, which a disconnect without `close` would not.
  step("disconnect_sockets, closing the connection", [&] { io.to(cluster.id("c")).disconnect_sockets(true); },
       {json::object{{"to", "c"}, {"disconnect", "io server disconnect"}},
        json::object{{"to", "d"}, {"disconnect", "io server disconnect"}}});
  step("the others are still there", [&] { io.emit("news", 7); }, {got("b", "news", {7})});

  EXPECT_FALSE(flush(io));
}

}  // namespace
