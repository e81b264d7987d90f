#pragma once
// The threads that serve connections: one event loop (io_context) per thread.
// Each connection is owned by one loop for its whole life, so its state needs no lock.
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>

namespace boost::asio { class io_context; }

namespace sio::transport {

class io_pool {
 public:
  // threads == 0: one per core.
  explicit io_pool(std::size_t threads = 0);
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  std::size_t size() const noexcept;
  boost::asio::io_context& context(std::size_t i) noexcept;
  // Round-robin choice for a new connection.
  boost::asio::io_context& next() noexcept;

  // Runs every loop, one per thread (the caller's thread runs loop 0); returns after stop().
  void run();
  // Asks every loop to stop; safe from any thread and from a signal handler's posted work.
  void stop();
  // Calls fn() on SIGINT / SIGTERM (on loop 0's thread).
  void on_signal(std::function<void()> fn);
  // The last line of defence: an exception that escapes a handler run by a loop (the layers
  // above guard their calls into the application; this catches what they miss) is given to
  // fn, on that loop's thread, and the loop goes on running. Set before run(). Default: one line
  // on stderr.
  void on_error(std::function<void(std::exception_ptr)> fn);

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace sio::transport
