#pragma once
// RESP2, the protocol Redis speaks, without I/O: the reply type, an incremental bounded
// parser for what Redis sends, and the encoder of commands. Pure (no Asio, no sockets), so that
// it is tested and fuzzed alone (fuzz/resp_reply_fuzz.cpp); redis::client drives it.
//
// What Redis sends, one reply after the other, each starting with its type byte:
//   +OK\r\n                      status (a "simple string": no CR or LF inside)
//   -ERR unknown command\r\n     error
//   :42\r\n                      integer (signed 64-bit)
//   $5\r\nhello\r\n              bulk string: a length, then that many bytes (binary-safe)
//   $-1\r\n                      nil (a missing value)
//   *2\r\n:1\r\n$1\r\na\r\n      array of that many replies, nested to any depth; *-1\r\n is nil
// A command goes the other way as an array of bulk strings: *2\r\n$3\r\nGET\r\n$1\r\nk\r\n.
// RESP3's types (_ , # % ~ > = ( ! |) are refused: this client never sends HELLO 3.
//
//   sio::redis::reply_parser parser;
//   parser.feed(bytes);                          // as they arrive, in any pieces
//   while (auto r = parser.next()) use(*r);      // every complete reply, in order
//   if (parser.error()) close_the_connection();  // malformed or over a limit: stuck for good
//
// Threading: a parser is a plain value, used by one thread at a time.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

namespace sio::redis {

struct status_reply {
  std::string text;
  friend bool operator==(const status_reply&, const status_reply&) = default;
};

struct error_reply {
  std::string message;  // e.g. "WRONGTYPE Operation against a key holding the wrong kind of value"
  friend bool operator==(const error_reply&, const error_reply&) = default;
};

// One reply: nil, integer, status, error, bulk string (bytes) or array of replies.
//
//   if (r.is_bulk()) payload = r.bulk();
//   for (const auto& e : r.elements()) ...      // std::bad_variant_access if not an array
class reply {
 public:
  using array = std::vector<reply>;
  enum class kind { nil, integer, status, error, bulk, array };  // the order of the variant
  std::variant<std::monostate, std::int64_t, status_reply, error_reply, std::string, array> value;

  reply() = default;  // nil
  reply(std::int64_t i) : value(i) {}
  reply(status_reply s) : value(std::move(s)) {}
  reply(error_reply e) : value(std::move(e)) {}
  reply(std::string bytes) : value(std::move(bytes)) {}
  reply(array elements) : value(std::move(elements)) {}

  kind type() const noexcept { return static_cast<kind>(value.index()); }
  bool is_nil() const noexcept { return type() == kind::nil; }
  bool is_integer() const noexcept { return type() == kind::integer; }
  bool is_status() const noexcept { return type() == kind::status; }
  bool is_error() const noexcept { return type() == kind::error; }
  bool is_bulk() const noexcept { return type() == kind::bulk; }
  bool is_array() const noexcept { return type() == kind::array; }

  // The value as that type; std::bad_variant_access when it is another.
  std::int64_t integer() const { return std::get<std::int64_t>(value); }
  const std::string& status() const { return std::get<status_reply>(value).text; }
  const std::string& error() const { return std::get<error_reply>(value).message; }
  const std::string& bulk() const { return std::get<std::string>(value); }
  const array& elements() const { return std::get<array>(value); }

  friend bool operator==(const reply&, const reply&) = default;
};

std::string_view to_string(reply::kind k) noexcept;

// A readable one-line form for logs and test failures: bytes that are not printable ASCII are
// escaped (\xNN), long strings and arrays are cut.
std::string describe(const reply& r);

// What one reply may hold. Redis itself sends nothing near them; they stop a broken or hostile
// peer from making the client allocate without bound.
struct resp_limits {
  std::size_t max_line = 64 * 1024;            // a status, error, integer or length line
  std::size_t max_bulk = 512 * 1024 * 1024;    // one bulk string (Redis' proto-max-bulk-len)
  std::size_t max_elements = 16 * 1024 * 1024; // array elements in one reply, all levels
  std::size_t max_depth = 32;                  // arrays inside arrays
};

class reply_parser {
 public:
  explicit reply_parser(resp_limits limits = {});

  // Receiving without a copy: prepare() gives at least `min` writable bytes at the end of the
  // parser's buffer; commit(n) adds the first n of them. Nothing else may run in between.
  std::span<char> prepare(std::size_t min);
  void commit(std::size_t n) noexcept;
  // Or with one: prepare + copy + commit.
  void feed(std::string_view bytes);

  // The next complete reply; nullopt when more bytes are needed, or after an error.
  std::optional<reply> next();
  // Set once what was fed is not RESP2 or is over a limit; the parser then stays stuck (what
  // is fed afterwards is dropped) until reset().
  std::error_code error() const noexcept { return error_; }
  // Bytes received and not yet consumed by a returned reply (the partial one's, if any).
  std::size_t buffered() const noexcept { return size_ - read_; }

  // Forgets everything, for a new connection; keeps the limits.
  void reset() noexcept;

 private:
  struct open_array {
    reply::array items;
    std::size_t remaining;
  };
  enum class step { value, array_opened, need_more, failed };

  step parse_one(reply& out);
  // The line starting after the type byte at read_: its end (the CR), or npos while incomplete.
  std::size_t line_end(bool& failed);
  bool fail(std::error_code ec);

  resp_limits limits_;
  std::string buffer_;
  std::size_t read_ = 0;  // start of the bytes not yet consumed
  std::size_t size_ = 0;  // end of the bytes received (buffer_ may be longer: prepared room)
  std::vector<open_array> open_;
  std::size_t elements_ = 0;  // announced by the arrays of the reply being parsed
  std::error_code error_;
};

// Appends one command to `out` in RESP: an array of bulk strings.
void append_command(std::string& out, std::span<const std::string_view> args);

}  // namespace sio::redis
