#pragma once
// A real redis-server for tests: started on 127.0.0.1 on a free port, with no persistence
// (--save "" --appendonly no) and its files in a temporary directory, stopped and removed at
// the end. Reusable by any test that needs Redis (the adapters' tests next).
//
//   parley::test::redis_server redis;                          // started, answering PING
//   parley::test::redis_server secured({"--requirepass", "pw"});
//   auto where = sio::redis::parse_url(redis.url()).value();
//   redis.stop();    // SIGTERM, waits for it to exit: clients see the connection close
//   redis.start();   // again, on the same port
//
// redis-server cannot take --port 0: a free port is found by binding port 0 first, then given
// to Redis; if another process takes it in between, Redis exits and another port is tried.
// The server dies with the test process (PR_SET_PDEATHSIG) even if the test crashes. Start it
// from the test's main thread (the death signal follows the thread that forked). Readiness
// is polled (PING every few ms, at most 10 s): a starting process announces nothing else.
// $REDIS_SERVER overrides the program (default: redis-server on the PATH).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace parley::test {

class redis_server {
 public:
  explicit redis_server(std::vector<std::string> extra_args = {}) : extra_args_(std::move(extra_args)) {
    char dir_template[] = "/tmp/parley-redis.XXXXXX";
    if (!::mkdtemp(dir_template)) throw std::runtime_error("redis_server: mkdtemp failed");
    dir_ = dir_template;
    for (int tries = 0;; ++tries) {
      port_ = free_port();
      if (launch()) return;
      if (tries == 4) {
        const std::string log = read_log();
        cleanup_dir();
        throw std::runtime_error("redis_server: redis-server did not start; its log:\n" + log);
      }
    }
  }

  ~redis_server() {
    stop();
    cleanup_dir();
  }

  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  std::uint16_t port() const { return port_; }
  // "redis://[userinfo@]127.0.0.1:port[/path]", e.g. url(":pw", "/2").
  std::string url(const std::string& userinfo = {}, const std::string& path = {}) const {
    return "redis://" + (userinfo.empty() ? "" : userinfo + "@") + "127.0.0.1:" + std::to_string(port_) + path;
  }
  bool running() const { return pid_ > 0; }

  // SIGTERM (SIGKILL with `crash`), then waits until it has exited; its port is then free.
  void stop(bool crash = false) {
    if (pid_ <= 0) return;
    ::kill(pid_, crash ? SIGKILL : SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    pid_ = -1;
  }

  // Starts it again on the same port (after stop()).
  void start() {
    if (pid_ > 0) return;
    if (!launch()) throw std::runtime_error("redis_server: redis-server did not restart on port " + std::to_string(port_));
  }

 private:
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof a;
    if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      if (fd >= 0) ::close(fd);
      throw std::runtime_error("redis_server: no free port");
    }
    ::close(fd);
    return ntohs(a.sin_port);
  }

  bool launch() {
    const char* program = std::getenv("REDIS_SERVER");
    std::vector<std::string> args = {program ? program : "redis-server",
                                     "--port", std::to_string(port_),
                                     "--bind", "127.0.0.1",
                                     "--save", "",
                                     "--appendonly", "no",
                                     "--daemonize", "no",
                                     "--dir", dir_.string(),
                                     "--logfile", (dir_ / "redis.log").string()};
    args.insert(args.end(), extra_args_.begin(), extra_args_.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("redis_server: fork failed");
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);  // the parent died before prctl
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {  // exited: the port was taken, or no redis
        pid_ = -1;
        return false;
      }
      if (answers_ping()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    stop(true);
    return false;
  }

  // Redis answers PING with +PONG, or -NOAUTH when it wants a password: either way it is up.
  bool answers_ping() const {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    bool up = false;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
      const char ping[] = "*1\r\n$4\r\nPING\r\n";
      if (::send(fd, ping, sizeof ping - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof ping - 1)) {
        pollfd p{fd, POLLIN, 0};
        char buf[64];
        if (::poll(&p, 1, 1000) == 1) {
          const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
          const std::string answer(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
          up = answer.rfind("+PONG", 0) == 0 || answer.rfind("-NOAUTH", 0) == 0;
        }
      }
    }
    ::close(fd);
    return up;
  }

  std::string read_log() const {
    std::string text;
    if (FILE* f = std::fopen((dir_ / "redis.log").c_str(), "r")) {
      char buf[4096];
      std::size_t n;
      while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
      std::fclose(f);
    }
    return text.empty() ? "(none: is redis-server installed? scripts/install-deps.sh)" : text;
  }

  void cleanup_dir() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }

  std::vector<std::string> extra_args_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace parley::test
