#include "sio/transport/io_pool.hpp"

#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace sio::transport {

namespace asio = boost::asio;

namespace {
// An io_context whose shutdown (destroying its pending handlers, while its services still exist)
// can be called before its destructor.
struct loop_context : asio::io_context {
  using io_context::io_context;
  using io_context::shutdown;
};
}  // namespace

struct io_pool::impl {
  std::vector<std::unique_ptr<loop_context>> contexts;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  std::atomic<std::size_t> next{0};
  std::unique_ptr<asio::signal_set> signals;
  std::function<void(std::exception_ptr)> on_error;

  // Runs `ctx` until it stops. A handler that throws unwinds out of run(); Asio allows calling
  // run() again at once, so the loop, and every connection on it, carries on.
  void run_loop(asio::io_context& ctx) {
    for (;;) {
      try {
        ctx.run();
        return;
      } catch (...) {
        report(std::current_exception());
      }
    }
  }

  void report(std::exception_ptr e) noexcept {
    try {
      if (on_error) return on_error(e);
      std::string what = "a non-standard exception";
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        what = ex.what();
      } catch (...) {
      }
      std::string line = "sio: an event loop's handler threw: " + what + "\n";
      std::fwrite(line.data(), 1, line.size(), stderr);
    } catch (...) {
    }
  }
};

io_pool::io_pool(std::size_t threads) : impl_(std::make_unique<impl>()) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < threads; ++i) {
    // concurrency hint 1: each loop is run by exactly one thread, so Asio can skip locking.
    impl_->contexts.push_back(std::make_unique<loop_context>(1));
    impl_->guards.push_back(asio::make_work_guard(*impl_->contexts.back()));
  }
}

io_pool::~io_pool() {
  // Handlers queued on one loop may hold objects of another (a polling request is read on any
  // loop, its session lives on one; a send from another loop is batched there). Destroying the
  // loops one by one would destroy such an object after its own loop's services are gone. So
  // every loop's pending handlers go first, while every loop still exists; then the loops.
  impl_->signals.reset();
  impl_->guards.clear();
  for (auto& c : impl_->contexts) c->shutdown();
}

std::size_t io_pool::size() const noexcept { return impl_->contexts.size(); }

asio::io_context& io_pool::context(std::size_t i) noexcept { return *impl_->contexts[i]; }

asio::io_context& io_pool::next() noexcept {
  return *impl_->contexts[impl_->next.fetch_add(1, std::memory_order_relaxed) % impl_->contexts.size()];
}

void io_pool::run() {
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < impl_->contexts.size(); ++i)
    threads.emplace_back([this, ctx = impl_->contexts[i].get()] { impl_->run_loop(*ctx); });
  impl_->run_loop(*impl_->contexts[0]);
  for (auto& t : threads) t.join();
}

void io_pool::stop() {
  for (auto& g : impl_->guards) g.reset();
  for (auto& c : impl_->contexts) c->stop();
}

void io_pool::on_error(std::function<void(std::exception_ptr)> fn) { impl_->on_error = std::move(fn); }

void io_pool::on_signal(std::function<void()> fn) {
  impl_->signals = std::make_unique<asio::signal_set>(*impl_->contexts[0], SIGINT, SIGTERM);
  impl_->signals->async_wait([fn = std::move(fn)](const boost::system::error_code& ec, int) {
    if (!ec) fn();
  });
}

}  // namespace sio::transport
