#include "scenarios.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <thread>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "client.hpp"

namespace bench {

namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

target target_of(const server_process& srv, const sizes& z) {
  target t;
  t.port = srv.port();
  t.source_addresses = z.source_addresses;
  return t;
}

void sleep_s(double s) { std::this_thread::sleep_for(std::chrono::duration<double>(s)); }

// Counts sessions the server dropped after they were ready.
struct drop_counter : session_listener {
  std::atomic<std::uint64_t> dropped{0};
  void on_failed(session& s, std::string_view) override { dropped.fetch_add(1, std::memory_order_relaxed); }
};

std::string pad_to(std::size_t total, std::size_t overhead) {
  return std::string(total > overhead ? total - overhead : 0, 'x');
}

double ms(std::uint64_t ns) { return static_cast<double>(ns) / 1e6; }

// Waits until pred() or `timeout` passes without progress() changing.
template <class Pred, class Progress>
bool wait_for(Pred pred, Progress progress, std::chrono::milliseconds stall) {
  auto last = progress();
  auto since = steady::now();
  while (!pred()) {
    std::this_thread::sleep_for(2ms);
    auto now_p = progress();
    if (now_p != last) {
      last = now_p;
      since = steady::now();
    } else if (steady::now() - since > stall) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---- connect ---------------------------------------------------------------------------

run_result run_connect(const server_process& srv, const sizes& z) {
  run_result r;
  drop_counter l;  // before the generator: its threads call it until they stop
  generator gen(target_of(srv, z), z.gen_threads);
  auto before = sample_cpu(srv.pid());
  auto c = gen.connect(z.connect_n, z.concurrency, &l, std::chrono::seconds(120));
  auto after = sample_cpu(srv.pid());
  r.load = after - before;
  double n = static_cast<double>(std::max<std::size_t>(1, c.ready));
  r.metrics = {
      {"server CPU per session", "µs", r.load.server_s * 1e6 / n, true},
      {"sessions/s", "", static_cast<double>(c.ready) / c.wall_s, false},
      {"handshake latency p50", "ms", ms(c.latency_ns.quantile(0.50)), true},
      {"handshake latency p99", "ms", ms(c.latency_ns.quantile(0.99)), true},
      {"failed sessions", "", static_cast<double>(c.failed + (z.connect_n - c.ready - c.failed)), true},
  };
  r.ok = c.ready == z.connect_n;
  if (!r.ok) r.note = std::to_string(c.ready) + "/" + std::to_string(z.connect_n) + " connected";
  return r;
}

// ---- idle ------------------------------------------------------------------------------

run_result run_idle(const server_process& srv, const sizes& z, std::size_t n) {
  run_result r;
  drop_counter l;  // before the generator: its threads call it until they stop
  generator gen(target_of(srv, z), z.gen_threads);
  sleep_s(0.3);
  const auto base_kb = rss_kb(srv.pid());
  auto c = gen.connect(n, z.concurrency, &l, std::chrono::seconds(300));
  sleep_s(z.idle_settle_s);
  auto before = sample_cpu(srv.pid());
  // Hold, in short sleeps, so that a dead server ends the run early.
  auto end = steady::now() + std::chrono::duration<double>(z.idle_hold_s);
  while (steady::now() < end && l.dropped.load() == 0) std::this_thread::sleep_for(20ms);
  auto after = sample_cpu(srv.pid());
  const auto rss = rss_kb(srv.pid());
  r.load = after - before;
  double held = static_cast<double>(std::max<std::size_t>(1, c.ready));
  r.metrics = {
      {"connections", "", static_cast<double>(c.ready), false},
      {"RSS per connection", "kB", static_cast<double>(rss - std::min(rss, base_kb)) / held, true},
      {"idle CPU per connection-second", "µs", r.load.server_s * 1e6 / (held * r.load.wall_s), true},
      {"server RSS", "MB", static_cast<double>(rss) / 1024.0, true},
      {"dropped", "", static_cast<double>(l.dropped.load()), true},
  };
  r.ok = c.ready == n && l.dropped.load() == 0;
  if (!r.ok) {
    r.note = std::to_string(c.ready) + "/" + std::to_string(n) + " connected, " + std::to_string(l.dropped.load()) +
             " dropped";
  }
  return r;
}

// ---- fan-out ---------------------------------------------------------------------------

namespace {

// Receivers count deliveries and their latency (the send time is in the payload, "t":<ns>);
// the sender keeps `window` events in flight: it may have sent delivered/receivers + window.
struct fanout_driver : session_listener {
  std::size_t window = 1;
  std::uint64_t receivers = 1;
  std::vector<histogram> latency;  // per worker
  std::atomic<std::uint64_t> joined{0};
  std::atomic<std::uint64_t> delivered{0};
  std::atomic<std::int64_t> last_delivery_ns{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<bool> sending{false};
  std::atomic<std::int64_t> end_ns{0};
  session* sender = nullptr;
  std::string pad;

  void on_ack(session&, std::uint64_t, std::string_view) override { joined.fetch_add(1, std::memory_order_relaxed); }
  void on_failed(session&, std::string_view) override { dropped.fetch_add(1, std::memory_order_relaxed); }
  void on_event(session& s, std::string_view p) override {
    if (p.rfind("2[\"msg\"", 0) != 0) return;
    const auto now = now_ns();
    const auto t = find_number(p, "\"t\":");
    if (t > 0) latency[s.owner().index()].record(now - t);
    last_delivery_ns.store(now, std::memory_order_relaxed);
    auto d = delivered.fetch_add(1, std::memory_order_relaxed) + 1;
    if (d % receivers == 0) asio::post(sender->owner().context(), [this] { pump(); });
  }

  // Sender's thread.
  void pump() {
    if (!sending.load(std::memory_order_relaxed)) return;
    const auto now = now_ns();
    if (now >= end_ns.load(std::memory_order_relaxed)) return;
    const std::uint64_t allowed = delivered.load(std::memory_order_relaxed) / receivers + window;
    auto s = sent.load(std::memory_order_relaxed);
    std::string text;
    while (s < allowed) {
      text = "42[\"bcast\",{\"room\":\"fan\",\"payload\":{\"t\":";
      text += std::to_string(now_ns());
      text += ",\"s\":";
      text += std::to_string(s);
      text += ",\"p\":\"";
      text += pad;
      text += "\"}}]";
      sender->send_text(text);
      ++s;
    }
    sent.store(s, std::memory_order_relaxed);
  }
};

struct phase_result {
  std::uint64_t sent = 0, delivered = 0;
  double wall_s = 0;
  bool stalled = false;
};

phase_result fanout_phase(fanout_driver& d, double seconds) {
  phase_result p;
  const auto sent0 = d.sent.load(), delivered0 = d.delivered.load();
  const auto t0 = now_ns();
  d.end_ns.store(t0 + static_cast<std::int64_t>(seconds * 1e9));
  d.sending.store(true);
  asio::post(d.sender->owner().context(), [&d] { d.pump(); });
  auto last = d.delivered.load();
  auto since = steady::now();
  while (now_ns() < d.end_ns.load()) {
    std::this_thread::sleep_for(2ms);
    auto now_d = d.delivered.load();
    if (now_d != last) {
      last = now_d;
      since = steady::now();
    } else if (steady::now() - since > 3s) {
      p.stalled = true;
      break;
    }
  }
  d.sending.store(false);
  // Drain: every sent event delivered to every receiver, or 3 s without progress.
  std::this_thread::sleep_for(5ms);  // a pump() in progress finishes
  wait_for([&] { return d.delivered.load() >= d.sent.load() * d.receivers; }, [&] { return d.delivered.load(); },
           3000ms);
  p.sent = d.sent.load() - sent0;
  p.delivered = d.delivered.load() - delivered0;
  p.wall_s = static_cast<double>(std::max<std::int64_t>(d.last_delivery_ns.load(), t0 + 1) - t0) / 1e9;
  return p;
}

}  // namespace

run_result run_fanout(const server_process& srv, const sizes& z, std::size_t window) {
  run_result r;
  fanout_driver d;  // before the generator: its threads call it until they stop
  session_listener sender_listener;
  generator gen(target_of(srv, z), z.gen_threads);
  d.window = window;
  d.latency.resize(gen.threads());
  // Delivered packet: 42["msg",{"t":<13 digits>,"s":<seq>,"p":"<pad>"}] ~ payload_bytes.
  d.pad = pad_to(z.payload_bytes, 45);

  auto c = gen.connect(z.receivers, z.concurrency, &d, std::chrono::seconds(120));
  if (c.ready == 0) {
    r.ok = false;
    r.note = "no receiver connected";
    return r;
  }
  gen.on_each([](worker& w) {
    for (auto& s : w.sessions()) {
      if (s->current() == session::state::ready) s->send_text("42" + std::to_string(s->next_ack_id()) + "[\"join\",\"fan\"]");
    }
  });
  wait_for([&] { return d.joined.load() + d.dropped.load() >= c.ready; }, [&] { return d.joined.load(); }, 10000ms);
  d.receivers = std::max<std::uint64_t>(1, d.joined.load());

  auto cs = gen.connect(1, 1, &sender_listener, std::chrono::seconds(30));
  if (cs.ready != 1) {
    r.ok = false;
    r.note = "the sender did not connect";
    return r;
  }
  gen.on_each([&](worker& w) {
    if (w.index() == 0) d.sender = w.sessions().back().get();
  });

  // Warm-up (not measured), then the measured phase.
  fanout_phase(d, std::min(1.0, z.fanout_s / 5));
  gen.on_each([&](worker& w) { d.latency[w.index()] = histogram{}; });
  auto before = sample_cpu(srv.pid());
  auto p = fanout_phase(d, z.fanout_s);
  auto after = sample_cpu(srv.pid());
  r.load = after - before;

  histogram lat;
  gen.on_each([&](worker& w) { lat.merge(d.latency[w.index()]); });
  const double delivered = static_cast<double>(std::max<std::uint64_t>(1, p.delivered));
  const auto expected = p.sent * d.receivers;
  const auto lost = expected > p.delivered ? expected - p.delivered : 0;
  r.metrics = {
      {"server CPU per delivery", "ns", r.load.server_s * 1e9 / delivered, true},
      {"deliveries/s", "", static_cast<double>(p.delivered) / p.wall_s, false},
      {"delivery latency p50", "ms", ms(lat.quantile(0.50)), true},
      {"delivery latency p99", "ms", ms(lat.quantile(0.99)), true},
      {"events sent", "", static_cast<double>(p.sent), false},
      {"lost deliveries", "", static_cast<double>(lost), true},
  };
  r.ok = lost == 0 && !p.stalled && d.dropped.load() == 0 && c.ready == z.receivers;
  if (!r.ok) {
    r.note = std::to_string(c.ready) + "/" + std::to_string(z.receivers) + " receivers, " +
             std::to_string(d.dropped.load()) + " dropped, " + std::to_string(lost) + " lost" +
             (p.stalled ? ", stalled" : "");
  }
  return r;
}

// ---- echo ------------------------------------------------------------------------------

namespace {

// Open loop: each worker sends its share of `rate` from a 1 ms timer, round-robin over its
// sessions, whatever the acks do; an ack's latency is now minus the "t" it echoes.
struct echo_driver : session_listener {
  struct per_worker {
    std::unique_ptr<asio::steady_timer> timer;
    std::vector<session*> sessions;
    std::size_t next = 0;
    double rate = 0;
    std::int64_t start_ns = 0;
    std::uint64_t sent = 0;
    histogram latency;
  };
  std::vector<per_worker> workers;
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::int64_t> end_ns{0};
  std::string pad;

  void on_ack(session& s, std::uint64_t, std::string_view args) override {
    const auto t = find_number(args, "\"t\":");
    if (t > 0) workers[s.owner().index()].latency.record(now_ns() - t);
    acked.fetch_add(1, std::memory_order_relaxed);
  }
  void on_failed(session&, std::string_view) override { dropped.fetch_add(1, std::memory_order_relaxed); }

  // Worker's thread.
  void start(worker& w, double total_rate, std::size_t total_sessions) {
    auto& pw = workers[w.index()];
    pw.sessions.clear();
    for (auto& s : w.sessions()) {
      if (s->current() == session::state::ready) pw.sessions.push_back(s.get());
    }
    if (pw.sessions.empty()) return;
    if (!pw.timer) pw.timer = std::make_unique<asio::steady_timer>(w.context());
    pw.rate = total_rate * static_cast<double>(pw.sessions.size()) / static_cast<double>(total_sessions);
    pw.start_ns = now_ns();
    pw.sent = 0;
    tick(pw, steady::now());
  }
  void tick(per_worker& pw, steady::time_point at) {
    const auto now = now_ns();
    const auto due = static_cast<std::uint64_t>(pw.rate * static_cast<double>(now - pw.start_ns) / 1e9);
    std::string text;
    while (pw.sent < due) {
      session& s = *pw.sessions[pw.next++ % pw.sessions.size()];
      text = "42";
      text += std::to_string(s.next_ack_id());
      text += "[\"echo\",{\"t\":";
      text += std::to_string(now_ns());
      text += ",\"p\":\"";
      text += pad;
      text += "\"}]";
      s.send_text(text);
      ++pw.sent;
      sent.fetch_add(1, std::memory_order_relaxed);
    }
    if (now >= end_ns.load(std::memory_order_relaxed)) return;
    pw.timer->expires_at(at + 1ms);
    pw.timer->async_wait([this, &pw, next = at + 1ms](const boost::system::error_code& ec) {
      if (!ec) tick(pw, next);
    });
  }
};

}  // namespace

run_result run_echo(const server_process& srv, const sizes& z, double rate) {
  run_result r;
  echo_driver d;  // before the generator: its threads call it until they stop
  generator gen(target_of(srv, z), z.gen_threads);
  d.workers.resize(gen.threads());
  // Sent packet: 42<id>["echo",{"t":<13 digits>,"p":"<pad>"}] ~ payload_bytes.
  d.pad = pad_to(z.payload_bytes, 40);
  auto c = gen.connect(z.echo_sessions, z.concurrency, &d, std::chrono::seconds(60));
  if (c.ready == 0) {
    r.ok = false;
    r.note = "no session connected";
    return r;
  }
  auto phase = [&](double seconds) {
    const auto sent0 = d.sent.load(), acked0 = d.acked.load();
    d.end_ns.store(now_ns() + static_cast<std::int64_t>(seconds * 1e9));
    gen.on_each([&](worker& w) { d.start(w, rate, c.ready); });
    sleep_s(seconds);
    wait_for([&] { return d.acked.load() >= d.sent.load(); }, [&] { return d.acked.load(); }, 3000ms);
    return std::pair{d.sent.load() - sent0, d.acked.load() - acked0};
  };
  phase(std::min(1.0, z.echo_s / 5));  // warm-up
  gen.on_each([&](worker& w) { d.workers[w.index()].latency = histogram{}; });
  auto before = sample_cpu(srv.pid());
  auto [sent, acked] = phase(z.echo_s);
  auto after = sample_cpu(srv.pid());
  r.load = after - before;
  histogram lat;
  gen.on_each([&](worker& w) {
    lat.merge(d.workers[w.index()].latency);
    d.workers[w.index()].timer.reset();  // on its thread, while its io_context lives
  });
  const auto lost = sent > acked ? sent - acked : 0;
  r.metrics = {
      {"server CPU per ack", "µs", r.load.server_s * 1e6 / static_cast<double>(std::max<std::uint64_t>(1, acked)), true},
      {"ack latency p50", "ms", ms(lat.quantile(0.50)), true},
      {"ack latency p99", "ms", ms(lat.quantile(0.99)), true},
      {"ack latency p999", "ms", ms(lat.quantile(0.999)), true},
      {"acks/s", "", static_cast<double>(acked) / z.echo_s, false},
      {"lost acks", "", static_cast<double>(lost), true},
  };
  r.ok = lost == 0 && d.dropped.load() == 0 && c.ready == z.echo_sessions;
  if (!r.ok) {
    r.note = std::to_string(c.ready) + "/" + std::to_string(z.echo_sessions) + " sessions, " +
             std::to_string(d.dropped.load()) + " dropped, " + std::to_string(lost) + " acks lost";
  }
  return r;
}

// ---- chat ------------------------------------------------------------------------------

namespace {

std::string base64url(std::string_view in) {
  static constexpr char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t v = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8) |
                      std::uint8_t(in[i + 2]);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += table[v & 63];
  }
  if (i + 1 == in.size()) {
    std::uint32_t v = std::uint32_t(std::uint8_t(in[i])) << 16;
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    std::uint32_t v = (std::uint32_t(std::uint8_t(in[i])) << 16) | (std::uint32_t(std::uint8_t(in[i + 1])) << 8);
    out += table[v >> 18];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
  }
  return out;
}

// An HS256 token for user `id`: {"userId":id,"name":id}.
std::string hs256_token(const std::string& secret, const std::string& id) {
  std::string signing = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." +
                        base64url(R"({"userId":")" + id + R"(","name":")" + id + R"("})");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing.data()), signing.size(), mac, &len);
  return signing + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

// Users, one socket each, in `rooms` public conversations (user i in bench-<i % rooms>); an
// open loop of message:send with ack at `rate` in all, round-robin over the users. The ack's
// stored message carries the content, which starts with the send time; every other member
// receives message:new with it.
struct chat_driver : session_listener {
  struct per_worker {
    std::unique_ptr<asio::steady_timer> timer;
    std::vector<session*> sessions;
    std::size_t next = 0;
    double rate = 0;
    std::int64_t start_ns = 0;
    std::uint64_t sent = 0;
    std::uint64_t expected_deliveries = 0;
    histogram ack_latency, delivery_latency;
  };
  std::vector<per_worker> workers;
  std::size_t rooms = 1;
  std::vector<std::uint64_t> members;  // per room, after the joins
  std::atomic<bool> joining{true};
  std::atomic<std::uint64_t> joined{0}, sent{0}, acked{0}, refused{0}, delivered{0}, dropped{0};
  std::atomic<std::int64_t> end_ns{0};
  std::string pad;
  std::string first_refusal;  // worker thread; read after the run

  void on_failed(session&, std::string_view why) override { dropped.fetch_add(1, std::memory_order_relaxed); }
  void on_event(session& s, std::string_view p) override {
    if (p.rfind("2[\"message:new\"", 0) != 0) return;
    const auto t = find_number(p, "\"content\":\"");
    if (t > 0) workers[s.owner().index()].delivery_latency.record(now_ns() - t);
    delivered.fetch_add(1, std::memory_order_relaxed);
  }
  void on_ack(session& s, std::uint64_t, std::string_view args) override {
    if (joining.load(std::memory_order_relaxed)) {
      joined.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (args.find("\"ok\":true") == std::string_view::npos) {
      if (refused.fetch_add(1) == 0) first_refusal = std::string(args.substr(0, 300));
      return;
    }
    const auto t = find_number(args, "\"content\":\"");
    if (t > 0) workers[s.owner().index()].ack_latency.record(now_ns() - t);
    acked.fetch_add(1, std::memory_order_relaxed);
  }

  // Worker's thread.
  void start(worker& w, double total_rate, std::size_t total_sessions) {
    auto& pw = workers[w.index()];
    pw.sessions.clear();
    for (auto& s : w.sessions()) {
      if (s->current() == session::state::ready) pw.sessions.push_back(s.get());
    }
    if (pw.sessions.empty()) return;
    if (!pw.timer) pw.timer = std::make_unique<asio::steady_timer>(w.context());
    pw.rate = total_rate * static_cast<double>(pw.sessions.size()) / static_cast<double>(total_sessions);
    pw.start_ns = now_ns();
    pw.sent = 0;
    tick(pw, steady::now());
  }
  void tick(per_worker& pw, steady::time_point at) {
    const auto now = now_ns();
    const auto due = static_cast<std::uint64_t>(pw.rate * static_cast<double>(now - pw.start_ns) / 1e9);
    std::string text;
    while (pw.sent < due) {
      session& s = *pw.sessions[pw.next++ % pw.sessions.size()];
      const auto room = s.index() % rooms;
      text = "42";
      text += std::to_string(s.next_ack_id());
      text += "[\"message:send\",{\"conversationId\":\"bench-";
      text += std::to_string(room);
      text += "\",\"content\":\"";
      text += std::to_string(now_ns());
      text += " ";
      text += pad;
      text += "\"}]";
      s.send_text(text);
      ++pw.sent;
      pw.expected_deliveries += members[room] > 0 ? members[room] - 1 : 0;
      sent.fetch_add(1, std::memory_order_relaxed);
    }
    if (now >= end_ns.load(std::memory_order_relaxed)) return;
    pw.timer->expires_at(at + 1ms);
    pw.timer->async_wait([this, &pw, next = at + 1ms](const boost::system::error_code& ec) {
      if (!ec) tick(pw, next);
    });
  }
};

}  // namespace

run_result run_chat(const server_process& srv, const sizes& z) {
  run_result r;
  chat_driver d;  // before the generator: its threads call it until they stop
  auto t = target_of(srv, z);
  const std::string secret = z.jwt_secret;
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < z.chat_users; ++i) tokens.push_back(hs256_token(secret, "bench-" + std::to_string(i)));
  t.connect_payload = [&tokens](std::uint32_t i) {
    return R"({"token":")" + tokens[i % tokens.size()] + "\"}";
  };
  generator gen(t, z.gen_threads);
  d.workers.resize(gen.threads());
  d.rooms = std::max<std::size_t>(1, z.chat_rooms);
  d.members.assign(d.rooms, 0);
  d.pad = pad_to(z.payload_bytes, 60);

  auto c = gen.connect(z.chat_users, z.concurrency, &d, std::chrono::seconds(120));
  if (c.ready == 0) {
    r.ok = false;
    r.note = "no user connected";
    return r;
  }
  gen.on_each([&](worker& w) {
    for (auto& s : w.sessions()) {
      if (s->current() != session::state::ready) continue;
      const auto room = s->index() % d.rooms;
      ++d.members[room];  // on_each runs one worker at a time
      s->send_text("42" + std::to_string(s->next_ack_id()) + "[\"conversation:join\",{\"conversationId\":\"bench-" +
                   std::to_string(room) + "\"}]");
    }
  });
  wait_for([&] { return d.joined.load() >= c.ready; }, [&] { return d.joined.load(); }, 10000ms);
  d.joining.store(false);

  auto phase = [&](double seconds) {
    const auto sent0 = d.sent.load(), acked0 = d.acked.load(), delivered0 = d.delivered.load();
    std::uint64_t expected0 = 0;
    gen.on_each([&](worker& w) { expected0 += d.workers[w.index()].expected_deliveries; });
    d.end_ns.store(now_ns() + static_cast<std::int64_t>(seconds * 1e9));
    gen.on_each([&](worker& w) { d.start(w, z.chat_rate, c.ready); });
    sleep_s(seconds);
    std::uint64_t expected = 0;
    gen.on_each([&](worker& w) { expected += d.workers[w.index()].expected_deliveries; });
    wait_for([&] { return d.acked.load() + d.refused.load() >= d.sent.load() && d.delivered.load() >= expected; },
             [&] { return d.acked.load() + d.delivered.load(); }, 3000ms);
    struct out { std::uint64_t sent, acked, delivered, expected; };
    return out{d.sent.load() - sent0, d.acked.load() - acked0, d.delivered.load() - delivered0, expected - expected0};
  };
  phase(std::min(1.0, z.chat_s / 5));  // warm-up
  gen.on_each([&](worker& w) {
    d.workers[w.index()].ack_latency = histogram{};
    d.workers[w.index()].delivery_latency = histogram{};
  });
  const auto refused0 = d.refused.load();
  auto before = sample_cpu(srv.pid());
  auto p = phase(z.chat_s);
  auto after = sample_cpu(srv.pid());
  r.load = after - before;
  histogram ack, del;
  gen.on_each([&](worker& w) {
    ack.merge(d.workers[w.index()].ack_latency);
    del.merge(d.workers[w.index()].delivery_latency);
    d.workers[w.index()].timer.reset();  // on its thread, while its io_context lives
  });
  const auto refused = d.refused.load() - refused0;
  const auto lost_acks = p.sent > p.acked + refused ? p.sent - p.acked - refused : 0;
  const auto lost_deliveries = p.expected > p.delivered ? p.expected - p.delivered : 0;
  r.metrics = {
      {"acked messages/s", "", static_cast<double>(p.acked) / z.chat_s, false},
      {"ack latency p50", "ms", ms(ack.quantile(0.50)), true},
      {"ack latency p99", "ms", ms(ack.quantile(0.99)), true},
      {"ack latency p999", "ms", ms(ack.quantile(0.999)), true},
      {"server CPU per message", "µs", r.load.server_s * 1e6 / static_cast<double>(std::max<std::uint64_t>(1, p.acked)), true},
      {"deliveries/s", "", static_cast<double>(p.delivered) / z.chat_s, false},
      {"delivery latency p50", "ms", ms(del.quantile(0.50)), true},
      {"delivery latency p99", "ms", ms(del.quantile(0.99)), true},
      {"refused sends", "", static_cast<double>(refused), true},
      {"lost acks", "", static_cast<double>(lost_acks), true},
      {"lost deliveries", "", static_cast<double>(lost_deliveries), true},
  };
  r.ok = refused == 0 && lost_acks == 0 && lost_deliveries == 0 && d.dropped.load() == 0 && c.ready == z.chat_users;
  if (!r.ok) {
    r.note = std::to_string(c.ready) + "/" + std::to_string(z.chat_users) + " users, " +
             std::to_string(d.dropped.load()) + " dropped, " + std::to_string(refused) + " refused" +
             (d.first_refusal.empty() ? "" : " (" + d.first_refusal + ")") + ", " + std::to_string(lost_acks) +
             " acks and " + std::to_string(lost_deliveries) + " deliveries lost";
  }
  return r;
}

}  // namespace bench
