#include "sio/redis/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace sio::redis {

std::string validate(const backoff_policy& p) {
  if (p.initial.count() < 1) return "the first reconnection delay must be at least 1 ms";
  if (p.max < p.initial) return "the longest reconnection delay must not be shorter than the first";
  if (!(p.multiplier >= 1.0)) return "the reconnection delay's multiplier must be at least 1";
  if (!(p.jitter >= 0.0 && p.jitter <= 1.0)) return "the reconnection delay's jitter must be within [0, 1]";
  return {};
}

std::chrono::milliseconds backoff_delay(const backoff_policy& p, unsigned attempt, double unit) noexcept {
  const double max = static_cast<double>(p.max.count());
  // pow() may give inf for large attempts: min() with max bounds it either way.
  const double exponent = attempt == 0 ? 0.0 : static_cast<double>(attempt - 1);
  double d = std::min(max, static_cast<double>(p.initial.count()) * std::pow(p.multiplier, exponent));
  if (!(d >= 0.0)) d = max;  // NaN from a policy validate() refuses
  const double u = std::clamp(unit, 0.0, 1.0);
  const double j = std::clamp(p.jitter, 0.0, 1.0);
  d *= 1.0 - j * u;
  return std::chrono::milliseconds(static_cast<long long>(std::clamp(d, 0.0, max)));
}

}  // namespace sio::redis
