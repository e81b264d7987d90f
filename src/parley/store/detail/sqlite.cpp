#include "parley/store/detail/sqlite.hpp"

#include <sqlite3.h>

namespace parley::store_detail {

// ---------------------------------------------------------------------------------------------
// statement

statement::statement(statement&& o) noexcept
    : conn_(o.conn_), stmt_(o.stmt_), in_use_(o.in_use_), owned_(o.owned_) {
  o.stmt_ = nullptr;
  o.in_use_ = nullptr;
  o.owned_ = false;
}

statement::~statement() {
  if (!stmt_) return;
  if (owned_) {
    sqlite3_finalize(stmt_);
    return;
  }
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  if (in_use_) *in_use_ = false;
}

statement& statement::bind(int i, std::string_view v) {
  // SQLITE_TRANSIENT: SQLite copies the bytes, so a temporary argument cannot dangle.
  int rc = sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) conn_->fail(rc, "bind");
  return *this;
}

statement& statement::bind(int i, std::int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) conn_->fail(rc, "bind");
  return *this;
}

statement& statement::bind(int i, const std::optional<std::string>& v) {
  return v ? bind(i, std::string_view(*v)) : bind_null(i);
}

statement& statement::bind_null(int i) {
  int rc = sqlite3_bind_null(stmt_, i);
  if (rc != SQLITE_OK) conn_->fail(rc, "bind");
  return *this;
}

bool statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_->fail(rc, sqlite3_sql(stmt_));
}

void statement::run() {
  while (step()) {
  }
}

void statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::int64_t statement::int64(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string statement::text(int col) const {
  auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (!p) return {};
  return std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::optional<std::string> statement::optional_text(int col) const {
  if (is_null(col)) return std::nullopt;
  return text(col);
}

bool statement::is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }

// ---------------------------------------------------------------------------------------------
// connection

connection::connection(const std::string& path, const open_options& o) {
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
  if (o.create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw sqlite_failure(rc, msg);
  }
  sqlite3_extended_result_codes(db_, 1);
  // SQLITE_BUSY (another process holds the write lock, or a checkpoint is running) is waited
  // out here rather than surfaced to callers.
  sqlite3_busy_timeout(db_, static_cast<int>(o.busy_timeout.count()));
  try {
    exec("PRAGMA foreign_keys = ON");
    if (o.read_only) exec("PRAGMA query_only = ON");
  } catch (...) {
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw;
  }
}

connection::~connection() {
  for (auto& [sql, c] : cache_) sqlite3_finalize(c.stmt);
  // The last connection to close checkpoints the WAL into the database file and removes it.
  if (db_) sqlite3_close_v2(db_);
}

statement connection::prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end() && !it->second.in_use) {
    it->second.in_use = true;
    return statement(*this, it->second.stmt, &it->second.in_use, false);
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                              it == cache_.end() ? SQLITE_PREPARE_PERSISTENT : 0, &s, nullptr);
  if (rc != SQLITE_OK) fail(rc, sql);
  if (it != cache_.end()) return statement(*this, s, nullptr, true);  // nested use
  auto& entry = cache_[sql];
  entry.stmt = s;
  entry.in_use = true;
  return statement(*this, s, &entry.in_use, false);
}

void connection::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    throw sqlite_failure(rc, msg + " (in: " + sql + ")");
  }
}

std::string connection::query_text(std::string_view sql) {
  auto s = prepare(sql);
  return s.step() ? s.text(0) : std::string();
}

std::int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int connection::changes() const { return sqlite3_changes(db_); }
bool connection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

void connection::fail(int rc, std::string_view context) const {
  std::string msg = sqlite3_errmsg(db_);
  msg += " (in: ";
  msg += context;
  msg += ")";
  throw sqlite_failure(rc, msg);
}

}  // namespace parley::store_detail
