#pragma once
// What the kernel says about CPU and memory: a server's /proc/<pid>/stat (utime+stime of all
// its threads) and /proc/<pid>/status (VmRSS), this process's own CPU (getrusage), and the
// machine's /proc/stat totals. And the server process itself: spawned with exec (no shell),
// so its pid is the server's, stopped with SIGTERM.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace bench {

struct cpu_sample {
  double server_s = 0;     // utime+stime of the server, seconds
  double server_sys_s = 0; // stime alone: the kernel's share (syscalls, TCP)
  double generator_s = 0;  // this process, user+system, seconds
  double machine_busy_s = 0;   // all CPUs, non-idle, seconds
  double machine_total_s = 0;  // all CPUs, seconds
  std::chrono::steady_clock::time_point at;
};

struct cpu_delta {
  double wall_s = 0;
  double server_s = 0;
  double server_sys_s = 0;
  double generator_s = 0;
  double other_s = 0;          // machine busy minus server and generator (other engineers' work)
  double machine_busy_pct = 0; // of all CPUs
};

cpu_delta operator-(const cpu_sample& b, const cpu_sample& a);

// Reads /proc/<pid>/stat, /proc/self (getrusage) and /proc/stat.
cpu_sample sample_cpu(pid_t server);
// VmRSS of the process in kB (0 when it cannot be read).
std::uint64_t rss_kb(pid_t pid);
// The soft limit on open files.
std::uint64_t fd_limit();

class server_process {
 public:
  // Starts argv (execvp) with stdout and stderr on a pipe and waits, up to `timeout`, for the
  // line "listening on [http://]127.0.0.1:<port>"; later output goes on to our stderr.
  // Throws std::runtime_error when the line does not come.
  server_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  std::uint16_t port() const noexcept { return port_; }
  bool alive();
  // SIGTERM, then SIGKILL after `grace` (long enough for a profiler to write its data).
  void stop(std::chrono::milliseconds grace = std::chrono::milliseconds(15000));

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::uint16_t port_ = 0;
  std::thread drain_;
};

}  // namespace bench
