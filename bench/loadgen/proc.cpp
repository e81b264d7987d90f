#include "proc.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace bench {

namespace {

double ticks_per_second() {
  static const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  return hz;
}

// utime+stime (fields 14 and 15) of /proc/<pid>/stat, in seconds, and stime alone. The comm
// field (2) may hold spaces and parentheses: fields are counted from the last ')'.
double process_cpu_s(pid_t pid, double* sys = nullptr) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return 0;
  auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // Field 3 is the first after ')': utime is field 14, the 12th from here.
  for (int i = 3; i <= 15 && (rest >> field); ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  if (sys) *sys = static_cast<double>(stime) / ticks_per_second();
  return static_cast<double>(utime + stime) / ticks_per_second();
}

void machine_cpu_s(double& busy, double& total) {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long v[10] = {};
  in >> cpu;
  for (auto& x : v) in >> x;
  // user nice system idle iowait irq softirq steal guest guest_nice (guest is inside user)
  unsigned long long idle = v[3] + v[4];
  unsigned long long all = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
  busy = static_cast<double>(all - idle) / ticks_per_second();
  total = static_cast<double>(all) / ticks_per_second();
}

double self_cpu_s() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return tv(ru.ru_utime) + tv(ru.ru_stime);
}

}  // namespace

cpu_delta operator-(const cpu_sample& b, const cpu_sample& a) {
  cpu_delta d;
  d.wall_s = std::chrono::duration<double>(b.at - a.at).count();
  d.server_s = b.server_s - a.server_s;
  d.server_sys_s = b.server_sys_s - a.server_sys_s;
  d.generator_s = b.generator_s - a.generator_s;
  double busy = b.machine_busy_s - a.machine_busy_s;
  double total = b.machine_total_s - a.machine_total_s;
  d.other_s = std::max(0.0, busy - d.server_s - d.generator_s);
  d.machine_busy_pct = total > 0 ? 100.0 * busy / total : 0;
  return d;
}

cpu_sample sample_cpu(pid_t server) {
  cpu_sample s;
  s.at = std::chrono::steady_clock::now();
  s.server_s = process_cpu_s(server, &s.server_sys_s);
  s.generator_s = self_cpu_s();
  machine_cpu_s(s.machine_busy_s, s.machine_total_s);
  return s;
}

std::uint64_t rss_kb(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/status", static_cast<int>(pid));
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

std::uint64_t fd_limit() {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  return rl.rlim_cur;
}

server_process::server_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout) {
  if (argv.empty()) throw std::runtime_error("empty server command");
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);  // the parley service logs "listening on" to stderr
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "loadgen: cannot exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  out_fd_ = fds[0];

  std::string got;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // "listening on 127.0.0.1:<port>" (bench-server, the reference) or
  // "listening on http://127.0.0.1:<port>" (the parley service's log line).
  const std::string marker = "listening on 127.0.0.1:";
  const std::string marker_http = "listening on http://127.0.0.1:";
  while (true) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
    char buf[512];
    ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    for (const auto* m : {&marker, &marker_http}) {
      auto at = got.find(*m);
      if (at != std::string::npos && got.find('\n', at) != std::string::npos) {
        port_ = static_cast<std::uint16_t>(std::stoul(got.substr(at + m->size())));
        // Whatever the server prints later is passed on to stderr: a full pipe would block it.
        drain_ = std::thread([fd = out_fd_] {
          char sink[4096];
          ssize_t r;
          while ((r = read(fd, sink, sizeof sink)) > 0) {
            if (write(STDERR_FILENO, sink, static_cast<std::size_t>(r)) < 0) {
            }
          }
        });
        return;
      }
    }
  }
  stop(std::chrono::milliseconds(500));
  throw std::runtime_error("server `" + argv[0] + "` did not print \"" + marker + "<port>\" (got: " + got + ")");
}

server_process::~server_process() { stop(); }

bool server_process::alive() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

void server_process::stop(std::chrono::milliseconds grace) {
  if (pid_ > 0) {
    kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + grace;
    int status = 0;
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }
  if (drain_.joinable()) drain_.join();  // EOF once the server is gone
  if (out_fd_ >= 0) {
    close(out_fd_);
    out_fd_ = -1;
  }
}

}  // namespace bench
