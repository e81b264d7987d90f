#include "sio/msgpack/detail/javascript.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

namespace sio::msgpack::detail {

std::string number_to_string(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d < 0 ? "-Infinity" : "Infinity";
  if (d == 0) return "0";

  std::string out;
  if (d < 0) {
    out.push_back('-');
    d = -d;
  }
  // The shortest digits that read back as d, which is what ECMA-262 asks for: "d.ddde±x".
  char sci[32];
  const auto end = std::to_chars(sci, sci + sizeof sci, d, std::chars_format::scientific).ptr;
  const char* e = static_cast<const char*>(std::memchr(sci, 'e', static_cast<std::size_t>(end - sci)));
  std::string digits;
  for (const char* p = sci; p < e; ++p)
    if (*p != '.') digits.push_back(*p);
  int exponent = 0;
  std::from_chars(e[1] == '+' ? e + 2 : e + 1, end, exponent);

  // ECMA-262 Number::toString: value = 0.digits × 10^n, k digits.
  const int k = static_cast<int>(digits.size());
  const int n = exponent + 1;
  if (k <= n && n <= 21) {  // an integer: the digits, then zeros
    out += digits;
    out.append(static_cast<std::size_t>(n - k), '0');
  } else if (0 < n && n <= 21) {  // a decimal point inside the digits
    out.append(digits, 0, static_cast<std::size_t>(n));
    out.push_back('.');
    out.append(digits, static_cast<std::size_t>(n));
  } else if (-6 < n && n <= 0) {  // 0.000ddd
    out += "0.";
    out.append(static_cast<std::size_t>(-n), '0');
    out += digits;
  } else {  // d.ddde±x
    out.push_back(digits[0]);
    if (k > 1) {
      out.push_back('.');
      out.append(digits, 1);
    }
    out.push_back('e');
    out.push_back(n - 1 < 0 ? '-' : '+');
    out += std::to_string(std::abs(n - 1));
  }
  return out;
}

namespace {

// Days since 1970-01-01 to a proleptic Gregorian date (the usual era-based computation: 400-year
// eras of 146097 days, years starting in March so that the leap day comes last).
struct civil_date {
  std::int64_t year;
  unsigned month;  // 1-12
  unsigned day;    // 1-31
};
civil_date civil_from_days(std::int64_t days) {
  days += 719468;  // shift the epoch to 0000-03-01
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned march_month = (5 * day_of_year + 2) / 153;  // 0 = March
  const unsigned day = day_of_year - (153 * march_month + 2) / 5 + 1;
  const unsigned month = march_month < 10 ? march_month + 3 : march_month - 9;
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

}  // namespace

std::optional<std::string> date_to_json(double time_value) {
  // TimeClip: a Date holds whole milliseconds within ±8.64e15, anything else is an Invalid Date,
  // whose toJSON() is null.
  if (!std::isfinite(time_value) || std::fabs(time_value) > 8.64e15) return std::nullopt;
  const auto ms = static_cast<std::int64_t>(std::trunc(time_value));
  constexpr std::int64_t ms_per_day = 86'400'000;
  std::int64_t days = ms / ms_per_day;
  std::int64_t ms_of_day = ms % ms_per_day;
  if (ms_of_day < 0) {
    ms_of_day += ms_per_day;
    --days;
  }
  const civil_date date = civil_from_days(days);

  char buf[40];
  int len;
  const auto hours = static_cast<int>(ms_of_day / 3'600'000);
  const auto minutes = static_cast<int>(ms_of_day / 60'000 % 60);
  const auto seconds = static_cast<int>(ms_of_day / 1000 % 60);
  const auto millis = static_cast<int>(ms_of_day % 1000);
  if (date.year >= 0 && date.year <= 9999) {
    len = std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", static_cast<int>(date.year), date.month,
                        date.day, hours, minutes, seconds, millis);
  } else {  // the expanded years of ECMA-262: a sign and six digits
    len = std::snprintf(buf, sizeof buf, "%c%06lld-%02u-%02uT%02d:%02d:%02d.%03dZ", date.year < 0 ? '-' : '+',
                        static_cast<long long>(date.year < 0 ? -date.year : date.year), date.month, date.day, hours,
                        minutes, seconds, millis);
  }
  return std::string(buf, static_cast<std::size_t>(len));
}

namespace {

// The WHATWG UTF-8 decoder's state between bytes: how many continuation bytes the current
// sequence still needs and the range the next one must fall in (narrower after E0, ED, F0, F4,
// which is what rules out overlong forms, surrogates and code points past U+10FFFF).
struct utf8_state {
  unsigned needed = 0;
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
};

// Starts a sequence at lead byte b: false when b cannot start one.
bool utf8_start(utf8_state& s, unsigned char b) noexcept {
  s.lower = 0x80;
  s.upper = 0xBF;
  if (b >= 0xC2 && b <= 0xDF) {
    s.needed = 1;
  } else if (b >= 0xE0 && b <= 0xEF) {
    if (b == 0xE0) s.lower = 0xA0;
    if (b == 0xED) s.upper = 0x9F;
    s.needed = 2;
  } else if (b >= 0xF0 && b <= 0xF4) {
    if (b == 0xF0) s.lower = 0x90;
    if (b == 0xF4) s.upper = 0x8F;
    s.needed = 3;
  } else {
    s.needed = 0;
    return false;
  }
  return true;
}

constexpr char replacement_character[] = "\xEF\xBF\xBD";

}  // namespace

bool is_valid_utf8(std::string_view bytes) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* const end = p + bytes.size();
  utf8_state s;
  while (p < end) {
    // ASCII eight bytes at a time: most strings on the wire are.
    if (s.needed == 0 && end - p >= 8) {
      std::uint64_t block;
      std::memcpy(&block, p, 8);
      if ((block & 0x8080808080808080u) == 0) {
        p += 8;
        continue;
      }
    }
    const unsigned char b = *p++;
    if (s.needed == 0) {
      if (b >= 0x80 && !utf8_start(s, b)) return false;
    } else {
      if (b < s.lower || b > s.upper) return false;
      s.lower = 0x80;
      s.upper = 0xBF;
      --s.needed;
    }
  }
  return s.needed == 0;
}

void append_utf8_replacing_invalid(std::string& out, std::string_view bytes) {
  utf8_state s;
  std::size_t sequence_start = 0;  // where the sequence being read began
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b = static_cast<unsigned char>(bytes[i]);
    if (s.needed == 0) {
      if (b < 0x80) {
        out.push_back(static_cast<char>(b));
      } else if (utf8_start(s, b)) {
        sequence_start = i;
      } else {
        out += replacement_character;
      }
      ++i;
      continue;
    }
    if (b < s.lower || b > s.upper) {
      // The sequence so far is one ill-formed subpart; b is read again as a new start.
      s.needed = 0;
      out += replacement_character;
      continue;
    }
    s.lower = 0x80;
    s.upper = 0xBF;
    ++i;
    if (--s.needed == 0) out.append(bytes, sequence_start, i - sequence_start);
  }
  if (s.needed != 0) out += replacement_character;  // cut off at the end
}

}  // namespace sio::msgpack::detail
