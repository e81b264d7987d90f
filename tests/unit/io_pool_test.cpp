// The event loops' last line of defence: a handler that throws does not end its loop's thread.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/system/error_code.hpp>

#include "sio/transport/io_pool.hpp"

TEST(IoPool, AHandlerThatThrowsIsReportedAndTheLoopGoesOn) {
  sio::transport::io_pool pool(2);
  std::vector<std::string> reported;  // on loop 1's thread only
  pool.on_error([&](std::exception_ptr e) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      reported.emplace_back(ex.what());
    }
  });
  std::atomic<int> ran_after{0};
  auto& loop = pool.context(1);
  boost::asio::post(loop, [] { throw std::runtime_error("boom"); });
  boost::asio::post(loop, [&] { ++ran_after; });
  boost::asio::post(loop, [] { throw 42; });  // not even a std::exception
  boost::asio::post(loop, [&] {
    ++ran_after;
    pool.stop();
  });
  pool.run();
  EXPECT_EQ(ran_after.load(), 2);
  ASSERT_EQ(reported.size(), 1u);  // the int is reported too, but has no what()
  EXPECT_EQ(reported[0], "boom");
}

TEST(IoPool, WithoutAHandlerTheErrorGoesToStderr) {
  sio::transport::io_pool pool(1);
  boost::asio::post(pool.context(0), [] { throw std::runtime_error("to stderr"); });
  boost::asio::post(pool.context(0), [&] { pool.stop(); });
  testing::internal::CaptureStderr();
  pool.run();
  auto err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("to stderr"), std::string::npos) << err;
}

// A handler queued on one loop may hold an object of another (a polling request's connection
// on loop 0 holding a session of loop 1, with its timers). However the pool is destroyed, that
// object must be destroyed while its own loop's services still exist (under ASan, a
// heap-use-after-free otherwise).
TEST(IoPool, PendingHandlersMayHoldObjectsOfAnotherLoop) {
  for (int order = 0; order < 2; ++order) {
    sio::transport::io_pool pool(2);
    auto& holder_loop = pool.context(order);
    auto& timer_loop = pool.context(1 - order);
    auto timer = std::make_shared<boost::asio::steady_timer>(timer_loop, std::chrono::hours(1));
    timer->async_wait([timer](const boost::system::error_code&) {});  // the timer's own loop holds it too
    boost::asio::post(holder_loop, [timer] {});
    timer.reset();
    // Never run: destroyed with the pool.
  }
}
