#include "parley/handlers/rate_limiter.hpp"

#include <unordered_map>

namespace parley {

namespace {

constexpr auto min_sweep_interval = std::chrono::seconds(1);

token_bucket events_bucket(const user_limit_options& o, token_bucket::clock::time_point now) {
  return {o.events_per_second, 2 * o.events_per_second, now};
}
token_bucket creates_bucket(const user_limit_options& o, token_bucket::clock::time_point now) {
  return {o.creates_per_minute / 60, o.creates_per_minute, now};
}
token_bucket uploads_bucket(const user_limit_options& o, token_bucket::clock::time_point now) {
  return {o.uploads_per_minute / 60, o.uploads_per_minute, now};
}

}  // namespace

user_quota::user_quota(const user_limit_options& o, clock::time_point now)
    : events_(events_bucket(o, now)), creates_(creates_bucket(o, now)), uploads_(uploads_bucket(o, now)) {}

bool user_quota::idle(clock::time_point now) const {
  std::lock_guard lock(mutex_);
  return events_.full(now) && creates_.full(now) && uploads_.full(now);
}

struct user_limits::state {
  struct user_entry {
    std::shared_ptr<user_quota> quota;
    std::size_t connections = 0;
  };

  // A quota is forgotten once it is full again; looking for such quotas each time the slowest
  // bucket could have filled keeps in memory only the users active in the last two such periods
  // (and those connected).
  explicit state(user_limit_options o)
      : opts(o),
        sweep_interval(std::max<clock::duration>({min_sweep_interval, events_bucket(o, {}).refill_time(),
                                                  creates_bucket(o, {}).refill_time(),
                                                  uploads_bucket(o, {}).refill_time()})) {}

  // Under `mutex`.
  user_entry& entry(const std::string& user_id, clock::time_point now) {
    sweep(now);
    auto& e = users[user_id];
    if (!e.quota) e.quota = std::make_shared<user_quota>(opts, now);
    return e;
  }

  // Under `mutex`. A quota nobody holds (no socket, no upload in progress: the map's is the only
  // reference, and new ones are only taken under this mutex) and that is full again goes.
  void sweep(clock::time_point now) {
    if (now < next_sweep) return;
    next_sweep = now + sweep_interval;
    for (auto it = users.begin(); it != users.end();) {
      const auto& e = it->second;
      if (e.connections == 0 && e.quota.use_count() == 1 && e.quota->idle(now)) it = users.erase(it);
      else ++it;
    }
  }

  const user_limit_options opts;
  clock::duration sweep_interval;
  mutable std::mutex mutex;
  std::unordered_map<std::string, user_entry> users;
  std::unordered_map<std::string, std::size_t> addresses;  // live connections only: no sweep needed
  clock::time_point next_sweep{};
};

user_limits::connection_lease::connection_lease(std::shared_ptr<state> st, std::string user_id, std::string address,
                          std::shared_ptr<user_quota> quota)
    : state_(std::move(st)), user_id_(std::move(user_id)), address_(std::move(address)), quota_(std::move(quota)) {}

user_limits::connection_lease::~connection_lease() {
  std::lock_guard lock(state_->mutex);
  if (auto it = state_->users.find(user_id_); it != state_->users.end() && it->second.connections > 0)
    --it->second.connections;
  if (address_.empty()) return;
  if (auto it = state_->addresses.find(address_); it != state_->addresses.end() && --it->second == 0)
    state_->addresses.erase(it);
}

user_limits::user_limits(user_limit_options o) : state_(std::make_shared<state>(o)) {}

user_limits::admission user_limits::admit(const std::string& user_id, const std::string& address,
                                          clock::time_point now) {
  std::lock_guard lock(state_->mutex);
  const auto& o = state_->opts;
  auto& user = state_->entry(user_id, now);
  if (o.max_connections_per_user > 0 && user.connections >= o.max_connections_per_user)
    return {nullptr, refusal::too_many_for_user};
  if (!address.empty()) {
    auto& from_address = state_->addresses[address];
    if (o.max_connections_per_address > 0 && from_address >= o.max_connections_per_address)
      return {nullptr, refusal::too_many_from_address};  // (a count of at least 1: the entry stays)
    ++from_address;
  }
  ++user.connections;
  return {std::make_shared<connection_lease>(state_, user_id, address, user.quota), refusal::none};
}

std::shared_ptr<user_quota> user_limits::quota(const std::string& user_id, clock::time_point now) {
  std::lock_guard lock(state_->mutex);
  return state_->entry(user_id, now).quota;
}

std::size_t user_limits::tracked_users() const {
  std::lock_guard lock(state_->mutex);
  return state_->users.size();
}

}  // namespace parley
