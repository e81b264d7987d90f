// The benchmark suite's driver: starts a fresh server per run (Parley's bench-server and the
// reference socket.io server, interleaved), runs a scenario against it with the load generator
// of this process, reads the server's CPU and memory from /proc, and prints, per scenario, each
// figure for both servers (median and spread over --repeat runs), their ratio and the target.
//
//   loadgen --parley build-bench/apps/bench-server/bench-server
//           --reference "node bench/reference-server.mjs" --repeat 3 --report out.md
//   loadgen ... --smoke            # tiny sizes, seconds; exit status 1 when a run fails
//
// scripts/bench.sh builds everything and runs this; BENCHMARKS.md explains the figures.
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "proc.hpp"
#include "scenarios.hpp"

namespace {

using namespace bench;

struct variant {
  std::string label;
  std::vector<std::string> argv;  // without --port
  bool reference = false;
};

struct target {
  std::string metric;
  double max_ratio = 0;  // parley / reference at most this (0: none)
  std::string text;      // as printed
  // Absolute bounds on Parley's median (NAN: none), for cases without a reference.
  double abs_max = NAN;
  double abs_min = NAN;
};

struct bench_case {
  std::string title;
  std::vector<variant> variants;  // the reference first when present
  std::function<run_result(const server_process&)> run;
  std::vector<target> targets;
  std::vector<std::string> notes;
  // With several Parley variants (--threads values, the most first): the figure whose ratio
  // first / last shows whether the I/O threads use more cores.
  std::string threads_metric = "deliveries/s";
};

struct record {
  std::string variant;
  int rep = 0;
  run_result result;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) {
    if (!cur.empty()) out.push_back(cur);
  }
  return out;
}

std::string fmt(double v) {
  char buf[64];
  double a = std::fabs(v);
  if (v == 0) return "0";
  if (a >= 1000 || (v == std::floor(v) && a < 1e15)) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 100) std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (a >= 10) std::snprintf(buf, sizeof buf, "%.2f", v);
  else if (a >= 1) std::snprintf(buf, sizeof buf, "%.3f", v);
  else std::snprintf(buf, sizeof buf, "%.3g", v);
  std::string s = buf;
  // thousands separators for big integers
  if (a >= 10000 && s.find('.') == std::string::npos) {
    std::string out;
    int n = 0;
    for (auto it = s.rbegin(); it != s.rend(); ++it) {
      if (n && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
      out.insert(out.begin(), *it);
      ++n;
    }
    return out;
  }
  return s;
}

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::vector<double> values_of(const std::vector<record>& recs, const std::string& variant, const std::string& metric) {
  std::vector<double> out;
  for (const auto& r : recs) {
    if (r.variant != variant) continue;
    for (const auto& m : r.result.metrics) {
      if (m.name == metric) out.push_back(m.value);
    }
  }
  return out;
}

std::string cell(const std::vector<double>& v) {
  if (v.empty()) return "–";
  if (v.size() == 1) return fmt(v[0]);
  auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt(median(v)) + " (" + fmt(*lo) + "–" + fmt(*hi) + ")";
}

// The summary table of one case, in Markdown.
std::string table_of(const bench_case& c, const std::vector<record>& recs) {
  std::ostringstream o;
  o << "\n### " << c.title << "\n\n";
  const variant* ref = nullptr;
  for (const auto& v : c.variants) {
    if (v.reference) ref = &v;
  }
  o << "| figure |";
  for (const auto& v : c.variants) o << " " << v.label << " |";
  for (const auto& v : c.variants) {
    if (ref && !v.reference) o << " " << v.label << " / " << ref->label << " |";
  }
  o << " target |\n|---|";
  for (std::size_t i = 0; i < c.variants.size(); ++i) o << "---:|";
  for (const auto& v : c.variants) {
    if (ref && !v.reference) o << "---:|";
  }
  o << "---|\n";
  // Metric names in the order the first run with metrics gives them.
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& r : recs) {
    if (r.result.metrics.empty()) continue;
    for (const auto& m : r.result.metrics) {
      if (std::none_of(names.begin(), names.end(), [&](auto& n) { return n.first == m.name; })) {
        names.emplace_back(m.name, m.unit);
      }
    }
  }
  for (const auto& [name, unit] : names) {
    const target* t = nullptr;
    for (const auto& x : c.targets) {
      if (x.metric == name) t = &x;
    }
    o << "| " << name << (unit.empty() ? "" : " (" + unit + ")") << " |";
    for (const auto& v : c.variants) o << " " << cell(values_of(recs, v.label, name)) << " |";
    if (ref) {
      double rm = median(values_of(recs, ref->label, name));
      for (const auto& v : c.variants) {
        if (v.reference) continue;
        double pm = median(values_of(recs, v.label, name));
        if (std::isnan(rm) || std::isnan(pm) || rm == 0) {
          o << " – |";
          continue;
        }
        double ratio = pm / rm;
        o << " " << fmt(ratio);
        if (t && t->max_ratio > 0) o << (ratio <= t->max_ratio ? " ✓" : " ✗");
        o << " |";
      }
    }
    std::string mark;
    if (t && (!std::isnan(t->abs_max) || !std::isnan(t->abs_min))) {
      for (const auto& v : c.variants) {
        if (v.reference) continue;
        double pm = median(values_of(recs, v.label, name));
        if (std::isnan(pm)) continue;
        bool met = (std::isnan(t->abs_max) || pm <= t->abs_max) && (std::isnan(t->abs_min) || pm >= t->abs_min);
        mark = met ? " ✓" : " ✗";
        break;
      }
    }
    o << " " << (t ? t->text : "") << mark << " |\n";
  }
  // Parley over its I/O threads: the first Parley variant (the most threads) over the last.
  std::vector<const variant*> parleys;
  for (const auto& v : c.variants) {
    if (!v.reference) parleys.push_back(&v);
  }
  if (parleys.size() >= 2) {
    double hi = median(values_of(recs, parleys.front()->label, c.threads_metric));
    double lo = median(values_of(recs, parleys.back()->label, c.threads_metric));
    if (!std::isnan(hi) && !std::isnan(lo) && lo > 0) {
      o << "\nI/O threads: " << c.threads_metric << " of " << parleys.front()->label << " over " << parleys.back()->label << ": **"
        << fmt(hi / lo) << "** (target: clearly above 1" << (hi / lo >= 1.3 ? " ✓" : " ✗") << ")";
      double chi = median(values_of(recs, parleys.front()->label, "server CPU used"));
      double clo = median(values_of(recs, parleys.back()->label, "server CPU used"));
      if (!std::isnan(chi) && !std::isnan(clo)) o << "; server CPU used: " << fmt(chi) << " vs " << fmt(clo) << " cores";
      o << ".\n";
    }
  }
  for (const auto& n : c.notes) o << "\n" << n << "\n";
  for (const auto& r : recs) {
    if (!r.result.ok || !r.result.note.empty()) {
      o << "\n- " << r.variant << " run " << r.rep << (r.result.ok ? ": " : ": FAILED: ") << r.result.note << "\n";
    }
  }
  return o.str();
}

std::string load_table(const std::vector<std::pair<std::string, std::vector<record>>>& all) {
  std::ostringstream o;
  o << "\n### Load during the measured windows\n\n"
       "CPU seconds from the kernel: the server from /proc/<pid>/stat (all threads), the load "
       "generator from getrusage(), the rest of the machine from /proc/stat minus both.\n\n"
       "| case | server | run | window (s) | server CPU (s) | of it kernel | generator CPU (s) | other CPU (s) | machine busy | ok |\n"
       "|---|---|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& [title, recs] : all) {
    for (const auto& r : recs) {
      const auto& l = r.result.load;
      char buf[256];
      std::snprintf(buf, sizeof buf, "| %.2f | %.2f | %.0f%% | %.2f | %.2f | %.0f%% | %s |\n", l.wall_s, l.server_s,
                    l.server_s > 0 ? 100.0 * l.server_sys_s / l.server_s : 0.0, l.generator_s, l.other_s,
                    l.machine_busy_pct, r.result.ok ? "yes" : "NO");
      o << "| " << title << " | " << r.variant << " | " << r.rep << " " << buf;
    }
  }
  return o.str();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Parley's benchmark suite: Parley vs the reference socket.io server"};
  std::string parley = "build-bench/apps/bench-server/bench-server";
  std::string reference = "node bench/reference-server.mjs";
  std::string chat = "build-bench/apps/parley/parley";
  std::string scenarios = "connect,idle,fanout,echo,scaling,chat";
  std::string servers = "reference,parley";
  std::string fanout_threads;
  std::string scaling_threads;
  scaling_sizes sz;
  std::string windows = "1,20";
  std::string rates = "1000,10000";
  std::string report;
  int repeat = 1;
  bool smoke = false;
  sizes z;
  app.add_option("--parley", parley, "Parley's bench-server command (split on spaces: a profiler may go first)");
  app.add_option("--reference", reference, "the reference server command (split on spaces)");
  app.add_option("--chat", chat, "the parley chat service binary (chat scenario)");
  app.add_option("--scenario", scenarios, "comma-separated: connect,idle,fanout,echo,scaling,chat");
  app.add_option("--servers", servers, "comma-separated: reference,parley");
  app.add_option("--repeat", repeat, "runs per server and case");
  app.add_flag("--smoke", smoke, "tiny sizes, seconds in all (CI)");
  app.add_option("--report", report, "also write the tables (Markdown) to this file");
  app.add_option("--gen-threads", z.gen_threads, "load generator threads");
  app.add_option("--source-addresses", z.source_addresses, "connect from 127.0.0.1..127.0.0.N");
  app.add_option("--concurrency", z.concurrency, "handshakes in flight while connecting");
  app.add_option("--connect", z.connect_n, "sessions of the connect scenario");
  app.add_option("--idle", z.idle_n, "sessions of the idle scenario");
  app.add_option("--idle-large", z.idle_large_n, "sessions of the large idle run (Parley only; 0: none)");
  app.add_option("--idle-hold", z.idle_hold_s, "seconds the idle sessions are held (measured)");
  app.add_option("--receivers", z.receivers, "receivers in the fan-out room");
  app.add_option("--fanout-seconds", z.fanout_s, "measured seconds per fan-out run");
  app.add_option("--windows", windows, "fan-out events in flight, comma-separated");
  app.add_option("--fanout-threads", fanout_threads, "Parley --threads values for the fan-out (default: nproc,1)");
  app.add_option("--payload-bytes", z.payload_bytes, "size of a delivered / echoed packet, about");
  app.add_option("--echo-sessions", z.echo_sessions, "sessions sending echo events");
  app.add_option("--echo-seconds", z.echo_s, "measured seconds per echo run");
  app.add_option("--rates", rates, "echo rates (acks/s), comma-separated");
  app.add_option("--scaling-sessions", sz.sessions, "sessions of the scaling scenario");
  app.add_option("--scaling-inflight", sz.inflight, "echo requests in flight per session (scaling)");
  app.add_option("--scaling-bytes", sz.payload_bytes, "size of a scaling echo request (a JSON array of small objects), about");
  app.add_option("--scaling-seconds", sz.seconds, "measured seconds per scaling run (after 1 s of warm-up)");
  app.add_option("--scaling-threads", scaling_threads, "Parley --threads values for the scaling scenario (default: max(2, nproc),1)");
  app.add_option("--jwt-secret", z.jwt_secret, "the chat service's HS256 secret");
  app.add_option("--chat-users", z.chat_users, "chat users (one socket each)");
  app.add_option("--chat-rooms", z.chat_rooms, "chat conversations (users spread evenly)");
  app.add_option("--chat-rate", z.chat_rate, "message:send per second, in all");
  app.add_option("--chat-seconds", z.chat_s, "measured seconds of the chat run");
  CLI11_PARSE(app, argc, argv);

  if (smoke) {
    z.connect_n = 200;
    z.idle_n = 200;
    z.idle_large_n = 0;
    z.idle_settle_s = 0.2;
    z.idle_hold_s = 1;
    z.receivers = 50;
    z.fanout_s = 1;
    z.echo_sessions = 10;
    z.echo_s = 1;
    rates = "500";
    windows = "20";
    fanout_threads = "1";
    z.chat_users = 20;
    z.chat_rooms = 4;
    z.chat_rate = 200;
    z.chat_s = 1;
    sz.sessions = 10;
    sz.inflight = 2;
    sz.payload_bytes = 1000;
    sz.warmup_s = 0.2;
    sz.seconds = 1;
    repeat = 1;
  }
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  if (fanout_threads.empty()) fanout_threads = std::to_string(cores) + ",1";
  if (scaling_threads.empty()) scaling_threads = std::to_string(std::max(2u, cores)) + ",1";

  auto want = [](const std::string& list, const std::string& x) {
    auto v = split(list, ',');
    return std::find(v.begin(), v.end(), x) != v.end();
  };
  const bool with_ref = want(servers, "reference"), with_parley = want(servers, "parley");

  variant ref{"socket.io", split(reference, ' '), true};
  variant par{"parley", split(parley, ' '), false};
  auto both = [&] {
    std::vector<variant> v;
    if (with_ref) v.push_back(ref);
    if (with_parley) v.push_back(par);
    return v;
  };

  std::vector<bench_case> cases;
  if (want(scenarios, "connect")) {
    cases.push_back({"connect: " + fmt(static_cast<double>(z.connect_n)) + " sessions (" +
                         std::to_string(z.concurrency) + " handshakes in flight)",
                     both(), [&](const server_process& s) { return run_connect(s, z); },
                     {{"server CPU per session", 0.25, "≤ 0.25"}}, {}});
  }
  if (want(scenarios, "idle")) {
    cases.push_back({"idle: " + fmt(static_cast<double>(z.idle_n)) + " sessions held " + fmt(z.idle_hold_s) + " s",
                     both(), [&](const server_process& s) { return run_idle(s, z, z.idle_n); },
                     {{"RSS per connection", 0.2, "≤ 0.2 and ≤ 3 kB"}}, {}});
    // The large run: Parley only, as many as the open-files limit allows (one fd per session
    // here and one in the server; both inherit this process's limit).
    const std::uint64_t limit = fd_limit();
    std::size_t large = z.idle_large_n;
    std::string note;
    if (large && limit < large + 200) {
      large = limit > 400 ? static_cast<std::size_t>(limit - 200) : 0;
      note = "Capped from " + fmt(static_cast<double>(z.idle_large_n)) + " to " + fmt(static_cast<double>(large)) +
             " sessions: the open-files limit (ulimit -n) is " + std::to_string(limit) +
             " and cannot be raised here; each session costs one descriptor in the generator and one in the server.";
    }
    if (with_parley && large > z.idle_n) {
      cases.push_back({"idle (large, Parley only): " + fmt(static_cast<double>(large)) + " sessions held " +
                           fmt(z.idle_hold_s) + " s",
                       {par}, [&, large](const server_process& s) { return run_idle(s, z, large); },
                       {},
                       note.empty() ? std::vector<std::string>{} : std::vector<std::string>{note}});
    }
  }
  if (want(scenarios, "fanout")) {
    for (const auto& w : split(windows, ',')) {
      std::vector<variant> vs;
      if (with_ref) vs.push_back(ref);
      if (with_parley) {
        for (const auto& t : split(fanout_threads, ',')) {
          variant v{"parley t=" + t, split(parley, ' '), false};
          v.argv.push_back("--threads");
          v.argv.push_back(t);
          vs.push_back(std::move(v));
        }
      }
      std::size_t window = std::stoul(w);
      cases.push_back({"fan-out: " + fmt(static_cast<double>(z.receivers)) + " receivers, " + w +
                           " event(s) in flight, ~" + std::to_string(z.payload_bytes) + " B events, " +
                           fmt(z.fanout_s) + " s",
                       vs, [&, window](const server_process& s) { return run_fanout(s, z, window); },
                       {{"server CPU per delivery", 0.5, "≤ 0.5"}},
                       {}});
    }
  }
  if (want(scenarios, "echo")) {
    for (const auto& r : split(rates, ',')) {
      double rate = std::stod(r);
      cases.push_back({"echo with ack: " + fmt(rate) + "/s over " + std::to_string(z.echo_sessions) + " sessions, " +
                           fmt(z.echo_s) + " s",
                       both(), [&, rate](const server_process& s) { return run_echo(s, z, rate); },
                       {{"server CPU per ack", 0.45, "≤ 0.45"},
                        {"ack latency p50", 0.6, "≤ 0.6"},
                        {"ack latency p99", 1.0, "≤ 1 (no worse)"}},
                       {}});
    }
  }
  if (want(scenarios, "scaling")) {
    // All cores used: a closed loop in which the server's work per message (parse and
    // re-serialise ~8 kB of small JSON objects) dwarfs the generator's (copy a prebuilt frame,
    // read the time at the head of the ack), so that Parley with one I/O thread saturates its
    // core and the ratio over the --threads values shows what more threads add.
    std::vector<variant> vs;
    if (with_ref) vs.push_back(ref);
    if (with_parley) {
      for (const auto& t : split(scaling_threads, ',')) {
        variant v{"parley t=" + t, split(parley, ' '), false};
        v.argv.push_back("--threads");
        v.argv.push_back(t);
        vs.push_back(std::move(v));
      }
    }
    bench_case c{"scaling: " + std::to_string(sz.sessions) + " sessions × " + std::to_string(sz.inflight) +
                     " echo requests in flight, ~" + fmt(static_cast<double>(sz.payload_bytes)) + " B JSON argument (" +
                     std::to_string(scaling_items(sz.payload_bytes)) + " objects), closed loop, " + fmt(sz.seconds) + " s",
                 vs, [&](const server_process& s) { return run_scaling(s, z, sz); },
                 {},
                 {"Cores used = server CPU seconds / window seconds; the busiest thread's share and the busy "
                  "threads come from /proc/<pid>/task/*/stat. The I/O-thread ratio compares acks/s: it shows what "
                  "a second I/O thread adds when a second core is free, i.e. when Parley t=1 uses about one core "
                  "and the generator little (the load table shows how much the rest of the machine took)."}};
    c.threads_metric = "acks/s";
    cases.push_back(std::move(c));
  }
  std::string chat_missing;
  if (want(scenarios, "chat") && with_parley) {
    // The parley chat service: JWT auth, SQLite store (a fresh database per run in {tmp}).
    if (access(chat.c_str(), X_OK) != 0 || std::system((chat + " --version >/dev/null 2>&1").c_str()) != 0) {
      chat_missing = chat;
    } else {
      variant svc{"parley chat", {chat, "--host", "127.0.0.1", "--jwt-secret", z.jwt_secret, "--database",
                                  "{tmp}/bench.db", "--upload-dir", "{tmp}/uploads"},
                  false};
      cases.push_back({"chat (the parley service): " + fmt(static_cast<double>(z.chat_users)) + " users in " +
                           fmt(static_cast<double>(z.chat_rooms)) + " conversations, message:send with ack at " +
                           fmt(z.chat_rate) + "/s, ~" + std::to_string(z.payload_bytes) + " B, " + fmt(z.chat_s) + " s",
                       {svc}, [&](const server_process& s) { return run_chat(s, z); },
                       {{"acked messages/s", 0, "≥ 5,000", NAN, 5000 * 0.98},
                        {"ack latency p99", 0, "< 10 ms", 10.0, NAN},
                        {"lost acks", 0, "0", 0.0, NAN},
                        {"lost deliveries", 0, "0", 0.0, NAN}},
                       {"Every message is stored (SQLite, the service's default durability) before its ack. "
                        "The rate is the offered load; the ≥ 5,000 target applies to full-size runs (not --smoke)."}});
    }
  }

  std::vector<std::pair<std::string, std::vector<record>>> all;
  bool all_ok = true;
  for (auto& c : cases) {
    std::vector<record> recs;
    std::cout << "\n== " << c.title << std::endl;
    for (int rep = 1; rep <= repeat; ++rep) {
      // Interleaved, the order flipped on every other repetition.
      std::vector<variant> order = c.variants;
      if (rep % 2 == 0) std::reverse(order.begin(), order.end());
      for (const auto& v : order) {
        record rec{v.label, rep, {}};
        std::string tmp;
        try {
          std::vector<std::string> args = v.argv;
          for (auto& a : args) {
            auto at = a.find("{tmp}");
            if (at == std::string::npos) continue;
            if (tmp.empty()) {
              char dir[] = "/tmp/parley-bench.XXXXXX";
              if (!mkdtemp(dir)) throw std::runtime_error("mkdtemp failed");
              tmp = dir;
            }
            a.replace(at, 5, tmp);
          }
          args.push_back("--port");
          args.push_back("0");
          server_process srv(args, std::chrono::seconds(20));
          rec.result = c.run(srv);
          if (!srv.alive()) {
            rec.result.ok = false;
            rec.result.note += " (the server died)";
          }
        } catch (const std::exception& e) {
          rec.result.ok = false;
          rec.result.note = e.what();
        }
        if (!tmp.empty()) {
          std::error_code ec;
          std::filesystem::remove_all(tmp, ec);
        }
        std::cout << "  " << v.label << " run " << rep << ":";
        for (const auto& m : rec.result.metrics) std::cout << "  " << m.name << " " << fmt(m.value) << m.unit;
        const auto& l = rec.result.load;
        std::printf("\n    load: window %.2f s, server %.2f s (kernel %.2f s), generator %.2f s, other %.2f s CPU, machine %.0f%% busy%s%s\n",
                    l.wall_s, l.server_s, l.server_sys_s, l.generator_s, l.other_s, l.machine_busy_pct,
                    rec.result.ok ? "" : "  FAILED: ", rec.result.ok ? "" : rec.result.note.c_str());
        std::fflush(stdout);
        all_ok = all_ok && rec.result.ok;
        recs.push_back(std::move(rec));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
      }
    }
    all.emplace_back(c.title, std::move(recs));
  }

  std::ostringstream md;
  for (std::size_t i = 0; i < cases.size(); ++i) md << table_of(cases[i], all[i].second);
  if (!chat_missing.empty()) {
    md << "\n### chat (the parley service)\n\nNOT RUN: `" << chat_missing
       << "` is missing or does not run (`--version`); build the `parley` target.\n";
  }
  md << load_table(all);
  std::cout << "\n" << md.str() << std::flush;
  if (!report.empty()) {
    std::ofstream out(report, std::ios::app);
    out << md.str();
  }
  std::cout << "\nbench: " << (all_ok ? "all runs ok" : "SOME RUNS FAILED") << std::endl;
  return all_ok ? 0 : 1;
}
