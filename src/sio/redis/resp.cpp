#include "sio/redis/resp.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "sio/redis/errors.hpp"

namespace sio::redis {
namespace {

constexpr std::size_t npos = std::string::npos;

// A RESP number: an optional '-' and at least one digit, nothing else (no '+', no spaces).
bool parse_int(std::string_view text, std::int64_t& out) {
  if (text.empty() || text[0] == '+') return false;
  const char* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && p == end;
}

bool is_resp3_type(char c) {
  switch (c) {
    case '_': case ',': case '#': case '%': case '~': case '>': case '=': case '(': case '!': case '|':
      return true;
    default:
      return false;
  }
}

void describe_to(std::string& out, const reply& r, std::size_t& budget) {
  auto quoted = [&](std::string_view s) {
    out.push_back('"');
    for (unsigned char c : s) {
      if (budget == 0) {
        out += "...";
        break;
      }
      --budget;
      if (c == '"' || c == '\\') {
        out.push_back('\\');
        out.push_back(static_cast<char>(c));
      } else if (c >= 0x20 && c < 0x7f) {
        out.push_back(static_cast<char>(c));
      } else {
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
      }
    }
    out.push_back('"');
  };
  switch (r.type()) {
    case reply::kind::nil: out += "nil"; break;
    case reply::kind::integer: out += std::to_string(r.integer()); break;
    case reply::kind::status: out += "status "; quoted(r.status()); break;
    case reply::kind::error: out += "error "; quoted(r.error()); break;
    case reply::kind::bulk: quoted(r.bulk()); break;
    case reply::kind::array:
      out.push_back('[');
      for (std::size_t i = 0; i < r.elements().size(); ++i) {
        if (i) out += ", ";
        if (budget == 0) {
          out += "...";
          break;
        }
        describe_to(out, r.elements()[i], budget);
      }
      out.push_back(']');
      break;
  }
}

}  // namespace

std::string_view to_string(reply::kind k) noexcept {
  switch (k) {
    case reply::kind::nil: return "nil";
    case reply::kind::integer: return "integer";
    case reply::kind::status: return "status";
    case reply::kind::error: return "error";
    case reply::kind::bulk: return "bulk string";
    case reply::kind::array: return "array";
  }
  return "?";
}

std::string describe(const reply& r) {
  std::string out;
  std::size_t budget = 200;
  describe_to(out, r, budget);
  return out;
}

reply_parser::reply_parser(resp_limits limits) : limits_(limits) {}

void reply_parser::reset() noexcept {
  buffer_.clear();
  read_ = size_ = 0;
  open_.clear();
  elements_ = 0;
  error_ = {};
}

std::span<char> reply_parser::prepare(std::size_t min) {
  // A large reply is over and nothing waits: give its room back rather than keep it per connection.
  constexpr std::size_t keep = 1024 * 1024;
  if (read_ == size_ && buffer_.size() > keep && min <= keep) {
    std::string().swap(buffer_);
    read_ = size_ = 0;
  }
  // Move the unconsumed bytes to the front when that frees room (always when nothing is left).
  if (read_ > 0 && (read_ == size_ || read_ >= buffer_.size() / 2)) {
    std::memmove(buffer_.data(), buffer_.data() + read_, size_ - read_);
    size_ -= read_;
    read_ = 0;
  }
  if (buffer_.size() - size_ < min) buffer_.resize(std::max(size_ + min, buffer_.size() * 2));
  return {buffer_.data() + size_, buffer_.size() - size_};
}

void reply_parser::commit(std::size_t n) noexcept {
  if (!error_) size_ += std::min(n, buffer_.size() - size_);
}

void reply_parser::feed(std::string_view bytes) {
  if (bytes.empty() || error_) return;
  auto room = prepare(bytes.size());
  std::memcpy(room.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

bool reply_parser::fail(std::error_code ec) {
  error_ = ec;
  open_.clear();
  // Nothing more will be parsed: give the memory back.
  buffer_.clear();
  buffer_.shrink_to_fit();
  read_ = size_ = 0;
  return false;
}

std::size_t reply_parser::line_end(bool& failed) {
  failed = false;
  const std::size_t from = read_ + 1;
  const char* begin = buffer_.data() + from;
  const std::size_t available = size_ - from;
  // Look no further than a line may be long.
  const std::size_t scan = available <= limits_.max_line ? available : limits_.max_line + 1;
  const auto* cr = static_cast<const char*>(std::memchr(begin, '\r', scan));
  if (!cr) {
    if (available > limits_.max_line) {
      failed = true;
      fail(redis::error::line_too_long);
    }
    return npos;
  }
  const std::size_t at = static_cast<std::size_t>(cr - buffer_.data());
  if (at - from > limits_.max_line) {
    failed = true;
    fail(redis::error::line_too_long);
    return npos;
  }
  if (at + 1 >= size_) return npos;  // the LF has not arrived
  if (buffer_[at + 1] != '\n') {
    failed = true;
    fail(redis::error::protocol_error);
    return npos;
  }
  return at;
}

reply_parser::step reply_parser::parse_one(reply& out) {
  if (read_ >= size_) return step::need_more;
  const char type = buffer_[read_];
  if (is_resp3_type(type)) return fail(redis::error::unsupported_resp3), step::failed;
  if (type != '+' && type != '-' && type != ':' && type != '$' && type != '*')
    return fail(redis::error::protocol_error), step::failed;

  bool failed = false;
  const std::size_t cr = line_end(failed);
  if (failed) return step::failed;
  if (cr == npos) return step::need_more;
  const std::string_view line(buffer_.data() + read_ + 1, cr - read_ - 1);
  const std::size_t after_line = cr + 2;

  switch (type) {
    case '+':
      out = reply(status_reply{std::string(line)});
      read_ = after_line;
      return step::value;
    case '-':
      out = reply(error_reply{std::string(line)});
      read_ = after_line;
      return step::value;
    case ':': {
      std::int64_t v = 0;
      if (!parse_int(line, v)) return fail(redis::error::protocol_error), step::failed;
      out = reply(v);
      read_ = after_line;
      return step::value;
    }
    case '$': {
      std::int64_t len = 0;
      if (!parse_int(line, len) || len < -1) return fail(redis::error::protocol_error), step::failed;
      if (len == -1) {
        out = reply();
        read_ = after_line;
        return step::value;
      }
      if (static_cast<std::uint64_t>(len) > limits_.max_bulk) return fail(redis::error::bulk_too_long), step::failed;
      const std::size_t n = static_cast<std::size_t>(len);
      // Wait for the whole string and its CRLF; the header is read again then (a few bytes).
      if (size_ - after_line < n + 2) return step::need_more;
      if (buffer_[after_line + n] != '\r' || buffer_[after_line + n + 1] != '\n')
        return fail(redis::error::protocol_error), step::failed;
      out = reply(std::string(buffer_.data() + after_line, n));
      read_ = after_line + n + 2;
      return step::value;
    }
    default: {  // '*'
      std::int64_t count = 0;
      if (!parse_int(line, count) || count < -1) return fail(redis::error::protocol_error), step::failed;
      read_ = after_line;
      if (count == -1) {
        out = reply();
        return step::value;
      }
      // Every array counts for the depth, an empty one too.
      if (open_.size() >= limits_.max_depth) return fail(redis::error::nesting_too_deep), step::failed;
      if (count == 0) {
        out = reply(reply::array{});
        return step::value;
      }
      if (static_cast<std::uint64_t>(count) > limits_.max_elements - elements_)
        return fail(redis::error::too_many_elements), step::failed;
      elements_ += static_cast<std::size_t>(count);
      open_array a{{}, static_cast<std::size_t>(count)};
      // The count is only announced: reserve a little, so that memory follows the bytes received.
      a.items.reserve(std::min<std::size_t>(a.remaining, 16));
      open_.push_back(std::move(a));
      return step::array_opened;
    }
  }
}

std::optional<reply> reply_parser::next() {
  if (error_) return std::nullopt;
  for (;;) {
    reply value;
    switch (parse_one(value)) {
      case step::need_more:
      case step::failed:
        return std::nullopt;
      case step::array_opened:
        continue;
      case step::value:
        break;
    }
    // Close every array this value completes; a value that completes none is an element of
    // the innermost open array and parsing goes on.
    bool complete = true;
    while (!open_.empty()) {
      auto& top = open_.back();
      top.items.push_back(std::move(value));
      if (--top.remaining > 0) {
        complete = false;
        break;
      }
      value = reply(std::move(top.items));
      open_.pop_back();
    }
    if (complete) {
      elements_ = 0;
      return value;
    }
  }
}

void append_command(std::string& out, std::span<const std::string_view> args) {
  std::size_t need = 16;
  for (auto a : args) need += a.size() + 24;
  out.reserve(out.size() + need);
  char digits[24];
  auto number = [&](char type, std::size_t n) {
    out.push_back(type);
    auto [p, ec] = std::to_chars(digits, digits + sizeof digits, n);
    out.append(digits, p);
    out += "\r\n";
  };
  number('*', args.size());
  for (auto a : args) {
    number('$', a.size());
    out.append(a);
    out += "\r\n";
  }
}

}  // namespace sio::redis
