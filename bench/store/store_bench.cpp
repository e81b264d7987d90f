// Micro benchmark of the SQLite store's write path: synchronous=NORMAL vs FULL (both WAL), one
// message in flight (the latency of one acknowledged send) and many in flight (group commit).
// Not built by default:
//
//   cmake --build build --target parley_store
//   g++ -O2 -std=c++20 -Isrc bench/store/store_bench.cpp build/src/parley/store/libparley_store.a \
//       -lsqlite3 -pthread -o store_bench
//   ./store_bench [dir]        # the database goes in dir (default: the current directory)
//
// Results and the choice they support: the comment at the top of
// src/parley/store/sqlite_store.cpp.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parley/store/sqlite_store.hpp"

using namespace parley;
using clock_type = std::chrono::steady_clock;

namespace {

struct outcome {
  double seconds = 0;
  int messages = 0;
  std::vector<double> latencies_us;
  sqlite_store_stats stats;
};

// `clients` senders, each waiting for its ack before sending the next message: `clients` is the
// number of messages in flight, which is what group commit feeds on.
outcome run(const std::string& path, sqlite_durability d, int clients, int per_client) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  sqlite_options o;
  o.path = path;
  auto db = make_sqlite_store(o, sqlite_tuning{d, 2});

  outcome out;
  std::mutex mu;
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(clients) * per_client);
  const auto start = clock_type::now();
  std::vector<std::thread> ts;
  for (int c = 0; c < clients; ++c) {
    ts.emplace_back([&, c] {
      std::mutex m;
      std::condition_variable cv;
      for (int i = 0; i < per_client; ++i) {
        bool done = false;
        const auto t0 = clock_type::now();
        new_message msg{"room-" + std::to_string(c % 8), "user-" + std::to_string(c),
                        "a typical chat message of about sixty characters, give or take",
                        1'764'000'000'000 + i, "c" + std::to_string(i), {}};
        db->insert_message(msg, [&](sio::result<insert_result> r) {
          if (!r) std::fprintf(stderr, "insert failed: %s\n", r.error().message().c_str());
          std::lock_guard lk(m);
          done = true;
          cv.notify_one();
        });
        std::unique_lock lk(m);
        cv.wait(lk, [&] { return done; });
        const double us = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
        std::lock_guard g(mu);
        lat.push_back(us);
      }
    });
  }
  for (auto& t : ts) t.join();
  out.seconds = std::chrono::duration<double>(clock_type::now() - start).count();
  out.messages = clients * per_client;
  out.stats = *sqlite_stats(*db);
  db->close();
  std::sort(lat.begin(), lat.end());
  out.latencies_us = std::move(lat);
  return out;
}

double pct(const std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : ".";
  const std::string path = dir + "/store_bench.db";
  struct scenario {
    int clients, per_client;
  };
  const scenario scenarios[] = {{1, 2000}, {4, 1000}, {16, 500}, {64, 250}, {256, 100}};
  std::printf("%-7s %8s %9s %10s %9s %9s %9s %9s\n", "sync", "clients", "msgs", "msgs/s",
              "commits", "p50 us", "p99 us", "batch");
  for (auto s : scenarios) {
    for (auto d : {sqlite_durability::process_crash, sqlite_durability::power_loss}) {
      auto r = run(path, d, s.clients, s.per_client);
      std::printf("%-7s %8d %9d %10.0f %9llu %9.0f %9.0f %9.1f\n",
                  d == sqlite_durability::power_loss ? "FULL" : "NORMAL", s.clients, r.messages,
                  r.messages / r.seconds, static_cast<unsigned long long>(r.stats.transactions),
                  pct(r.latencies_us, 0.5), pct(r.latencies_us, 0.99),
                  static_cast<double>(r.stats.writes) / static_cast<double>(r.stats.transactions));
    }
  }
  std::filesystem::remove(path);
  return 0;
}
