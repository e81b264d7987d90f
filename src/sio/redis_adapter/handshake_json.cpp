// A socket's handshake as socket.io's Socket#handshake object (messages.hpp), and the
// Date#toString text of its `time`.
#include <array>
#include <charconv>
#include <cmath>
#include <cstdio>

#include <boost/json/array.hpp>
#include <boost/json/string.hpp>

#include "sio/redis_adapter/messages.hpp"

namespace sio::redis_wire {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 7> weekdays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 12> months = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct civil {
  std::int64_t year;
  unsigned month, day;
};
civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return {static_cast<std::int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

// What a system_clock::time_point (nanoseconds in an int64) holds: about 290 years either side of
// 1970. Dates beyond are not read.
constexpr std::int64_t max_seconds = 9'000'000'000;

// Node.js keeps the first of these when a request repeats them (IncomingMessage#headers).
bool first_one_wins(std::string_view name) {
  static constexpr std::string_view names[] = {
      "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
      "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
      "proxy-authorization", "referer", "retry-after", "server", "user-agent"};
  for (auto n : names)
    if (n == name) return true;
  return false;
}

template <class Multimap>
void read_string_map(const json::value* v, Multimap& out) {
  if (!v || !v->is_object()) return;
  for (const auto& kv : v->get_object()) {
    const std::string key(kv.key());
    if (const json::string* s = kv.value().if_string()) {
      out.emplace(key, std::string(*s));
    } else if (const json::array* a = kv.value().if_array()) {
      for (const auto& e : *a)
        if (const json::string* s = e.if_string()) out.emplace(key, std::string(*s));
    }
  }
}

const json::value* field(const json::object& o, std::string_view key) { return o.if_contains(key); }

// Reads a run of digits at `at`.
bool digits(std::string_view s, std::size_t& at, std::size_t min, std::size_t max, std::int64_t& out) {
  std::size_t n = 0;
  out = 0;
  while (at + n < s.size() && n < max && s[at + n] >= '0' && s[at + n] <= '9') out = out * 10 + (s[at + n++] - '0');
  at += n;
  return n >= min;
}

bool literal(std::string_view s, std::size_t& at, std::string_view lit) {
  if (s.substr(at, lit.size()) != lit) return false;
  at += lit.size();
  return true;
}

}  // namespace

std::string format_js_date(std::chrono::system_clock::time_point t) {
  const std::int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  const std::int64_t seconds = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  const std::int64_t days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400;
  const std::int64_t secs_of_day = seconds - days * 86400;
  const civil c = civil_from_days(days);
  const auto weekday = static_cast<std::size_t>(((days % 7) + 11) % 7);  // 1970-01-01 was a Thursday
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s %s %02u %04lld %02lld:%02lld:%02lld GMT+0000 (Coordinated Universal Time)",
                weekdays[weekday].data(), months[c.month - 1].data(), c.day, static_cast<long long>(c.year),
                static_cast<long long>(secs_of_day / 3600), static_cast<long long>(secs_of_day / 60 % 60),
                static_cast<long long>(secs_of_day % 60));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parse_js_date(std::string_view s) {
  // "Www Mmm DD YYYY HH:MM:SS GMT+hhmm (zone name)"
  std::size_t at = 0;
  if (s.size() < 4 || s[3] != ' ') return std::nullopt;
  at = 4;
  unsigned month = 0;
  for (unsigned i = 0; i < months.size(); ++i)
    if (s.substr(at, 3) == months[i]) month = i + 1;
  if (month == 0) return std::nullopt;
  at += 3;
  std::int64_t day, year, hh, mm, ss, off_h, off_m;
  if (!literal(s, at, " ") || !digits(s, at, 1, 2, day) || !literal(s, at, " ")) return std::nullopt;
  const bool negative_year = at < s.size() && s[at] == '-';
  if (negative_year) ++at;
  if (!digits(s, at, 4, 6, year) || !literal(s, at, " ")) return std::nullopt;
  if (negative_year) year = -year;
  if (!digits(s, at, 2, 2, hh) || !literal(s, at, ":") || !digits(s, at, 2, 2, mm) || !literal(s, at, ":") ||
      !digits(s, at, 2, 2, ss) || !literal(s, at, " GMT"))
    return std::nullopt;
  if (at >= s.size() || (s[at] != '+' && s[at] != '-')) return std::nullopt;
  const int sign = s[at++] == '-' ? -1 : 1;
  if (!digits(s, at, 2, 2, off_h) || !digits(s, at, 2, 2, off_m)) return std::nullopt;
  if (day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 59 || off_h > 23 || off_m > 59) return std::nullopt;
  const std::int64_t local = days_from_civil(year, month, static_cast<unsigned>(day)) * 86400 + hh * 3600 + mm * 60 + ss;
  const std::int64_t utc = local - sign * (off_h * 3600 + off_m * 60);
  if (std::abs(utc) > max_seconds) return std::nullopt;  // a time_point counts nanoseconds
  return std::chrono::system_clock::time_point(std::chrono::seconds(utc));
}

json::object handshake_to_json(const handshake& h) {
  json::object headers;
  for (auto it = h.headers.begin(); it != h.headers.end();) {
    const auto range = h.headers.equal_range(it->first);
    const std::string& name = it->first;
    if (name == "set-cookie") {
      json::array values;
      for (auto i = range.first; i != range.second; ++i) values.emplace_back(i->second);
      headers[name] = std::move(values);
    } else if (std::next(range.first) == range.second || first_one_wins(name)) {
      headers[name] = range.first->second;
    } else {
      std::string joined;
      const std::string_view separator = name == "cookie" ? "; " : ", ";
      for (auto i = range.first; i != range.second; ++i) {
        if (i != range.first) joined += separator;
        joined += i->second;
      }
      headers[name] = std::move(joined);
    }
    it = range.second;
  }
  json::object query;
  for (const auto& [key, value] : h.query) query[key] = value;  // the last one stays

  json::object o;
  o["headers"] = std::move(headers);
  o["time"] = format_js_date(h.time);
  o["address"] = h.address;
  o["xdomain"] = h.xdomain;
  o["secure"] = h.secure;
  o["issued"] = h.issued;
  o["url"] = h.url;
  o["query"] = std::move(query);
  o["auth"] = h.auth;
  return o;
}

handshake handshake_from_json(const json::object& o) {
  handshake h;
  read_string_map(field(o, "headers"), h.headers);
  read_string_map(field(o, "query"), h.query);
  if (const json::value* v = field(o, "auth"); v && v->is_object()) h.auth = v->get_object();
  if (const json::value* v = field(o, "address"); v && v->is_string()) h.address = std::string(v->get_string());
  if (const json::value* v = field(o, "url"); v && v->is_string()) h.url = std::string(v->get_string());
  if (const json::value* v = field(o, "xdomain"); v && v->is_bool()) h.xdomain = v->get_bool();
  if (const json::value* v = field(o, "secure"); v && v->is_bool()) h.secure = v->get_bool();
  if (const json::value* v = field(o, "issued"); v && (v->is_int64() || v->is_uint64() || v->is_double())) {
    const double ms = v->to_number<double>();
    if (std::isfinite(ms) && std::abs(ms) < 8.64e15) h.issued = static_cast<std::int64_t>(ms);
  }
  std::optional<std::chrono::system_clock::time_point> time;
  if (const json::value* v = field(o, "time"); v && v->is_string()) time = parse_js_date(v->get_string());
  if (time) h.time = *time;
  else if (std::abs(h.issued) <= max_seconds * 1000) h.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(h.issued));
  return h;
}

}  // namespace sio::redis_wire
