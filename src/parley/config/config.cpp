#include "parley/config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include <arpa/inet.h>

#include <CLI/CLI.hpp>
#include <toml++/toml.h>

extern char** environ;

#ifndef PARLEY_VERSION
#define PARLEY_VERSION "0.0.0"
#endif

namespace parley {

namespace {

// A value that does not fit its option; the caller says which option and where it came from.
struct bad_value : std::runtime_error {
  using std::runtime_error::runtime_error;
};

constexpr std::uint64_t max_ms = 24ull * 3600 * 1000;  // one day: longer is a mistake (and overflows timers)

// ---------------------------------------------------------------------------- text parsers

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string q(std::string_view s) { return "'" + std::string(s) + "'"; }

std::uint64_t parse_uint(std::string_view text, std::uint64_t min, std::uint64_t max, std::string_view what = "") {
  auto t = trim(text);
  auto range = [&] {
    return " (expected " + std::to_string(min) + "-" + std::to_string(max) + (what.empty() ? "" : " " + std::string(what)) + ")";
  };
  if (!t.empty() && t.front() == '-') throw bad_value(q(t) + " is negative" + range());
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec == std::errc::invalid_argument || end != t.data() + t.size())
    throw bad_value(q(t) + " is not a whole number" + range());
  if (ec == std::errc::result_out_of_range || v < min || v > max) throw bad_value(q(t) + " is out of range" + range());
  return v;
}

double parse_double(std::string_view text, double min) {
  auto t = trim(text);
  double v = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v))
    throw bad_value(q(t) + " is not a number");
  if (v < min) throw bad_value(q(t) + " is below " + std::to_string(static_cast<long long>(min)));
  return v;
}

bool parse_bool(std::string_view text) {
  auto t = lower(trim(text));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  throw bad_value(q(text) + " is not a boolean (true/false, yes/no, on/off, 1/0)");
}

// "a, b,,c" -> {"a", "b", "c"}
std::vector<std::string> parse_list(std::string_view text) {
  std::vector<std::string> out;
  while (true) {
    auto comma = text.find(',');
    auto item = trim(text.substr(0, comma));
    if (!item.empty()) out.emplace_back(item);
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  return out;
}

std::string join(const std::vector<std::string>& v, std::string_view sep = ",") {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::string one_of(std::string_view text, std::initializer_list<std::string_view> allowed) {
  auto t = lower(trim(text));
  for (auto a : allowed)
    if (t == a) return t;
  std::string list;
  for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
  throw bad_value(q(text) + " is not one of " + list);
}

// An origin as browsers send it in the Origin header: scheme://host[:port], nothing after.
void check_origin(const std::string& o) {
  if (o == "*") return;
  auto scheme_end = o.find("://");
  if (scheme_end == std::string::npos || scheme_end == 0)
    throw bad_value(q(o) + " is not an origin (scheme://host[:port], or *)");
  auto rest = std::string_view(o).substr(scheme_end + 3);
  if (rest.empty() || rest.find_first_of("/?#") != std::string_view::npos)
    throw bad_value(q(o) + " is not an origin: no path, not even a trailing /, as in 'https://chat.example.com'");
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// ---------------------------------------------------------------------------- the options

enum class kind { string, integer, number, boolean, list };

struct option {
  std::string name;   // "jwt-secret": the flag --jwt-secret, the TOML key, PARLEY_JWT_SECRET
  std::string group;
  std::string help;
  kind type;
  std::string type_name;  // for --help
  std::function<std::string(const config&)> show;
  std::function<void(config&, std::string_view)> set;  // throws bad_value

  std::string env_name() const {
    std::string e = "PARLEY_";
    for (char c : name) e += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return e;
  }
  std::string flag() const { return "--" + name; }
};

std::string ms_text(std::chrono::milliseconds d) { return std::to_string(d.count()); }

const std::vector<option>& options() {
  static const std::vector<option> all = [] {
    std::vector<option> o;
    auto add = [&](std::string name, std::string group, kind k, std::string type_name, std::string help,
                   std::function<std::string(const config&)> show, std::function<void(config&, std::string_view)> set) {
      o.push_back({std::move(name), std::move(group), std::move(help), k, std::move(type_name), std::move(show),
                   std::move(set)});
    };
    auto non_empty = [](std::string_view t) {
      if (trim(t).empty()) throw bad_value("must not be empty");
      return std::string(trim(t));
    };

    // network
    add("host", "Network", kind::string, "ADDRESS", "Address to listen on (0.0.0.0 or :: for every interface)",
        [](const config& c) { return c.host; }, [=](config& c, std::string_view t) { c.host = non_empty(t); });
    add("port", "Network", kind::integer, "PORT", "TCP port to listen on (0: any free port, logged at start)",
        [](const config& c) { return std::to_string(c.port); },
        [](config& c, std::string_view t) { c.port = static_cast<std::uint16_t>(parse_uint(t, 0, 65535)); });
    add("path", "Network", kind::string, "PATH", "Path of the Socket.IO endpoint",
        [](const config& c) { return c.path; },
        [=](config& c, std::string_view t) {
          auto p = non_empty(t);
          if (p.front() != '/') throw bad_value(q(p) + " does not start with /");
          c.path = p;
        });
    add("transports", "Network", kind::list, "LIST", "Transports clients may use: polling, websocket (comma-separated)",
        [](const config& c) { return join(c.transports); },
        [](config& c, std::string_view t) {
          std::vector<std::string> v;
          for (auto& item : parse_list(t)) {
            auto name = one_of(item, {"polling", "websocket"});
            if (std::find(v.begin(), v.end(), name) == v.end()) v.push_back(name);
          }
          if (v.empty()) throw bad_value("at least one transport is needed (polling, websocket)");
          c.transports = std::move(v);
        });
    add("cors-origins", "Network", kind::list, "LIST",
        "Origins allowed by CORS, as browsers send them: scheme://host[:port] (comma-separated); * for any; "
        "empty: no CORS",
        [](const config& c) { return join(c.cors_origins); },
        [](config& c, std::string_view t) {
          auto v = parse_list(t);
          for (const auto& origin : v) check_origin(origin);
          c.cors_origins = std::move(v);
        });
    add("cors-credentials", "Network", kind::boolean, "BOOL", "Allow credentials (cookies, Authorization) in CORS requests (not with cors-origins *)",
        [](const config& c) { return c.cors_credentials ? "true" : "false"; },
        [](config& c, std::string_view t) { c.cors_credentials = parse_bool(t); });
    add("ping-interval-ms", "Network", kind::integer, "MS", "Engine.IO heartbeat interval",
        [](const config& c) { return ms_text(c.ping_interval); },
        [](config& c, std::string_view t) { c.ping_interval = std::chrono::milliseconds(parse_uint(t, 1, max_ms, "ms")); });
    add("ping-timeout-ms", "Network", kind::integer, "MS", "How long a client may take to answer a heartbeat",
        [](const config& c) { return ms_text(c.ping_timeout); },
        [](config& c, std::string_view t) { c.ping_timeout = std::chrono::milliseconds(parse_uint(t, 1, max_ms, "ms")); });
    add("max-http-buffer-size", "Network", kind::integer, "BYTES",
        "Largest Engine.IO message or polling request body a client may send",
        [](const config& c) { return std::to_string(c.max_http_buffer_size); },
        [](config& c, std::string_view t) { c.max_http_buffer_size = parse_uint(t, 1, std::uint64_t{1} << 32, "bytes"); });
    add("threads", "Network", kind::integer, "N", "Event-loop threads (0: one per core)",
        [](const config& c) { return std::to_string(c.threads); },
        [](config& c, std::string_view t) { c.threads = parse_uint(t, 0, 1024, "threads"); });

    // JWT
    add("jwt-algorithm", "JWT", kind::string, "ALG",
        "The one accepted signature algorithm: HS256 (shared secret), RS256 or ES256 (public key)",
        [](const config& c) { return std::string(auth::to_string(c.jwt.alg)); },
        [](config& c, std::string_view t) {
          auto a = auth::parse_algorithm(trim(t));
          if (!a) throw bad_value(q(t) + " is not one of HS256, RS256, ES256");
          c.jwt.alg = *a;
        });
    add("jwt-secret", "JWT", kind::string, "SECRET", "HS256 shared secret (unset: the public development secret, refused unless host is loopback)",
        [](const config&) { return std::string("(development secret)"); },
        [](config& c, std::string_view t) {
          if (t.empty()) throw bad_value("must not be empty (leave it unset for the development secret)");
          c.jwt.secret = std::string(t);
          c.jwt_secret_is_default = false;
        });
    add("jwt-public-key", "JWT", kind::string, "FILE", "RS256/ES256: PEM file of the public key (or certificate) that verifies tokens",
        [](const config& c) { return c.jwt_public_key_file; },
        [](config& c, std::string_view t) { c.jwt_public_key_file = std::string(trim(t)); });
    add("jwt-private-key", "JWT", kind::string, "FILE", "RS256/ES256: PEM file of the private key (only for `parley token`)",
        [](const config& c) { return c.jwt_private_key_file; },
        [](config& c, std::string_view t) { c.jwt_private_key_file = std::string(trim(t)); });
    add("jwt-issuer", "JWT", kind::string, "ISS", "Required `iss` claim (empty: not checked)",
        [](const config& c) { return c.jwt.issuer.value_or(""); },
        [](config& c, std::string_view t) {
          if (trim(t).empty()) c.jwt.issuer.reset();
          else c.jwt.issuer = std::string(trim(t));
        });
    add("jwt-audience", "JWT", kind::string, "AUD", "Required in the `aud` claim (empty: not checked)",
        [](const config& c) { return c.jwt.audience.value_or(""); },
        [](config& c, std::string_view t) {
          if (trim(t).empty()) c.jwt.audience.reset();
          else c.jwt.audience = std::string(trim(t));
        });
    add("jwt-leeway-s", "JWT", kind::integer, "SECONDS", "Clock skew allowed when checking exp and nbf",
        [](const config& c) { return std::to_string(c.jwt.leeway.count()); },
        [](config& c, std::string_view t) { c.jwt.leeway = std::chrono::seconds(parse_uint(t, 0, 86400, "seconds")); });

    // storage
    add("database", "Storage", kind::string, "FILE", "SQLite database file",
        [](const config& c) { return c.database; }, [=](config& c, std::string_view t) { c.database = non_empty(t); });
    add("upload-dir", "Storage", kind::string, "DIR", "Directory of uploaded files",
        [](const config& c) { return c.upload_dir; }, [=](config& c, std::string_view t) { c.upload_dir = non_empty(t); });
    add("max-upload-bytes", "Storage", kind::integer, "BYTES", "Largest file a client may upload",
        [](const config& c) { return std::to_string(c.max_upload_bytes); },
        [](config& c, std::string_view t) { c.max_upload_bytes = parse_uint(t, 1, std::uint64_t{1} << 40, "bytes"); });

    // chat rules
    add("max-message-length", "Chat", kind::integer, "CHARS", "Longest message content",
        [](const config& c) { return std::to_string(c.max_message_length); },
        [](config& c, std::string_view t) { c.max_message_length = parse_uint(t, 1, 10'000'000, "characters"); });
    // limits (of one user, so that nobody can make the service unusable for others)
    auto number_text = [](double v) {
      std::ostringstream s;
      s << v;
      return s.str();
    };
    add("rate-limit", "Limits", kind::number, "PER_S",
        "Events per second per user, all of the user's sockets together; bursts of twice that (0: unlimited)",
        [=](const config& c) { return number_text(c.rate_limit); },
        [](config& c, std::string_view t) { c.rate_limit = parse_double(t, 0); });
    add("max-conversation-members", "Limits", kind::integer, "N",
        "Members of a conversation at most, the creator included (more: BAD_REQUEST)",
        [](const config& c) { return std::to_string(c.max_conversation_members); },
        // At most 1000: one conversation's JSON then stays far below a reply's bound.
        [](config& c, std::string_view t) { c.max_conversation_members = parse_uint(t, 1, 1000, "members"); });
    add("conversation-creates-per-minute", "Limits", kind::number, "PER_MIN",
        "Conversations a user may create per minute, in bursts of that many (0: unlimited)",
        [=](const config& c) { return number_text(c.conversation_creates_per_minute); },
        [](config& c, std::string_view t) { c.conversation_creates_per_minute = parse_double(t, 0); });
    add("uploads-per-minute", "Limits", kind::number, "PER_MIN",
        "Files a user may upload per minute, in bursts of that many (0: unlimited; over it: 429)",
        [=](const config& c) { return number_text(c.uploads_per_minute); },
        [](config& c, std::string_view t) { c.uploads_per_minute = parse_double(t, 0); });
    add("max-connections-per-user", "Limits", kind::integer, "N",
        "Sockets one user may have connected at once (0: unlimited)",
        [](const config& c) { return std::to_string(c.max_connections_per_user); },
        [](config& c, std::string_view t) { c.max_connections_per_user = parse_uint(t, 0, 1'000'000, "connections"); });
    add("max-connections-per-address", "Limits", kind::integer, "N",
        "Sockets connected at once from one remote address (0: unlimited; behind a reverse proxy every "
        "connection comes from the proxy's address: raise it or use 0)",
        [](const config& c) { return std::to_string(c.max_connections_per_address); },
        [](config& c, std::string_view t) {
          c.max_connections_per_address = parse_uint(t, 0, 1'000'000, "connections");
        });
    add("typing-timeout-ms", "Chat", kind::integer, "MS", "A typing:start without typing:stop ends after this",
        [](const config& c) { return ms_text(c.typing_timeout); },
        [](config& c, std::string_view t) { c.typing_timeout = std::chrono::milliseconds(parse_uint(t, 1, max_ms, "ms")); });
    add("dev-login", "Chat", kind::boolean, "BOOL", "Serve the web page's development login (tokens for anyone: never in production)",
        [](const config& c) { return c.dev_login ? "true" : "false"; },
        [](config& c, std::string_view t) { c.dev_login = parse_bool(t); });

    // logging
    add("log-level", "Logging", kind::string, "LEVEL", "trace, debug, info, warn, error, critical or off",
        [](const config& c) { return c.log_level; },
        [](config& c, std::string_view t) {
          c.log_level = one_of(t, {"trace", "debug", "info", "warn", "error", "critical", "off"});
        });
    add("log-format", "Logging", kind::string, "FORMAT", "text, or json (one JSON object per line)",
        [](const config& c) { return c.log_format; },
        [](config& c, std::string_view t) { c.log_format = one_of(t, {"text", "json"}); });
    return o;
  }();
  return all;
}

const option* find_option(std::string_view name) {
  for (const auto& o : options())
    if (o.name == name) return &o;
  return nullptr;
}

// " (did you mean 'port'?)" when a known name is close.
std::string suggestion(std::string_view name, bool as_env) {
  const option* best = nullptr;
  std::size_t best_d = 3;  // at most two edits away
  for (const auto& o : options()) {
    auto candidate = as_env ? o.env_name() : o.name;
    auto d = edit_distance(name, candidate);
    if (d < best_d) {
      best_d = d;
      best = &o;
    }
  }
  if (!best) return {};
  return " (did you mean " + q(as_env ? best->env_name() : best->name) + "?)";
}

void apply(const option& o, config& c, std::string_view value, const std::string& source) {
  try {
    o.set(c, value);
  } catch (const bad_value& e) {
    throw config_error(o.flag() + (source.empty() ? "" : " (from " + source + ")") + ": " + e.what());
  }
}

// ---------------------------------------------------------------------------- TOML

std::string toml_text(const option& o, const toml::node& n) {
  switch (o.type) {
    case kind::string:
      if (auto s = n.as_string()) return s->get();
      throw bad_value("expected a string");
    case kind::integer:
      if (auto i = n.as_integer()) return std::to_string(i->get());
      throw bad_value("expected an integer");
    case kind::number:
      if (auto i = n.as_integer()) return std::to_string(i->get());
      if (auto f = n.as_floating_point()) {
        char buf[64];
        auto [end, ec] = std::to_chars(buf, buf + sizeof buf, f->get());
        return std::string(buf, end);
      }
      throw bad_value("expected a number");
    case kind::boolean:
      if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
      throw bad_value("expected true or false");
    case kind::list: {
      if (auto s = n.as_string()) return s->get();
      auto a = n.as_array();
      if (!a) throw bad_value("expected an array of strings");
      std::vector<std::string> items;
      for (const auto& e : *a) {
        auto s = e.as_string();
        if (!s) throw bad_value("expected an array of strings");
        if (s->get().find(',') != std::string::npos) throw bad_value(q(s->get()) + " contains a comma");
        items.push_back(s->get());
      }
      return join(items);
    }
  }
  throw bad_value("unsupported value");
}

std::string where(const std::string& file, const toml::node& n) {
  return file + ":" + std::to_string(n.source().begin.line);
}

// Flat keys (`jwt-secret = "..."`), snake_case (`jwt_secret`) or tables (`[jwt] secret = "..."`).
void collect_toml(const toml::table& t, const std::string& prefix, const std::string& file,
                  std::map<std::string, std::pair<const toml::node*, std::string>>& out) {
  for (const auto& [key, node] : t) {
    std::string name = prefix;
    for (char c : key.str()) name += c == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const auto* sub = node.as_table()) {
      collect_toml(*sub, name + "-", file, out);
      continue;
    }
    if (!find_option(name))
      throw config_error("--config: " + where(file, node) + ": unknown option " + q(name) + suggestion(name, false));
    if (out.count(name))
      throw config_error("--config: " + where(file, node) + ": " + q(name) + " is set twice (also at " +
                         out[name].second + ")");
    out[name] = {&node, where(file, node)};
  }
}

void apply_toml(config& c, const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw config_error("--config: cannot read " + q(file) + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  toml::table doc;
  try {
    doc = toml::parse(text.str(), file);
  } catch (const toml::parse_error& e) {
    throw config_error("--config: " + file + ":" + std::to_string(e.source().begin.line) + ":" +
                       std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
  }
  std::map<std::string, std::pair<const toml::node*, std::string>> values;
  collect_toml(doc, "", file, values);
  for (const auto& o : options()) {
    auto it = values.find(o.name);
    if (it == values.end()) continue;
    std::string text_value;
    try {
      text_value = toml_text(o, *it->second.first);
    } catch (const bad_value& e) {
      throw config_error(o.flag() + " (from " + it->second.second + "): " + e.what());
    }
    apply(o, c, text_value, it->second.second);
  }
}

// ---------------------------------------------------------------------------- key files and checks

std::string read_key_file(const std::string& option_name, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw config_error("--" + option_name + ": cannot read " + q(path) + ": " + std::strerror(errno));
  std::stringstream s;
  s << in.rdbuf();
  if (s.str().empty()) throw config_error("--" + option_name + ": " + q(path) + " is empty");
  return s.str();
}

void finish(config& c, std::vector<std::string>& warnings) {
  if (c.jwt.alg == auth::algorithm::hs256) {
    if (c.jwt.secret.empty()) {
      c.jwt.secret = development_jwt_secret;
      c.jwt_secret_is_default = true;
    } else {
      c.jwt_secret_is_default = c.jwt.secret == development_jwt_secret;
      if (c.jwt.secret.size() < 32)
        warnings.push_back("jwt-secret is shorter than 32 bytes: HS256 wants a key of at least 256 bits (RFC 7518 "
                           "§3.2); use a long random string");
    }
    if (!c.jwt_public_key_file.empty() || !c.jwt_private_key_file.empty())
      warnings.push_back("jwt-public-key / jwt-private-key are not used with HS256 (see jwt-algorithm)");
  } else {
    c.jwt_secret_is_default = false;
    if (!c.jwt.secret.empty())
      warnings.push_back("jwt-secret is not used with " + std::string(auth::to_string(c.jwt.alg)));
    if (c.jwt_public_key_file.empty() && c.jwt_private_key_file.empty())
      throw config_error("--jwt-public-key: " + std::string(auth::to_string(c.jwt.alg)) +
                         " needs the PEM file of the public key");
    if (!c.jwt_public_key_file.empty()) c.jwt.public_key_pem = read_key_file("jwt-public-key", c.jwt_public_key_file);
    if (!c.jwt_private_key_file.empty())
      c.jwt.private_key_pem = read_key_file("jwt-private-key", c.jwt_private_key_file);
  }
  // The verifier checks the key material now, so a bad key stops the start, not the first login.
  try {
    auth::jwt_verifier check(c.jwt);
  } catch (const std::invalid_argument& e) {
    throw config_error(std::string("--") + e.what());
  }
  // The development secret is public (it is in the source): tokens signed with it are for a server
  // that no one else can reach. Loopback stays the zero-config mode of scripts/run.sh.
  if (c.jwt.alg == auth::algorithm::hs256 && c.jwt_secret_is_default && !is_loopback_host(c.host))
    throw config_error("--jwt-secret: not set, and --host " + q(c.host) +
                       " is not a loopback address: the development secret is public, so anyone could sign tokens "
                       "for this server. Set --jwt-secret / PARLEY_JWT_SECRET to a long random string (or use "
                       "--jwt-algorithm RS256/ES256 with keys), or listen on 127.0.0.1");
  // Browsers refuse credentials for "*" on purpose: granting them to every origin would let any
  // site act as the signed-in user.
  if (c.cors_credentials && std::find(c.cors_origins.begin(), c.cors_origins.end(), "*") != c.cors_origins.end())
    throw config_error("--cors-origins: '*' cannot be combined with --cors-credentials true: credentials for any "
                       "origin would let every site act as the signed-in user (browsers refuse the pair). List the "
                       "allowed origins, or turn --cors-credentials off");
  if (c.dev_login) warnings.push_back("dev-login is on: anyone can get a token for any user (development only)");
  c.jwt.accept_dev_login_tokens = c.dev_login;  // its tokens do not outlive it
}

}  // namespace

// ---------------------------------------------------------------------------- public

bool is_loopback_host(std::string_view host) {
  const std::string text(trim(host));
  if (lower(text) == "localhost") return true;
  in_addr v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6) == 1)
    return IN6_IS_ADDR_LOOPBACK(&v6) || (IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127);
  return false;  // another name may resolve to any address
}

environment process_environment() {
  environment env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    if (!kv.starts_with("PARLEY_")) continue;
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

std::optional<std::chrono::seconds> parse_ttl(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::uint64_t unit = 1;
  switch (text.back()) {
    case 's': unit = 1; text.remove_suffix(1); break;
    case 'm': unit = 60; text.remove_suffix(1); break;
    case 'h': unit = 3600; text.remove_suffix(1); break;
    case 'd': unit = 86400; text.remove_suffix(1); break;
    default: break;
  }
  std::uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  constexpr std::uint64_t ten_years = 10ull * 366 * 86400;
  if (n == 0 || n > ten_years / unit) return std::nullopt;
  return std::chrono::seconds(static_cast<std::int64_t>(n * unit));
}

command_line parse_command_line(int argc, const char* const* argv, const environment& env) {
  command_line result;
  const config defaults;

  CLI::App app{"parley: a Socket.IO chat server.\n\n"
               "Every option is also a key of the --config TOML file and an environment variable PARLEY_<OPTION>\n"
               "(upper snake case: PARLEY_PORT, PARLEY_JWT_SECRET; lists comma-separated). Later wins:\n"
               "defaults < TOML file < environment < flags.",
               "parley"};
  app.get_formatter()->column_width(36);
  app.footer(
      "Tokens for testing: parley token --user alice [--name Alice] [--ttl 1h]\n\n"
      "Beyond the chat contract (docs/contract-extensions.md):\n"
      "  conversation:list { limit?, before? } answers a page, newest first: { ok, conversations, next };\n"
      "    limit 1-100 (default 20), before: the previous page's next (opaque), next: null on the last page.\n"
      "  users:online { after? } answers { ok, userIds, next }; next is null unless more users are online.\n"
      "  A list reply (those two, message:history) holds at most 4 MiB of JSON: a page may stop early.\n"
      "  Over the Limits options: RATE_LIMITED (events, creates; uploads: HTTP 429), BAD_REQUEST (members);\n"
      "  a connection over its limit gets the connect_error \"Connection refused: too many connections for\n"
      "  this user\" or \"... from this address\".");

  std::string config_file;
  app.add_option("--config", config_file, "TOML file of options [env PARLEY_CONFIG]")->type_name("FILE");
  bool version = false;
  app.add_flag("--version", version, "Print the version and exit");

  std::map<std::string, std::string> scalars;
  std::map<std::string, std::vector<std::string>> lists;
  for (const auto& o : options()) {
    auto help = o.help + " [env " + o.env_name() + "]";
    CLI::Option* opt = nullptr;
    if (o.type == kind::boolean) {
      // `--dev-login`, `--dev-login false`, `--dev-login=no`
      opt = app.add_flag(o.flag(), scalars[o.name], help)->expected(0, 1)->type_name(o.type_name)->take_last();
    } else if (o.type == kind::list) {
      opt = app.add_option(o.flag(), lists[o.name], help)->type_name(o.type_name);
    } else {
      opt = app.add_option(o.flag(), scalars[o.name], help)->type_name(o.type_name)->take_last();
    }
    opt->default_str(o.show(defaults))->group(o.group);
  }

  auto* token = app.add_subcommand("token", "Print a token signed with the configured key, then exit");
  std::string ttl_text = "1h";
  token->add_option("--user", result.token.user_id, "User id (the userId and sub claims)")->required()->type_name("ID");
  token->add_option("--name", result.token.name, "Display name (default: the user id)")->type_name("NAME");
  token->add_option("--ttl", ttl_text, "Lifetime: 30s, 15m, 1h, 7d")->type_name("DURATION")->default_str("1h");
  token->fallthrough();  // `parley token --user a --jwt-secret x` works too

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::ostringstream out, err;
    app.exit(e, out, err);
    result.what = command_line::action::exit;
    result.output = out.str();
    return result;
  } catch (const CLI::CallForAllHelp& e) {
    std::ostringstream out, err;
    app.exit(e, out, err);
    result.what = command_line::action::exit;
    result.output = out.str();
    return result;
  } catch (const CLI::ParseError& e) {
    throw config_error(e.what());
  }
  if (version) {
    result.what = command_line::action::exit;
    result.output = "parley " PARLEY_VERSION "\n";
    return result;
  }

  config c;
  // TOML file
  if (app.count("--config")) {
    result.config_file = config_file;
  } else if (auto it = env.find("PARLEY_CONFIG"); it != env.end() && !it->second.empty()) {
    result.config_file = it->second;
  }
  if (!result.config_file.empty()) apply_toml(c, result.config_file);

  // environment (an empty variable counts as unset: `PARLEY_X=${X}` with X unset is common)
  for (const auto& o : options()) {
    auto it = env.find(o.env_name());
    if (it == env.end() || it->second.empty()) continue;
    apply(o, c, it->second, it->first);
  }
  for (const auto& [name, value] : env) {
    if (!name.starts_with("PARLEY_") || name == "PARLEY_CONFIG") continue;
    bool known = std::any_of(options().begin(), options().end(), [&](const option& o) { return o.env_name() == name; });
    if (!known) result.warnings.push_back("environment variable " + name + " is not a parley option (ignored)" +
                                          suggestion(name, true));
  }

  // flags
  for (const auto& o : options()) {
    if (!app.count(o.flag())) continue;
    if (o.type == kind::list) apply(o, c, join(lists[o.name]), "");
    else apply(o, c, scalars[o.name], "");
  }

  finish(c, result.warnings);
  result.cfg = std::move(c);

  if (token->parsed()) {
    result.what = command_line::action::token;
    if (trim(result.token.user_id).empty()) throw config_error("--user: must not be empty");
    auto ttl = parse_ttl(ttl_text);
    if (!ttl) throw config_error("--ttl: " + q(ttl_text) + " is not a duration (30s, 15m, 1h, 7d; at most 10 years)");
    result.token.ttl = *ttl;
    if (result.cfg.jwt.alg != auth::algorithm::hs256 && result.cfg.jwt.private_key_pem.empty())
      throw config_error("--jwt-private-key: signing " + std::string(auth::to_string(result.cfg.jwt.alg)) +
                         " tokens needs the private key");
  }
  return result;
}

}  // namespace parley
