#pragma once
// The setup: every option of the chat service, with its default. Loaded from, in order (later
// wins): the defaults, a TOML file (--config FILE), environment variables (PARLEY_ + the
// option's name in upper snake case, e.g. PARLEY_PORT, PARLEY_JWT_SECRET, PARLEY_CORS_ORIGINS
// as a comma-separated list), and command-line flags (--port, --jwt-secret, ...).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "parley/auth/jwt.hpp"

namespace parley {

struct config {
  // network
  std::string host = "127.0.0.1";
  std::uint16_t port = 3000;
  std::string path = "/socket.io/";
  std::vector<std::string> transports = {"polling", "websocket"};
  std::vector<std::string> cors_origins;  // empty: no CORS; "*" allows any origin
  bool cors_credentials = false;          // refused with "*" in cors_origins
  std::chrono::milliseconds ping_interval{25000};
  std::chrono::milliseconds ping_timeout{20000};
  std::size_t max_http_buffer_size = 1'000'000;
  std::size_t threads = 0;  // 0: one per core

  // JWT (the key files are read at load time into jwt.public_key_pem / private_key_pem)
  auth::jwt_options jwt;
  std::string jwt_public_key_file;
  std::string jwt_private_key_file;
  bool jwt_secret_is_default = true;  // the development secret: warned about, and refused unless host is loopback

  // storage
  std::string database = "parley.db";  // SQLite file
  std::string upload_dir = "uploads";
  std::size_t max_upload_bytes = 10 * 1024 * 1024;

  // chat rules
  std::size_t max_message_length = 4000;  // characters of content
  double rate_limit = 20;                  // events/s per user, all sockets together (burst: twice that); 0: unlimited
  std::size_t max_conversation_members = 100;        // the creator included
  double conversation_creates_per_minute = 10;       // per user, bursts of that many; 0: unlimited
  double uploads_per_minute = 30;                    // per user, bursts of that many; 0: unlimited
  std::size_t max_connections_per_user = 20;         // 0: unlimited
  std::size_t max_connections_per_address = 256;     // 0: unlimited
  std::chrono::milliseconds typing_timeout{5000};
  bool dev_login = false;                  // the web page's dev-only token endpoint

  // logging
  std::string log_level = "info";          // trace, debug, info, warn, error, critical, off
  std::string log_format = "text";         // text or json (one JSON object per line)
};

// A bad option: the message names it ("--port: 70000 is not a port (1-65535)").
struct config_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline constexpr const char* development_jwt_secret = "parley-development-secret-change-me";

// The process's environment, or a test's: variable name -> value.
using environment = std::map<std::string, std::string, std::less<>>;
// The PARLEY_* variables of this process.
environment process_environment();

// `parley token --user alice [--name Alice] [--ttl 1h]`
struct token_request {
  std::string user_id;
  std::string name;                  // empty: the user id
  std::chrono::seconds ttl{3600};
};

// What `parley [options] [token ...]` asks for.
struct command_line {
  enum class action { serve, token, exit };
  action what = action::serve;
  std::string output;                // action::exit: the help or version text (for stdout)
  config cfg;                        // loaded and validated (serve and token)
  std::string config_file;           // the TOML file that was read, if any
  token_request token;               // action::token
  std::vector<std::string> warnings; // for the log once it is set up (unknown PARLEY_ variables, ...)
};

// Parses the command line, then layers defaults < TOML file (--config FILE or PARLEY_CONFIG) <
// environment (PARLEY_*) < flags, reads the key files and validates everything.
// Throws config_error naming the bad option ("--port: 70000 is not a port (0-65535)").
//
//   auto cl = parley::parse_command_line(argc, argv);            // the process's environment
//   auto cl = parley::parse_command_line(argc, argv, {{"PARLEY_PORT", "4000"}});  // a test's
command_line parse_command_line(int argc, const char* const* argv, const environment& env = process_environment());

// Whether listening on `host` keeps the server to this machine: "localhost", 127.0.0.0/8, ::1 (or
// ::ffff:127.x.x.x). Any other name or address counts as reachable from elsewhere. The
// development JWT secret is refused on every other host.
bool is_loopback_host(std::string_view host);

// "30s", "15m", "1h", "7d", or plain seconds; nullopt when malformed, zero or over 10 years.
std::optional<std::chrono::seconds> parse_ttl(std::string_view text);

}  // namespace parley
