#include "sio/redis/url.hpp"

#include <charconv>
#include <limits>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

namespace sio::redis {
namespace {

bool parse_decimal(std::string_view text, std::uint64_t max, std::uint64_t& out) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && p == end && out <= max;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
    if (x != b[i]) return false;
  }
  return true;
}

}  // namespace

result<address> parse_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    // Say "rediss" or "wrong scheme" even when the rest does not parse.
    const auto colon = url.find("://");
    if (colon == std::string_view::npos) return error::url_scheme;  // "localhost:6379", "not a url"
    if (iequals(url.substr(0, colon), "rediss")) return error::url_tls_unsupported;
    if (!iequals(url.substr(0, colon), "redis")) return error::url_scheme;
    return error::url_invalid;
  }
  const boost::urls::url_view u = *parsed;
  if (iequals(u.scheme(), "rediss")) return error::url_tls_unsupported;
  if (!iequals(u.scheme(), "redis")) return error::url_scheme;
  if (u.has_query() || u.has_fragment()) return error::url_unexpected_part;

  address a;
  switch (u.host_type()) {
    case boost::urls::host_type::ipv4:
    case boost::urls::host_type::name:
      a.host = u.host();  // percent-decoded
      break;
    case boost::urls::host_type::ipv6:
      a.host = u.host_ipv6_address().to_string();
      break;
    default:  // none, or an [IPvFuture]
      return error::url_missing_host;
  }
  if (a.host.empty()) return error::url_missing_host;

  if (u.has_port()) {
    std::uint64_t port = 0;
    if (!parse_decimal(u.port(), 65535, port) || port == 0) return error::url_invalid_port;
    a.port = static_cast<std::uint16_t>(port);
  }

  if (u.has_userinfo()) {
    if (!u.has_password()) {
      // "redis://name@host": a user without a password, or a password without its ':'?
      // Refused rather than guessed.
      if (!u.encoded_user().empty()) return error::url_invalid_userinfo;
    } else {
      a.username = u.user();
      a.password = u.password();
      if (a.password.empty() && !a.username.empty()) return error::url_invalid_userinfo;
    }
  }

  const std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    std::uint64_t db = 0;
    if (path[0] != '/' || !parse_decimal(path.substr(1), std::numeric_limits<std::int32_t>::max(), db))
      return error::url_invalid_db;
    a.db = static_cast<std::uint32_t>(db);
  }
  return a;
}

std::string to_string(const address& a) {
  std::string out = "redis://";
  if (!a.password.empty()) {
    out += a.username;
    out += ":***@";
  }
  const bool ipv6 = a.host.find(':') != std::string::npos;
  if (ipv6) out.push_back('[');
  out += a.host;
  if (ipv6) out.push_back(']');
  out.push_back(':');
  out += std::to_string(a.port);
  if (a.db != 0) {
    out.push_back('/');
    out += std::to_string(a.db);
  }
  return out;
}

}  // namespace sio::redis
