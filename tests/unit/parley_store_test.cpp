// The SQLite store (src/parley/store): schema and migrations, every call of the store interface,
// group commit, close, and durability across a SIGKILL. Each test uses its own database in a
// fresh temporary directory.
#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <latch>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parley/store/ids.hpp"
#include "parley/store/sqlite_store.hpp"
#include "parley/store/store.hpp"

namespace fs = std::filesystem;
using namespace parley;

namespace {

// Calls an asynchronous store method and waits for its callback; checks that the callback ran on
// a store thread, not on the caller's.
template <class T, class F>
sio::result<T> call(F&& start) {
  std::promise<sio::result<T>> p;
  auto f = p.get_future();
  const auto caller = std::this_thread::get_id();
  std::atomic<bool> on_caller{false};
  start([&](sio::result<T> r) {
    on_caller = std::this_thread::get_id() == caller;
    p.set_value(std::move(r));
  });
  if (f.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "store callback never came";
    std::abort();
  }
  auto r = f.get();
  EXPECT_FALSE(on_caller.load()) << "callback ran on the caller's thread";
  return r;
}

std::error_code err(store_error e) { return make_error_code(e); }

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "parley-store-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    path_ = (dir_ / "chat.db").string();
  }
  void TearDown() override {
    db_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  store& open(sqlite_options o = {}, sqlite_tuning t = {}) {
    db_.reset();
    o.path = path_;
    db_ = make_sqlite_store(o, t);
    return *db_;
  }
  sqlite_store_stats stats() { return *sqlite_stats(*db_); }

  // --- synchronous wrappers ---
  sio::result<conversation> create(conversation c) {
    return call<conversation>([&](auto cb) { db_->create_conversation(c, cb); });
  }
  sio::result<conversation> get_conv(const std::string& id) {
    return call<conversation>([&](auto cb) { db_->get_conversation(id, cb); });
  }
  sio::result<conversation_page> page(const std::string& user, std::optional<conversation_cursor> after, int limit) {
    return call<conversation_page>([&](auto cb) { db_->list_conversations(user, after, limit, cb); });
  }
  // The whole list, in one page.
  sio::result<std::vector<conversation>> list(const std::string& user) {
    auto p = page(user, std::nullopt, 1000);
    if (!p) return p.error();
    EXPECT_FALSE(p->more);
    return std::move(p->conversations);
  }
  sio::result<conversation> dm(const std::string& a, const std::string& b, time_ms now = 1000) {
    return call<conversation>([&](auto cb) { db_->direct_conversation(a, b, now, cb); });
  }
  sio::result<insert_result> insert(new_message m) {
    return call<insert_result>([&](auto cb) { db_->insert_message(m, cb); });
  }
  sio::result<insert_result> send(const std::string& conv, const std::string& sender,
                                  const std::string& content,
                                  std::optional<std::string> client_id = std::nullopt,
                                  std::vector<std::string> files = {}) {
    new_message m;
    m.conversation_id = conv;
    m.sender_id = sender;
    m.content = content;
    m.created_at = ++clock_;
    m.client_message_id = std::move(client_id);
    m.attachment_file_ids = std::move(files);
    return insert(std::move(m));
  }
  sio::result<std::vector<stored_message>> history(const std::string& conv,
                                                   std::optional<std::string> before, int limit) {
    return call<std::vector<stored_message>>(
        [&](auto cb) { db_->history(conv, before, limit, cb); });
  }
  sio::result<stored_message> get_msg(const std::string& id) {
    return call<stored_message>([&](auto cb) { db_->get_message(id, cb); });
  }
  sio::result<read_result> mark(const std::string& msg, const std::string& user, time_ms now) {
    return call<read_result>([&](auto cb) { db_->mark_read(msg, user, now, cb); });
  }
  sio::result<file_record> save(const std::string& id, const std::string& uploader = "u1") {
    file_record f;
    f.id = id;
    f.name = id + ".png";
    f.size = 1234;
    f.content_type = "image/png";
    f.uploader_id = uploader;
    f.storage_path = "ab/" + id;
    f.created_at = 777;
    return call<file_record>([&](auto cb) { db_->save_file(f, cb); });
  }
  sio::result<file_record> get_file(const std::string& id) {
    return call<file_record>([&](auto cb) { db_->get_file(id, cb); });
  }
  sio::result<std::vector<conversation>> file_convs(const std::string& id) {
    return call<std::vector<conversation>>([&](auto cb) { db_->file_conversations(id, cb); });
  }

  // A raw SQLite query on the database file (a separate connection), for what the interface
  // does not show: row counts, PRAGMAs.
  std::int64_t sql_int(const char* sql) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    std::int64_t v = -1;
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(raw);
    return v;
  }
  void sql_exec(const char* sql) {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, &error), SQLITE_OK) << (error ? error : "");
    sqlite3_free(error);
    sqlite3_close(raw);
  }
  std::string sql_text(const char* sql) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql, -1, &s, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    std::string v;
    if (sqlite3_step(s) == SQLITE_ROW) v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
    sqlite3_finalize(s);
    sqlite3_close(raw);
    return v;
  }

  static conversation conv(std::string id, std::string by, bool priv = false,
                           std::vector<std::string> members = {}, time_ms at = 100) {
    conversation c;
    c.id = std::move(id);
    c.title = "title of " + c.id;
    c.is_private = priv;
    c.created_by = std::move(by);
    c.member_ids = std::move(members);
    c.created_at = at;
    return c;
  }

  fs::path dir_;
  std::string path_;
  std::unique_ptr<store> db_;
  time_ms clock_ = 1'700'000'000'000;
};

// ---------------------------------------------------------------------------------------------
// ids

TEST(StoreIds, MessageIdsAreFixedWidthAndSortInSequenceOrder) {
  EXPECT_EQ(format_message_id(42), "m0000000000000000042");
  EXPECT_EQ(parse_message_id("m0000000000000000042"), 42);
  const std::int64_t seqs[] = {1, 9, 10, 99, 100, 12345, 9'999'999'999, INT64_MAX};
  for (std::size_t i = 0; i + 1 < std::size(seqs); ++i) {
    EXPECT_LT(format_message_id(seqs[i]), format_message_id(seqs[i + 1]));
    EXPECT_EQ(parse_message_id(format_message_id(seqs[i])), seqs[i]);
  }
  EXPECT_EQ(parse_message_id(format_message_id(INT64_MAX)), INT64_MAX);
  for (const char* bad : {"", "m", "42", "m42", "x0000000000000000042", "m000000000000000004x",
                          "m00000000000000000042", "m0000000000000000000", "m-000000000000000042",
                          "M0000000000000000042"})
    EXPECT_FALSE(parse_message_id(bad)) << bad;
}

TEST(StoreIds, DirectConversationIdsAreSymmetricAndCollisionFree) {
  EXPECT_EQ(direct_conversation_id("bob", "alice"), "dm:alice:bob");
  EXPECT_EQ(direct_conversation_id("alice", "bob"), "dm:alice:bob");
  EXPECT_EQ(direct_conversation_id("bob", "al:ice"), "dm:al%3Aice:bob");
  // Pairs that a plain "dm:a:b" would confuse.
  EXPECT_NE(direct_conversation_id("a:b", "c"), direct_conversation_id("a", "b:c"));
  EXPECT_NE(direct_conversation_id("a%3Ab", "c"), direct_conversation_id("a:b", "c"));
  EXPECT_TRUE(is_direct_conversation_id(direct_conversation_id("x", "y")));
  EXPECT_FALSE(is_direct_conversation_id("general"));
}

TEST(StoreErrors, CategoryAndMessages) {
  std::error_code ec = store_error::not_found;
  EXPECT_EQ(&ec.category(), &store_category());
  EXPECT_STREQ(store_category().name(), "parley.store");
  EXPECT_EQ(ec.message(), "not found");
  EXPECT_EQ(err(store_error::conflict).message(), "already exists");
  EXPECT_EQ(err(store_error::unavailable).message(), "the store is unavailable");
  EXPECT_NE(err(store_error::conflict), err(store_error::unavailable));
}

// ---------------------------------------------------------------------------------------------
// schema

TEST_F(StoreTest, CreatesSchemaOnceAndDataSurvivesReopen) {
  open();
  EXPECT_EQ(stats().migrations_applied, 2);
  EXPECT_EQ(stats().schema_version, 2);
  ASSERT_TRUE(create(conv("room", "alice", true, {"bob"})));
  auto sent = send("room", "alice", "hello", "c-1");
  ASSERT_TRUE(sent);
  db_->close();
  EXPECT_EQ(sql_int("PRAGMA user_version"), 2);
  EXPECT_EQ(sql_text("PRAGMA journal_mode"), "wal");

  open();
  EXPECT_EQ(stats().migrations_applied, 0);  // already current: nothing runs again
  auto c = get_conv("room");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->is_private);
  EXPECT_EQ(c->member_ids, (std::vector<std::string>{"alice", "bob"}));
  auto h = history("room", std::nullopt, 50);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].id, sent->message.id);
  EXPECT_EQ((*h)[0].content, "hello");
  // The idempotency key survives too.
  auto again = send("room", "alice", "hello", "c-1");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->message.id, sent->message.id);
}

TEST_F(StoreTest, RefusesADatabaseFromANewerProgram) {
  open();
  db_.reset();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  try {
    open();
    FAIL() << "opened a database of schema version 99";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(path_), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("99"), std::string::npos) << e.what();
  }
}

TEST_F(StoreTest, OpenFailureNamesThePath) {
  sqlite_options o;
  o.path = (dir_ / "no-such-dir" / "chat.db").string();
  try {
    make_sqlite_store(o);
    FAIL() << "opened a database in a missing directory";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(o.path), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// conversations

TEST_F(StoreTest, CreateGetConflict) {
  open();
  auto c = create(conv("team", "carol", true, {"bob", "alice", "bob"}, 500));
  ASSERT_TRUE(c) << c.error().message();
  EXPECT_EQ(c->id, "team");
  EXPECT_EQ(c->title, "title of team");
  EXPECT_TRUE(c->is_private);
  EXPECT_EQ(c->created_by, "carol");
  EXPECT_EQ(c->created_at, 500);
  // The creator is always a member; members are sorted and unique.
  EXPECT_EQ(c->member_ids, (std::vector<std::string>{"alice", "bob", "carol"}));

  auto g = get_conv("team");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, "team");
  EXPECT_EQ(g->title, c->title);
  EXPECT_EQ(g->is_private, true);
  EXPECT_EQ(g->created_by, "carol");
  EXPECT_EQ(g->created_at, 500);
  EXPECT_EQ(g->member_ids, c->member_ids);

  auto dup = create(conv("team", "dave"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error(), err(store_error::conflict));
  EXPECT_EQ(get_conv("team")->created_by, "carol");  // the first one stands

  EXPECT_EQ(get_conv("nope").error(), err(store_error::not_found));
  // "dm:" ids are direct_conversation's alone.
  EXPECT_EQ(create(conv("dm:alice:bob", "alice", true, {"bob"})).error(), err(store_error::conflict));
  EXPECT_EQ(get_conv("dm:alice:bob").error(), err(store_error::not_found));
}

TEST_F(StoreTest, CreateWithoutIdGetsAFreshOne) {
  open();
  auto a = create(conv("", "alice"));
  auto b = create(conv("", "alice"));
  ASSERT_TRUE(a);
  ASSERT_TRUE(b);
  EXPECT_FALSE(a->id.empty());
  EXPECT_NE(a->id, b->id);
  EXPECT_TRUE(get_conv(a->id));
}

TEST_F(StoreTest, ListConversationsOfAMemberNewestFirst) {
  open();
  ASSERT_TRUE(create(conv("old", "alice", false, {}, 100)));
  ASSERT_TRUE(create(conv("new", "bob", true, {"alice"}, 300)));
  ASSERT_TRUE(create(conv("mid", "alice", true, {"carol"}, 200)));
  ASSERT_TRUE(create(conv("same-time", "alice", false, {}, 300)));  // tie: created later first
  ASSERT_TRUE(create(conv("not-alice", "bob", true, {"carol"}, 400)));
  ASSERT_TRUE(send("implicit", "alice", "hi"));  // a public conversation nobody created

  auto l = list("alice");
  ASSERT_TRUE(l);
  std::vector<std::string> ids;
  for (auto& c : *l) ids.push_back(c.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"same-time", "new", "mid", "old"}));
  EXPECT_EQ((*l)[1].member_ids, (std::vector<std::string>{"alice", "bob"}));

  auto carol = list("carol");
  ASSERT_TRUE(carol);
  ASSERT_EQ(carol->size(), 2u);
  EXPECT_EQ((*carol)[0].id, "not-alice");
  EXPECT_EQ((*carol)[1].id, "mid");

  auto nobody = list("zed");
  ASSERT_TRUE(nobody);
  EXPECT_TRUE(nobody->empty());
}

// Pages follow one another without gap or repeat, newest first (created_at, then id, both
// descending), and stay put while newer conversations are created.
TEST_F(StoreTest, ListConversationsPageByPage) {
  open();
  // Three conversations per created_at: ties are ordered by id, descending (as bytes: "c10" > "c09").
  auto id = [](int i) { return std::string(i < 10 ? "c0" : "c") + std::to_string(i); };
  for (int i : {4, 0, 11, 7, 1, 9, 2, 5, 10, 3, 8, 6}) {  // created in any order
    const time_ms at = 1000 + i / 3;
    ASSERT_TRUE(create(conv(id(i), "owner", true, {"alice"}, at)));
  }
  ASSERT_TRUE(create(conv("not-alice", "owner", true, {"bob"}, 5000)));
  std::vector<std::string> expected;  // newest first
  for (int i = 11; i >= 0; --i) expected.push_back(id(i));

  std::vector<std::string> seen;
  std::optional<conversation_cursor> after;
  int pages = 0;
  while (true) {
    auto p = page("alice", after, 5);
    ASSERT_TRUE(p) << p.error().message();
    ASSERT_LE(p->conversations.size(), 5u);
    for (const auto& c : p->conversations) {
      seen.push_back(c.id);
      EXPECT_EQ(c.member_ids, (std::vector<std::string>{"alice", "owner"}));
    }
    ++pages;
    if (pages == 1) {  // created meanwhile, newer than every page: it does not shift the next ones
      ASSERT_TRUE(create(conv("newest", "owner", true, {"alice"}, 9000)));
    }
    if (!p->more) break;
    ASSERT_FALSE(p->conversations.empty());
    after = conversation_cursor{p->conversations.back().created_at, p->conversations.back().id};
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, expected);

  // Exactly a page's worth: `more` is false on it, not on an empty page after it.
  auto exact = page("bob", std::nullopt, 1);
  ASSERT_TRUE(exact);
  ASSERT_EQ(exact->conversations.size(), 1u);
  EXPECT_FALSE(exact->more);
  // A cursor past the end, and a limit of 0.
  auto past = page("alice", conversation_cursor{0, ""}, 5);
  ASSERT_TRUE(past);
  EXPECT_TRUE(past->conversations.empty());
  EXPECT_FALSE(past->more);
  auto none = page("alice", std::nullopt, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->conversations.empty());
}

// A database of schema version 1 (before paging) gets its memberships' created_at filled in.
TEST_F(StoreTest, MigratesVersion1MembershipsForPaging) {
  open();
  ASSERT_TRUE(create(conv("old", "alice", true, {"bob"}, 100)));
  ASSERT_TRUE(create(conv("new", "alice", true, {"bob"}, 200)));
  ASSERT_TRUE(dm("alice", "bob", 150));
  db_->close();
  db_.reset();
  // Back to what version 1 left.
  sql_exec(
      "DROP INDEX conversation_members_by_user;"
      "ALTER TABLE conversation_members DROP COLUMN created_at;"
      "CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);"
      "PRAGMA user_version = 1;");

  open();
  EXPECT_EQ(stats().migrations_applied, 1);
  EXPECT_EQ(stats().schema_version, 2);
  auto first = page("bob", std::nullopt, 2);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->conversations.size(), 2u);
  EXPECT_EQ(first->conversations[0].id, "new");
  EXPECT_EQ(first->conversations[1].id, direct_conversation_id("alice", "bob"));
  EXPECT_TRUE(first->more);
  auto second = page("bob", conversation_cursor{150, direct_conversation_id("alice", "bob")}, 2);
  ASSERT_TRUE(second);
  ASSERT_EQ(second->conversations.size(), 1u);
  EXPECT_EQ(second->conversations[0].id, "old");
  EXPECT_FALSE(second->more);
}

TEST_F(StoreTest, ImplicitPublicConversationOnFirstMessage) {
  open();
  EXPECT_EQ(get_conv("general").error(), err(store_error::not_found));
  ASSERT_TRUE(send("general", "alice", "first"));
  auto g = get_conv("general");
  ASSERT_TRUE(g);
  EXPECT_FALSE(g->is_private);
  EXPECT_TRUE(g->created_by.empty());
  EXPECT_TRUE(g->member_ids.empty());
  // Its id is now taken.
  EXPECT_EQ(create(conv("general", "bob")).error(), err(store_error::conflict));
  // A direct conversation is never made implicitly.
  EXPECT_EQ(send("dm:alice:bob", "alice", "sneaky").error(), err(store_error::not_found));
  EXPECT_EQ(get_conv("dm:alice:bob").error(), err(store_error::not_found));
}

TEST_F(StoreTest, DirectConversationIsStable) {
  open();
  auto ab = dm("alice", "bob", 42);
  ASSERT_TRUE(ab) << ab.error().message();
  EXPECT_EQ(ab->id, direct_conversation_id("alice", "bob"));
  EXPECT_TRUE(ab->is_private);
  EXPECT_EQ(ab->member_ids, (std::vector<std::string>{"alice", "bob"}));
  EXPECT_EQ(ab->created_at, 42);

  auto ba = dm("bob", "alice", 99);
  ASSERT_TRUE(ba);
  EXPECT_EQ(ba->id, ab->id);
  EXPECT_EQ(ba->created_at, 42);  // found, not made again

  // Ids with ':' do not collide.
  auto x = dm("a:b", "c");
  auto y = dm("a", "b:c");
  ASSERT_TRUE(x);
  ASSERT_TRUE(y);
  EXPECT_NE(x->id, y->id);
  EXPECT_EQ(x->member_ids, (std::vector<std::string>{"a:b", "c"}));
  EXPECT_EQ(y->member_ids, (std::vector<std::string>{"a", "b:c"}));

  // Messages go to it like to any conversation, and it is listed for both members.
  auto m = send(ab->id, "alice", "psst");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->message.conversation_id, ab->id);
  auto lb = list("bob");
  ASSERT_TRUE(lb);
  ASSERT_EQ(lb->size(), 1u);
  EXPECT_EQ((*lb)[0].id, ab->id);

  db_->close();
  open();
  auto again = dm("bob", "alice");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->id, ab->id);
}

TEST_F(StoreTest, DirectConversationConcurrentCallsMakeOne) {
  open();
  constexpr int threads = 8, per_thread = 40;
  std::mutex mu;
  std::set<std::string> ids;
  std::atomic<int> ok{0}, done{0};
  std::latch start(threads);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      start.arrive_and_wait();
      for (int i = 0; i < per_thread; ++i) {
        const bool flip = (t + i) % 2 == 0;
        db_->direct_conversation(flip ? "alice" : "bob", flip ? "bob" : "alice", 1000 + i,
                                 [&](sio::result<conversation> r) {
                                   if (r) {
                                     std::lock_guard lk(mu);
                                     ids.insert(r->id);
                                     ++ok;
                                   }
                                   ++done;
                                 });
      }
    });
  }
  for (auto& t : ts) t.join();
  db_->close();  // drains
  EXPECT_EQ(done.load(), threads * per_thread);
  EXPECT_EQ(ok.load(), threads * per_thread);
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_EQ(sql_int("SELECT count(*) FROM conversations"), 1);
  EXPECT_EQ(sql_int("SELECT count(*) FROM conversation_members"), 2);
}

// ---------------------------------------------------------------------------------------------
// messages

TEST_F(StoreTest, InsertReturnsTheStoredMessage) {
  open();
  ASSERT_TRUE(create(conv("room", "alice")));
  new_message m;
  m.conversation_id = "room";
  m.sender_id = "alice";
  m.content = "hello \xF0\x9F\x91\x8B, 'quotes' \"and\" ; DROP TABLE messages; --";
  m.created_at = 1'764'000'000'123;
  auto r = insert(m);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(r->created);
  EXPECT_TRUE(parse_message_id(r->message.id));
  EXPECT_EQ(r->message.conversation_id, "room");
  EXPECT_EQ(r->message.sender_id, "alice");
  EXPECT_EQ(r->message.content, m.content);
  EXPECT_EQ(r->message.created_at, m.created_at);
  EXPECT_FALSE(r->message.client_message_id);
  EXPECT_TRUE(r->message.attachments.empty());

  auto g = get_msg(r->message.id);
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, r->message.id);
  EXPECT_EQ(g->content, m.content);
  EXPECT_EQ(g->created_at, m.created_at);
  EXPECT_FALSE(g->client_message_id);

  EXPECT_EQ(get_msg("m9999999999999999999").error(), err(store_error::not_found));
  EXPECT_EQ(get_msg("garbage").error(), err(store_error::not_found));

  // Content with a NUL byte is stored whole.
  auto nul = send("room", "alice", std::string("a\0b", 3));
  ASSERT_TRUE(nul);
  EXPECT_EQ(get_msg(nul->message.id)->content, std::string("a\0b", 3));
}

TEST_F(StoreTest, IdempotentRetryReturnsTheFirstMessage) {
  open();
  auto first = send("room", "alice", "original", "client-7");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->message.client_message_id, "client-7");

  auto retry = send("room", "alice", "changed on retry", "client-7");
  ASSERT_TRUE(retry);
  EXPECT_FALSE(retry->created);
  EXPECT_EQ(retry->message.id, first->message.id);
  EXPECT_EQ(retry->message.content, "original");
  EXPECT_EQ(retry->message.created_at, first->message.created_at);
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 1);

  // The key is (sender, clientMessageId): another sender's same key is another message.
  auto other = send("room", "bob", "bob's", "client-7");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->created);
  EXPECT_NE(other->message.id, first->message.id);

  // Without a clientMessageId every send is a new message.
  ASSERT_TRUE(send("room", "alice", "same"));
  ASSERT_TRUE(send("room", "alice", "same"));
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 4);
  EXPECT_EQ(history("room", std::nullopt, 50)->size(), 4u);
}

TEST_F(StoreTest, IdempotentRetriesInOneBatch) {
  open();
  // Queue the same (sender, clientMessageId) many times at once: they share a transaction, and
  // exactly one is created.
  constexpr int n = 50;
  std::mutex mu;
  std::vector<insert_result> results;
  std::latch all(n);
  for (int i = 0; i < n; ++i) {
    new_message m;
    m.conversation_id = "room";
    m.sender_id = "alice";
    m.content = "x" + std::to_string(i);
    m.client_message_id = "same";
    db_->insert_message(m, [&](sio::result<insert_result> r) {
      EXPECT_TRUE(r);
      if (r) {
        std::lock_guard lk(mu);
        results.push_back(*r);
      }
      all.count_down();
    });
  }
  all.wait();
  ASSERT_EQ(results.size(), static_cast<std::size_t>(n));
  EXPECT_EQ(std::count_if(results.begin(), results.end(), [](auto& r) { return r.created; }), 1);
  for (auto& r : results) EXPECT_EQ(r.message.id, results[0].message.id);
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 1);
}

TEST_F(StoreTest, AttachmentsAreStoredWithTheMessage) {
  open();
  ASSERT_TRUE(save("f1"));
  ASSERT_TRUE(save("f2"));
  auto r = send("room", "alice", "look", std::nullopt, {"f2", "f1"});
  ASSERT_TRUE(r) << r.error().message();
  ASSERT_EQ(r->message.attachments.size(), 2u);
  EXPECT_EQ(r->message.attachments[0].id, "f2");  // in the order given
  EXPECT_EQ(r->message.attachments[1].id, "f1");
  EXPECT_EQ(r->message.attachments[0].name, "f2.png");
  EXPECT_EQ(r->message.attachments[0].size, 1234);
  EXPECT_EQ(r->message.attachments[0].content_type, "image/png");
  EXPECT_EQ(r->message.attachments[0].storage_path, "ab/f2");

  auto g = get_msg(r->message.id);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->attachments.size(), 2u);
  EXPECT_EQ(g->attachments[0].id, "f2");
  EXPECT_EQ(g->attachments[1].id, "f1");
  auto h = history("room", std::nullopt, 10);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 1u);
  ASSERT_EQ((*h)[0].attachments.size(), 2u);
  EXPECT_EQ((*h)[0].attachments[1].uploader_id, "u1");
}

TEST_F(StoreTest, MissingAttachmentStoresNothing) {
  open();
  ASSERT_TRUE(save("f1"));
  auto r = send("fresh-room", "alice", "look", "retry-key", {"f1", "ghost"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), err(store_error::forbidden));  // as for a file the sender may not read
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 0);
  EXPECT_EQ(sql_int("SELECT count(*) FROM message_attachments"), 0);
  // Not even the implicit conversation the message would have created.
  EXPECT_EQ(get_conv("fresh-room").error(), err(store_error::not_found));
  // And the idempotency key is still free.
  auto ok = send("fresh-room", "alice", "look", "retry-key", {"f1"});
  ASSERT_TRUE(ok);
  EXPECT_TRUE(ok->created);
}

TEST_F(StoreTest, HistoryPagesBackwardsOldestFirst) {
  open();
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    auto r = send("room", "alice", "m" + std::to_string(i));
    ASSERT_TRUE(r);
    ids.push_back(r->message.id);
    ASSERT_TRUE(send("other", "bob", "noise"));  // interleaved with another conversation
  }
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));  // ids sort in send order

  auto contents = [](const std::vector<stored_message>& ms) {
    std::vector<std::string> out;
    for (auto& m : ms) out.push_back(m.content);
    return out;
  };
  auto page = history("room", std::nullopt, 3);
  ASSERT_TRUE(page);
  EXPECT_EQ(contents(*page), (std::vector<std::string>{"m7", "m8", "m9"}));
  page = history("room", (*page)[0].id, 3);
  ASSERT_TRUE(page);
  EXPECT_EQ(contents(*page), (std::vector<std::string>{"m4", "m5", "m6"}));
  page = history("room", (*page)[0].id, 3);
  EXPECT_EQ(contents(*page), (std::vector<std::string>{"m1", "m2", "m3"}));
  page = history("room", (*page)[0].id, 3);
  EXPECT_EQ(contents(*page), (std::vector<std::string>{"m0"}));
  page = history("room", (*page)[0].id, 3);
  ASSERT_TRUE(page);
  EXPECT_TRUE(page->empty());

  auto all = history("room", std::nullopt, 200);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 10u);
  for (std::size_t i = 0; i < 10; ++i) {
    EXPECT_EQ((*all)[i].id, ids[i]);
    EXPECT_EQ((*all)[i].conversation_id, "room");
  }
  EXPECT_EQ(contents(*history("room", ids[5], 200)),
            (std::vector<std::string>{"m0", "m1", "m2", "m3", "m4"}));
  EXPECT_TRUE(history("room", std::nullopt, 0)->empty());
  EXPECT_TRUE(history("empty-room", std::nullopt, 50)->empty());

  // `before` must be a message of that conversation.
  auto noise = history("other", std::nullopt, 1);
  ASSERT_TRUE(noise);
  EXPECT_EQ(history("room", (*noise)[0].id, 3).error(), err(store_error::not_found));
  EXPECT_EQ(history("room", "m9999999999999999999", 3).error(), err(store_error::not_found));
  EXPECT_EQ(history("room", "not-an-id", 3).error(), err(store_error::not_found));
}

TEST_F(StoreTest, MarkReadFirstReadWins) {
  open();
  auto m = send("room", "alice", "read me");
  ASSERT_TRUE(m);
  auto r1 = mark(m->message.id, "bob", 5000);
  ASSERT_TRUE(r1) << r1.error().message();
  EXPECT_TRUE(r1->first_read);
  EXPECT_EQ(r1->read_at, 5000);
  EXPECT_EQ(r1->message.id, m->message.id);
  EXPECT_EQ(r1->message.sender_id, "alice");
  EXPECT_EQ(r1->message.conversation_id, "room");

  auto r2 = mark(m->message.id, "bob", 9000);
  ASSERT_TRUE(r2);
  EXPECT_FALSE(r2->first_read);
  EXPECT_EQ(r2->read_at, 5000);  // the first read's time

  auto r3 = mark(m->message.id, "carol", 9000);
  ASSERT_TRUE(r3);
  EXPECT_TRUE(r3->first_read);
  EXPECT_EQ(r3->read_at, 9000);
  EXPECT_EQ(sql_int("SELECT count(*) FROM reads"), 2);

  EXPECT_EQ(mark("m9999999999999999999", "bob", 1).error(), err(store_error::not_found));
  EXPECT_EQ(mark("nonsense", "bob", 1).error(), err(store_error::not_found));
}

// ---------------------------------------------------------------------------------------------
// files

TEST_F(StoreTest, FilesAndTheirConversations) {
  open();
  auto f = save("f1", "alice");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->id, "f1");
  auto g = get_file("f1");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->name, "f1.png");
  EXPECT_EQ(g->size, 1234);
  EXPECT_EQ(g->content_type, "image/png");
  EXPECT_EQ(g->uploader_id, "alice");
  EXPECT_EQ(g->storage_path, "ab/f1");
  EXPECT_EQ(g->created_at, 777);
  EXPECT_EQ(get_file("nope").error(), err(store_error::not_found));
  EXPECT_EQ(save("f1").error(), err(store_error::conflict));

  // Not attached yet: no conversations.
  auto none = file_convs("f1");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(file_convs("nope").error(), err(store_error::not_found));

  ASSERT_TRUE(create(conv("secret", "alice", true, {"bob"}, 100)));
  ASSERT_TRUE(create(conv("public", "carol", false, {}, 200)));
  ASSERT_TRUE(create(conv("unrelated", "dave", true, {}, 300)));
  ASSERT_TRUE(send("secret", "alice", "a", std::nullopt, {"f1"}));
  ASSERT_TRUE(send("secret", "bob", "again", std::nullopt, {"f1"}));
  ASSERT_TRUE(send("public", "alice", "b", std::nullopt, {"f1"}));  // a member of "secret" may share it
  ASSERT_TRUE(send("unrelated", "dave", "c"));

  auto cs = file_convs("f1");
  ASSERT_TRUE(cs);
  ASSERT_EQ(cs->size(), 2u);  // each conversation once
  EXPECT_EQ((*cs)[0].id, "public");
  EXPECT_EQ((*cs)[1].id, "secret");
  EXPECT_TRUE((*cs)[1].is_private);
  EXPECT_EQ((*cs)[1].member_ids, (std::vector<std::string>{"alice", "bob"}));

  auto fresh = call<file_record>([&](auto cb) {
    file_record r;
    r.name = "no id";
    db_->save_file(r, cb);
  });
  ASSERT_TRUE(fresh);
  EXPECT_FALSE(fresh->id.empty());
  EXPECT_TRUE(get_file(fresh->id));
}

// A sender may attach only files they may read (may_read_file), decided inside the insert: the
// same refusal for a file that does not exist, and nothing stored.
TEST_F(StoreTest, AttachesOnlyFilesTheSenderMayRead) {
  open();
  ASSERT_TRUE(save("alices", "alice"));
  ASSERT_TRUE(save("loose", "alice"));
  ASSERT_TRUE(save("shared", "alice"));
  ASSERT_TRUE(create(conv("a-and-b", "alice", true, {"bob"})));
  ASSERT_TRUE(create(conv("eves", "eve", true, {})));
  ASSERT_TRUE(send("a-and-b", "alice", "mine", std::nullopt, {"alices"}));  // the uploader
  ASSERT_TRUE(send("lobby", "alice", "for all", std::nullopt, {"shared"}));

  const auto before = sql_int("SELECT count(*) FROM messages");
  // Eve is not in "a-and-b": its file is not hers to share, and she hears no more than for a
  // file that does not exist.
  auto stolen = send("eves", "eve", "x", std::nullopt, {"alices"});
  auto ghost = send("eves", "eve", "x", std::nullopt, {"no-such-file"});
  ASSERT_FALSE(stolen);
  ASSERT_FALSE(ghost);
  EXPECT_EQ(stolen.error(), err(store_error::forbidden));
  EXPECT_EQ(ghost.error(), stolen.error());
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), before);
  auto where = file_convs("alices");
  ASSERT_TRUE(where);
  ASSERT_EQ(where->size(), 1u);  // still only in "a-and-b"

  // What she may read she may share: a file attached nowhere yet, a file in a public
  // conversation; and so may Bob, a member, share Alice's file.
  EXPECT_TRUE(send("eves", "eve", "x", std::nullopt, {"loose"}));
  EXPECT_TRUE(send("eves", "eve", "x", std::nullopt, {"shared"}));
  EXPECT_TRUE(send("b-public", "bob", "x", std::nullopt, {"alices"}));
}

// Files that come with a message are recorded with it, or not at all.
TEST_F(StoreTest, NewFilesAreRecordedOnlyWithTheirMessage) {
  open();
  auto with_new_file = [&](const std::string& file_id, std::vector<std::string> attach,
                           std::optional<std::string> client_id = std::nullopt) {
    new_message m;
    m.conversation_id = "room";
    m.sender_id = "alice";
    m.content = "with a file";
    m.created_at = ++clock_;
    m.client_message_id = std::move(client_id);
    m.attachment_file_ids = std::move(attach);
    file_record f;
    f.id = file_id;
    f.name = "raw.bin";
    f.size = 3;
    f.content_type = "application/octet-stream";
    f.uploader_id = "alice";
    f.storage_path = "ab/" + file_id;
    f.created_at = clock_;
    m.new_files.push_back(f);
    return insert(std::move(m));
  };
  auto ok = with_new_file("n1", {"n1"});
  ASSERT_TRUE(ok) << ok.error().message();
  ASSERT_EQ(ok->message.attachments.size(), 1u);
  EXPECT_EQ(ok->message.attachments[0].id, "n1");
  EXPECT_EQ(ok->message.attachments[0].uploader_id, "alice");
  EXPECT_TRUE(get_file("n1"));

  // Refused (a second attachment she may not use): the new file is not recorded either.
  auto refused = with_new_file("n2", {"n2", "ghost"});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), err(store_error::forbidden));
  EXPECT_EQ(get_file("n2").error(), err(store_error::not_found));

  // A retry answered with the earlier message: its new file is not recorded.
  ASSERT_TRUE(with_new_file("n3", {"n3"}, "retry"));
  auto again = with_new_file("n4", {"n4"}, "retry");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->message.attachments[0].id, "n3");
  EXPECT_EQ(get_file("n4").error(), err(store_error::not_found));
  EXPECT_EQ(sql_int("SELECT count(*) FROM files"), 2);
}

// ---------------------------------------------------------------------------------------------
// threads, group commit, close

// The interface's order promise (store.hpp), which keeps a sender's messages in order: writes
// queued one after the other by one thread commit and are called back in that order, one at a
// time, whether the writer or the sync thread calls back, and however the batches fall.
TEST_F(StoreTest, WritesAreCalledBackInTheOrderTheyWereQueued) {
  sqlite_options o;
  o.max_batch = 7;
  open(o);
  constexpr int n = 2000;
  std::mutex mu;
  std::vector<int> order;
  std::vector<std::string> ids;
  std::atomic<int> in_callback{0};
  std::atomic<bool> overlapped{false};
  std::latch done(n);
  for (int i = 0; i < n; ++i) {
    auto record = [&, i](const std::string& id) {
      if (in_callback.fetch_add(1) != 0) overlapped = true;
      {
        std::lock_guard lk(mu);
        order.push_back(i);
        ids.push_back(id);
      }
      in_callback.fetch_sub(1);
      done.count_down();
    };
    if (i % 10 == 9) {  // other writes in between
      db_->save_file(file_record{"order-" + std::to_string(i), "n", 0, "x", "u", "p", 0},
                     [record](sio::result<file_record> r) { record(r ? "" : "error"); });
    } else {
      db_->insert_message(new_message{"room-" + std::to_string(i % 3), "alice", "m", i, std::nullopt, {}, {}},
                          [record](sio::result<insert_result> r) { record(r ? r->message.id : "error"); });
    }
    if (i % 97 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));  // batches of all sizes
  }
  done.wait();
  std::vector<int> expected(n);
  for (int i = 0; i < n; ++i) expected[i] = i;
  EXPECT_EQ(order, expected);
  EXPECT_FALSE(overlapped.load());
  std::vector<std::string> message_ids;
  for (const auto& id : ids)
    if (!id.empty()) message_ids.push_back(id);
  EXPECT_TRUE(std::is_sorted(message_ids.begin(), message_ids.end()));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), "error"), 0);
}

// Holds the writer thread inside a write's callback until released (an idle store calls back on
// the writer), so that writes queued meanwhile are all waiting when it comes back: the batches
// they form are then deterministic.
struct writer_gate {
  std::mutex mu;
  std::condition_variable cv;
  bool entered = false, released = false;
  void hold(store& db) {
    db.save_file(file_record{"gate-file", "g", 0, "x", "u", "p", 0}, [this](sio::result<file_record>) {
      std::unique_lock lk(mu);
      entered = true;
      cv.notify_all();
      cv.wait(lk, [&] { return released; });
    });
    std::unique_lock lk(mu);
    cv.wait(lk, [&] { return entered; });
  }
  void release() {
    std::lock_guard lk(mu);
    released = true;
    cv.notify_all();
  }
};

TEST_F(StoreTest, GroupCommitsConcurrentWrites) {
  sqlite_options o;
  o.max_batch = 512;
  open(o);
  writer_gate gate;
  gate.hold(*db_);
  const auto before = stats();
  EXPECT_EQ(before.transactions, 1u);

  constexpr int threads = 4, per_thread = 250, total = threads * per_thread;
  std::atomic<int> ok{0}, failed{0};
  std::mutex mu;
  std::set<std::string> ids;
  std::latch done(total);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        new_message m;
        m.conversation_id = "room-" + std::to_string(t % 2);
        m.sender_id = "user-" + std::to_string(t);
        m.content = std::to_string(i);
        m.client_message_id = "c" + std::to_string(i);
        db_->insert_message(m, [&](sio::result<insert_result> r) {
          if (r && r->created) {
            std::lock_guard lk(mu);
            ids.insert(r->message.id);
            ++ok;
          } else {
            ++failed;
          }
          done.count_down();
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  gate.release();
  done.wait();
  EXPECT_EQ(ok.load(), total);
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(total));
  const auto after = stats();
  EXPECT_EQ(after.writes - before.writes, static_cast<std::uint64_t>(total));
  // All 1000 were queued when the writer came back: batches of 512 and 488, two commits.
  EXPECT_EQ(after.transactions - before.transactions, 2u);
  EXPECT_EQ(after.largest_batch, 512u);
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), total);
}

TEST_F(StoreTest, FreeRunningWritersShareCommits) {
  sqlite_options o;
  o.max_batch = 64;
  open(o);
  constexpr int threads = 4, per_thread = 250, total = threads * per_thread;
  std::atomic<int> ok{0};
  std::latch done(total);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        db_->insert_message(new_message{"room", "u" + std::to_string(t), "x", 1, std::nullopt, {}},
                            [&](sio::result<insert_result> r) {
                              if (r) ++ok;
                              done.count_down();
                            });
      }
    });
  }
  for (auto& t : ts) t.join();
  done.wait();
  EXPECT_EQ(ok.load(), total);
  const auto s = stats();
  EXPECT_EQ(s.writes, static_cast<std::uint64_t>(total));
  EXPECT_LE(s.largest_batch, 64u);
  EXPECT_LE(s.transactions, s.writes);
  EXPECT_GE(s.transactions, static_cast<std::uint64_t>(total / 64));
}

TEST_F(StoreTest, AFailingWriteDoesNotSpoilItsBatch) {
  open();
  ASSERT_TRUE(save("f1"));
  writer_gate gate;
  gate.hold(*db_);
  const auto before = stats();
  std::vector<std::promise<sio::result<insert_result>>> ps(5);
  auto submit = [&](int i, std::vector<std::string> files) {
    db_->insert_message(new_message{"room", "alice", "m" + std::to_string(i), 1, std::nullopt, files},
                        [&, i](sio::result<insert_result> r) { ps[i].set_value(std::move(r)); });
  };
  submit(0, {});
  submit(1, {"f1"});
  submit(2, {"ghost"});
  submit(3, {"f1", "ghost"});
  submit(4, {"f1"});
  gate.release();
  std::vector<sio::result<insert_result>> rs;
  for (auto& p : ps) rs.push_back(p.get_future().get());
  EXPECT_TRUE(rs[0]);
  EXPECT_TRUE(rs[1]);
  EXPECT_EQ(rs[2].error(), err(store_error::forbidden));
  EXPECT_EQ(rs[3].error(), err(store_error::forbidden));
  EXPECT_TRUE(rs[4]);
  EXPECT_EQ(stats().transactions - before.transactions, 1u);  // one commit for all five
  auto h = history("room", std::nullopt, 50);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->size(), 3u);
  EXPECT_EQ((*h)[0].content, "m0");
  EXPECT_EQ((*h)[1].content, "m1");
  EXPECT_EQ((*h)[2].content, "m4");
  EXPECT_EQ(sql_int("SELECT count(*) FROM message_attachments"), 2);
}

TEST_F(StoreTest, ReadsDoNotWaitBehindWrites) {
  open();
  ASSERT_TRUE(create(conv("room", "alice")));
  writer_gate gate;
  gate.hold(*db_);  // the writer thread is busy until released
  std::promise<void> wrote;
  db_->insert_message(new_message{"room", "alice", "queued", 1, std::nullopt, {}},
                      [&](sio::result<insert_result>) { wrote.set_value(); });
  // Reads complete meanwhile, on the reader threads.
  auto c = get_conv("room");
  ASSERT_TRUE(c);
  auto h = history("room", std::nullopt, 10);
  ASSERT_TRUE(h);
  EXPECT_TRUE(h->empty());  // the queued write is not committed yet
  gate.release();
  wrote.get_future().get();
  EXPECT_EQ(history("room", std::nullopt, 10)->size(), 1u);  // visible once acknowledged
}

TEST_F(StoreTest, CloseDrainsQueuedWrites) {
  open();
  writer_gate gate;
  gate.hold(*db_);
  constexpr int n = 300;
  std::atomic<int> ok{0};
  for (int i = 0; i < n; ++i)
    db_->insert_message(new_message{"room", "alice", std::to_string(i), 1, std::nullopt, {}},
                        [&](sio::result<insert_result> r) {
                          if (r) ++ok;
                        });
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    gate.release();
  });
  db_->close();  // returns only once every queued write is committed and called back
  releaser.join();
  EXPECT_EQ(ok.load(), n);
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), n);
  // Both connections are closed: the WAL was checkpointed into the database and removed.
  EXPECT_FALSE(fs::exists(path_ + "-wal"));
  open();
  EXPECT_EQ(history("room", std::nullopt, 1000)->size(), static_cast<std::size_t>(n));
}

TEST_F(StoreTest, CallsAfterCloseFailWithUnavailable) {
  open();
  ASSERT_TRUE(create(conv("room", "alice")));
  auto m = send("room", "alice", "hi");
  ASSERT_TRUE(m);
  ASSERT_TRUE(save("f1"));
  db_->close();
  db_->close();  // twice is fine
  const auto unavailable = err(store_error::unavailable);
  EXPECT_EQ(create(conv("x", "alice")).error(), unavailable);
  EXPECT_EQ(get_conv("room").error(), unavailable);
  EXPECT_EQ(list("alice").error(), unavailable);
  EXPECT_EQ(dm("a", "b").error(), unavailable);
  EXPECT_EQ(send("room", "alice", "late").error(), unavailable);
  EXPECT_EQ(history("room", std::nullopt, 10).error(), unavailable);
  EXPECT_EQ(get_msg(m->message.id).error(), unavailable);
  EXPECT_EQ(mark(m->message.id, "bob", 1).error(), unavailable);
  EXPECT_EQ(save("f2").error(), unavailable);
  EXPECT_EQ(get_file("f1").error(), unavailable);
  EXPECT_EQ(file_convs("f1").error(), unavailable);
  db_.reset();
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 1);
}

TEST_F(StoreTest, CloseFromACallbackDoesNotDeadlock) {
  open();
  std::promise<void> closed;
  db_->insert_message(new_message{"room", "alice", "x", 1, std::nullopt, {}},
                      [&](sio::result<insert_result> r) {
                        EXPECT_TRUE(r);
                        db_->close();  // on the writer thread: cannot wait for itself
                        closed.set_value();
                      });
  closed.get_future().get();
  EXPECT_EQ(send("room", "alice", "late").error(), err(store_error::unavailable));
  db_->close();  // from outside: waits until the store threads have closed
  EXPECT_EQ(get_conv("room").error(), err(store_error::unavailable));
}

TEST_F(StoreTest, DestructorDrainsAndCloses) {
  open();
  std::atomic<int> ok{0};
  for (int i = 0; i < 100; ++i)
    db_->insert_message(new_message{"room", "alice", std::to_string(i), 1, std::nullopt, {}},
                        [&](sio::result<insert_result> r) {
                          if (r) ++ok;
                        });
  db_.reset();
  EXPECT_EQ(ok.load(), 100);
  EXPECT_EQ(sql_int("SELECT count(*) FROM messages"), 100);
}

TEST_F(StoreTest, LockedDatabaseWaitsThenFailsWithUnavailableAndRecovers) {
  sqlite_options o;
  o.busy_timeout = std::chrono::milliseconds(100);
  open(o);
  ASSERT_TRUE(send("room", "alice", "before"));
  // Another process holds the write lock for longer than busy_timeout.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = send("room", "alice", "while locked");
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(90));  // it waited
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), err(store_error::unavailable));
  EXPECT_EQ(history("room", std::nullopt, 10)->size(), 1u);  // reads still work under the lock
  ASSERT_EQ(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  // The lock is gone: the store works again.
  ASSERT_TRUE(send("room", "alice", "after"));
  EXPECT_EQ(history("room", std::nullopt, 10)->size(), 2u);
}

// Power loss cannot be simulated here; what can be checked is the order: with pipelined_sync a
// write is called back only after an fdatasync of the WAL that followed its commit (and no other
// commit slips in between: one write at a time here).
TEST_F(StoreTest, PowerLossAcknowledgesOnlySyncedCommits) {
  open();
  for (int i = 0; i < 20; ++i) {
    auto in_callback = call<sqlite_store_stats>([&](auto cb) {
      db_->insert_message(new_message{"room", "alice", std::to_string(i), 1, std::nullopt, {}},
                          [&, cb](sio::result<insert_result> r) {
                            EXPECT_TRUE(r);
                            cb(*sqlite_stats(*db_));
                          });
    });
    ASSERT_TRUE(in_callback);
    EXPECT_GE(in_callback->wal_syncs, 1u);
    EXPECT_EQ(in_callback->wal_syncs, in_callback->transactions);
  }
}

// Writes arriving faster than an fsync: the sync thread takes over the fsyncs and callbacks of
// some batches, the writer does others; callbacks still come in commit order (ids increase), each
// after an fsync that followed its commit.
TEST_F(StoreTest, CallbacksFollowCommitOrderWhenTheSyncThreadTakesPart) {
  sqlite_options o;
  o.max_batch = 16;
  open(o);
  constexpr int threads = 8, per_thread = 300, total = threads * per_thread;
  std::mutex mu;
  std::vector<std::string> order;
  std::atomic<bool> synced_first{true};
  std::latch done(total);
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        db_->insert_message(new_message{"room-" + std::to_string(t % 3), "u" + std::to_string(t), "x", i,
                                        std::nullopt, {}},
                            [&](sio::result<insert_result> r) {
                              EXPECT_TRUE(r);
                              const auto s = *sqlite_stats(*db_);
                              if (s.wal_syncs == 0) synced_first = false;
                              {
                                std::lock_guard lk(mu);
                                if (r) order.push_back(r->message.id);
                              }
                              done.count_down();  // last: the test's locals go once all are done
                            });
      }
    });
  }
  for (auto& t : ts) t.join();
  done.wait();
  ASSERT_EQ(order.size(), static_cast<std::size_t>(total));
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end())) << "callbacks out of commit order";
  EXPECT_TRUE(synced_first.load());
  const auto s = stats();
  EXPECT_GE(s.handed_over, 1u) << "the sync thread never took part";
  EXPECT_LT(s.handed_over, s.transactions) << "the writer never called back itself";
  EXPECT_LE(s.wal_syncs, s.transactions);
  EXPECT_GE(s.wal_syncs, 1u);
}

TEST_F(StoreTest, OnlyPipelinedPowerLossSyncsTheWalItself) {
  sqlite_tuning normal;
  normal.durability = sqlite_durability::process_crash;
  open({}, normal);
  ASSERT_TRUE(send("room", "alice", "a"));
  EXPECT_EQ(stats().wal_syncs, 0u);
  sqlite_tuning full;
  full.pipelined_sync = false;  // SQLite's synchronous=FULL: it fsyncs inside COMMIT
  open({}, full);
  ASSERT_TRUE(send("room", "alice", "b"));
  EXPECT_EQ(stats().wal_syncs, 0u);
  EXPECT_EQ(history("room", std::nullopt, 10)->size(), 2u);
}

// Checkpoints run off the writer, and under sustained writes the writer restarts the WAL, so the
// WAL file stays bounded; nothing is lost on the way.
TEST_F(StoreTest, CheckpointsKeepTheWalBounded) {
  sqlite_options o;
  o.max_batch = 8;  // many small transactions: many WAL frames
  sqlite_tuning t;
  t.checkpoint_frames = 20;
  t.wal_restart_frames = 100;
  open(o, t);
  constexpr int n = 2000;
  std::atomic<int> ok{0};
  std::latch done(n);
  std::vector<std::thread> ts;
  for (int th = 0; th < 4; ++th) {
    ts.emplace_back([&, th] {
      for (int i = 0; i < n / 4; ++i) {
        db_->insert_message(new_message{"room-" + std::to_string(i % 5), "u" + std::to_string(th),
                                        std::string(200, 'x'), i, std::nullopt, {}},
                            [&](sio::result<insert_result> r) {
                              if (r) ++ok;
                              done.count_down();
                            });
      }
    });
  }
  for (auto& th : ts) th.join();
  done.wait();
  EXPECT_EQ(ok.load(), n);
  const auto s = stats();
  EXPECT_GE(s.checkpoints + s.writer_checkpoints, 1u);
  EXPECT_GE(s.writer_checkpoints, 1u) << "the WAL never reached wal_restart_frames?";
  // Without restarts the WAL would hold every frame ever committed (far more than this).
  const auto page = static_cast<std::uintmax_t>(sql_int("PRAGMA page_size"));
  EXPECT_LT(fs::file_size(path_ + "-wal"), 4 * 100 * (page + 24) + 32);
  std::int64_t total = 0;
  for (int r = 0; r < 5; ++r) total += static_cast<std::int64_t>(history("room-" + std::to_string(r), std::nullopt, n)->size());
  EXPECT_EQ(total, n);
  EXPECT_EQ(sql_text("PRAGMA integrity_check"), "ok");
}

// ---------------------------------------------------------------------------------------------
// durability: acknowledged messages survive a SIGKILL

struct crash_case {
  sqlite_durability durability;
  bool pipelined_sync;
};
void PrintTo(const crash_case& c, std::ostream* os) {
  if (c.durability == sqlite_durability::process_crash) *os << "process_crash";
  else *os << (c.pipelined_sync ? "power_loss, pipelined sync" : "power_loss, synchronous=FULL");
}
class StoreCrashTest : public StoreTest, public ::testing::WithParamInterface<crash_case> {};

// The child inserts messages (several in flight, so commits are grouped) and writes each
// acknowledged id to a pipe from the callback. The parent kills it with SIGKILL mid-stream,
// reopens the database and must find every acknowledged message.
TEST_P(StoreCrashTest, AcknowledgedMessagesSurviveSigkill) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  constexpr std::size_t record = 32;  // "<20-char id> <10-digit n>\n": atomic pipe writes
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    try {
      sqlite_options o;
      o.path = path_;
      sqlite_tuning t{GetParam().durability, 1};
      t.pipelined_sync = GetParam().pipelined_sync;
      t.checkpoint_frames = 50;  // checkpoints and WAL restarts happen during the run too
      t.wal_restart_frames = 200;
      auto db = make_sqlite_store(o, t);
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      for (int n = 0;; ++n) {
        {
          std::unique_lock lk(mu);
          cv.wait(lk, [&] { return in_flight < 16; });
          ++in_flight;
        }
        new_message m{"room", "child", "content " + std::to_string(n), n, "k" + std::to_string(n), {}};
        db->insert_message(m, [&, n](sio::result<insert_result> r) {
          if (!r) ::_exit(3);
          char buf[record + 1];
          std::snprintf(buf, sizeof buf, "%s %010d\n", r->message.id.c_str(), n);
          if (::write(fds[1], buf, record) != static_cast<ssize_t>(record)) ::_exit(4);
          std::lock_guard lk(mu);
          --in_flight;
          cv.notify_one();
        });
      }
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(fds[1]);

  std::map<std::string, int> acked;  // id -> n
  std::string buf;
  auto read_records = [&](bool until_eof, std::size_t want) {
    char chunk[4096];
    while (until_eof || acked.size() < want) {
      pollfd p{fds[0], POLLIN, 0};
      if (::poll(&p, 1, 30000) <= 0) return false;
      const ssize_t got = ::read(fds[0], chunk, sizeof chunk);
      if (got < 0) return false;
      if (got == 0) return until_eof;
      buf.append(chunk, static_cast<std::size_t>(got));
      while (buf.size() >= record) {
        acked[buf.substr(0, 20)] = std::stoi(buf.substr(21, 10));
        buf.erase(0, record);
      }
    }
    return true;
  };
  const bool got_enough = read_records(false, 500);
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(got_enough) << "the child acknowledged only " << acked.size() << " messages";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;
  ASSERT_TRUE(read_records(true, 0));  // the acks written before the kill
  ::close(fds[0]);
  EXPECT_TRUE(buf.empty());            // no torn record

  open();
  auto h = history("room", std::nullopt, 1'000'000);
  ASSERT_TRUE(h) << h.error().message();
  std::map<std::string, std::string> stored;
  for (auto& m : *h) stored[m.id] = m.content;
  EXPECT_GE(stored.size(), acked.size());
  std::size_t missing = 0;
  for (auto& [id, n] : acked) {
    auto it = stored.find(id);
    if (it == stored.end()) {
      ++missing;
      continue;
    }
    EXPECT_EQ(it->second, "content " + std::to_string(n));
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged messages";
  // The store keeps working on the recovered file.
  auto next = send("room", "parent", "after the crash");
  ASSERT_TRUE(next);
  EXPECT_GT(next->message.id, h->back().id);
}

INSTANTIATE_TEST_SUITE_P(Durability, StoreCrashTest,
                         ::testing::Values(crash_case{sqlite_durability::process_crash, true},
                                           crash_case{sqlite_durability::power_loss, true},
                                           crash_case{sqlite_durability::power_loss, false}),
                         [](const auto& info) {
                           if (info.param.durability == sqlite_durability::process_crash)
                             return std::string("SynchronousNormal");
                           return std::string(info.param.pipelined_sync ? "PowerLossPipelinedSync"
                                                                        : "PowerLossSynchronousFull");
                         });

}  // namespace
