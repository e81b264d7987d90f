#pragma once
// Typing indicators that expire: a typing:start with no typing:stop ends after `timeout`, and
// every indicator of a socket ends when it disconnects. The tracker only keeps the timers; the
// caller says what "ending" sends (on_expire).
//
// Thread-safe: sockets call it from their threads; timers run on the given io_context.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace parley {

class typing_tracker {
 public:
  typing_tracker(boost::asio::io_context& ctx, std::chrono::milliseconds timeout);
  ~typing_tracker();

  // (Re)arms the indicator of this socket in this conversation; on_expire runs (on the timer's
  // thread) if neither stop() nor stop_all() comes first.
  void start(const std::string& socket_id, const std::string& conversation_id, std::function<void()> on_expire);
  // Ends it; false when it was not active.
  bool stop(const std::string& socket_id, const std::string& conversation_id);
  // Ends every indicator of the socket; returns their conversations.
  std::vector<std::string> stop_all(const std::string& socket_id);
  // Cancels every timer (shutdown).
  void clear();

  std::size_t active() const;

 private:
  struct entry {
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::uint64_t generation = 0;
  };
  using key = std::pair<std::string, std::string>;  // socket id, conversation id

  boost::asio::io_context& ctx_;
  std::chrono::milliseconds timeout_;
  mutable std::mutex mutex_;
  std::map<key, entry> entries_;
  std::uint64_t next_generation_ = 1;
};

}  // namespace parley
