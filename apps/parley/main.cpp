// parley: the chat service's command line.
//
//   parley [options]                                   serve (see parley --help)
//   parley token --user alice [--name Alice] [--ttl 1h]  print a token signed with the configured key
//
// Options come from defaults < a TOML file (--config) < PARLEY_* environment variables < flags.
// A bad option stops the start with a message naming it, exit status 2.
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include "parley/app.hpp"
#include "parley/auth/jwt.hpp"
#include "parley/config/config.hpp"

namespace {

// ---------------------------------------------------------------------------- JSON log lines

void append(spdlog::memory_buf_t& out, std::string_view s) { out.append(s.data(), s.data() + s.size()); }

// A JSON string body: escapes quotes, backslashes and control characters, and replaces bytes
// that are not UTF-8 (log lines carry client input) so that every line stays valid JSON.
void append_escaped(spdlog::memory_buf_t& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      switch (c) {
        case '"': append(out, "\\\""); break;
        case '\\': append(out, "\\\\"); break;
        case '\n': append(out, "\\n"); break;
        case '\r': append(out, "\\r"); break;
        case '\t': append(out, "\\t"); break;
        default:
          if (c < 0x20 || c == 0x7f) {
            const char esc[] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
            out.append(esc, esc + sizeof esc);
          } else {
            out.push_back(static_cast<char>(c));
          }
      }
      ++i;
      continue;
    }
    // A well-formed multi-byte sequence (no overlongs, no surrogates, at most U+10FFFF) is copied.
    std::size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
    bool ok = n != 0 && c <= 0xf4 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
    if (ok && n >= 3) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xe0 && c1 < 0xa0) || (c == 0xed && c1 >= 0xa0) || (c == 0xf0 && c1 < 0x90) || (c == 0xf4 && c1 >= 0x90))
        ok = false;
    }
    if (ok) {
      out.append(s.data() + i, s.data() + i + n);
      i += n;
    } else {
      append(out, "\\ufffd");
      ++i;
    }
  }
}

// The names of the log-level option.
std::string_view level_name(spdlog::level::level_enum l) {
  switch (l) {
    case spdlog::level::trace: return "trace";
    case spdlog::level::debug: return "debug";
    case spdlog::level::info: return "info";
    case spdlog::level::warn: return "warn";
    case spdlog::level::err: return "error";
    case spdlog::level::critical: return "critical";
    default: return "off";
  }
}

// {"time":"2026-11-24T10:00:00.000Z","level":"info","thread":123,"msg":"..."}
class json_formatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    using namespace std::chrono;
    const auto since = msg.time.time_since_epoch();
    const auto secs = duration_cast<seconds>(since);
    const auto ms = duration_cast<milliseconds>(since - secs).count();
    std::time_t t = secs.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char stamp[40];
    std::size_t len = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    len += static_cast<std::size_t>(std::snprintf(stamp + len, sizeof stamp - len, ".%03dZ", static_cast<int>(ms)));

    append(dest, R"({"time":")");
    append(dest, std::string_view(stamp, len));
    append(dest, R"(","level":")");
    append(dest, level_name(msg.level));
    append(dest, R"(","thread":)");
    append(dest, std::to_string(msg.thread_id));
    append(dest, R"(,"msg":")");
    append_escaped(dest, std::string_view(msg.payload.data(), msg.payload.size()));
    append(dest, "\"}\n");
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<json_formatter>(); }
};

// Logs go to stderr (stdout is for `parley token`'s token): text, colored on a terminal, or JSON
// lines for log collectors.
void setup_logging(const parley::config& cfg) {
  std::shared_ptr<spdlog::sinks::sink> sink;
  if (cfg.log_format == "json") {
    sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    sink->set_formatter(std::make_unique<json_formatter>());
  } else {
    sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
    sink->set_pattern("[%Y-%m-%d %H:%M:%S.%e] [%^%l%$] [%t] %v");
  }
  auto logger = std::make_shared<spdlog::logger>("parley", std::move(sink));
  logger->set_level(spdlog::level::from_str(cfg.log_level));
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

void warn_development_secret(const parley::config& cfg, std::string_view what) {
  if (cfg.log_format == "json") {  // one line for the log collector, not a banner
    spdlog::warn("{} The JWT secret is the built-in DEVELOPMENT secret: anyone can forge tokens. Set --jwt-secret / "
                 "PARLEY_JWT_SECRET (or RS256/ES256 keys) before exposing it.", what);
    return;
  }
  spdlog::warn("****************************************************************************");
  spdlog::warn("* {}", what);
  spdlog::warn("* The JWT secret is the built-in DEVELOPMENT secret: anyone can forge tokens.");
  spdlog::warn("* Set --jwt-secret / PARLEY_JWT_SECRET (or RS256/ES256 keys) before exposing it.");
  spdlog::warn("****************************************************************************");
}

}  // namespace

int main(int argc, char** argv) {
  parley::command_line cl;
  try {
    cl = parley::parse_command_line(argc, argv);
  } catch (const parley::config_error& e) {
    std::cerr << "parley: " << e.what() << "\n(parley --help lists the options)\n";
    return 2;
  }
  if (cl.what == parley::command_line::action::exit) {
    std::cout << cl.output << std::flush;
    return 0;
  }

  setup_logging(cl.cfg);
  for (const auto& w : cl.warnings) spdlog::warn("{}", w);
  const auto& cfg = cl.cfg;

  if (cl.what == parley::command_line::action::token) {
    if (cfg.jwt_secret_is_default) warn_development_secret(cfg, "This token is signed with the development secret.");
    try {
      const parley::auth::jwt_verifier signer(cfg.jwt);
      std::cout << signer.sign({cl.token.user_id, cl.token.name}, cl.token.ttl) << std::endl;
      return 0;
    } catch (const std::invalid_argument& e) {
      std::cerr << "parley: --" << e.what() << "\n";
      return 2;
    } catch (const std::exception& e) {
      std::cerr << "parley: " << e.what() << "\n";
      return 1;
    }
  }

  // run_server() logs the development-secret banner itself (every caller of it gets the warning).
  if (!cl.config_file.empty()) spdlog::info("configuration file: {}", cl.config_file);
  spdlog::info("JWT: {}{}{}", parley::auth::to_string(cfg.jwt.alg),
               cfg.jwt.issuer ? ", iss " + *cfg.jwt.issuer : std::string(),
               cfg.jwt.audience ? ", aud " + *cfg.jwt.audience : std::string());
  return parley::run_server(cfg);
}
