#include "parley/store/ids.hpp"

#include <charconv>
#include <cstdio>

namespace parley {

namespace {
constexpr std::size_t seq_digits = 19;  // std::numeric_limits<std::int64_t>::digits10 + 1
constexpr std::string_view dm_prefix = "dm:";

void append_escaped(std::string& out, std::string_view s) {
  for (char ch : s) {
    if (ch == '%') out += "%25";
    else if (ch == ':') out += "%3A";
    else out += ch;
  }
}
}  // namespace

std::string format_message_id(std::int64_t seq) {
  char buf[1 + seq_digits + 1];
  std::snprintf(buf, sizeof buf, "m%019lld", static_cast<long long>(seq));
  return buf;
}

std::optional<std::int64_t> parse_message_id(std::string_view id) {
  if (id.size() != 1 + seq_digits || id[0] != 'm') return std::nullopt;
  for (char ch : id.substr(1))
    if (ch < '0' || ch > '9') return std::nullopt;
  std::int64_t seq = 0;
  auto [end, ec] = std::from_chars(id.data() + 1, id.data() + id.size(), seq);
  if (ec != std::errc() || end != id.data() + id.size() || seq <= 0) return std::nullopt;
  return seq;
}

std::string direct_conversation_id(std::string_view user_a, std::string_view user_b) {
  if (user_b < user_a) std::swap(user_a, user_b);
  std::string id(dm_prefix);
  append_escaped(id, user_a);
  id += ':';
  append_escaped(id, user_b);
  return id;
}

bool is_direct_conversation_id(std::string_view id) noexcept { return id.starts_with(dm_prefix); }

}  // namespace parley
