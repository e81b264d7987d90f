#pragma once
// Internal to sio_redis (includes Asio): one connection to Redis, owned by one loop, behind
// both redis::client (role::commands) and redis::subscriber (role::subscriptions). The public
// classes own it through a shared_ptr; the loop's pending operations hold one too, so that a
// handler that destroys the client does not pull the object from under the code that called
// it. shutdown() (the owner's destructor) makes every later completion a no-op.
//
// Phases: idle -> connecting (resolve, TCP) -> handshaking (AUTH, SELECT, restoring
// subscriptions) -> ready; any failure -> waiting (backoff timer) -> connecting ...; shutdown()
// -> closed. `generation_` counts connection attempts: a completion of an older attempt's
// operation finds it changed and does nothing.
#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "sio/redis/client.hpp"
#include "sio/redis/subscriber.hpp"

namespace sio::redis::detail {

enum class role { commands, subscriptions };

// Throws std::invalid_argument for what cannot work; shared by client and subscriber.
void check_options(const address& server, const client_options& o);
enum class family : std::uint8_t { channel = 0, pattern = 1, shard = 2 };

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(boost::asio::io_context& loop, address server, client_options options, role r,
             message_handler on_message);
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  // Posts the first connection attempt. Once, right after make_shared.
  void start();
  // Cancels everything and calls every pending handler (client_closed, or the error it was
  // already given); no handler or hook runs afterwards. On the loop's thread or with the loop
  // not running.
  void shutdown();

  // Any thread. `refused`: a command the caller found invalid, to be failed like any other.
  void submit_command(std::string encoded, reply_handler on_reply, std::error_code refused = {});
  void submit_subscription(bool subscribe, family f, std::vector<std::string> names, done_handler on_done);

  bool ready() const noexcept { return ready_flag_.load(std::memory_order_relaxed); }

 private:
  enum class phase { idle, connecting, handshaking, ready, waiting, closed };

  // What a caller asked for, on its way to the loop.
  struct request {
    enum class kind : std::uint8_t { command, subscribe, unsubscribe };
    kind what = kind::command;
    family fam = family::channel;
    std::error_code refused;
    std::string encoded;             // a command, in RESP
    std::vector<std::string> names;  // a subscription's channels or patterns
    reply_handler on_reply;
    done_handler on_done;
  };

  // What has been sent and waits for its reply (or, for a subscription, its confirmations).
  struct awaited {
    enum class kind : std::uint8_t { command, auth, select, subscription, restore };
    kind what = kind::command;
    bool subscribe = true;
    family fam = family::channel;
    std::size_t confirmations = 0;   // (un)subscribe replies still to come, one per name
    std::vector<std::string> names;  // a user's subscribe: dropped from the wish if refused
    reply_handler on_reply;
    done_handler on_done;
  };

  // A handler to call from the loop soon (or a state change for the hook).
  struct completion {
    reply_handler on_reply;
    done_handler on_done;
    std::optional<state_change> state;
    std::error_code ec;
  };

  void execute(request r);
  void execute_subscription(request r);

  void begin_attempt();
  void on_transport_connected();
  void become_ready();
  void handshake_step_done();
  void fail(std::error_code reason, std::string detail = {});
  void close_transport() noexcept;
  void schedule_retry();

  void send(std::span<const std::string_view> args);
  void send_subscription(awaited::kind what, bool subscribe, family f, std::vector<std::string> names,
                         done_handler on_done);
  void flush();
  void read_more();
  void on_read(std::uint64_t gen, const boost::system::error_code& ec, std::size_t n);
  void handle_reply(reply r);
  bool handle_push(const reply& r);
  void confirm(family f, bool subscribe);
  void deliver(message_kind kind, const std::string& channel, const std::string* pattern, const std::string& payload);

  void defer(completion c);
  void drain_deferred();
  void drain_inbox();
  void run(completion& c) noexcept;
  void report(std::exception_ptr e) noexcept;
  template <class F>
  void guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      report(std::current_exception());
    }
  }
  std::size_t pending_commands() const noexcept { return awaiting_.size() + held_.size(); }

  boost::asio::io_context& loop_;
  const address server_;
  client_options options_;
  const role role_;
  message_handler on_message_;

  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer connect_timer_;
  reply_parser parser_;

  phase phase_ = phase::idle;
  std::uint64_t generation_ = 0;
  unsigned attempt_ = 0;            // failed attempts since the connection was last ready
  bool ever_ready_ = false;         // connected (once) vs reconnected
  bool outage_reported_ = false;    // reconnecting is reported once per outage
  std::size_t handshake_steps_ = 0; // AUTH, SELECT, restores still unanswered
  std::atomic<bool> ready_flag_{false};

  std::string out_;      // encoded, not yet handed to the socket
  std::string writing_;  // handed to the socket (async_write in flight)
  bool write_in_flight_ = false;

  std::deque<awaited> awaiting_;                  // sent, in order
  std::deque<request> held_;                      // commands waiting for the attempt under way
  // Subscription requests given while an attempt is under way (names: what they change),
  // sent after the restoring commands, in order, each with its on_done.
  std::vector<request> waiters_;
  std::array<std::set<std::string, std::less<>>, 3> wanted_;  // by family

  std::deque<completion> deferred_;
  bool drain_posted_ = false;

  std::mutex inbox_mutex_;  // guards inbox_ and inbox_posted_ only; never held while calling out
  std::vector<request> inbox_;
  bool inbox_posted_ = false;
};

}  // namespace sio::redis::detail
