#pragma once
// The scenarios. Each runs against one fresh server process (its pid for /proc, its port),
// bounded in time and count, and returns named figures plus the load of its measured window.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "proc.hpp"

namespace bench {

struct sizes {
  std::size_t gen_threads = 1;       // load generator threads (io_contexts)
  int source_addresses = 8;          // 127.0.0.1 .. 127.0.0.N
  std::size_t concurrency = 256;     // handshakes in flight while connecting
  std::size_t connect_n = 10000;
  std::size_t idle_n = 10000;
  std::size_t idle_large_n = 100000; // Parley only; capped by the open-files limit
  double idle_settle_s = 2;
  double idle_hold_s = 30;
  std::size_t receivers = 1000;
  double fanout_s = 10;
  std::size_t payload_bytes = 100;   // size of a delivered / echoed Socket.IO packet, about
  std::size_t echo_sessions = 50;
  double echo_s = 10;
  // chat
  std::string jwt_secret = "parley-bench-secret-0123456789abcdef";  // >= 32 bytes
  std::size_t chat_users = 500;      // 10 msgs/s each at 5,000/s: under the service's default rate limit
  std::size_t chat_rooms = 25;       // 20 members per conversation
  double chat_rate = 5000;           // message:send per second, in all
  double chat_s = 10;
};

struct metric {
  std::string name;   // e.g. "server CPU per session"
  std::string unit;   // e.g. "µs"
  double value = 0;
  bool lower_is_better = true;
};

struct run_result {
  std::vector<metric> metrics;
  cpu_delta load;      // the measured window
  bool ok = true;      // every session connected, nothing lost
  std::string note;    // what went wrong, or what was capped
};

run_result run_connect(const server_process& srv, const sizes& z);
run_result run_idle(const server_process& srv, const sizes& z, std::size_t n);
run_result run_fanout(const server_process& srv, const sizes& z, std::size_t window);
run_result run_echo(const server_process& srv, const sizes& z, double rate);
run_result run_chat(const server_process& srv, const sizes& z);

// scaling (scaling.cpp): a closed loop of echo with ack, `inflight` requests in flight per
// session, each argument a parse-heavy JSON value of about `payload_bytes`, so that the
// server's work per message dominates the generator's: does the server use all cores?
struct scaling_sizes {
  std::size_t sessions = 100;
  std::size_t inflight = 4;          // echo requests in flight per session
  std::size_t payload_bytes = 8192;  // size of a request packet, about
  double warmup_s = 1;
  double seconds = 5;                // measured
};
run_result run_scaling(const server_process& srv, const sizes& z, const scaling_sizes& s);
// How many small objects the echoed array holds at this size.
std::size_t scaling_items(std::size_t payload_bytes);

}  // namespace bench
