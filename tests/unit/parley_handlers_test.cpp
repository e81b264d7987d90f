// The brain's building blocks: the per-socket token bucket, in-memory presence, typing timers.
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
