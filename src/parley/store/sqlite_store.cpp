// The embedded store: SQLite in WAL mode.
//
// Threads. One writer thread owns the write connection. Writes are queued to it; it takes every
// write queued (up to max_batch), runs them in ONE transaction and commits once: group commit, so
// the commit's cost (an fsync) is paid once per batch and not once per message. Under a steady
// stream of writes a sync thread takes over the fsync and the callbacks of each batch, so that
// the writer runs the next batch meanwhile (writer_loop explains when). A checkpoint thread
// copies the WAL into the database off the commit path (see after_commit). A small pool of
// reader threads, each with its own read-only connection, serves reads; in WAL mode readers see
// the last committed state and neither wait for the writer nor block it.
//
// Durability. What the service promises is "a message acknowledged is in history after the
// process is killed (SIGKILL) and restarted". In WAL mode a commit has reached the OS (write(2)
// of the WAL frames) before COMMIT returns, with synchronous=NORMAL as with FULL, so a process
// kill cannot lose it (tests/unit/parley_store_test.cpp kills a writer to check both).
// power_loss (the default) also survives a power loss or a kernel crash: no write is
// acknowledged before the WAL frames of its commit are on the disk. SQLite's FULL would fsync
// inside COMMIT, on the writer; instead the writer commits with NORMAL and then the store
// fdatasyncs the WAL file (its own descriptor: fdatasync syncs the file, whatever descriptor
// wrote it, so every frame written before the call) before calling back. NORMAL keeps SQLite's own syncs where consistency needs them (the WAL before a
// checkpoint copies it, the database after, the WAL header when it restarts), and the WAL's
// directory entry is synced once at open. So an acknowledgement means what FULL's means, and a
// failed fdatasync makes the store refuse every write from then on (unavailable) rather than
// acknowledge anything in doubt. sqlite_tuning::pipelined_sync = false is SQLite's FULL.
// Measured (bench/store/store_bench.cpp, ext4 on a virtio disk, 2 shared cores; fsync took
// 0.15-4 ms depending on the neighbours' load; with SQLite's FULL, before the sync thread: the
// group-commit figures are of the same order with it), messages per second, NORMAL -> FULL:
//   1 sender, 1 in flight:  5.5k-25k -> 0.34k-6.5k   (FULL adds one fsync to each ack)
//   16 concurrent senders:  27k-44k  -> 14k-26k      (~10 messages per commit)
//   64 concurrent senders:  37k-56k  -> 23k-45k      (~35 per commit)
//   256 concurrent senders: 52k-58k  -> 39k-58k      (~200 per commit)
// The cost of power_loss is one fsync of latency per acknowledgement (milliseconds at worst,
// not perceptible in a chat) and its throughput grows with load, far above what one chat node
// receives; in exchange an acknowledged message survives a power loss too. So it is the
// default (sqlite_tuning::durability); process_crash is there for slow disks that favour
// latency.
//
// Dialect. Everything SQLite-specific (PRAGMAs, ON CONFLICT DO NOTHING, AUTOINCREMENT,
// WITHOUT ROWID, user_version migrations) stays in this file and in detail/.
#include "parley/store/sqlite_store.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <utility>

#include "parley/store/detail/schema.hpp"
#include "parley/store/detail/sqlite.hpp"
#include "parley/store/file_access.hpp"
#include "parley/store/ids.hpp"
#include "sio/common/random_id.hpp"

namespace parley {

namespace {

using store_detail::connection;
using store_detail::statement;

template <class T>
using result = sio::result<T>;

std::error_code error(store_error e) { return make_error_code(e); }

// A random id for a conversation or file created without one: prefix + 16 url-safe characters
// (96 bits from the OS CSPRNG).
std::string random_id(char prefix) { return prefix + sio::random_id(12); }

// BEGIN ... COMMIT around a read of several statements, so that it sees one committed state
// (a conversation and its members, a page of messages and their attachments).
class read_snapshot {
 public:
  explicit read_snapshot(connection& db) : db_(db) { db_.prepare("BEGIN").run(); }
  read_snapshot(const read_snapshot&) = delete;
  read_snapshot& operator=(const read_snapshot&) = delete;
  ~read_snapshot() {
    if (!db_.in_transaction()) return;
    try {
      db_.prepare("COMMIT").run();
    } catch (const store_detail::sqlite_failure&) {
      try {
        db_.prepare("ROLLBACK").run();
      } catch (const store_detail::sqlite_failure&) {
      }
    }
  }

 private:
  connection& db_;
};

// ---------------------------------------------------------------------------------------------
// Rows.

conversation conversation_from(const statement& s) {  // id, title, private, created_by, created_at
  conversation c;
  c.id = s.text(0);
  c.title = s.text(1);
  c.is_private = s.int64(2) != 0;
  c.created_by = s.text(3);
  c.created_at = s.int64(4);
  return c;
}

void load_members(connection& db, conversation& c) {
  auto s = db.prepare(
      "SELECT user_id FROM conversation_members WHERE conversation_id = ?1 ORDER BY user_id");
  s.bind(1, c.id);
  while (s.step()) c.member_ids.push_back(s.text(0));
}

std::optional<conversation> find_conversation(connection& db, const std::string& id) {
  auto s = db.prepare(
      "SELECT id, title, private, created_by, created_at FROM conversations WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  auto c = conversation_from(s);
  load_members(db, c);
  return c;
}

// Runs a query whose columns are those of conversation_from, and loads each one's members.
std::vector<conversation> conversations_from(connection& db, statement& s) {
  std::vector<conversation> out;
  while (s.step()) out.push_back(conversation_from(s));
  for (auto& c : out) load_members(db, c);
  return out;
}

// id, name, size, content_type, uploader_id, storage_path, created_at
file_record file_from(const statement& s) {
  file_record f;
  f.id = s.text(0);
  f.name = s.text(1);
  f.size = s.int64(2);
  f.content_type = s.text(3);
  f.uploader_id = s.text(4);
  f.storage_path = s.text(5);
  f.created_at = s.int64(6);
  return f;
}

std::optional<file_record> find_file(connection& db, const std::string& id) {
  auto s = db.prepare(
      "SELECT id, name, size, content_type, uploader_id, storage_path, created_at "
      "FROM files WHERE id = ?1");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return file_from(s);
}

std::vector<file_record> attachments_of(connection& db, std::int64_t seq) {
  auto s = db.prepare(
      "SELECT f.id, f.name, f.size, f.content_type, f.uploader_id, f.storage_path, f.created_at "
      "FROM message_attachments a JOIN files f ON f.id = a.file_id "
      "WHERE a.message_seq = ?1 ORDER BY a.position");
  s.bind(1, seq);
  std::vector<file_record> out;
  while (s.step()) out.push_back(file_from(s));
  return out;
}

// seq, conversation_id, sender_id, content, created_at, client_message_id (no attachments yet)
stored_message message_from(const statement& s) {
  stored_message m;
  m.id = format_message_id(s.int64(0));
  m.conversation_id = s.text(1);
  m.sender_id = s.text(2);
  m.content = s.text(3);
  m.created_at = s.int64(4);
  m.client_message_id = s.optional_text(5);
  return m;
}

std::optional<stored_message> find_message(connection& db, std::int64_t seq) {
  auto s = db.prepare(
      "SELECT seq, conversation_id, sender_id, content, created_at, client_message_id "
      "FROM messages WHERE seq = ?1");
  s.bind(1, seq);
  if (!s.step()) return std::nullopt;
  auto m = message_from(s);
  m.attachments = attachments_of(db, seq);
  return m;
}

bool conversation_exists(connection& db, const std::string& id) {
  auto s = db.prepare("SELECT 1 FROM conversations WHERE id = ?1");
  s.bind(1, id);
  return s.step();
}

void insert_members(connection& db, const std::string& conversation_id, time_ms created_at,
                    const std::vector<std::string>& members) {
  auto s = db.prepare(
      "INSERT INTO conversation_members (conversation_id, user_id, created_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT DO NOTHING");
  for (const auto& user : members) {
    s.bind(1, conversation_id).bind(2, user).bind(3, created_at).run();
    s.reset();
  }
}

// The conversations whose messages attach the file, each once, newest first, with their members.
std::vector<conversation> conversations_attaching(connection& db, const std::string& file_id) {
  auto s = db.prepare(
      "SELECT DISTINCT c.id, c.title, c.private, c.created_by, c.created_at, c.rowid "
      "FROM message_attachments a "
      "JOIN messages m ON m.seq = a.message_seq "
      "JOIN conversations c ON c.id = m.conversation_id "
      "WHERE a.file_id = ?1 ORDER BY c.created_at DESC, c.rowid DESC");
  s.bind(1, file_id);
  return conversations_from(db, s);
}

// ---------------------------------------------------------------------------------------------
// The operations. Each runs on a store thread with that thread's connection; a database failure
// throws (and becomes unavailable at the boundary), the store's own errors are returned.

result<conversation> do_create_conversation(connection& db, conversation c) {
  if (c.id.empty()) c.id = random_id('c');
  // The "dm:" ids belong to direct_conversation: as if they all existed already.
  else if (is_direct_conversation_id(c.id)) return error(store_error::conflict);
  if (!c.created_by.empty()) c.member_ids.push_back(c.created_by);  // the creator is a member
  std::sort(c.member_ids.begin(), c.member_ids.end());
  c.member_ids.erase(std::unique(c.member_ids.begin(), c.member_ids.end()), c.member_ids.end());

  auto s = db.prepare(
      "INSERT INTO conversations (id, title, private, created_by, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id) DO NOTHING");
  s.bind(1, c.id).bind(2, c.title).bind(3, c.is_private).bind(4, c.created_by).bind(5, c.created_at);
  s.run();
  if (db.changes() == 0) return error(store_error::conflict);
  insert_members(db, c.id, c.created_at, c.member_ids);
  return c;
}

result<conversation> do_direct_conversation(connection& db, const std::string& a,
                                            const std::string& b, time_ms now) {
  // On the single writer thread: two concurrent calls are two ops in sequence, and the second
  // finds the first's row.
  const std::string id = direct_conversation_id(a, b);
  auto s = db.prepare(
      "INSERT INTO conversations (id, title, private, created_by, created_at) "
      "VALUES (?1, '', 1, ?2, ?3) ON CONFLICT (id) DO NOTHING");
  s.bind(1, id).bind(2, a).bind(3, now).run();
  std::vector<std::string> expected{a, b};
  std::sort(expected.begin(), expected.end());
  expected.erase(std::unique(expected.begin(), expected.end()), expected.end());
  if (db.changes() == 1) insert_members(db, id, now, expected);

  auto c = find_conversation(db, id);
  if (!c) return error(store_error::unavailable);
  // Only a database edited by hand could hold something else under a "dm:" id.
  if (!c->is_private || c->member_ids != expected) return error(store_error::conflict);
  return std::move(*c);
}

result<file_record> do_save_file(connection& db, file_record f) {
  if (f.id.empty()) f.id = random_id('f');
  auto s = db.prepare(
      "INSERT INTO files (id, name, size, content_type, uploader_id, storage_path, created_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING");
  s.bind(1, f.id).bind(2, f.name).bind(3, f.size).bind(4, f.content_type).bind(5, f.uploader_id);
  s.bind(6, f.storage_path).bind(7, f.created_at).run();
  if (db.changes() == 0) return error(store_error::conflict);
  return f;
}

// Conversation ids the writer has seen in the database. Conversations are never deleted, so a
// hit saves the existence query of every message; the writer clears it whenever a transaction
// is lost (a row it saw may have been rolled back with it). Writer thread only.
class known_conversations {
 public:
  bool contains(const std::string& id) const { return ids_.find(id) != ids_.end(); }
  void add(const std::string& id) {
    if (ids_.size() >= 100'000) ids_.clear();  // a bound, not an LRU: a miss costs one query
    ids_.insert(id);
  }
  void clear() { ids_.clear(); }

 private:
  std::unordered_set<std::string> ids_;
};

result<insert_result> do_insert_message(connection& db, const new_message& m,
                                        known_conversations& known) {
  if (m.client_message_id) {
    auto s = db.prepare("SELECT seq FROM messages WHERE sender_id = ?1 AND client_message_id = ?2");
    s.bind(1, m.sender_id).bind(2, *m.client_message_id);
    if (s.step()) {
      auto existing = find_message(db, s.int64(0));
      if (!existing) return error(store_error::unavailable);
      return insert_result{std::move(*existing), false};
    }
  }

  if (known.contains(m.conversation_id)) {
  } else if (conversation_exists(db, m.conversation_id)) {
    known.add(m.conversation_id);
  } else {
    // A public conversation needs no create: its first message creates it (no creator, no
    // members), as a Socket.IO room exists once joined. Direct conversations are made only by
    // direct_conversation.
    if (m.conversation_id.empty() || is_direct_conversation_id(m.conversation_id))
      return error(store_error::not_found);
    auto s = db.prepare(
        "INSERT INTO conversations (id, title, private, created_by, created_at) "
        "VALUES (?1, '', 0, '', ?2)");
    s.bind(1, m.conversation_id).bind(2, m.created_at).run();
  }

  // The files the message brings, then the right to attach each file: inside this write's
  // savepoint, so that a refusal undoes them (and the conversation row) and no later attachment
  // can change the answer between the check and the insert.
  for (const auto& f : m.new_files) {
    auto saved = do_save_file(db, f);
    if (!saved) return saved.error();
  }
  std::vector<file_record> files;
  files.reserve(m.attachment_file_ids.size());
  for (const auto& file_id : m.attachment_file_ids) {
    auto f = find_file(db, file_id);
    // No such file, or not the sender's to share: the same answer (see new_message).
    if (!f || !may_read_file(*f, conversations_attaching(db, file_id), m.sender_id))
      return error(store_error::forbidden);
    files.push_back(std::move(*f));
  }

  auto s = db.prepare(
      "INSERT INTO messages (conversation_id, sender_id, content, created_at, client_message_id) "
      "VALUES (?1, ?2, ?3, ?4, ?5)");
  s.bind(1, m.conversation_id).bind(2, m.sender_id).bind(3, m.content).bind(4, m.created_at);
  s.bind(5, m.client_message_id).run();
  const std::int64_t seq = db.last_insert_rowid();

  if (!files.empty()) {
    auto a = db.prepare(
        "INSERT INTO message_attachments (message_seq, position, file_id) VALUES (?1, ?2, ?3)");
    for (std::size_t i = 0; i < files.size(); ++i) {
      a.bind(1, seq).bind(2, static_cast<std::int64_t>(i)).bind(3, files[i].id).run();
      a.reset();
    }
  }

  insert_result r;
  r.created = true;
  r.message.id = format_message_id(seq);
  r.message.conversation_id = m.conversation_id;
  r.message.sender_id = m.sender_id;
  r.message.content = m.content;
  r.message.created_at = m.created_at;
  r.message.client_message_id = m.client_message_id;
  r.message.attachments = std::move(files);
  return r;
}

result<read_result> do_mark_read(connection& db, const std::string& message_id,
                                 const std::string& user_id, time_ms now) {
  auto seq = parse_message_id(message_id);
  if (!seq) return error(store_error::not_found);
  auto msg = find_message(db, *seq);
  if (!msg) return error(store_error::not_found);

  auto s = db.prepare(
      "INSERT INTO reads (message_seq, user_id, read_at) VALUES (?1, ?2, ?3) "
      "ON CONFLICT DO NOTHING");
  s.bind(1, *seq).bind(2, user_id).bind(3, now).run();
  if (db.changes() == 1) return read_result{true, std::move(*msg), now};

  auto q = db.prepare("SELECT read_at FROM reads WHERE message_seq = ?1 AND user_id = ?2");
  q.bind(1, *seq).bind(2, user_id);
  if (!q.step()) return error(store_error::unavailable);
  return read_result{false, std::move(*msg), q.int64(0)};
}

result<conversation> do_get_conversation(connection& db, const std::string& id) {
  read_snapshot snap(db);
  auto c = find_conversation(db, id);
  if (!c) return error(store_error::not_found);
  return std::move(*c);
}

result<conversation_page> do_list_conversations(connection& db, const std::string& user,
                                                const std::optional<conversation_cursor>& after, int limit) {
  read_snapshot snap(db);
  conversation_page page;
  if (limit <= 0) return page;
  // One range of the index on (user_id, created_at, conversation_id), read backwards; one row
  // more than asked says whether the list goes on. Text compares as bytes (BINARY collation).
  auto s = db.prepare(after ? "SELECT c.id, c.title, c.private, c.created_by, c.created_at "
                              "FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id "
                              "WHERE m.user_id = ?1 AND (m.created_at, m.conversation_id) < (?2, ?3) "
                              "ORDER BY m.created_at DESC, m.conversation_id DESC LIMIT ?4"
                            : "SELECT c.id, c.title, c.private, c.created_by, c.created_at "
                              "FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id "
                              "WHERE m.user_id = ?1 "
                              "ORDER BY m.created_at DESC, m.conversation_id DESC LIMIT ?4");
  s.bind(1, user).bind(4, static_cast<std::int64_t>(limit) + 1);
  if (after) s.bind(2, after->created_at).bind(3, after->id);
  page.conversations = conversations_from(db, s);
  if (page.conversations.size() > static_cast<std::size_t>(limit)) {
    page.conversations.pop_back();
    page.more = true;
  }
  return page;
}

result<std::vector<stored_message>> do_history(connection& db, const std::string& conversation_id,
                                               const std::optional<std::string>& before,
                                               int limit) {
  read_snapshot snap(db);
  std::int64_t upper = std::numeric_limits<std::int64_t>::max();
  if (before) {
    auto seq = parse_message_id(*before);
    if (!seq) return error(store_error::not_found);
    auto s = db.prepare("SELECT 1 FROM messages WHERE seq = ?1 AND conversation_id = ?2");
    s.bind(1, *seq).bind(2, conversation_id);
    if (!s.step()) return error(store_error::not_found);
    upper = *seq;
  }
  std::vector<stored_message> out;
  if (limit <= 0) return out;
  {
    // The newest `limit` before `upper`, newest first by the index on (conversation_id, seq)...
    auto s = db.prepare(
        "SELECT seq, conversation_id, sender_id, content, created_at, client_message_id "
        "FROM messages WHERE conversation_id = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT ?3");
    s.bind(1, conversation_id).bind(2, upper).bind(3, limit);
    while (s.step()) out.push_back(message_from(s));
  }
  std::reverse(out.begin(), out.end());  // ...returned oldest first
  for (auto& m : out) m.attachments = attachments_of(db, *parse_message_id(m.id));
  return out;
}

result<stored_message> do_get_message(connection& db, const std::string& id) {
  auto seq = parse_message_id(id);
  if (!seq) return error(store_error::not_found);
  read_snapshot snap(db);
  auto m = find_message(db, *seq);
  if (!m) return error(store_error::not_found);
  return std::move(*m);
}

result<file_record> do_get_file(connection& db, const std::string& id) {
  auto f = find_file(db, id);
  if (!f) return error(store_error::not_found);
  return std::move(*f);
}

result<std::vector<conversation>> do_file_conversations(connection& db, const std::string& file_id) {
  read_snapshot snap(db);
  if (!find_file(db, file_id)) return error(store_error::not_found);
  return conversations_attaching(db, file_id);
}

// ---------------------------------------------------------------------------------------------
// The store: queues and threads.

class sqlite_store final : public store {
 public:
  sqlite_store(const sqlite_options& opts, const sqlite_tuning& tuning);
  ~sqlite_store() override;

  void create_conversation(conversation c, callback<conversation> done) override {
    write<conversation>([c = std::move(c)](connection& db) { return do_create_conversation(db, c); },
                        std::move(done));
  }
  void get_conversation(std::string id, callback<conversation> done) override {
    read<conversation>([id = std::move(id)](connection& db) { return do_get_conversation(db, id); },
                       std::move(done));
  }
  void list_conversations(std::string user_id, std::optional<conversation_cursor> after, int limit,
                          callback<conversation_page> done) override {
    read<conversation_page>(
        [user = std::move(user_id), after = std::move(after), limit](connection& db) {
          return do_list_conversations(db, user, after, limit);
        },
        std::move(done));
  }
  void direct_conversation(std::string user_a, std::string user_b, time_ms now,
                           callback<conversation> done) override {
    write<conversation>(
        [a = std::move(user_a), b = std::move(user_b), now](connection& db) {
          return do_direct_conversation(db, a, b, now);
        },
        std::move(done));
  }
  void insert_message(new_message m, callback<insert_result> done) override {
    // known_ belongs to the writer thread, where this runs.
    write<insert_result>(
        [this, m = std::move(m)](connection& db) { return do_insert_message(db, m, known_); },
        std::move(done));
  }
  void history(std::string conversation_id, std::optional<std::string> before, int limit,
               callback<std::vector<stored_message>> done) override {
    read<std::vector<stored_message>>(
        [id = std::move(conversation_id), before = std::move(before), limit](connection& db) {
          return do_history(db, id, before, limit);
        },
        std::move(done));
  }
  void get_message(std::string id, callback<stored_message> done) override {
    read<stored_message>([id = std::move(id)](connection& db) { return do_get_message(db, id); },
                         std::move(done));
  }
  void mark_read(std::string message_id, std::string user_id, time_ms now,
                 callback<read_result> done) override {
    write<read_result>(
        [id = std::move(message_id), user = std::move(user_id), now](connection& db) {
          return do_mark_read(db, id, user, now);
        },
        std::move(done));
  }
  void save_file(file_record f, callback<file_record> done) override {
    write<file_record>([f = std::move(f)](connection& db) { return do_save_file(db, f); },
                       std::move(done));
  }
  void get_file(std::string id, callback<file_record> done) override {
    read<file_record>([id = std::move(id)](connection& db) { return do_get_file(db, id); },
                      std::move(done));
  }
  void file_conversations(std::string file_id, callback<std::vector<conversation>> done) override {
    read<std::vector<conversation>>(
        [id = std::move(file_id)](connection& db) { return do_file_conversations(db, id); },
        std::move(done));
  }

  void close() override;

  sqlite_store_stats stats() const {
    sqlite_store_stats s;
    s.transactions = transactions_.load();
    s.writes = writes_.load();
    s.largest_batch = largest_batch_.load();
    s.wal_syncs = wal_syncs_.load();
    s.handed_over = handed_over_.load();
    s.checkpoints = checkpoints_.load();
    s.writer_checkpoints = writer_checkpoints_.load();
    s.migrations_applied = migrations_applied_;
    s.schema_version = store_detail::latest_schema_version();
    return s;
  }

 private:
  // A queued write: run inside a transaction, completed once that transaction is durable.
  struct write_op {
    virtual ~write_op() = default;
    virtual bool run(connection& db) noexcept = 0;  // false: undo this write's changes
    virtual void lose() noexcept = 0;               // its transaction did not commit
    virtual void complete() noexcept = 0;           // calls back with the result
  };
  using op_ptr = std::unique_ptr<write_op>;

  template <class T>
  struct typed_write_op final : write_op {
    typed_write_op(std::function<result<T>(connection&)> w, callback<T> d)
        : work(std::move(w)), done(std::move(d)) {}
    bool run(connection& db) noexcept override {
      try {
        res.emplace(work(db));
      } catch (...) {  // sqlite_failure, bad_alloc: the database is unavailable to this write
        lose();
      }
      return res->has_value();
    }
    void lose() noexcept override {
      res.emplace(boost::system::in_place_error, error(store_error::unavailable));
    }
    void complete() noexcept override {
      if (!res) lose();
      invoke(done, std::move(*res));
    }
    std::function<result<T>(connection&)> work;
    callback<T> done;
    std::optional<result<T>> res;
  };

  struct read_task {
    std::function<void(connection*)> run;  // nullptr: no connection, answer unavailable
    bool uses_db = false;
  };

  // A callback that throws would kill a store thread and every callback after it: the store
  // swallows it (the service's callbacks do not throw; this is the last line).
  template <class T>
  static void invoke(callback<T>& done, result<T>&& r) noexcept {
    try {
      if (done) done(std::move(r));
    } catch (...) {
    }
  }

  template <class T, class F>
  void write(F work, callback<T> done) {
    auto op = std::make_unique<typed_write_op<T>>(std::move(work), std::move(done));
    bool wake = false;
    {
      std::lock_guard lk(wmu_);
      if (!wclosing_) {
        // The writer takes every write queued once it runs; woken only when it may commit
        // (otherwise whoever ends the wait wakes it).
        wake = wq_.empty() && writer_waiting_ && may_commit();
        wq_.push_back(std::move(op));
        op = nullptr;
      }
    }
    if (!op) {
      if (wake) wcv_.notify_one();
      return;
    }
    fail_later(std::move(op->done));
  }

  template <class T, class F>
  void read(F work, callback<T> done) {
    read_task t;
    t.uses_db = true;
    t.run = [work = std::move(work), done = std::move(done)](connection* db) mutable {
      if (!db) return invoke(done, result<T>(boost::system::in_place_error, error(store_error::unavailable)));
      std::optional<result<T>> r;
      try {
        r.emplace(work(*db));
      } catch (...) {  // sqlite_failure, bad_alloc
        r.emplace(boost::system::in_place_error, error(store_error::unavailable));
      }
      invoke(done, std::move(*r));
    };
    {
      std::lock_guard lk(rmu_);
      if (rclosing_) {
        t.uses_db = false;  // closed: the task runs without a connection, answering unavailable
      } else {
        ++rq_db_;
      }
      rq_.push_back(std::move(t));
    }
    rcv_.notify_one();
  }

  // Calls `done` with unavailable on a reader thread (never on the caller's).
  template <class T>
  void fail_later(callback<T> done) {
    read_task t;
    t.run = [done = std::move(done)](connection*) mutable {
      invoke(done, result<T>(boost::system::in_place_error, error(store_error::unavailable)));
    };
    {
      std::lock_guard lk(rmu_);
      rq_.push_back(std::move(t));
    }
    rcv_.notify_one();
  }

  // Writer thread.
  void writer_loop();
  void run_batch(std::vector<op_ptr>& batch);
  void finish(std::vector<op_ptr>& batch);
  void after_commit();
  // The writer may commit (under wmu_): no fsync running, no committed batch waiting for one.
  bool may_commit() const { return !syncing_ && committed_.empty(); }
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int frames) noexcept;
  // Sync thread (and the writer, see finish).
  void sync_loop();
  void sync_wal(std::vector<op_ptr>& batch);
  // Checkpoint thread.
  void checkpoint_loop(std::unique_ptr<connection> db);
  // Reader threads.
  void reader_loop(std::unique_ptr<connection> db);
  bool on_store_thread() const;

  const std::size_t max_batch_;
  // power_loss with pipelined_sync: the store fdatasyncs the WAL after COMMIT (see finish).
  const bool pipelined_;
  const std::size_t checkpoint_frames_;
  const std::size_t wal_restart_frames_;
  int migrations_applied_ = 0;

  // The writer. wconn_ and the fields below it belong to the writer thread once it runs.
  std::unique_ptr<connection> wconn_;
  known_conversations known_;
  std::size_t wal_frames_ = 0;        // frames in the WAL after the last commit (the WAL hook)
  std::size_t checkpoint_mark_ = 0;   // wal_frames_ when the last checkpoint was asked for
  std::size_t restart_mark_ = 0;      // the writer finishes a checkpoint past this many frames

  // Writes: queued (wq_) -> run and committed by the writer -> fdatasync'ed and called back by
  // the writer or, handed over (committed_), by the sync thread. All under wmu_.
  std::mutex wmu_;
  std::condition_variable wcv_;  // the writer waits: writes queued and may_commit(), closing
  std::condition_variable scv_;  // the sync thread waits: a committed batch, the writer done
  std::deque<op_ptr> wq_;
  std::vector<op_ptr> committed_;
  bool writer_waiting_ = false;
  bool sync_idle_ = true;    // the sync thread waits for a batch
  bool syncing_ = false;     // the sync thread runs an fdatasync
  bool busy_ = false;        // writes arrive faster than an fsync: the sync thread takes part
  bool wclosing_ = false;    // no more writes are queued; the writer drains and closes
  bool writer_done_ = false; // the writer has committed and handed over its last write
  std::thread writer_;
  std::thread syncer_;
  int wal_fd_ = -1;          // the WAL file, fdatasync'ed by the sync thread (pipelined_sync)
  std::atomic<bool> broken_{false};  // an fdatasync failed: nothing is acknowledged any more

  // The checkpoint thread.
  std::mutex cmu_;
  std::condition_variable ccv_;
  bool checkpoint_wanted_ = false;
  bool checkpoint_stop_ = false;
  std::atomic<bool> checkpointing_{false};
  std::thread checkpointer_;

  // The readers. After close they stay up (without connections) to answer unavailable.
  std::mutex rmu_;
  std::condition_variable rcv_;
  std::condition_variable rclosed_cv_;
  std::deque<read_task> rq_;
  std::size_t rq_db_ = 0;      // queued tasks that need a connection
  bool rclosing_ = false;      // set once writes are closed: readers close too
  bool stopping_ = false;      // the destructor: readers exit once the queue is empty
  std::size_t readers_open_ = 0;
  std::vector<std::thread> readers_;

  std::vector<std::thread::id> thread_ids_;
  std::mutex close_mu_;

  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
  std::atomic<std::uint64_t> wal_syncs_{0};
  std::atomic<std::uint64_t> handed_over_{0};
  std::atomic<std::uint64_t> checkpoints_{0};
  std::atomic<std::uint64_t> writer_checkpoints_{0};
};

// Makes the directory entry of `file` durable (a file just created is not, until its directory
// is synced). Throws on failure.
void sync_directory_of(const std::string& file) {
  auto slash = file.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : file.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open directory " + dir + ": " + std::strerror(errno));
  const int rc = ::fsync(fd);
  const int e = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error("cannot sync directory " + dir + ": " + std::strerror(e));
}

sqlite_store::sqlite_store(const sqlite_options& opts, const sqlite_tuning& tuning)
    : max_batch_(std::max<std::size_t>(opts.max_batch, 1)),
      pipelined_(tuning.durability == sqlite_durability::power_loss && tuning.pipelined_sync),
      checkpoint_frames_(std::max<std::size_t>(tuning.checkpoint_frames, 1)),
      wal_restart_frames_(std::max(tuning.wal_restart_frames, checkpoint_frames_)),
      restart_mark_(wal_restart_frames_) {
  const bool power_loss = tuning.durability == sqlite_durability::power_loss;
  std::vector<std::unique_ptr<connection>> reader_conns;
  std::unique_ptr<connection> ckpt_conn;
  try {
    store_detail::open_options wo;
    wo.create = true;
    wo.busy_timeout = opts.busy_timeout;
    wconn_ = std::make_unique<connection>(opts.path, wo);
    // WAL is a property of the file (it stays set); the readers rely on it to run beside the
    // writer.
    const std::string mode = wconn_->query_text("PRAGMA journal_mode = WAL");
    if (mode != "wal") throw std::runtime_error("cannot use WAL mode (journal_mode is " + mode + ")");
    // FULL only when SQLite itself is to fsync at each commit; otherwise NORMAL (and, for
    // power_loss, the sync thread's fdatasync before any acknowledgement).
    wconn_->exec(power_loss && !pipelined_ ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL");
    // The WAL file keeps its size between restarts (overwriting is cheaper to sync than
    // appending) but is truncated when a burst made it much larger than usual.
    const auto page_size = std::stoull(wconn_->query_text("PRAGMA page_size"));
    char limit[64];
    std::snprintf(limit, sizeof limit, "PRAGMA journal_size_limit = %llu",
                  static_cast<unsigned long long>(wal_restart_frames_ * 2 * (page_size + 24)));
    wconn_->exec(limit);
    wconn_->exec("PRAGMA cache_size = -16000");  // KiB: the hot index pages stay in memory
    migrations_applied_ = store_detail::migrate(*wconn_);
    // Replaces the automatic checkpoint (it ran inside COMMIT, on the writer thread): after each
    // commit the hook only records the WAL's size; after_commit() decides.
    sqlite3_wal_hook(wconn_->handle(), &sqlite_store::on_wal_commit, this);

    if (pipelined_) {
      // The WAL exists once a connection in WAL mode has read (migrate did). fdatasync through
      // another descriptor syncs the same file: it covers every frame written before the call.
      const char* wal = sqlite3_filename_wal(sqlite3_db_filename(wconn_->handle(), "main"));
      if (!wal || !*wal) throw std::runtime_error("no WAL file name");
      wal_fd_ = ::open(wal, O_RDWR | O_CLOEXEC);
      if (wal_fd_ < 0)
        throw std::runtime_error(std::string("cannot open the WAL file: ") + std::strerror(errno));
      // SQLite (synchronous=NORMAL) does not sync the directory of a WAL it created.
      sync_directory_of(wal);
    }

    store_detail::open_options co;
    co.busy_timeout = opts.busy_timeout;
    ckpt_conn = std::make_unique<connection>(opts.path, co);
    // A checkpoint syncs the WAL before copying it into the database and the database after.
    ckpt_conn->exec("PRAGMA synchronous = NORMAL");

    store_detail::open_options ro;
    ro.read_only = true;
    ro.busy_timeout = opts.busy_timeout;
    for (std::size_t i = 0; i < std::max<std::size_t>(tuning.read_connections, 1); ++i)
      reader_conns.push_back(std::make_unique<connection>(opts.path, ro));
  } catch (const std::exception& e) {
    if (wal_fd_ >= 0) ::close(wal_fd_);
    throw std::runtime_error("cannot open the SQLite database '" + opts.path + "': " + e.what());
  }

  readers_open_ = reader_conns.size();
  try {
    checkpointer_ =
        std::thread([this, c = std::move(ckpt_conn)]() mutable { checkpoint_loop(std::move(c)); });
    thread_ids_.push_back(checkpointer_.get_id());
    syncer_ = std::thread([this] { sync_loop(); });
    thread_ids_.push_back(syncer_.get_id());
    writer_ = std::thread([this] { writer_loop(); });
    thread_ids_.push_back(writer_.get_id());
    for (auto& c : reader_conns) {
      readers_.emplace_back([this, c = std::move(c)]() mutable { reader_loop(std::move(c)); });
      thread_ids_.push_back(readers_.back().get_id());
    }
  } catch (...) {
    // Not every thread started: stop those that did (the unstarted readers' connections close
    // with reader_conns). The writer, once it stops, stops the checkpoint and sync threads.
    {
      std::lock_guard lk(wmu_);
      wclosing_ = true;
    }
    wcv_.notify_all();
    if (writer_.joinable()) {
      writer_.join();
    } else {
      {
        std::lock_guard lk(cmu_);
        checkpoint_stop_ = true;
      }
      ccv_.notify_all();
      if (checkpointer_.joinable()) checkpointer_.join();
      {
        std::lock_guard lk(wmu_);
        writer_done_ = true;
      }
      scv_.notify_all();
    }
    if (syncer_.joinable()) syncer_.join();
    {
      std::lock_guard lk(rmu_);
      rclosing_ = stopping_ = true;
    }
    rcv_.notify_all();
    for (auto& t : readers_) t.join();
    if (wal_fd_ >= 0) ::close(wal_fd_);
    throw;
  }
}

sqlite_store::~sqlite_store() {
  // Destroying the store from one of its own callbacks would join a thread from itself.
  close();
  {
    std::lock_guard lk(rmu_);
    stopping_ = true;
  }
  rcv_.notify_all();
  for (auto& t : readers_)
    if (t.joinable()) t.join();
}

bool sqlite_store::on_store_thread() const {
  return std::find(thread_ids_.begin(), thread_ids_.end(), std::this_thread::get_id()) !=
         thread_ids_.end();
}

void sqlite_store::close() {
  {
    std::lock_guard lk(wmu_);
    wclosing_ = true;  // writes from now on fail; those queued are drained and committed
  }
  wcv_.notify_all();
  // From a callback, the store cannot wait for its own threads: they finish closing by
  // themselves (the writer drains, closes, the sync thread acknowledges the rest, then tells the
  // readers to close).
  if (on_store_thread()) return;
  std::lock_guard close_lk(close_mu_);
  if (writer_.joinable()) writer_.join();
  if (syncer_.joinable()) syncer_.join();
  std::unique_lock lk(rmu_);
  rclosed_cv_.wait(lk, [&] { return readers_open_ == 0; });
}

// Group commit. The writer takes every write queued (up to max_batch), runs them in ONE
// transaction, each inside its own SAVEPOINT (so a write that fails, e.g. an attachment that does
// not exist, undoes only itself), and commits once. Then the batch must become durable (the
// fdatasync of pipelined sync) and be called back, in commit order, by one of two threads:
// - the writer itself, when the sync thread is idle and writes do not arrive faster than an
//   fsync: a quiet store costs one thread wake-up per batch, as a single writer would;
// - the sync thread, once writes did queue up during the writer's last fsync ("busy"): the
//   writer hands the batch over and, as soon as that fsync returns, runs the writes that queued
//   meanwhile and commits them while the sync thread calls the previous batch back. The
//   sync thread's next fsync starts right after, so the cycle is the fsync plus the longer of
//   calling back and running the next batch, instead of their sum.
// The writer commits only when no fsync is running and no committed batch waits for one: a
// commit made then would only wait for the next fsync, and the writes of a whole fsync cycle
// then share one commit and one fsync. busy ends when an fsync finds no write waiting.
void sqlite_store::writer_loop() {
  std::vector<op_ptr> batch;
  batch.reserve(std::min<std::size_t>(max_batch_, 4096));
  for (;;) {
    {
      std::unique_lock lk(wmu_);
      writer_waiting_ = true;
      wcv_.wait(lk, [&] { return (!wq_.empty() && may_commit()) || (wclosing_ && wq_.empty()); });
      writer_waiting_ = false;
      if (wq_.empty()) break;  // closing, and everything queued is done
      const std::size_t n = std::min(wq_.size(), max_batch_);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(wq_.front()));
        wq_.pop_front();
      }
    }
    run_batch(batch);
    writes_ += batch.size();
    std::uint64_t largest = largest_batch_.load();
    while (batch.size() > largest && !largest_batch_.compare_exchange_weak(largest, batch.size())) {
    }
    after_commit();
    finish(batch);
  }

  {
    std::lock_guard lk(cmu_);
    checkpoint_stop_ = true;
  }
  ccv_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  wconn_.reset();
  {
    std::lock_guard lk(wmu_);
    writer_done_ = true;
  }
  scv_.notify_all();
}

// Runs the batch in one transaction and commits it; the writes of a transaction that is lost are
// marked so (lose) and the rest go in a new one.
void sqlite_store::run_batch(std::vector<op_ptr>& batch) {
  connection& db = *wconn_;
  std::size_t first = 0;  // the first write of the current transaction
  auto lose = [&](std::size_t from, std::size_t to) {
    for (std::size_t j = from; j < to; ++j) batch[j]->lose();
    if (from < to) known_.clear();  // a conversation it saw may have been rolled back
  };
  auto rollback = [&] {
    if (!db.in_transaction()) return;
    try {
      db.prepare("ROLLBACK").run();
    } catch (const std::exception&) {
    }
  };
  auto begin = [&]() -> bool {
    try {
      if (broken_.load()) return false;
      // IMMEDIATE: take the write lock now (waiting out another process up to busy_timeout)
      // rather than fail halfway through the batch.
      db.prepare("BEGIN IMMEDIATE").run();
      return true;
    } catch (const std::exception&) {
      rollback();
      return false;
    }
  };

  if (!begin()) return lose(first, batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    bool transaction_ok = true;
    try {
      db.prepare("SAVEPOINT w").run();
      if (batch[i]->run(db)) {
        db.prepare("RELEASE w").run();
      } else {
        db.prepare("ROLLBACK TO w").run();  // this write leaves nothing behind
        db.prepare("RELEASE w").run();
      }
    } catch (const std::exception&) {
      batch[i]->lose();
      transaction_ok = false;  // a savepoint command failed: the transaction's state is unknown
    }
    if (!transaction_ok || !db.in_transaction()) {
      // The transaction is gone (SQLite rolls back by itself on I/O errors or a full disk):
      // the writes run in it so far are lost. The rest go in a new one.
      rollback();
      lose(first, i + 1);
      first = i + 1;
      if (first < batch.size() && !begin()) return lose(first, batch.size());
    }
  }
  if (!db.in_transaction()) return;  // the last write's transaction was lost (and reported)
  try {
    db.prepare("COMMIT").run();
    ++transactions_;
  } catch (const std::exception&) {
    rollback();
    lose(first, batch.size());
  }
}

// Makes the committed batch durable and calls it back, here or on the sync thread (see
// writer_loop).
void sqlite_store::finish(std::vector<op_ptr>& batch) {
  bool here;
  {
    std::lock_guard lk(wmu_);
    // Nothing committed earlier is still waiting to be called back (order), and the sync
    // thread is not needed.
    here = sync_idle_ && committed_.empty() && (pipelined_ ? !busy_ : wq_.empty());
    if (!here) committed_.swap(batch);  // committed_ was empty: may_commit()
  }
  if (!here) {
    ++handed_over_;
    scv_.notify_one();
    return;
  }
  if (pipelined_) {
    sync_wal(batch);
    std::lock_guard lk(wmu_);
    if (!wq_.empty()) busy_ = true;  // writes queued during the fsync: overlap from now on
  }
  for (auto& op : batch) op->complete();
  batch.clear();
}

// fdatasync of the WAL file: it covers every frame written before the call, so every commit made
// so far. Before any of them is acknowledged.
void sqlite_store::sync_wal(std::vector<op_ptr>& batch) {
  if (!broken_.load()) {
    int rc;
    do rc = ::fdatasync(wal_fd_);
    while (rc != 0 && errno == EINTR);
    if (rc == 0) {
      ++wal_syncs_;
    } else {
      // What the kernel could not write is in doubt, and after a failed fsync a later one may
      // succeed without having written it: acknowledge nothing from now on.
      broken_ = true;
    }
  }
  if (broken_.load()) {
    for (auto& op : batch) op->lose();
  }
}

int sqlite_store::on_wal_commit(void* self, sqlite3*, const char*, int frames) noexcept {
  static_cast<sqlite_store*>(self)->wal_frames_ = frames > 0 ? static_cast<std::size_t>(frames) : 0;
  return SQLITE_OK;
}

// Checkpoints, out of the commit path. Every checkpoint_frames new frames the checkpoint thread
// copies the WAL into the database (PASSIVE: concurrently with the writer, which keeps
// committing). The WAL restarts from its beginning only when a write transaction begins with
// the whole WAL copied; under sustained writes that never happens by itself, so past
// wal_restart_frames the writer finishes the checkpoint itself, now, between two transactions:
// the checkpoint thread has copied all but the last frames, so this is short (it syncs the
// database once) and it happens once per wal_restart_frames.
void sqlite_store::after_commit() {
  if (wal_frames_ < checkpoint_mark_) {  // the WAL restarted
    checkpoint_mark_ = 0;
    restart_mark_ = wal_restart_frames_;
  }
  if (wal_frames_ >= checkpoint_mark_ + checkpoint_frames_) {
    checkpoint_mark_ = wal_frames_;
    {
      std::lock_guard lk(cmu_);
      checkpoint_wanted_ = true;
    }
    ccv_.notify_one();
  }
  if (wal_frames_ >= restart_mark_ && !checkpointing_.load()) {
    // Once per checkpoint_frames at most, should it not complete (a reader still on the WAL).
    restart_mark_ = wal_frames_ + checkpoint_frames_;
    int log = 0, copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(wconn_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    if (rc == SQLITE_OK) ++writer_checkpoints_;
  }
}

void sqlite_store::checkpoint_loop(std::unique_ptr<connection> db) {
  for (;;) {
    {
      std::unique_lock lk(cmu_);
      ccv_.wait(lk, [&] { return checkpoint_wanted_ || checkpoint_stop_; });
      if (checkpoint_stop_) break;
      checkpoint_wanted_ = false;
    }
    checkpointing_ = true;
    int log = 0, copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
    checkpointing_ = false;
    if (rc == SQLITE_OK) ++checkpoints_;
  }
  db.reset();
}

// The sync thread: makes the batches the writer hands over durable (pipelined sync) and calls them
// back, in commit order.
void sqlite_store::sync_loop() {
  std::vector<op_ptr> batch;
  for (;;) {
    bool wake_writer = false;
    {
      std::unique_lock lk(wmu_);
      sync_idle_ = true;
      scv_.wait(lk, [&] { return !committed_.empty() || writer_done_; });
      if (committed_.empty()) break;  // the writer is done, and so is everything it handed over
      batch.swap(committed_);
      sync_idle_ = false;
      syncing_ = pipelined_;
      // Without an fsync here the writer may commit again at once (may_commit()).
      wake_writer = !pipelined_ && writer_waiting_ && !wq_.empty();
    }
    if (pipelined_) {
      sync_wal(batch);
      std::lock_guard lk(wmu_);
      syncing_ = false;
      // The writes that queued during the fsync commit now, while this thread calls back.
      if (wq_.empty()) busy_ = false;
      wake_writer = writer_waiting_ && !wq_.empty();
    }
    if (wake_writer) wcv_.notify_one();
    for (auto& op : batch) op->complete();
    batch.clear();
  }
  if (wal_fd_ >= 0) {
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  {
    std::lock_guard lk(rmu_);
    rclosing_ = true;
  }
  rcv_.notify_all();
}

void sqlite_store::reader_loop(std::unique_ptr<connection> db) {
  for (;;) {
    read_task t;
    {
      std::unique_lock lk(rmu_);
      rcv_.wait(lk, [&] { return !rq_.empty() || stopping_ || (db && rclosing_ && rq_db_ == 0); });
      if (db && rclosing_ && rq_db_ == 0) {
        // Closing, and no queued read needs a connection any more.
        lk.unlock();
        db.reset();
        lk.lock();
        --readers_open_;
        rclosed_cv_.notify_all();
        continue;
      }
      if (rq_.empty()) break;  // stopping
      t = std::move(rq_.front());
      rq_.pop_front();
      if (t.uses_db) --rq_db_;
    }
    t.run(t.uses_db ? db.get() : nullptr);
  }
}

}  // namespace

std::unique_ptr<store> make_sqlite_store(const sqlite_options& opts, const sqlite_tuning& tuning) {
  return std::make_unique<sqlite_store>(opts, tuning);
}

std::unique_ptr<store> make_sqlite_store(const sqlite_options& opts) {
  return make_sqlite_store(opts, sqlite_tuning{});
}

std::optional<sqlite_store_stats> sqlite_stats(const store& s) {
  if (auto* p = dynamic_cast<const sqlite_store*>(&s)) return p->stats();
  return std::nullopt;
}

}  // namespace parley
