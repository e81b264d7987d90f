// redis::client and redis::subscriber against a real redis-server (redis_server_fixture.hpp),
// and against small fake servers for what a real one never does.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "redis_server_fixture.hpp"
#include "sio/redis/client.hpp"
#include "sio/redis/subscriber.hpp"

namespace {

namespace asio = boost::asio;
namespace redis = sio::redis;
using redis::connection_state;
using redis::error;
using namespace std::chrono_literals;

// One event loop, run by the test's thread. run_until() runs it until a condition holds, at
// most until a deadline: every wait in these tests is bounded.
struct loop {
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(ctx);

  template <class Pred>
  bool run_until(Pred done, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      ctx.run_one_for(deadline - now);
    }
    return true;
  }
  // Lets time pass with the loop running (reconnection attempts happen meanwhile).
  void run_for(std::chrono::milliseconds d) { ctx.run_for(d); }
};

redis::address where(const std::string& url) { return redis::parse_url(url).value(); }

// What the state hook reported.
struct state_log {
  std::vector<redis::state_change> seen;
  std::function<void(const redis::state_change&)> hook() {
    return [this](const redis::state_change& c) { seen.push_back(c); };
  }
  std::vector<connection_state> states() const {
    std::vector<connection_state> s;
    for (const auto& c : seen) s.push_back(c.state);
    return s;
  }
  bool has(connection_state s) const {
    for (const auto& c : seen)
      if (c.state == s) return true;
    return false;
  }
};

// Quick retries, so that a test sees several failed attempts in a fraction of a second.
redis::client_options quick(state_log* log = nullptr) {
  redis::client_options o;
  o.reconnect.initial = 10ms;
  o.reconnect.max = 80ms;
  o.connect_timeout = 2s;
  if (log) o.on_state = log->hook();
  return o;
}

// One command's outcome.
struct outcome {
  int calls = 0;
  std::error_code ec;
  redis::reply value;
  std::thread::id thread;
  bool done() const { return calls > 0; }
};
redis::reply_handler into(std::shared_ptr<outcome> o) {
  return [o](std::error_code ec, redis::reply r) {
    ++o->calls;
    o->ec = ec;
    o->value = std::move(r);
    o->thread = std::this_thread::get_id();
  };
}

// Runs one command to its end.
redis::reply call(loop& l, redis::client& c, std::initializer_list<std::string_view> args, std::error_code* ec = nullptr) {
  auto o = std::make_shared<outcome>();
  c.command(args, into(o));
  EXPECT_TRUE(l.run_until([&] { return o->done(); })) << "no reply to " << *args.begin();
  if (ec) *ec = o->ec;
  else EXPECT_FALSE(o->ec) << *args.begin() << ": " << o->ec.message() << " " << redis::describe(o->value);
  return o->value;
}

struct received {
  redis::message_kind kind;
  std::string channel, pattern, payload;
};

struct inbox {
  std::vector<received> messages;
  redis::message_handler handler() {
    return [this](const redis::message& m) {
      messages.push_back({m.kind, std::string(m.channel), std::string(m.pattern), std::string(m.payload)});
    };
  }
};

std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(static_cast<char>(i));
  return s + "\r\n*1\r\n$-1\r\n";
}

// Most tests share one server; keys and channels carry the test's name.
class RedisClient : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { shared_ = new parley::test::redis_server(); }
  static void TearDownTestSuite() {
    delete shared_;
    shared_ = nullptr;
  }
  static parley::test::redis_server& server() { return *shared_; }
  static std::string name(const std::string& what) {
    return std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) + ":" + what;
  }
  static inline parley::test::redis_server* shared_ = nullptr;
};

TEST_F(RedisClient, RepliesOfEveryType) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  const std::string k = name("str");
  EXPECT_EQ(call(l, c, {"SET", k, "v", "PX", "60000"}).status(), "OK");
  EXPECT_EQ(call(l, c, {"GET", k}).bulk(), "v");
  EXPECT_TRUE(call(l, c, {"GET", name("missing")}).is_nil());
  EXPECT_EQ(call(l, c, {"INCR", name("n")}).integer(), 1);
  EXPECT_EQ(call(l, c, {"RPUSH", name("list"), "a", "b", "c"}).integer(), 3);
  const auto list = call(l, c, {"LRANGE", name("list"), "0", "-1"});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.elements().size(), 3u);
  EXPECT_EQ(list.elements()[2].bulk(), "c");
  EXPECT_TRUE(call(l, c, {"LRANGE", name("none"), "0", "-1"}).elements().empty());
  EXPECT_TRUE(call(l, c, {"BLPOP", name("none"), "0.01"}).is_nil());  // RESP2's nil array

  const auto nested = call(l, c, {"EVAL", "return {1, {2, 'x'}, 'y'}", "0"});
  ASSERT_TRUE(nested.is_array());
  EXPECT_EQ(nested.elements()[0].integer(), 1);
  EXPECT_EQ(nested.elements()[1].elements()[1].bulk(), "x");
  EXPECT_EQ(nested.elements()[2].bulk(), "y");

  // An error reply: ec says so, the reply has Redis' words.
  std::error_code ec;
  const auto wrong = call(l, c, {"HSET", k, "f", "v"}, &ec);
  EXPECT_EQ(ec, error::server_error);
  ASSERT_TRUE(wrong.is_error());
  EXPECT_TRUE(wrong.error().starts_with("WRONGTYPE")) << wrong.error();

  // Bytes go and come back as they are, large ones across many reads.
  const std::string bytes = all_bytes() + std::string(1 << 20, '\xa5');
  call(l, c, {"SET", name("bin"), bytes});
  EXPECT_EQ(call(l, c, {"GET", name("bin")}).bulk(), bytes);
  // And the generic forms: streams, sets, expiry.
  const auto id = call(l, c, {"XADD", name("stream"), "*", "data", bytes.substr(0, 300)});
  ASSERT_TRUE(id.is_bulk());
  const auto range = call(l, c, {"XRANGE", name("stream"), "-", "+"});
  EXPECT_EQ(range.elements()[0].elements()[1].elements()[1].bulk(), bytes.substr(0, 300));
  const std::vector<std::string> sadd = {"SADD", name("set"), "m1", "m2"};
  auto o = std::make_shared<outcome>();
  c.command(sadd, into(o));
  ASSERT_TRUE(l.run_until([&] { return o->done(); }));
  EXPECT_EQ(o->value.integer(), 2);
  EXPECT_EQ(call(l, c, {"EXPIRE", name("set"), "60"}).integer(), 1);
  EXPECT_EQ(call(l, c, {"DEL", name("set"), k}).integer(), 2);
}

TEST_F(RedisClient, CommandsArePipelinedAndAnsweredInOrder) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  const std::string k = name("counter");
  std::vector<std::int64_t> seen;
  // From outside the loop (handed over in one batch), then from the loop's thread.
  for (int i = 0; i < 1000; ++i) c.command({"INCR", k}, [&](std::error_code, redis::reply r) { seen.push_back(r.integer()); });
  asio::post(l.ctx, [&] {
    for (int i = 0; i < 1000; ++i)
      c.command({"INCR", k}, [&](std::error_code, redis::reply r) { seen.push_back(r.integer()); });
  });
  ASSERT_TRUE(l.run_until([&] { return seen.size() == 2000; }));
  for (std::size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], static_cast<std::int64_t>(i + 1));
}

TEST_F(RedisClient, AHandlerIsNeverCalledFromInsideTheCall) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  ASSERT_TRUE(l.run_until([&] { return c.connected(); }));
  bool inside = false;
  std::vector<bool> called_inside;
  auto note = [&](std::error_code, redis::reply) { called_inside.push_back(inside); };
  asio::post(l.ctx, [&] {
    inside = true;
    c.command({"PING"}, note);
    c.command({}, note);                       // refused: invalid_command
    c.command({"SUBSCRIBE", "x"}, note);       // refused too
    inside = false;
  });
  ASSERT_TRUE(l.run_until([&] { return called_inside.size() == 3; }));
  EXPECT_EQ(called_inside, (std::vector<bool>{false, false, false}));
}

TEST_F(RedisClient, CommandsThatChangeTheConnectionsModeAreRefused) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  for (auto args : {std::vector<std::string>{}, {"subscribe", "x"}, {"PSUBSCRIBE", "x*"}, {"MONITOR"}, {"HELLO", "3"},
                    {"CLIENT", "REPLY", "OFF"}, {"SELECT", "1"}, {"RESET"}}) {
    auto o = std::make_shared<outcome>();
    c.command(args, into(o));
    ASSERT_TRUE(l.run_until([&] { return o->done(); }));
    EXPECT_EQ(o->ec, error::invalid_command) << (args.empty() ? "(empty)" : args[0]);
  }
  EXPECT_EQ(call(l, c, {"CLIENT", "ID"}).type(), redis::reply::kind::integer);  // the rest of CLIENT works
}

TEST_F(RedisClient, FromOtherThreadsHandlersRunOnTheLoopInEachThreadsOrder) {
  loop l;
  std::thread runner([&] { l.ctx.run(); });
  auto c = std::make_unique<redis::client>(l.ctx, where(server().url()));  // constructed off the loop
  const std::string k = name("n");
  constexpr int threads = 4, per_thread = 250;
  std::vector<std::vector<std::int64_t>> seen(threads);  // touched on the loop's thread only
  std::atomic<int> answered{0};
  std::promise<void> all;
  std::set<std::thread::id> handler_threads;
  std::vector<std::thread> callers;
  for (int t = 0; t < threads; ++t) {
    callers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        c->command({"INCR", k}, [&, t](std::error_code ec, redis::reply r) {
          handler_threads.insert(std::this_thread::get_id());
          seen[t].push_back(ec ? -1 : r.integer());
          if (++answered == threads * per_thread) all.set_value();
        });
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(all.get_future().wait_for(10s), std::future_status::ready);
  // Destroyed on the loop's thread, as the client requires.
  std::promise<void> destroyed;
  asio::post(l.ctx, [&] {
    c.reset();
    destroyed.set_value();
  });
  EXPECT_EQ(destroyed.get_future().wait_for(5s), std::future_status::ready);
  const auto loop_thread = runner.get_id();
  l.work.reset();
  l.ctx.stop();
  runner.join();

  ASSERT_EQ(handler_threads.size(), 1u);
  EXPECT_EQ(*handler_threads.begin(), loop_thread);
  for (const auto& s : seen) {
    ASSERT_EQ(s.size(), static_cast<std::size_t>(per_thread));
    for (std::size_t i = 1; i < s.size(); ++i) EXPECT_LT(s[i - 1], s[i]);
  }
}

TEST_F(RedisClient, PubSubWithChannelsPatternsAndShardsCarriesBinaryPayloads) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  inbox got;
  redis::subscriber sub(l.ctx, where(server().url()), got.handler());
  const std::string channel = name("ch"), prefix = name("news"), shard = name("shard");
  int confirmed = 0;
  auto ok = [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    ++confirmed;
  };
  sub.subscribe({channel}, ok);
  sub.psubscribe({prefix + ".*"}, ok);
  sub.ssubscribe({shard}, ok);
  ASSERT_TRUE(l.run_until([&] { return confirmed == 3; }));
  EXPECT_TRUE(sub.connected());

  const std::string one = all_bytes(), two = std::string(200 * 1024, '\0') + "end", three = "\x93\x01\xc0\xa1x";
  EXPECT_EQ(call(l, c, {"PUBLISH", channel, one}).integer(), 1);
  auto receivers = std::make_shared<outcome>();
  c.publish(prefix + ".sport", two, into(receivers));
  c.spublish(shard, three);
  ASSERT_TRUE(l.run_until([&] { return got.messages.size() == 3; }));
  EXPECT_EQ(receivers->value.integer(), 1);

  EXPECT_EQ(got.messages[0].kind, redis::message_kind::channel);
  EXPECT_EQ(got.messages[0].channel, channel);
  EXPECT_EQ(got.messages[0].pattern, "");
  EXPECT_EQ(got.messages[0].payload, one);
  EXPECT_EQ(got.messages[1].kind, redis::message_kind::pattern);
  EXPECT_EQ(got.messages[1].channel, prefix + ".sport");
  EXPECT_EQ(got.messages[1].pattern, prefix + ".*");
  EXPECT_EQ(got.messages[1].payload, two);
  EXPECT_EQ(got.messages[2].kind, redis::message_kind::shard);
  EXPECT_EQ(got.messages[2].channel, shard);
  EXPECT_EQ(got.messages[2].payload, three);
}

TEST_F(RedisClient, NumsubCountsTheSubscribersOfEachChannel) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  inbox ignored;
  redis::subscriber one(l.ctx, where(server().url()), ignored.handler());
  redis::subscriber two(l.ctx, where(server().url()), ignored.handler());
  const std::string a = name("a"), b = name("b"), none = name("none");
  int confirmed = 0;
  one.subscribe({a, b}, [&](std::error_code ec) { confirmed += !ec; });
  two.subscribe({a}, [&](std::error_code ec) { confirmed += !ec; });
  two.psubscribe({a + "*"}, [&](std::error_code ec) { confirmed += !ec; });  // patterns do not count
  ASSERT_TRUE(l.run_until([&] { return confirmed == 3; }));

  std::vector<redis::channel_count> counts;
  bool answered = false;
  c.pubsub_numsub({a, b, none}, [&](std::error_code ec, std::vector<redis::channel_count> r) {
    EXPECT_FALSE(ec);
    counts = std::move(r);
    answered = true;
  });
  ASSERT_TRUE(l.run_until([&] { return answered; }));
  EXPECT_EQ(counts, (std::vector<redis::channel_count>{{a, 2}, {b, 1}, {none, 0}}));
}

TEST_F(RedisClient, UnsubscribedChannelsReceiveNoMore) {
  loop l;
  redis::client c(l.ctx, where(server().url()));
  inbox got;
  redis::subscriber sub(l.ctx, where(server().url()), got.handler());
  const std::string a = name("a"), b = name("b"), p = name("p");
  int done = 0;
  auto ok = [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    ++done;
  };
  sub.subscribe({a, b, a}, ok);  // the same channel twice is one subscription
  sub.psubscribe({p + "*"}, ok);
  ASSERT_TRUE(l.run_until([&] { return done == 2; }));
  sub.unsubscribe({a}, ok);
  sub.punsubscribe({p + "*"}, ok);
  sub.unsubscribe({name("never-subscribed")}, ok);  // nothing to do: ok at once
  ASSERT_TRUE(l.run_until([&] { return done == 5; }));
  EXPECT_EQ(call(l, c, {"PUBLISH", a, "x"}).integer(), 0);
  EXPECT_EQ(call(l, c, {"PUBLISH", p + "1", "x"}).integer(), 0);
  EXPECT_EQ(call(l, c, {"PUBLISH", b, "y"}).integer(), 1);
  ASSERT_TRUE(l.run_until([&] { return got.messages.size() == 1; }));
  EXPECT_EQ(got.messages[0].channel, b);
}

TEST_F(RedisClient, SelectsTheUrlsDatabase) {
  loop l;
  redis::client db3(l.ctx, where(server().url({}, "/3")));
  redis::client db0(l.ctx, where(server().url({}, "/0")));
  const std::string k = name("k");
  call(l, db3, {"SET", k, "in three"});
  EXPECT_TRUE(call(l, db0, {"GET", k}).is_nil());
  EXPECT_EQ(call(l, db3, {"GET", k}).bulk(), "in three");
  EXPECT_NE(call(l, db3, {"CLIENT", "INFO"}).bulk().find(" db=3 "), std::string::npos);

  state_log log;
  redis::client bad(l.ctx, where(server().url({}, "/99")), quick(&log));
  // Held until SELECT has succeeded, so never run in database 0 when it fails.
  auto held = std::make_shared<outcome>();
  bad.command({"SET", name("held"), "x"}, into(held));
  ASSERT_TRUE(l.run_until([&] { return !log.seen.empty() && held->done(); }));
  EXPECT_EQ(log.seen[0].state, connection_state::reconnecting);
  EXPECT_EQ(log.seen[0].reason, error::select_failed);
  EXPECT_NE(log.seen[0].detail.find("out of range"), std::string::npos) << log.seen[0].detail;
  EXPECT_EQ(held->ec, error::not_connected);
  EXPECT_TRUE(call(l, db0, {"GET", name("held")}).is_nil());
}

TEST_F(RedisClient, CommandsGivenBeforeTheFirstConnectionWaitForIt) {
  loop l;
  state_log log;
  redis::client c(l.ctx, where(server().url()), quick(&log));
  auto first = std::make_shared<outcome>(), second = std::make_shared<outcome>();
  c.command({"SET", name("k"), "v"}, into(first));
  c.command({"GET", name("k")}, into(second));
  ASSERT_TRUE(l.run_until([&] { return second->done(); }));
  EXPECT_FALSE(first->ec);
  EXPECT_EQ(second->value.bulk(), "v");
  EXPECT_EQ(log.states(), std::vector<connection_state>{connection_state::connected});
}

TEST_F(RedisClient, TooManyPendingCommandsAreRefused) {
  loop l;
  auto o = quick();
  o.max_pending_commands = 3;
  redis::client c(l.ctx, where(server().url()), o);
  std::vector<std::error_code> results;
  for (int i = 0; i < 4; ++i) c.command({"PING"}, [&](std::error_code ec, redis::reply) { results.push_back(ec); });
  ASSERT_TRUE(l.run_until([&] { return results.size() == 4; }));
  // The fourth is refused at once, before the others are answered.
  EXPECT_EQ(results[0], error::queue_full);
  EXPECT_EQ(std::count(results.begin(), results.end(), std::error_code()), 3);
}

TEST_F(RedisClient, WhatAHandlerThrowsIsReportedAndTheClientGoesOn) {
  loop l;
  std::vector<std::string> reported;
  auto o = quick();
  o.on_error = [&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      reported.emplace_back(ex.what());
    }
  };
  redis::client c(l.ctx, where(server().url()), o);
  redis::subscriber sub(l.ctx, where(server().url()), [](const redis::message&) { throw std::runtime_error("in message"); }, o);
  bool subscribed = false;
  sub.subscribe({name("ch")}, [&](std::error_code) {
    subscribed = true;
    throw std::runtime_error("in on_done");
  });
  c.command({"PING"}, [](std::error_code, redis::reply) { throw std::runtime_error("in reply"); });
  ASSERT_TRUE(l.run_until([&] { return subscribed && reported.size() == 2; }));
  c.publish(name("ch"), "x");
  ASSERT_TRUE(l.run_until([&] { return reported.size() == 3; }));
  EXPECT_EQ(call(l, c, {"PING"}).status(), "PONG");
  std::sort(reported.begin(), reported.end());
  EXPECT_EQ(reported, (std::vector<std::string>{"in message", "in on_done", "in reply"}));
}

// ---- with a server of their own ----

TEST(RedisClientAuth, PasswordsAndUsersFromTheUrl) {
  parley::test::redis_server server({"--requirepass", "s3cret"});
  loop l;
  redis::client with_password(l.ctx, where(server.url(":s3cret")));
  EXPECT_EQ(call(l, with_password, {"PING"}).status(), "PONG");
  redis::client with_user(l.ctx, where(server.url("default:s3cret")));
  EXPECT_EQ(call(l, with_user, {"PING"}).status(), "PONG");

  redis::client without(l.ctx, where(server.url()));
  std::error_code ec;
  const auto refused = call(l, without, {"PING"}, &ec);
  EXPECT_EQ(ec, error::server_error);
  EXPECT_TRUE(refused.is_error() && refused.error().starts_with("NOAUTH")) << redis::describe(refused);

  inbox got;
  redis::subscriber sub(l.ctx, where(server.url(":s3cret")), got.handler());
  bool subscribed = false;
  sub.subscribe({"ch"}, [&](std::error_code ec) { subscribed = !ec; });
  ASSERT_TRUE(l.run_until([&] { return subscribed; }));

  // A user whose ACL refuses a channel: that subscription fails and is not wished for any more,
  // so the next connection (the server drops this one) restores the others and nothing else.
  call(l, with_password, {"ACL", "SETUSER", "limited", "on", ">pw", "~*", "resetchannels", "&allowed*", "+@all"});
  state_log limited_log;
  inbox limited_got;
  redis::subscriber limited(l.ctx, where(server.url("limited:pw")), limited_got.handler(), quick(&limited_log));
  std::vector<std::error_code> limited_results;
  limited.subscribe({"forbidden"}, [&](std::error_code ec) { limited_results.push_back(ec); });
  limited.subscribe({"allowed1"}, [&](std::error_code ec) { limited_results.push_back(ec); });
  ASSERT_TRUE(l.run_until([&] { return limited_results.size() == 2; }));
  EXPECT_EQ(limited_results[0], error::server_error);
  EXPECT_FALSE(limited_results[1]);
  EXPECT_EQ(call(l, with_password, {"CLIENT", "KILL", "USER", "limited"}).integer(), 1);
  ASSERT_TRUE(l.run_until([&] { return limited_log.has(connection_state::reconnected); }));
  EXPECT_EQ(call(l, with_password, {"PUBLISH", "allowed1", "again"}).integer(), 1);
  ASSERT_TRUE(l.run_until([&] { return limited_got.messages.size() == 1; }));
  EXPECT_EQ(limited_got.messages[0].payload, "again");

  // A wrong password: reported once however many attempts fail; commands fail, never hang.
  state_log log;
  redis::client wrong(l.ctx, where(server.url(":wrong")), quick(&log));
  ASSERT_TRUE(l.run_until([&] { return !log.seen.empty(); }));
  EXPECT_EQ(log.seen[0].reason, error::auth_failed);
  EXPECT_NE(log.seen[0].detail.find("WRONGPASS"), std::string::npos) << log.seen[0].detail;
  auto o = std::make_shared<outcome>();
  wrong.command({"PING"}, into(o));
  ASSERT_TRUE(l.run_until([&] { return o->done(); }, 1s));
  EXPECT_EQ(o->ec, error::not_connected);
  l.run_for(200ms);
  EXPECT_EQ(log.states(), std::vector<connection_state>{connection_state::reconnecting});
}

TEST(RedisClientOutage, RedisStoppedAndRestartedOnTheSamePort) {
  parley::test::redis_server server({"--requirepass", "pw"});
  const auto url = server.url(":pw", "/2");
  loop l;
  state_log client_log, sub_log;
  redis::client c(l.ctx, where(url), quick(&client_log));
  inbox got;
  redis::subscriber sub(l.ctx, where(url), got.handler(), quick(&sub_log));
  int confirmed = 0;
  sub.subscribe({"ch"}, [&](std::error_code ec) { confirmed += !ec; });
  sub.psubscribe({"p.*"}, [&](std::error_code ec) { confirmed += !ec; });
  ASSERT_TRUE(l.run_until([&] { return confirmed == 2; }));
  EXPECT_EQ(call(l, c, {"PUBLISH", "ch", "before"}).integer(), 1);
  ASSERT_TRUE(l.run_until([&] { return got.messages.size() == 1; }));

  // A command on the wire when Redis goes: it may or may not have run.
  auto in_flight = std::make_shared<outcome>();
  c.command({"BLPOP", "nothing", "10"}, into(in_flight));
  l.run_until([] { return false; }, 50ms);  // written (BLPOP holds its reply)
  server.stop();
  ASSERT_TRUE(l.run_until([&] { return client_log.has(connection_state::lost) && sub_log.has(connection_state::lost); }));
  ASSERT_TRUE(l.run_until([&] { return in_flight->done(); }, 1s));
  EXPECT_EQ(in_flight->ec, error::connection_lost);

  // Meanwhile: commands fail at once, subscriptions are kept for later.
  const auto asked = std::chrono::steady_clock::now();
  auto refused = std::make_shared<outcome>();
  c.command({"PING"}, into(refused));
  ASSERT_TRUE(l.run_until([&] { return refused->done(); }, 1s));
  EXPECT_EQ(refused->ec, error::not_connected);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 500ms);
  std::error_code late_result = error::client_closed;
  sub.subscribe({"late"}, [&](std::error_code ec) { late_result = ec; });
  ASSERT_TRUE(l.run_until([&] { return late_result != error::client_closed; }, 1s));
  EXPECT_EQ(late_result, error::not_connected);

  l.run_for(300ms);  // several failed attempts, each not reported again
  const std::vector<connection_state> down = {connection_state::connected, connection_state::lost,
                                              connection_state::reconnecting};
  EXPECT_EQ(client_log.states(), down);
  EXPECT_EQ(sub_log.states(), down);
  EXPECT_FALSE(c.connected());
  EXPECT_FALSE(sub.connected());

  server.start();
  ASSERT_TRUE(l.run_until([&] {
    return client_log.has(connection_state::reconnected) && sub_log.has(connection_state::reconnected);
  }));
  auto up = down;
  up.push_back(connection_state::reconnected);
  EXPECT_EQ(client_log.states(), up);
  EXPECT_EQ(sub_log.states(), up);
  EXPECT_TRUE(c.connected());
  // AUTH and SELECT again: this connection is in database 2.
  EXPECT_NE(call(l, c, {"CLIENT", "INFO"}).bulk().find(" db=2 "), std::string::npos);
  // Subscriptions again, the one asked for during the outage included, before "reconnected".
  EXPECT_EQ(call(l, c, {"PUBLISH", "ch", "after"}).integer(), 1);
  EXPECT_EQ(call(l, c, {"PUBLISH", "p.x", "pattern after"}).integer(), 1);
  EXPECT_EQ(call(l, c, {"PUBLISH", "late", "late after"}).integer(), 1);
  ASSERT_TRUE(l.run_until([&] { return got.messages.size() == 4; }));
  EXPECT_EQ(got.messages[1].payload, "after");
  EXPECT_EQ(got.messages[2].pattern, "p.*");
  EXPECT_EQ(got.messages[3].channel, "late");
}

TEST(RedisClientOutage, TheFirstAttemptFailsThenRedisComes) {
  parley::test::redis_server server;
  server.stop();  // its port is known and nothing listens there
  loop l;
  state_log log;
  redis::client c(l.ctx, where(server.url()), quick(&log));
  ASSERT_TRUE(l.run_until([&] { return !log.seen.empty(); }));
  EXPECT_EQ(log.seen[0].state, connection_state::reconnecting);
  EXPECT_EQ(log.seen[0].reason, std::errc::connection_refused) << log.seen[0].reason.message();
  std::error_code ec;
  call(l, c, {"PING"}, &ec);
  EXPECT_EQ(ec, error::not_connected);
  server.start();
  ASSERT_TRUE(l.run_until([&] { return c.connected(); }));
  EXPECT_EQ(call(l, c, {"PING"}).status(), "PONG");
  EXPECT_EQ(log.states(), (std::vector<connection_state>{connection_state::reconnecting, connection_state::connected}));
}

// ---- destruction ----

TEST(RedisClientDestruction, EveryPendingHandlerIsCalledOnceByTheDestructor) {
  parley::test::redis_server server;
  loop l;
  auto c = std::make_unique<redis::client>(l.ctx, where(server.url()));
  ASSERT_TRUE(l.run_until([&] { return c->connected(); }));
  auto token = std::make_shared<int>(0);  // held by every handler: all must be released
  std::vector<std::error_code> results;
  {
    auto handler = [&results, token](std::error_code ec, redis::reply) { results.push_back(ec); };
    c->command({"BLPOP", "nothing", "10"}, handler);  // on the wire, holding up the rest
    for (int i = 0; i < 5; ++i) c->command({"GET", "k"}, handler);
    l.run_until([] { return false; }, 50ms);  // written, waiting behind BLPOP
    for (int i = 0; i < 3; ++i) c->command({"GET", "k"}, handler);  // handed over, loop not run since
  }
  EXPECT_TRUE(results.empty());

  c.reset();  // the loop is not running: allowed from here
  EXPECT_EQ(results, std::vector<std::error_code>(9, error::client_closed));
  EXPECT_EQ(token.use_count(), 1);
  l.run_for(100ms);
  EXPECT_EQ(results.size(), 9u);  // nothing after destruction
}

TEST(RedisClientDestruction, AHandlerMayDestroyTheClient) {
  parley::test::redis_server server;
  loop l;
  auto c = std::make_unique<redis::client>(l.ctx, where(server.url()));
  std::vector<std::string> calls;
  c->command({"PING"}, [&](std::error_code ec, redis::reply) {
    calls.push_back(ec ? "error" : "first");
    c.reset();
  });
  c->command({"PING"}, [&](std::error_code ec, redis::reply) { calls.push_back(ec == error::client_closed ? "closed" : "other"); });
  ASSERT_TRUE(l.run_until([&] { return calls.size() == 2; }));
  EXPECT_EQ(calls, (std::vector<std::string>{"first", "closed"}));
  l.run_for(50ms);
  EXPECT_EQ(calls.size(), 2u);
}

TEST(RedisClientDestruction, SubscriberWithPendingSubscriptionsAndAnOutage) {
  parley::test::redis_server server;
  loop l;
  auto token = std::make_shared<int>(0);
  int messages = 0;
  auto sub = std::make_unique<redis::subscriber>(l.ctx, where(server.url()),
                                                 [&messages, token](const redis::message&) { ++messages; }, quick());
  std::vector<std::error_code> results;
  sub->subscribe({"a"}, [&results, token](std::error_code ec) { results.push_back(ec); });
  ASSERT_TRUE(l.run_until([&] { return results.size() == 1; }));
  EXPECT_FALSE(results[0]);
  server.stop();
  ASSERT_TRUE(l.run_until([&] { return !sub->connected(); }));
  sub->subscribe({"b"}, [&results, token](std::error_code ec) { results.push_back(ec); });  // handed over
  sub.reset();
  EXPECT_EQ(results.size(), 2u);
  EXPECT_EQ(results[1], error::client_closed);
  EXPECT_EQ(token.use_count(), 1);  // the message handler is gone too
  l.run_for(100ms);
  EXPECT_EQ(results.size(), 2u);
}

// ---- what a real Redis never does ----

// A TCP listener on the test's loop that accepts, and then does what the test says.
struct fake_redis {
  explicit fake_redis(asio::io_context& ctx) : acceptor(ctx, {asio::ip::make_address("127.0.0.1"), 0}) {}
  std::string url() const { return "redis://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
  asio::ip::tcp::acceptor acceptor;
  std::vector<asio::ip::tcp::socket> accepted;
};

TEST(RedisClientFaults, AServerThatNeverAnswersTheHandshakeTimesOut) {
  loop l;
  fake_redis fake(l.ctx);  // listens, never accepts: the kernel completes the TCP handshake
  state_log log;
  auto o = quick(&log);
  o.connect_timeout = 100ms;
  auto url = fake.url();
  url.insert(8, ":pw@");  // AUTH, which nobody answers
  redis::client c(l.ctx, where(url), o);
  auto waiting = std::make_shared<outcome>();
  c.command({"PING"}, into(waiting));
  ASSERT_TRUE(l.run_until([&] { return !log.seen.empty(); }, 2s));
  EXPECT_EQ(log.seen[0].state, connection_state::reconnecting);
  EXPECT_EQ(log.seen[0].reason, error::connect_timeout);
  ASSERT_TRUE(l.run_until([&] { return waiting->done(); }, 1s));
  EXPECT_EQ(waiting->ec, error::not_connected);
}

TEST(RedisClientFaults, MalformedRepliesDropTheConnection) {
  loop l;
  fake_redis fake(l.ctx);
  fake.acceptor.async_accept([&](boost::system::error_code ec, asio::ip::tcp::socket s) {
    ASSERT_FALSE(ec);
    fake.accepted.push_back(std::move(s));
    asio::write(fake.accepted.back(), asio::buffer(std::string_view("%1\r\n+a\r\n+b\r\n")));  // RESP3: refused
  });
  state_log log;
  redis::client c(l.ctx, where(fake.url()), quick(&log));
  auto o = std::make_shared<outcome>();
  c.command({"PING"}, into(o));
  ASSERT_TRUE(l.run_until([&] { return log.has(connection_state::reconnecting); }));
  ASSERT_GE(log.seen.size(), 3u);
  EXPECT_EQ(log.seen[0].state, connection_state::connected);
  EXPECT_EQ(log.seen[1].state, connection_state::lost);
  EXPECT_EQ(log.seen[1].reason, error::unsupported_resp3);
  ASSERT_TRUE(l.run_until([&] { return o->done(); }));
  EXPECT_EQ(o->ec, error::connection_lost);
}

}  // namespace
