#pragma once
// The delays between reconnection attempts: exponential, bounded, with jitter (so that the
// nodes of a cluster that lost Redis together do not all come back in the same millisecond).
//
//   attempt 1: initial, 2: initial * multiplier, ... never more than max;
//   each then drawn uniformly from [(1 - jitter) * d, d].
//
// Pure: the random draw is an argument. Thread-safe.
#include <chrono>
#include <string>

namespace sio::redis {

struct backoff_policy {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{10'000};
  double multiplier = 2.0;
  double jitter = 0.5;  // 0: exact delays; 1: anything from 0 to the delay
};

// What is wrong with the policy ("" when nothing): initial at least 1 ms, max not below it,
// multiplier at least 1, jitter within [0, 1].
std::string validate(const backoff_policy& p);

// The delay before reconnection attempt `attempt` (1 for the first after a failure), with
// `unit` drawn uniformly from [0, 1). Never above p.max, never below 0.
std::chrono::milliseconds backoff_delay(const backoff_policy& p, unsigned attempt, double unit) noexcept;

}  // namespace sio::redis
