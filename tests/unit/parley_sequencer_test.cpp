// The sequencer that keeps one socket's messages in order: tasks start in push order, one turn at
// a time, whichever thread ends the turns; a turn ends when ended or dropped; synchronous turns
// do not nest; the queue is bounded.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "parley/handlers/sequencer.hpp"

using parley::sequencer;

namespace {

// Turns held by the test, to be ended later (by the test or by other threads).
struct held_turns {
  std::mutex mu;
  std::vector<sequencer::turn> turns;
  void add(sequencer::turn t) {
    std::lock_guard lk(mu);
    turns.push_back(std::move(t));
  }
  std::optional<sequencer::turn> at(std::size_t i) {
    std::lock_guard lk(mu);
    if (i >= turns.size()) return std::nullopt;
    return turns[i];
  }
};

}  // namespace

TEST(Sequencer, StartsTasksInPushOrderOneTurnAtATime) {
  sequencer seq(16);
  held_turns held;
  std::vector<int> started;
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(seq.push([&, i](sequencer::turn t) {
      started.push_back(i);
      held.add(t);
    }));
  // The first ran at once (nothing was under way); the others wait for its turn.
  EXPECT_EQ(started, std::vector<int>{0});
  EXPECT_EQ(seq.waiting(), 2u);
  held.at(0)->end();
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  held.at(0)->end();  // ending a turn twice does nothing more
  EXPECT_EQ(started, (std::vector<int>{0, 1}));
  held.at(1)->end();
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(seq.waiting(), 0u);
  EXPECT_FALSE(held.at(2)->ended());
  held.at(2)->end();
  EXPECT_TRUE(held.at(2)->ended());
  // Idle again: the next task runs at once.
  bool ran = false;
  seq.push([&](sequencer::turn) { ran = true; });
  EXPECT_TRUE(ran);
}

TEST(Sequencer, ADroppedTurnEndsAndAThrowingTaskDoesNotStall) {
  sequencer seq(16);
  std::vector<int> started;
  std::function<void()> later;  // a callback that is dropped without being called
  seq.push([&](sequencer::turn t) {
    started.push_back(0);
    later = [t] { t.end(); };
  });
  seq.push([&](sequencer::turn) {
    started.push_back(1);
    throw std::runtime_error("a bug");
  });
  seq.push([&](sequencer::turn) { started.push_back(2); });  // never ends explicitly either
  seq.push([&](sequencer::turn) { started.push_back(3); });
  EXPECT_EQ(started, std::vector<int>{0});
  later = nullptr;  // the last copy of turn 0 goes: its turn ends, and the rest run
  EXPECT_EQ(started, (std::vector<int>{0, 1, 2, 3}));
}

TEST(Sequencer, RefusesBeyondMaxWaitingWithoutRunningTheTask) {
  sequencer seq(2);
  std::optional<sequencer::turn> first;
  int ran = 0;
  ASSERT_TRUE(seq.push([&](sequencer::turn t) { first = t; }));
  ASSERT_TRUE(seq.push([&](sequencer::turn) { ++ran; }));
  ASSERT_TRUE(seq.push([&](sequencer::turn) { ++ran; }));
  bool refused_ran = false;
  EXPECT_FALSE(seq.push([&](sequencer::turn) { refused_ran = true; }));
  EXPECT_EQ(seq.waiting(), 2u);
  first->end();
  EXPECT_EQ(ran, 2);
  EXPECT_FALSE(refused_ran);
  EXPECT_TRUE(seq.push([&](sequencer::turn) { ++ran; }));
  EXPECT_EQ(ran, 3);
}

// A long queue of tasks that all end their turns at once runs in one loop: no task starts inside
// another's call stack (which would overflow the stack with enough of them).
TEST(Sequencer, SynchronousTurnsDoNotNest) {
  constexpr int n = 200'000;
  sequencer seq(n);
  std::optional<sequencer::turn> gate;
  seq.push([&](sequencer::turn t) { gate = t; });
  int depth = 0, deepest = 0, ran = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(seq.push([&](sequencer::turn t) {
      ++depth;
      deepest = std::max(deepest, depth);
      ++ran;
      t.end();  // synchronously, inside the task
      --depth;
    }));
  }
  gate->end();
  EXPECT_EQ(ran, n);
  EXPECT_EQ(deepest, 1);
}

// A task pushed from inside a running task waits its turn instead of deadlocking or jumping the
// queue (no lock is held while a task runs).
TEST(Sequencer, PushFromInsideATask) {
  sequencer seq(16);
  std::vector<int> started;
  seq.push([&](sequencer::turn t) {
    started.push_back(0);
    seq.push([&](sequencer::turn) { started.push_back(2); });
    EXPECT_EQ(started, std::vector<int>{0});
    t.end();
  });
  EXPECT_EQ(started, (std::vector<int>{0, 2}));
  std::optional<sequencer::turn> held;
  seq.push([&](sequencer::turn t) {
    started.push_back(3);
    held = t;
  });
  seq.push([&](sequencer::turn) { started.push_back(4); });
  EXPECT_EQ(started, (std::vector<int>{0, 2, 3}));
  held->end();
  EXPECT_EQ(started, (std::vector<int>{0, 2, 3, 4}));
}

// Turns ended by several other threads, in any timing, some synchronously: tasks still start in
// push order and never overlap. The pusher is one thread, as a socket's is.
TEST(Sequencer, TurnsEndedFromOtherThreads) {
  constexpr int n = 20'000;
  sequencer seq(n);

  // A small pool of "store threads" that end the turns handed to them.
  std::mutex mu;
  std::condition_variable cv;
  std::deque<sequencer::turn> to_end;
  bool stop = false;
  std::vector<std::thread> pool;
  for (int i = 0; i < 3; ++i) {
    pool.emplace_back([&, i] {
      std::mt19937 rng(static_cast<unsigned>(i));
      for (;;) {
        std::optional<sequencer::turn> t;
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return stop || !to_end.empty(); });
          if (to_end.empty()) return;
          t = std::move(to_end.front());
          to_end.pop_front();
        }
        if (rng() % 8 == 0) std::this_thread::yield();
        t->end();
      }
    });
  }

  std::atomic<int> in_turn{0};
  std::atomic<int> overlaps{0};
  std::vector<int> order;  // written by the task in its turn only: turns do not overlap
  order.reserve(n);
  std::mutex done_mu;
  std::condition_variable done_cv;
  int done = 0;
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(seq.push([&, i](sequencer::turn t) {
      if (in_turn.fetch_add(1) != 0) ++overlaps;
      order.push_back(i);
      {
        std::lock_guard lk(done_mu);
        ++done;
      }
      done_cv.notify_all();
      in_turn.fetch_sub(1);  // before the turn ends: the next task may start right after
      if (i % 3 == 0) return t.end();  // synchronously, as a cached lookup does
      {
        std::lock_guard lk(mu);
        to_end.push_back(std::move(t));
      }
      cv.notify_one();
    }));
  }
  {
    std::unique_lock lk(done_mu);
    ASSERT_TRUE(done_cv.wait_for(lk, std::chrono::seconds(30), [&] { return done == n; }));
  }
  {
    std::lock_guard lk(mu);
    stop = true;
  }
  cv.notify_all();
  for (auto& t : pool) t.join();
  EXPECT_EQ(overlaps.load(), 0);
  ASSERT_EQ(order.size(), static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) ASSERT_EQ(order[i], i);
}
