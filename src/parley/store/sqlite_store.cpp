// The embedded store: SQLite in WAL mode.
//
// Threads. One writer thread owns the write connection. Writes are queued to it; it takes every
// write queued (up to max_batch), runs them in ONE transaction, each inside its own SAVEPOINT
// (so a write that fails, e.g. an attachment that does not exist, undoes only itself), commits
// once, and only then runs their callbacks: group commit, so the commit's cost (an fsync with
// synchronous=FULL) is paid once per batch and not once per message. A small pool of reader
// threads, each with its own read-only connection, serves reads; in WAL mode readers see the last
// committed state and neither wait for the writer nor block it.
//
// Durability. What the service promises is "a message acknowledged is in history after the
// process is killed (SIGKILL) and restarted". In WAL mode a commit has reached the OS (write(2)
// of the WAL frames) before COMMIT returns, with synchronous=NORMAL as with FULL, so a process
// kill cannot lose it (tests/unit/parley_store_test.cpp kills a writer to check both); NORMAL
// only defers the fsync to checkpoints, which matters for a power loss or a kernel crash.
// FULL fsyncs the WAL at every commit, and group commit makes that one fsync per batch.
// Measured (bench/store/store_bench.cpp, ext4 on a virtio disk, 2 shared cores; fsync took
// 0.15-4 ms depending on the neighbours' load), messages per second, NORMAL -> FULL:
//   1 sender, 1 in flight:  5.5k-25k -> 0.34k-6.5k   (FULL adds one fsync to each ack)
//   16 concurrent senders:  27k-44k  -> 14k-26k      (~10 messages per commit)
//   64 concurrent senders:  37k-56k  -> 23k-45k      (~35 per commit)
//   256 concurrent senders: 52k-58k  -> 39k-58k      (~200 per commit)
// The cost of FULL is one fsync of latency per acknowledgement (milliseconds at worst, not
// perceptible in a chat) and its throughput grows with load, far above what one chat node
// receives; in exchange an acknowledged message survives a power loss too. So FULL is the
// default (sqlite_tuning::durability); NORMAL is there for slow disks that favour latency.
//
// Dialect. Everything SQLite-specific (PRAGMAs, ON CONFLICT DO NOTHING, AUTOINCREMENT,
// WITHOUT ROWID, user_version migrations) stays in this file and in detail/.
#include "parley/store/sqlite_store.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <stdexcept>
#include <thread>
#include <utility>

#include "parley/store/detail/schema.hpp"
#include "parley/store/detail/sqlite.hpp"
#include "parley/store/ids.hpp"

namespace parley {

namespace {

using store_detail::connection;
using store_detail::statement;

template <class T>
using result = sio::result<T>;

std::error_code error(store_error e) { return make_error_code(e); }

// A random id for a conversation or file created without one: prefix + 24 hex digits (96 bits).
std::string random_id(char prefix) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(1, prefix);
  for (int word = 0; word < 2; ++word) {
    std::uint64_t bits = rng();
    for (int i = 0; i < (word == 0 ? 16 : 8); ++i, bits >>= 4) id += hex[bits & 0xf];
  }
  return id;
}

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

void insert_members(connection& db, const std::string& conversation_id,
                    const std::vector<std::string>& members) {
  auto s = db.prepare(
      "INSERT INTO conversation_members (conversation_id, user_id) VALUES (?1, ?2) "
      "ON CONFLICT DO NOTHING");
  for (const auto& user : members) {
    s.bind(1, conversation_id).bind(2, user).run();
    s.reset();
  }
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
  insert_members(db, c.id, c.member_ids);
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
  if (db.changes() == 1) insert_members(db, id, expected);

  auto c = find_conversation(db, id);
  if (!c) return error(store_error::unavailable);
  // Only a database edited by hand could hold something else under a "dm:" id.
  if (!c->is_private || c->member_ids != expected) return error(store_error::conflict);
  return std::move(*c);
}

result<insert_result> do_insert_message(connection& db, const new_message& m) {
  if (m.client_message_id) {
    auto s = db.prepare("SELECT seq FROM messages WHERE sender_id = ?1 AND client_message_id = ?2");
    s.bind(1, m.sender_id).bind(2, *m.client_message_id);
    if (s.step()) {
      auto existing = find_message(db, s.int64(0));
      if (!existing) return error(store_error::unavailable);
      return insert_result{std::move(*existing), false};
    }
  }

  if (!conversation_exists(db, m.conversation_id)) {
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

  std::vector<file_record> files;
  files.reserve(m.attachment_file_ids.size());
  for (const auto& file_id : m.attachment_file_ids) {
    auto f = find_file(db, file_id);
    if (!f) return error(store_error::not_found);  // the savepoint undoes the conversation row
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

result<conversation> do_get_conversation(connection& db, const std::string& id) {
  read_snapshot snap(db);
  auto c = find_conversation(db, id);
  if (!c) return error(store_error::not_found);
  return std::move(*c);
}

result<std::vector<conversation>> do_list_conversations(connection& db, const std::string& user) {
  read_snapshot snap(db);
  auto s = db.prepare(
      "SELECT c.id, c.title, c.private, c.created_by, c.created_at "
      "FROM conversation_members m JOIN conversations c ON c.id = m.conversation_id "
      "WHERE m.user_id = ?1 ORDER BY c.created_at DESC, c.rowid DESC");
  s.bind(1, user);
  return conversations_from(db, s);
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
  void list_conversations(std::string user_id, callback<std::vector<conversation>> done) override {
    read<std::vector<conversation>>(
        [user = std::move(user_id)](connection& db) { return do_list_conversations(db, user); },
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
    write<insert_result>([m = std::move(m)](connection& db) { return do_insert_message(db, m); },
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
    s.migrations_applied = migrations_applied_;
    s.schema_version = store_detail::latest_schema_version();
    return s;
  }

 private:
  // A queued write: run inside the batch transaction, completed after the commit.
  struct write_op {
    virtual ~write_op() = default;
    virtual bool run(connection& db) noexcept = 0;  // false: undo this write's changes
    virtual void lose() noexcept = 0;               // its transaction did not commit
    virtual void complete() noexcept = 0;           // calls back with the result
  };

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
    {
      std::lock_guard lk(wmu_);
      if (!wclosing_) {
        wq_.push_back(std::move(op));
        op = nullptr;
      }
    }
    if (!op) {
      wcv_.notify_one();
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

  void writer_loop();
  void run_batch(std::vector<std::unique_ptr<write_op>>& batch);
  void reader_loop(std::unique_ptr<connection> db);
  bool on_store_thread() const;

  const std::size_t max_batch_;
  int migrations_applied_ = 0;

  // The writer. wconn_ belongs to the writer thread once it runs.
  std::unique_ptr<connection> wconn_;
  std::mutex wmu_;
  std::condition_variable wcv_;
  std::deque<std::unique_ptr<write_op>> wq_;
  bool wclosing_ = false;  // no more writes are queued; the writer drains and closes
  std::thread writer_;

  // The readers. After close they stay up (without connections) to answer unavailable.
  std::mutex rmu_;
  std::condition_variable rcv_;
  std::condition_variable rclosed_cv_;
  std::deque<read_task> rq_;
  std::size_t rq_db_ = 0;      // queued tasks that need a connection
  bool rclosing_ = false;      // set by the writer once it has closed: readers close too
  bool stopping_ = false;      // the destructor: readers exit once the queue is empty
  std::size_t readers_open_ = 0;
  std::vector<std::thread> readers_;

  std::vector<std::thread::id> thread_ids_;
  std::mutex close_mu_;

  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
};

sqlite_store::sqlite_store(const sqlite_options& opts, const sqlite_tuning& tuning)
    : max_batch_(std::max<std::size_t>(opts.max_batch, 1)) {
  std::vector<std::unique_ptr<connection>> reader_conns;
  try {
    store_detail::open_options wo;
    wo.create = true;
    wo.busy_timeout = opts.busy_timeout;
    wconn_ = std::make_unique<connection>(opts.path, wo);
    // WAL is a property of the file (it stays set); the readers rely on it to run beside the
    // writer.
    const std::string mode = wconn_->query_text("PRAGMA journal_mode = WAL");
    if (mode != "wal") throw std::runtime_error("cannot use WAL mode (journal_mode is " + mode + ")");
    wconn_->exec(tuning.durability == sqlite_durability::power_loss ? "PRAGMA synchronous = FULL"
                                                                     : "PRAGMA synchronous = NORMAL");
    migrations_applied_ = store_detail::migrate(*wconn_);

    store_detail::open_options ro;
    ro.read_only = true;
    ro.busy_timeout = opts.busy_timeout;
    for (std::size_t i = 0; i < std::max<std::size_t>(tuning.read_connections, 1); ++i)
      reader_conns.push_back(std::make_unique<connection>(opts.path, ro));
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot open the SQLite database '" + opts.path + "': " + e.what());
  }

  readers_open_ = reader_conns.size();
  try {
    writer_ = std::thread([this] { writer_loop(); });
    thread_ids_.push_back(writer_.get_id());
    for (auto& c : reader_conns) {
      readers_.emplace_back([this, c = std::move(c)]() mutable { reader_loop(std::move(c)); });
      thread_ids_.push_back(readers_.back().get_id());
    }
  } catch (...) {
    // Not every thread started: stop those that did (the unstarted readers' connections close
    // with reader_conns).
    {
      std::lock_guard lk(wmu_);
      wclosing_ = true;
    }
    wcv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
      std::lock_guard lk(rmu_);
      rclosing_ = stopping_ = true;
    }
    rcv_.notify_all();
    for (auto& t : readers_) t.join();
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
  // themselves (the writer drains, closes, then tells the readers to close).
  if (on_store_thread()) return;
  std::lock_guard close_lk(close_mu_);
  if (writer_.joinable()) writer_.join();
  std::unique_lock lk(rmu_);
  rclosed_cv_.wait(lk, [&] { return readers_open_ == 0; });
}

void sqlite_store::writer_loop() {
  std::vector<std::unique_ptr<write_op>> batch;
  batch.reserve(std::min<std::size_t>(max_batch_, 4096));
  for (;;) {
    {
      std::unique_lock lk(wmu_);
      wcv_.wait(lk, [&] { return !wq_.empty() || wclosing_; });
      if (wq_.empty()) break;  // closing, and everything queued is done
      // Group commit: everything that queued up while the last batch committed goes together.
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
    // Only now, after the commit, does anyone hear about these writes.
    for (auto& op : batch) op->complete();
    batch.clear();
  }
  wconn_.reset();
  {
    std::lock_guard lk(rmu_);
    rclosing_ = true;
  }
  rcv_.notify_all();
}

void sqlite_store::run_batch(std::vector<std::unique_ptr<write_op>>& batch) {
  connection& db = *wconn_;
  std::size_t first = 0;  // the first write of the current transaction
  auto lose = [&](std::size_t from, std::size_t to) {
    for (std::size_t j = from; j < to; ++j) batch[j]->lose();
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
      // IMMEDIATE: take the write lock now (waiting out another process up to busy_timeout)
      // rather than fail halfway through the batch.
      db.prepare("BEGIN IMMEDIATE").run();
      return true;
    } catch (const std::exception&) {
      rollback();
      lose(first, batch.size());
      return false;
    }
  };

  if (!begin()) return;
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
      if (first < batch.size() && !begin()) return;
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
