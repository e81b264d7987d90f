// The brain's building blocks: the token bucket and the per-user limits, in-memory presence,
// typing timers.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "parley/handlers/presence.hpp"
#include "parley/handlers/rate_limiter.hpp"
#include "parley/handlers/typing.hpp"

using namespace std::chrono_literals;

TEST(TokenBucket, BurstThenRate) {
  auto t0 = parley::token_bucket::clock::now();
  parley::token_bucket b(5, 10, t0);
  int ok = 0;
  for (int i = 0; i < 30; ++i) ok += b.try_take(t0);
  EXPECT_EQ(ok, 10);                       // the burst
  EXPECT_FALSE(b.try_take(t0 + 100ms));    // half a token
  EXPECT_TRUE(b.try_take(t0 + 200ms));     // one token after 1/5 s
  EXPECT_FALSE(b.try_take(t0 + 200ms));
  int later = 0;
  for (int i = 0; i < 30; ++i) later += b.try_take(t0 + 100s);
  EXPECT_EQ(later, 10);                    // never more than the burst
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  parley::token_bucket b(0, 0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(b.try_take());
}

TEST(TokenBucket, FullOnceRefilled) {
  auto t0 = parley::token_bucket::clock::now();
  parley::token_bucket b(2, 4, t0);  // refills in 2 s
  EXPECT_TRUE(b.full(t0));
  EXPECT_TRUE(b.try_take(t0));
  EXPECT_FALSE(b.full(t0 + 100ms));
  EXPECT_TRUE(b.full(t0 + 500ms));  // one token back
  EXPECT_EQ(b.refill_time(), std::chrono::duration_cast<parley::token_bucket::clock::duration>(2s));
}

TEST(UserLimits, OneQuotaPerUser) {
  auto t0 = parley::user_limits::clock::now();
  parley::user_limits limits({.events_per_second = 1, .creates_per_minute = 2, .uploads_per_minute = 3});
  auto a = limits.quota("alice", t0);
  EXPECT_EQ(limits.quota("alice", t0), a);
  EXPECT_NE(limits.quota("bob", t0), a);
  EXPECT_TRUE(a->take_event(t0));
  EXPECT_TRUE(limits.quota("alice", t0)->take_event(t0));
  EXPECT_FALSE(a->take_event(t0));  // the burst (2) is the user's, whichever holder takes it
  EXPECT_TRUE(limits.quota("bob", t0)->take_event(t0));
  int creates = 0, uploads = 0;
  for (int i = 0; i < 10; ++i) creates += a->take_create(t0), uploads += a->take_upload(t0);
  EXPECT_EQ(creates, 2);
  EXPECT_EQ(uploads, 3);
  EXPECT_TRUE(a->take_create(t0 + 30s));  // 2 per minute: one every 30 s
}

TEST(UserLimits, ConnectionsPerUserAndPerAddress) {
  parley::user_limits limits({.max_connections_per_user = 2, .max_connections_per_address = 3});
  auto a1 = limits.admit("alice", "192.0.2.1");
  auto a2 = limits.admit("alice", "192.0.2.2");
  ASSERT_TRUE(a1);
  ASSERT_TRUE(a2);
  EXPECT_EQ(&a1.lease->quota(), &a2.lease->quota());
  auto a3 = limits.admit("alice", "192.0.2.3");
  EXPECT_FALSE(a3);
  EXPECT_EQ(a3.refused, parley::user_limits::refusal::too_many_for_user);
  auto b = limits.admit("bob", "192.0.2.1");
  auto c = limits.admit("carol", "192.0.2.1");
  ASSERT_TRUE(b);
  auto d = limits.admit("dave", "192.0.2.1");  // alice, bob, carol are there
  EXPECT_FALSE(d);
  EXPECT_EQ(d.refused, parley::user_limits::refusal::too_many_from_address);
  EXPECT_TRUE(limits.admit("dave", ""));  // no address: counted per user only

  a1.lease.reset();  // a socket goes: its places are free again
  EXPECT_TRUE(limits.admit("dave", "192.0.2.1"));
  EXPECT_TRUE(limits.admit("alice", "192.0.2.9"));
}

TEST(UserLimits, UnlimitedWithZeros) {
  parley::user_limits limits({.events_per_second = 0, .creates_per_minute = 0, .uploads_per_minute = 0,
                              .max_connections_per_user = 0, .max_connections_per_address = 0});
  std::vector<std::shared_ptr<parley::user_limits::connection_lease>> held;
  for (int i = 0; i < 1000; ++i) {
    auto a = limits.admit("alice", "192.0.2.1");
    ASSERT_TRUE(a);
    ASSERT_TRUE(a.lease->quota().take_event());
    ASSERT_TRUE(a.lease->quota().take_create());
    held.push_back(a.lease);
  }
}

TEST(UserLimits, IdleUsersAreForgotten) {
  auto t0 = parley::user_limits::clock::now();
  // The slowest bucket (creates: 6 per minute, bursts of 6) refills in a minute.
  parley::user_limits limits({.events_per_second = 10, .creates_per_minute = 6, .uploads_per_minute = 60});
  for (int i = 0; i < 1000; ++i) limits.quota("passer-by-" + std::to_string(i), t0)->take_event(t0);
  auto connected = limits.admit("connected", "192.0.2.1", t0);
  auto busy = limits.quota("busy", t0);
  EXPECT_EQ(limits.tracked_users(), 1002u);

  // Not yet refilled (and the sweep runs at most once a refill period): nobody is forgotten.
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(limits.quota("busy", t0 + 30s)->take_create(t0 + 30s));
  EXPECT_EQ(limits.tracked_users(), 1002u);
  // Refilled: the passers-by go; the connected user stays, and so does the one whose create
  // bucket is still filling.
  busy.reset();
  limits.quota("someone", t0 + 61s);
  EXPECT_EQ(limits.tracked_users(), 3u);  // connected, busy, someone
  int creates = 0;
  for (int i = 0; i < 6; ++i) creates += limits.quota("busy", t0 + 61s)->take_create(t0 + 61s);
  EXPECT_EQ(creates, 3);  // 31 s refilled 3.1 tokens: the same quota, not a fresh one

  // Once the connection is gone and its quota full, it goes too.
  connected.lease.reset();
  limits.quota("later", t0 + 200s);
  EXPECT_EQ(limits.tracked_users(), 1u);  // later
}

TEST(UserLimits, SocketsOfOneUserOnManyThreads) {
  const auto t0 = parley::user_limits::clock::now();
  parley::user_limits limits({.events_per_second = 100, .max_connections_per_user = 8});
  std::atomic<int> accepted{0}, admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int round = 0; round < 50; ++round) {
        auto a = limits.admit("alice", "192.0.2.1", t0);
        if (!a) continue;
        ++admitted;
        for (int i = 0; i < 10; ++i) accepted += a.lease->quota().take_event(t0);
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(accepted.load(), 200);  // the burst, once for all of them: time stood still
  EXPECT_EQ(admitted.load(), 400);  // never more than 8 at once, and each gave its place back
  EXPECT_TRUE(limits.admit("alice", "192.0.2.1", t0));
}

TEST(MemoryPresence, FirstAndLastSocketOfAUser) {
  auto p = parley::make_memory_presence();
  bool first = false, last = false;
  p->add("alice", "s1", [&](bool f) { first = f; });
  EXPECT_TRUE(first);
  p->add("alice", "s2", [&](bool f) { first = f; });
  EXPECT_FALSE(first);
  p->add("bob", "s3", [&](bool f) { first = f; });
  EXPECT_TRUE(first);
  std::size_t n = 0;
  p->count([&](std::size_t c) { n = c; });
  EXPECT_EQ(n, 2u);
  std::vector<std::string> users;
  p->users([&](std::vector<std::string> u) { users = std::move(u); });
  EXPECT_EQ(users, (std::vector<std::string>{"alice", "bob"}));

  p->remove("alice", "s1", [&](bool l) { last = l; });
  EXPECT_FALSE(last);
  p->remove("alice", "s1", [&](bool l) { last = l; });  // twice: no effect
  EXPECT_FALSE(last);
  p->remove("alice", "s2", [&](bool l) { last = l; });
  EXPECT_TRUE(last);
  p->remove("nobody", "sX", [&](bool l) { last = l; });
  EXPECT_FALSE(last);
  p->count([&](std::size_t c) { n = c; });
  EXPECT_EQ(n, 1u);
}

TEST(MemoryPresence, ConcurrentSocketsCountOnce) {
  auto p = parley::make_memory_presence();
  std::atomic<int> firsts{0}, lasts{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        auto sid = std::to_string(t) + ":" + std::to_string(i);
        p->add("u", sid, [&](bool f) { firsts += f; });
        p->remove("u", sid, [&](bool l) { lasts += l; });
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(firsts.load(), lasts.load());
  std::size_t n = 1;
  p->count([&](std::size_t c) { n = c; });
  EXPECT_EQ(n, 0u);
}

// The announcements broadcast, and broadcasting takes the connections' locks: presence must not
// hold its own lock around them (another thread's presence call would wait on it while holding
// a connection lock the announcement needs: a deadlock).
TEST(MemoryPresence, AnnouncesWithoutHoldingItsLock) {
  auto p = parley::make_memory_presence();
  std::vector<std::thread> others;  // joined once the calls returned (and any lock is released)
  auto another_thread_may_use_presence = [&] {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    others.emplace_back([&p, done] {
      p->count([](std::size_t) {});
      p->add("bob", "sb", [](bool) {});
      done->set_value();
    });
    return finished.wait_for(2s) == std::future_status::ready;
  };
  bool free_on_add = false, free_on_remove = false;
  p->add("alice", "s1", [&](bool) { free_on_add = another_thread_may_use_presence(); });
  p->remove("alice", "s1", [&](bool) { free_on_remove = another_thread_may_use_presence(); });
  for (auto& t : others) t.join();
  EXPECT_TRUE(free_on_add);
  EXPECT_TRUE(free_on_remove);
}

// A user's sockets come and go on several threads; whatever the interleaving, the announcements
// come out in the order presence decided them: online, offline, online, ... for the user, ending
// with the state presence is in.
TEST(MemoryPresence, AnnouncementsKeepTheOrderOfTheDecisions) {
  auto p = parley::make_memory_presence();
  std::mutex log_mutex;
  std::vector<char> log;  // '+' online, '-' offline, in the order announced
  auto announce = [&](char c) {
    std::lock_guard lock(log_mutex);
    log.push_back(c);
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        auto sid = std::to_string(t) + ":" + std::to_string(i);
        p->add("u", sid, [&](bool first) { if (first) announce('+'); });
        p->remove("u", sid, [&](bool last) { if (last) announce('-'); });
      }
    });
  for (auto& t : threads) t.join();
  ASSERT_FALSE(log.empty());
  for (std::size_t i = 0; i < log.size(); ++i) ASSERT_EQ(log[i], i % 2 == 0 ? '+' : '-') << "at " << i;
  EXPECT_EQ(log.back(), '-');
}

TEST(TypingTracker, ExpiresRestartsAndStops) {
  boost::asio::io_context ctx;
  parley::typing_tracker t(ctx, 50ms);
  int expired_a = 0, expired_b = 0, expired_c = 0;
  t.start("s1", "a", [&] { ++expired_a; });
  t.start("s1", "b", [&] { ++expired_b; });
  t.start("s2", "a", [&] { ++expired_c; });
  EXPECT_EQ(t.active(), 3u);
  EXPECT_TRUE(t.stop("s1", "b"));
  EXPECT_FALSE(t.stop("s1", "b"));
  ctx.run_for(20ms);
  t.start("s1", "a", [&] { ++expired_a; });  // re-armed: the first timer must not fire
  EXPECT_EQ(t.stop_all("s2"), (std::vector<std::string>{"a"}));
  ctx.run_for(200ms);
  EXPECT_EQ(expired_a, 1);
  EXPECT_EQ(expired_b, 0);
  EXPECT_EQ(expired_c, 0);
  EXPECT_EQ(t.active(), 0u);
}
