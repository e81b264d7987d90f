#pragma once
// Rate and connection limits: a token bucket, and the per-user limits built from it.
//
//   parley::user_limits limits({.events_per_second = 20, .max_connections_per_user = 20});
//   auto admitted = limits.admit("alice", "203.0.113.7");   // when a socket connects
//   if (!admitted) refuse(admitted.refused);                 // too many connections
//   if (!admitted.lease->quota().take_event()) ...           // each event, from any of alice's sockets
//   if (!limits.quota("alice")->take_upload()) ...           // an HTTP upload
//
// Threading: token_bucket is not thread-safe. user_quota and user_limits are: the sockets of one
// user live on different threads. An event costs one short critical section, on the user's own
// mutex (contended by that user's sockets only).
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>

namespace parley {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // `rate` events per second on average, bursts of up to `burst` events; rate <= 0: unlimited.
  token_bucket(double rate, double burst, clock::time_point now = clock::now())
      : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

  // Takes one token; false when none is left (the event is refused).
  bool try_take(clock::time_point now = clock::now()) {
    if (rate_ <= 0) return true;
    refill(now);
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

  // Full again by `now`: indistinguishable from a new bucket.
  bool full(clock::time_point now) const {
    if (rate_ <= 0) return true;
    std::chrono::duration<double> elapsed = now - last_;
    return tokens_ + std::max(elapsed.count(), 0.0) * rate_ >= burst_;
  }

  // How long an empty bucket takes to fill (zero when unlimited).
  clock::duration refill_time() const {
    if (rate_ <= 0) return clock::duration::zero();
    return std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(burst_ / rate_));
  }

 private:
  void refill(clock::time_point now) {
    std::chrono::duration<double> elapsed = now - last_;
    if (elapsed.count() > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
      last_ = now;
    }
  }

  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

struct user_limit_options {
  double events_per_second = 20;  // every event of a user, all sockets together; bursts of twice that
  double creates_per_minute = 10;  // conversation:create; bursts of that many
  double uploads_per_minute = 30;  // POST /api/files; bursts of that many
  std::size_t max_connections_per_user = 20;
  std::size_t max_connections_per_address = 256;
  // A rate <= 0 or a maximum of 0: unlimited.
};

// One user's buckets, shared by every socket of the user and by the user's uploads.
class user_quota {
 public:
  using clock = token_bucket::clock;

  user_quota(const user_limit_options& o, clock::time_point now);

  bool take_event(clock::time_point now = clock::now()) { return take(events_, now); }
  bool take_create(clock::time_point now = clock::now()) { return take(creates_, now); }
  bool take_upload(clock::time_point now = clock::now()) { return take(uploads_, now); }

  // Every bucket is full again: forgetting this quota would change nothing.
  bool idle(clock::time_point now) const;

 private:
  bool take(token_bucket& b, clock::time_point now) {
    std::lock_guard lock(mutex_);
    return b.try_take(now);
  }

  mutable std::mutex mutex_;
  token_bucket events_;
  token_bucket creates_;
  token_bucket uploads_;
};

class user_limits {
  struct state;

 public:
  using clock = token_bucket::clock;

  // A connection's place among its user's and its address's connections, given back when the
  // lease is destroyed; it keeps the user's quota alive meanwhile.
  class connection_lease {
   public:
    connection_lease(std::shared_ptr<state> st, std::string user_id, std::string address,
                     std::shared_ptr<user_quota> quota);
    connection_lease(const connection_lease&) = delete;
    connection_lease& operator=(const connection_lease&) = delete;
    ~connection_lease();
    user_quota& quota() const noexcept { return *quota_; }

   private:
    std::shared_ptr<state> state_;  // the leases of sockets may outlive the user_limits
    std::string user_id_;
    std::string address_;
    std::shared_ptr<user_quota> quota_;
  };

  enum class refusal { none, too_many_for_user, too_many_from_address };
  struct admission {
    std::shared_ptr<connection_lease> lease;  // null when refused
    refusal refused = refusal::none;
    explicit operator bool() const noexcept { return lease != nullptr; }
  };

  explicit user_limits(user_limit_options o);

  // A connection of `user_id` from `address` (empty: not counted per address), if both are
  // under their maximum.
  admission admit(const std::string& user_id, const std::string& address, clock::time_point now = clock::now());
  // The quota of `user_id`, the one its sockets share (created on first use).
  std::shared_ptr<user_quota> quota(const std::string& user_id, clock::time_point now = clock::now());

  // Users with a quota in memory: those connected, and those who used their quota lately (an idle
  // user's quota is forgotten once it is full again). For tests and metrics.
  std::size_t tracked_users() const;

 private:
  std::shared_ptr<state> state_;
};

}  // namespace parley
