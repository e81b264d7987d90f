#include "sio/redis/detail/connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdio>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "sio/common/random_id.hpp"

namespace sio::redis::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr std::size_t read_chunk = 16 * 1024;
// A write buffer that grew past this (a burst) is given back once written.
constexpr std::size_t keep_write_capacity = 1024 * 1024;

struct family_words {
  std::string_view subscribe, unsubscribe;           // the commands
  std::string_view subscribed, unsubscribed;         // the words of their confirmations
};
constexpr family_words words[3] = {
    {"SUBSCRIBE", "UNSUBSCRIBE", "subscribe", "unsubscribe"},
    {"PSUBSCRIBE", "PUNSUBSCRIBE", "psubscribe", "punsubscribe"},
    {"SSUBSCRIBE", "SUNSUBSCRIBE", "ssubscribe", "sunsubscribe"},
};

// Uniform in [0, 1), for the backoff's jitter. Reconnections are rare: a read of the OS CSPRNG
// costs nothing here and needs no generator of its own (sio::random_bytes is the tree's one
// source of randomness).
double jitter_unit() {
  std::uint64_t bits = 0;
  sio::random_bytes(reinterpret_cast<unsigned char*>(&bits), sizeof bits);
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

void set_keepalive_timing(int fd) {
#if defined(TCP_KEEPIDLE) && defined(TCP_KEEPINTVL) && defined(TCP_KEEPCNT)
  const int idle = 30, interval = 10, probes = 3;
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
  ::setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &probes, sizeof probes);
#else
  (void)fd;
#endif
}

}  // namespace

connection::connection(asio::io_context& loop, address server, client_options options, role r,
                       message_handler on_message)
    : loop_(loop),
      server_(std::move(server)),
      options_(std::move(options)),
      role_(r),
      on_message_(std::move(on_message)),
      resolver_(loop),
      socket_(loop),
      retry_timer_(loop),
      connect_timer_(loop),
      parser_(options_.limits) {}

void connection::start() {
  asio::post(loop_, [self = shared_from_this()] {
    if (self->phase_ == phase::idle) self->begin_attempt();
  });
}

// ---- from the callers ----

void connection::submit_command(std::string encoded, reply_handler on_reply, std::error_code refused) {
  request r;
  r.what = request::kind::command;
  r.encoded = std::move(encoded);
  r.on_reply = std::move(on_reply);
  r.refused = refused;
  if (loop_.get_executor().running_in_this_thread()) return execute(std::move(r));
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(r));
    post = !std::exchange(inbox_posted_, true);
  }
  // One post per batch: the commands of a burst from another thread cost one wake-up.
  if (post) asio::post(loop_, [self = shared_from_this()] { self->drain_inbox(); });
}

void connection::submit_subscription(bool subscribe, family f, std::vector<std::string> names, done_handler on_done) {
  request r;
  r.what = subscribe ? request::kind::subscribe : request::kind::unsubscribe;
  r.fam = f;
  r.names = std::move(names);
  r.on_done = std::move(on_done);
  if (loop_.get_executor().running_in_this_thread()) return execute(std::move(r));
  bool post = false;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(r));
    post = !std::exchange(inbox_posted_, true);
  }
  if (post) asio::post(loop_, [self = shared_from_this()] { self->drain_inbox(); });
}

void connection::drain_inbox() {
  std::vector<request> batch;
  {
    std::lock_guard lock(inbox_mutex_);
    batch.swap(inbox_);
    inbox_posted_ = false;
  }
  for (auto& r : batch) execute(std::move(r));
}

void connection::execute(request r) {
  if (r.what != request::kind::command) return execute_subscription(std::move(r));
  if (phase_ == phase::closed) {
    // Only a handler called by shutdown() can get here; it is answered now, as it would be
    // by shutdown() itself.
    completion c{std::move(r.on_reply), {}, {}, error::client_closed};
    return run(c);
  }
  if (r.refused) return defer({std::move(r.on_reply), {}, {}, r.refused});
  switch (phase_) {
    case phase::waiting:
      return defer({std::move(r.on_reply), {}, {}, error::not_connected});
    case phase::idle:
    case phase::connecting:
    case phase::handshaking:
      // Until AUTH and SELECT have succeeded: a command must not run as nobody or in db 0.
      if (pending_commands() >= options_.max_pending_commands)
        return defer({std::move(r.on_reply), {}, {}, error::queue_full});
      held_.push_back(std::move(r));
      return;
    case phase::ready:
      if (pending_commands() >= options_.max_pending_commands)
        return defer({std::move(r.on_reply), {}, {}, error::queue_full});
      out_ += r.encoded;
      awaiting_.push_back({awaited::kind::command, true, family::channel, 0, {}, std::move(r.on_reply), {}});
      flush();
      return;
    case phase::closed:
      return;
  }
}

void connection::execute_subscription(request r) {
  const bool subscribe = r.what == request::kind::subscribe;
  if (phase_ == phase::closed) {
    completion c{{}, std::move(r.on_done), {}, error::client_closed};
    return run(c);
  }
  // The wish changes at once, whatever the connection's state.
  auto& wanted = wanted_[static_cast<std::size_t>(r.fam)];
  std::vector<std::string> changed;
  for (auto& name : r.names) {
    if (subscribe ? wanted.insert(name).second : wanted.erase(name) > 0) changed.push_back(std::move(name));
  }
  if (changed.empty()) return defer({{}, std::move(r.on_done), {}, {}});
  switch (phase_) {
    case phase::handshaking:  // after the restoring commands already sent: same order on the wire
    case phase::ready:
      return send_subscription(awaited::kind::subscription, subscribe, r.fam, std::move(changed), std::move(r.on_done));
    case phase::idle:
    case phase::connecting:  // sent as its own command once connected, after the restoring ones
      r.names = std::move(changed);
      waiters_.push_back(std::move(r));
      return;
    case phase::waiting:  // kept for the next connection; nothing to undo on a dead one
      return defer({{}, std::move(r.on_done), {}, subscribe ? std::error_code(error::not_connected) : std::error_code()});
    case phase::closed:
      return;
  }
}

// ---- the connection's life ----

void connection::begin_attempt() {
  if (phase_ == phase::closed) return;
  phase_ = phase::connecting;
  const std::uint64_t gen = ++generation_;
  connect_timer_.expires_after(options_.connect_timeout);
  connect_timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
    // Ready moves no generation on: a completion queued just before become_ready() cancelled
    // the timer must not fail the connection it was guarding.
    if (ec || gen != self->generation_) return;
    if (self->phase_ != phase::connecting && self->phase_ != phase::handshaking) return;
    self->fail(error::connect_timeout);
  });

  auto on_connect = [self = shared_from_this(), gen](const boost::system::error_code& ec, const tcp::endpoint&) {
    if (gen != self->generation_) return;
    if (ec) return self->fail(ec);
    self->on_transport_connected();
  };
  boost::system::error_code not_ip;
  const auto ip = asio::ip::make_address(server_.host, not_ip);
  if (!not_ip) {
    const std::array<tcp::endpoint, 1> endpoints{tcp::endpoint(ip, server_.port)};
    asio::async_connect(socket_, endpoints, std::move(on_connect));
    return;
  }
  // A name: Asio resolves on its own thread, so the loop never waits for DNS.
  resolver_.async_resolve(
      server_.host, std::to_string(server_.port),
      [self = shared_from_this(), gen, on_connect = std::move(on_connect)](const boost::system::error_code& ec,
                                                                            tcp::resolver::results_type results) mutable {
        if (gen != self->generation_) return;
        if (ec) return self->fail(ec);
        asio::async_connect(self->socket_, results, std::move(on_connect));
      });
}

void connection::on_transport_connected() {
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  // A peer that vanishes without a FIN (a partition, a dead host) is noticed in about a minute
  // (30 s idle, then 3 probes 10 s apart) rather than after the kernel's default two hours.
  socket_.set_option(asio::socket_base::keep_alive(true), ignored);
  set_keepalive_timing(socket_.native_handle());
  phase_ = phase::handshaking;
  parser_.reset();
  handshake_steps_ = 0;

  if (!server_.password.empty()) {
    if (server_.username.empty()) {
      const std::string_view args[] = {"AUTH", server_.password};
      send(args);
    } else {
      const std::string_view args[] = {"AUTH", server_.username, server_.password};
      send(args);
    }
    awaiting_.push_back({awaited::kind::auth, true, family::channel, 0, {}, {}, {}});
    ++handshake_steps_;
  }
  if (server_.db != 0) {
    const std::string db = std::to_string(server_.db);
    const std::string_view args[] = {"SELECT", db};
    send(args);
    awaiting_.push_back({awaited::kind::select, true, family::channel, 0, {}, {}, {}});
    ++handshake_steps_;
  }
  if (role_ == role::subscriptions) {
    // Restored: what is wanted, except what requests waiting for this attempt add. Those go
    // as their own commands, so that one Redis refuses (an ACL) fails that request and is
    // forgotten, instead of failing every connection. A refused restore (the ACL changed
    // between two connections) fails the connection, loudly: reconnecting, subscribe_failed.
    std::array<std::set<std::string_view>, 3> requested_now;
    for (const auto& w : waiters_)
      if (w.what == request::kind::subscribe) requested_now[static_cast<std::size_t>(w.fam)].insert(w.names.begin(), w.names.end());
    for (std::size_t f = 0; f < wanted_.size(); ++f) {
      std::vector<std::string> names;
      for (const auto& name : wanted_[f])
        if (!requested_now[f].contains(name)) names.push_back(name);
      if (names.empty()) continue;
      send_subscription(awaited::kind::restore, true, static_cast<family>(f), std::move(names), {});
      ++handshake_steps_;
    }
    for (auto& w : waiters_)
      send_subscription(awaited::kind::subscription, w.what == request::kind::subscribe, w.fam, std::move(w.names),
                        std::move(w.on_done));
    waiters_.clear();
  }
  read_more();
  flush();
  if (handshake_steps_ == 0) become_ready();
}

void connection::handshake_step_done() {
  if (--handshake_steps_ == 0 && phase_ == phase::handshaking) become_ready();
}

void connection::become_ready() {
  phase_ = phase::ready;
  connect_timer_.cancel();
  attempt_ = 0;
  ready_flag_.store(true, std::memory_order_relaxed);
  defer({{}, {}, state_change{ever_ready_ ? connection_state::reconnected : connection_state::connected, {}, {}}, {}});
  ever_ready_ = true;
  outage_reported_ = false;
  // The commands that waited for this connection, in the order they were given.
  for (auto& r : held_) {
    out_ += r.encoded;
    awaiting_.push_back({awaited::kind::command, true, family::channel, 0, {}, std::move(r.on_reply), {}});
  }
  held_.clear();
  flush();
}

void connection::fail(std::error_code reason, std::string detail) {
  if (phase_ == phase::idle || phase_ == phase::waiting || phase_ == phase::closed) return;
  const bool was_ready = phase_ == phase::ready;
  ++generation_;
  close_transport();
  phase_ = phase::waiting;
  ready_flag_.store(false, std::memory_order_relaxed);

  if (was_ready) defer({{}, {}, state_change{connection_state::lost, reason, detail}, {}});
  if (!outage_reported_) {
    outage_reported_ = true;
    defer({{}, {}, state_change{connection_state::reconnecting, reason, std::move(detail)}, {}});
  }
  auto sent = std::move(awaiting_);
  awaiting_.clear();
  for (auto& a : sent) {
    switch (a.what) {
      case awaited::kind::command:
        defer({std::move(a.on_reply), {}, {}, error::connection_lost});
        break;
      case awaited::kind::subscription:
        // A subscription stays wanted (made again on the next connection); an unsubscription
        // is complete: the connection that had the subscription is gone.
        defer({{}, std::move(a.on_done), {}, a.subscribe ? std::error_code(error::connection_lost) : std::error_code()});
        break;
      default:
        break;
    }
  }
  for (auto& r : held_) defer({std::move(r.on_reply), {}, {}, error::not_connected});
  held_.clear();
  for (auto& w : waiters_) {
    const bool subscribe = w.what == request::kind::subscribe;
    defer({{}, std::move(w.on_done), {}, subscribe ? std::error_code(error::not_connected) : std::error_code()});
  }
  waiters_.clear();
  schedule_retry();
}

void connection::close_transport() noexcept {
  boost::system::error_code ignored;
  socket_.close(ignored);
  resolver_.cancel();
  connect_timer_.cancel();
  // A cancelled operation touches its buffer no more: both can be reused at once.
  write_in_flight_ = false;
  out_.clear();
  writing_.clear();
  parser_.reset();
}

void connection::schedule_retry() {
  ++attempt_;
  retry_timer_.expires_after(backoff_delay(options_.reconnect, attempt_, jitter_unit()));
  retry_timer_.async_wait([self = shared_from_this(), gen = generation_](const boost::system::error_code& ec) {
    if (ec || gen != self->generation_) return;
    self->begin_attempt();
  });
}

void connection::shutdown() {
  if (phase_ == phase::closed) return;
  phase_ = phase::closed;
  ++generation_;
  ready_flag_.store(false, std::memory_order_relaxed);
  close_transport();
  retry_timer_.cancel();

  // Every handler still owed a call gets it now, in order: the failures already decided keep
  // their error; everything else was cut short by the destruction. The state hook is not
  // called any more.
  std::vector<completion> last;
  for (auto& c : deferred_)
    if (!c.state) last.push_back(std::move(c));
  deferred_.clear();
  for (auto& a : awaiting_) {
    if (a.on_reply) last.push_back({std::move(a.on_reply), {}, {}, error::client_closed});
    if (a.on_done) last.push_back({{}, std::move(a.on_done), {}, error::client_closed});
  }
  awaiting_.clear();
  for (auto& r : held_) last.push_back({std::move(r.on_reply), {}, {}, error::client_closed});
  held_.clear();
  for (auto& w : waiters_) last.push_back({{}, std::move(w.on_done), {}, error::client_closed});
  waiters_.clear();
  {
    std::lock_guard lock(inbox_mutex_);
    for (auto& r : inbox_) last.push_back({std::move(r.on_reply), std::move(r.on_done), {}, error::client_closed});
    inbox_.clear();
  }
  for (auto& c : last) run(c);

  // This object may outlive its owner a little (the loop's queued operations hold it): it must
  // not keep what the user's handlers captured alive meanwhile.
  on_message_ = nullptr;
  options_.on_state = nullptr;
  options_.on_error = nullptr;
}

// ---- bytes ----

void connection::send(std::span<const std::string_view> args) { append_command(out_, args); }

void connection::send_subscription(awaited::kind what, bool subscribe, family f, std::vector<std::string> names,
                                   done_handler on_done) {
  const auto& w = words[static_cast<std::size_t>(f)];
  std::vector<std::string_view> args;
  args.reserve(names.size() + 1);
  args.push_back(subscribe ? w.subscribe : w.unsubscribe);
  for (const auto& n : names) args.push_back(n);
  send(args);
  const std::size_t confirmations = names.size();
  awaiting_.push_back({what, subscribe, f, confirmations, std::move(names), {}, std::move(on_done)});
  flush();
}

void connection::flush() {
  if (write_in_flight_ || out_.empty()) return;
  if (phase_ != phase::handshaking && phase_ != phase::ready) return;
  // Everything given meanwhile goes out in one write.
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this(), gen = generation_](const boost::system::error_code& ec, std::size_t) {
                      if (gen != self->generation_) return;
                      self->write_in_flight_ = false;
                      self->writing_.clear();
                      if (self->writing_.capacity() > keep_write_capacity) std::string().swap(self->writing_);
                      if (ec) return self->fail(ec);
                      self->flush();
                    });
}

void connection::read_more() {
  const auto room = parser_.prepare(read_chunk);
  socket_.async_read_some(asio::buffer(room.data(), room.size()),
                          [self = shared_from_this(), gen = generation_](const boost::system::error_code& ec,
                                                                         std::size_t n) { self->on_read(gen, ec, n); });
}

void connection::on_read(std::uint64_t gen, const boost::system::error_code& ec, std::size_t n) {
  if (gen != generation_) return;
  if (ec) return fail(ec);
  parser_.commit(n);
  while (auto r = parser_.next()) {
    handle_reply(std::move(*r));
    // A handler may have destroyed the client, or the reply failed the connection.
    if (gen != generation_) return;
  }
  if (const auto e = parser_.error()) return fail(e);
  read_more();
}

// ---- replies ----

void connection::handle_reply(reply r) {
  if (role_ == role::subscriptions && handle_push(r)) return;
  if (awaiting_.empty()) return fail(error::unexpected_reply, describe(r));
  awaited a = std::move(awaiting_.front());
  awaiting_.pop_front();
  switch (a.what) {
    case awaited::kind::command: {
      if (!a.on_reply) return;
      const std::error_code ec = r.is_error() ? std::error_code(error::server_error) : std::error_code();
      guarded([&] { a.on_reply(ec, std::move(r)); });
      return;
    }
    case awaited::kind::auth:
      if (r.is_error()) return fail(error::auth_failed, r.error());
      return handshake_step_done();
    case awaited::kind::select:
      if (r.is_error()) return fail(error::select_failed, r.error());
      return handshake_step_done();
    case awaited::kind::subscription: {
      // Not a confirmation: Redis refused the command (an ACL, a bad name). A refused
      // subscription is not wished for any more, or every reconnection would fail on it.
      if (a.subscribe)
        for (const auto& n : a.names) wanted_[static_cast<std::size_t>(a.fam)].erase(n);
      if (!a.on_done) return;
      const std::error_code ec = r.is_error() ? error::server_error : error::unexpected_reply;
      guarded([&] { a.on_done(ec); });
      return;
    }
    case awaited::kind::restore:
      return fail(error::subscribe_failed, r.is_error() ? r.error() : describe(r));
  }
}

// A subscribed connection's own replies: messages, and (un)subscribe confirmations, which
// come one per name. True when `r` was one of them.
bool connection::handle_push(const reply& r) {
  if (!r.is_array()) return false;
  const auto& e = r.elements();
  if (e.size() < 3 || !e[0].is_bulk()) return false;
  const std::string& word = e[0].bulk();
  if (word == "message" && e.size() == 3 && e[1].is_bulk() && e[2].is_bulk()) {
    deliver(message_kind::channel, e[1].bulk(), nullptr, e[2].bulk());
    return true;
  }
  if (word == "pmessage" && e.size() == 4 && e[1].is_bulk() && e[2].is_bulk() && e[3].is_bulk()) {
    deliver(message_kind::pattern, e[2].bulk(), &e[1].bulk(), e[3].bulk());
    return true;
  }
  if (word == "smessage" && e.size() == 3 && e[1].is_bulk() && e[2].is_bulk()) {
    deliver(message_kind::shard, e[1].bulk(), nullptr, e[2].bulk());
    return true;
  }
  if (e.size() != 3) return false;
  for (std::size_t f = 0; f < 3; ++f) {
    if (word == words[f].subscribed) return confirm(static_cast<family>(f), true), true;
    if (word == words[f].unsubscribed) return confirm(static_cast<family>(f), false), true;
  }
  return false;
}

void connection::confirm(family f, bool subscribe) {
  // One that matches no request of ours (Redis dropping a shard channel whose slot moved, in
  // a cluster) changes nothing here.
  if (awaiting_.empty()) return;
  auto& front = awaiting_.front();
  if ((front.what != awaited::kind::subscription && front.what != awaited::kind::restore) || front.fam != f ||
      front.subscribe != subscribe)
    return;
  if (--front.confirmations > 0) return;
  awaited a = std::move(front);
  awaiting_.pop_front();
  if (a.what == awaited::kind::restore) return handshake_step_done();
  if (a.on_done) guarded([&] { a.on_done({}); });
}

void connection::deliver(message_kind kind, const std::string& channel, const std::string* pattern,
                         const std::string& payload) {
  // Only what is wanted now: nothing after unsubscribe(), even if Redis had sent it already.
  const auto& wanted = wanted_[static_cast<std::size_t>(
      kind == message_kind::channel ? family::channel : kind == message_kind::pattern ? family::pattern : family::shard)];
  if (!wanted.contains(pattern ? *pattern : channel)) return;
  if (!on_message_) return;
  const message m{kind, channel, pattern ? std::string_view(*pattern) : std::string_view(), payload};
  guarded([&] { on_message_(m); });
}

// ---- calling out ----

void connection::defer(completion c) {
  deferred_.push_back(std::move(c));
  if (std::exchange(drain_posted_, true)) return;
  asio::post(loop_, [self = shared_from_this()] {
    self->drain_posted_ = false;
    self->drain_deferred();
  });
}

void connection::drain_deferred() {
  // One at a time from the queue: a handler may destroy the client (shutdown() then calls
  // those still queued) or add more.
  while (phase_ != phase::closed && !deferred_.empty()) {
    completion c = std::move(deferred_.front());
    deferred_.pop_front();
    run(c);
  }
}

void connection::run(completion& c) noexcept {
  if (c.state) {
    if (options_.on_state) guarded([&] { options_.on_state(*c.state); });
  } else if (c.on_reply) {
    guarded([&] { c.on_reply(c.ec, reply()); });
  } else if (c.on_done) {
    guarded([&] { c.on_done(c.ec); });
  }
}

void connection::report(std::exception_ptr e) noexcept {
  try {
    if (options_.on_error) return options_.on_error(e);
  } catch (...) {
    // The error hook threw in turn: fall through to stderr.
  }
  try {
    std::string what = "a non-standard exception";
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what = ex.what();
    } catch (...) {
    }
    const std::string line = "sio.redis: a handler threw: " + what + "\n";
    std::fwrite(line.data(), 1, line.size(), stderr);
  } catch (...) {
  }
}

}  // namespace sio::redis::detail
