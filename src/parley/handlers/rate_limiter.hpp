#pragma once
// A token bucket: `rate` events per second on average, bursts of up to `burst` events.
// Not thread-safe: one per socket, used on the socket's thread.
#include <algorithm>
#include <chrono>

namespace parley {

class token_bucket {
 public:
  using clock = std::chrono::steady_clock;

  // rate <= 0: unlimited.
  token_bucket(double rate, double burst, clock::time_point now = clock::now())
      : rate_(rate), burst_(std::max(burst, 1.0)), tokens_(burst_), last_(now) {}

  // Takes one token; false when none is left (the event is refused).
  bool try_take(clock::time_point now = clock::now()) {
    if (rate_ <= 0) return true;
    std::chrono::duration<double> elapsed = now - last_;
    if (elapsed.count() > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed.count() * rate_);
      last_ = now;
    }
    if (tokens_ < 1.0) return false;
    tokens_ -= 1.0;
    return true;
  }

 private:
  double rate_;
  double burst_;
  double tokens_;
  clock::time_point last_;
};

}  // namespace parley
