// The scaling scenario: does the server use all cores? A closed loop of `echo` with ack in
// which the server's work per message dominates and the generator's is tiny, so that on a
// small machine the server, not the generator, is what saturates a core.
//
// Each of S sessions keeps K echo requests in flight: every ack sends the next request on the
// same session. The request's argument is a parse-heavy JSON value of about `payload_bytes`
// (an array of small objects of integers, short strings and booleans, about 170 at 8 kB, built
// once): the server parses it into its own representation and serialises it again in the
// ack. The generator only copies the prebuilt request into a frame (inserting the ack id and
// the send time) and, on the ack, reads the time that leads the echoed value.
#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "client.hpp"
#include "scenarios.hpp"

namespace bench {

namespace {

using namespace std::chrono_literals;

// The request after its leading time: `,"d":[{...},...]}]`, so that the echoed argument is
// {"t":<ns>,"d":[...]}. Deterministic; integers, strings and booleans only, which every JSON
// implementation writes back byte for byte (a double may come back as 3.25 or 3.25E0), so both
// servers echo the same number of bytes.
std::string echo_value_tail(std::size_t bytes, std::size_t& items) {
  static constexpr const char* names[] = {"ab", "kq7", "zeta", "m", "x9y", "lorem", "p0", "qrs"};
  std::string out = ",\"d\":[";
  items = 0;
  std::uint32_t r = 2463534242u;  // xorshift32: varied digits, no two items alike
  auto next = [&r] {
    r ^= r << 13;
    r ^= r >> 17;
    r ^= r << 5;
    return r;
  };
  // `"t":<16 digits>` and the packet's head come on top of the tail: about 40 bytes.
  const std::size_t want = bytes > 40 ? bytes - 40 : 0;
  do {
    if (items) out += ',';
    out += "{\"id\":";
    out += std::to_string(items);
    out += ",\"v\":";
    out += std::to_string(static_cast<std::int32_t>(next() % 200001) - 100000);
    out += ",\"w\":";
    out += std::to_string(next() % 1000);
    out += ",\"s\":\"";
    out += names[next() % 8];
    out += "\",\"ok\":";
    out += (next() & 1) ? "true" : "false";
    out += '}';
    ++items;
  } while (out.size() + 3 < want);
  out += "]}]";  // the array, the value, the packet's arguments
  return out;
}

// utime+stime, in clock ticks, of each thread of `pid` (/proc/<pid>/task/<tid>/stat): how the
// server's CPU splits over its threads. Whether the work is spread over the I/O threads does
// not depend on how much CPU the rest of the machine leaves to the server.
std::map<int, unsigned long long> thread_ticks(pid_t pid) {
  std::map<int, unsigned long long> out;
  std::error_code ec;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::ifstream in(e.path() / "stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    const auto close = line.rfind(')');  // the comm field may hold spaces
    if (close == std::string::npos || close + 2 > line.size()) continue;
    std::istringstream rest(line.substr(close + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && (rest >> field); ++i) {  // field 3 comes first after ')'
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    out[std::atoi(e.path().filename().c_str())] = utime + stime;
  }
  return out;
}

struct thread_split {
  double busiest_share = 0;  // of the server's CPU in the window, 0..1
  int busy_threads = 0;      // threads with at least 10 % of the server's CPU
};

thread_split split_of(const std::map<int, unsigned long long>& a, const std::map<int, unsigned long long>& b) {
  thread_split r;
  unsigned long long total = 0, top = 0;
  std::vector<unsigned long long> d;
  for (const auto& [tid, ticks] : b) {
    auto it = a.find(tid);
    const auto used = ticks - (it == a.end() ? 0 : std::min(ticks, it->second));
    d.push_back(used);
    total += used;
    top = std::max(top, used);
  }
  if (total == 0) return r;
  r.busiest_share = static_cast<double>(top) / static_cast<double>(total);
  for (auto x : d) r.busy_threads += 10 * x >= total ? 1 : 0;
  return r;
}

struct scaling_driver : session_listener {
  struct per_worker {
    std::string frame;  // reused for every request of this worker
    histogram latency;
  };
  std::vector<per_worker> workers;
  std::string tail;            // the prebuilt request after its time
  std::size_t inflight = 1;
  std::atomic<bool> running{false};
  std::atomic<std::int64_t> measure_from{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::int64_t> measure_to{std::numeric_limits<std::int64_t>::max()};
  std::atomic<std::uint64_t> sent{0}, acked{0}, short_acks{0}, dropped{0};

  // Worker's thread.
  void send_one(session& s) {
    auto& f = workers[s.owner().index()].frame;
    char head[64] = "42";
    char* p = head + 2;
    p = std::to_chars(p, head + 24, s.next_ack_id()).ptr;  // at most 20 digits
    static constexpr std::string_view mid = "[\"echo\",{\"t\":";
    p = std::copy(mid.begin(), mid.end(), p);
    p = std::to_chars(p, head + sizeof head, now_ns()).ptr;
    const auto n = static_cast<std::size_t>(p - head);
    f.clear();
    append_frame_header(f, n + tail.size());
    f.append(head, n);
    f.append(tail);
    s.send_frames(f);
    sent.fetch_add(1, std::memory_order_relaxed);
  }

  void start(worker& w) {
    for (auto& s : w.sessions()) {
      if (s->current() != session::state::ready) continue;
      for (std::size_t i = 0; i < inflight; ++i) send_one(*s);
    }
  }

  void on_ack(session& s, std::uint64_t, std::string_view args) override {
    const auto now = now_ns();
    // args is `[{"t":<ns>,"d":[...]}]`: the time is at its start.
    const auto t = find_number(args.substr(0, 40), "\"t\":");
    if (t > 0 && now >= measure_from.load(std::memory_order_relaxed) &&
        now < measure_to.load(std::memory_order_relaxed)) {
      workers[s.owner().index()].latency.record(now - t);
    }
    if (args.size() < tail.size()) short_acks.fetch_add(1, std::memory_order_relaxed);
    acked.fetch_add(1, std::memory_order_relaxed);
    if (running.load(std::memory_order_relaxed)) send_one(s);
  }
  void on_failed(session&, std::string_view) override { dropped.fetch_add(1, std::memory_order_relaxed); }
};

}  // namespace

run_result run_scaling(const server_process& srv, const sizes& z, const scaling_sizes& sz) {
  run_result r;
  scaling_driver d;  // before the generator: its threads call it until they stop
  target t;
  t.port = srv.port();
  t.source_addresses = z.source_addresses;
  generator gen(t, z.gen_threads);
  d.workers.resize(gen.threads());
  d.inflight = std::max<std::size_t>(1, sz.inflight);
  std::size_t items = 0;
  d.tail = echo_value_tail(sz.payload_bytes, items);

  auto c = gen.connect(sz.sessions, z.concurrency, &d, std::chrono::seconds(60));
  if (c.ready == 0) {
    r.ok = false;
    r.note = "no session connected";
    return r;
  }
  d.running.store(true);
  gen.on_each([&](worker& w) { d.start(w); });
  std::this_thread::sleep_for(std::chrono::duration<double>(sz.warmup_s));

  const auto from = now_ns();
  d.measure_to.store(from + static_cast<std::int64_t>(sz.seconds * 1e9));
  d.measure_from.store(from);
  const auto acked0 = d.acked.load();
  const auto threads0 = thread_ticks(srv.pid());
  auto before = sample_cpu(srv.pid());
  // In short sleeps, so that a dead server ends the run early.
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(sz.seconds);
  while (std::chrono::steady_clock::now() < end && d.dropped.load() == 0) std::this_thread::sleep_for(20ms);
  auto after = sample_cpu(srv.pid());
  const auto split = split_of(threads0, thread_ticks(srv.pid()));
  const auto acked = d.acked.load() - acked0;
  r.load = after - before;

  // Drain: every request in flight acked, or 3 s without an ack.
  d.running.store(false);
  auto last = d.acked.load();
  auto since = std::chrono::steady_clock::now();
  while (d.acked.load() < d.sent.load()) {
    std::this_thread::sleep_for(2ms);
    const auto now_a = d.acked.load();
    if (now_a != last) {
      last = now_a;
      since = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - since > 3s) {
      break;
    }
  }
  histogram lat;
  gen.on_each([&](worker& w) { lat.merge(d.workers[w.index()].latency); });

  const double wall = std::max(r.load.wall_s, 1e-9);
  const double n = static_cast<double>(std::max<std::uint64_t>(1, acked));
  const auto lost = d.sent.load() > d.acked.load() ? d.sent.load() - d.acked.load() : 0;
  auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  r.metrics = {
      {"acks/s", "", static_cast<double>(acked) / wall, false},
      {"server CPU per ack", "µs", r.load.server_s * 1e6 / n, true},
      {"server CPU used", "cores", r.load.server_s / wall, false},
      {"busiest server thread", "% of server CPU", 100 * split.busiest_share, true},
      {"busy server threads (≥ 10 % of its CPU)", "", static_cast<double>(split.busy_threads), false},
      {"generator CPU used", "cores", r.load.generator_s / wall, true},
      {"generator CPU per ack", "µs", r.load.generator_s * 1e6 / n, true},
      {"ack latency p50", "ms", ms(lat.quantile(0.50)), true},
      {"ack latency p99", "ms", ms(lat.quantile(0.99)), true},
      {"lost acks", "", static_cast<double>(lost), true},
  };
  r.ok = lost == 0 && d.short_acks.load() == 0 && d.dropped.load() == 0 && c.ready == sz.sessions;
  if (!r.ok) {
    r.note = std::to_string(c.ready) + "/" + std::to_string(sz.sessions) + " sessions, " +
             std::to_string(d.dropped.load()) + " dropped, " + std::to_string(lost) + " acks lost, " +
             std::to_string(d.short_acks.load()) + " acks without the echoed value";
  }
  return r;
}

std::size_t scaling_items(std::size_t payload_bytes) {
  std::size_t items = 0;
  echo_value_tail(payload_bytes, items);
  return items;
}

}  // namespace bench
