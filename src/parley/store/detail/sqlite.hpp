#pragma once
// A thin RAII layer over the SQLite C API for the SQLite store: a connection that owns its
// prepared statements (prepared once, cached by SQL text, reset after each use) and a statement
// handle that binds parameters and reads columns.
//
// Failures throw sqlite_failure. The exception never leaves a store thread: the store catches it
// at the boundary of each operation and turns it into store_error::unavailable (errors cross the
// async boundary as values, as everywhere else).
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>

struct sqlite3;
struct sqlite3_stmt;

namespace parley::store_detail {

struct sqlite_failure : std::runtime_error {
  sqlite_failure(int code, const std::string& what) : std::runtime_error(what), code(code) {}
  int code;  // the SQLite (extended) result code
};

class connection;

// A prepared statement borrowed from a connection's cache; on destruction it is reset and its
// bindings cleared, ready for the next use. Parameters are 1-based, columns 0-based.
class statement {
 public:
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;
  statement(statement&& o) noexcept;
  statement& operator=(statement&&) = delete;
  ~statement();

  statement& bind(int i, std::string_view v);
  statement& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  statement& bind(int i, const char* v) { return bind(i, std::string_view(v)); }
  statement& bind(int i, std::int64_t v);
  statement& bind(int i, int v) { return bind(i, static_cast<std::int64_t>(v)); }
  statement& bind(int i, bool v) { return bind(i, static_cast<std::int64_t>(v ? 1 : 0)); }
  statement& bind(int i, const std::optional<std::string>& v);
  statement& bind_null(int i);

  // Steps once: true when a row is available, false when the statement is done.
  bool step();
  // Steps to completion, for statements that return no rows.
  void run();
  // Ready to bind and run again (the destructor does this too).
  void reset();

  std::int64_t int64(int col) const;
  std::string text(int col) const;
  std::optional<std::string> optional_text(int col) const;
  bool is_null(int col) const;

 private:
  friend class connection;
  statement(connection& c, sqlite3_stmt* s, bool* in_use, bool owned) noexcept
      : conn_(&c), stmt_(s), in_use_(in_use), owned_(owned) {}
  connection* conn_;
  sqlite3_stmt* stmt_;
  bool* in_use_;  // the cache entry's flag; nullptr for an uncached statement
  bool owned_;    // finalized on destruction (a second use of a statement already in use)
};

struct open_options {
  bool create = false;     // create the file when missing
  bool read_only = false;  // reader connections: `PRAGMA query_only`, so a bug cannot write
  std::chrono::milliseconds busy_timeout{5000};
};

// One SQLite connection, used by one thread at a time (opened in multi-thread mode, without
// SQLite's own per-connection mutex: the store gives each connection to a single thread).
class connection {
 public:
  connection(const std::string& path, const open_options& o);  // throws sqlite_failure
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  ~connection();

  // A cached prepared statement. `sql` must have static storage duration (a literal): the
  // cache is keyed by it. A statement still in use (a nested use of the same SQL) gets a fresh,
  // uncached one, so nesting is safe.
  statement prepare(std::string_view sql);
  // Runs a script of constant SQL (schema steps, PRAGMAs with literal values): no parameters,
  // so never any input in it.
  void exec(const char* sql);
  // The single-row, single-column result of a constant query (PRAGMA journal_mode, ...).
  std::string query_text(std::string_view sql);

  std::int64_t last_insert_rowid() const;
  int changes() const;
  bool in_transaction() const;  // false after SQLite rolled a transaction back by itself
  sqlite3* handle() const noexcept { return db_; }

  [[noreturn]] void fail(int rc, std::string_view context) const;

 private:
  struct cached {
    sqlite3_stmt* stmt = nullptr;
    bool in_use = false;
  };
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string_view, cached> cache_;
};

}  // namespace parley::store_detail
