#include "parley/store/detail/schema.hpp"

#include <array>
#include <cstdio>
#include <stdexcept>
#include <string>

namespace parley::store_detail {

namespace {

// The migrations, in order: step i takes the schema from version i to version i + 1 (the
// version is SQLite's `PRAGMA user_version`, written in the same transaction as the step).
// Never edit a step that has shipped; append a new one.
constexpr std::array migrations = {
    // 1: the initial schema.
    R"sql(
CREATE TABLE conversations (
  id          TEXT PRIMARY KEY,
  title       TEXT NOT NULL DEFAULT '',
  private     INTEGER NOT NULL DEFAULT 0,
  created_by  TEXT NOT NULL DEFAULT '',   -- '' for a public conversation nobody created
  created_at  INTEGER NOT NULL            -- ms since the Unix epoch
);

CREATE TABLE conversation_members (
  conversation_id TEXT NOT NULL REFERENCES conversations(id),
  user_id         TEXT NOT NULL,
  PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, conversation_id);

-- seq orders messages (AUTOINCREMENT: never reused) and is the public id's only content.
CREATE TABLE messages (
  seq               INTEGER PRIMARY KEY AUTOINCREMENT,
  conversation_id   TEXT NOT NULL REFERENCES conversations(id),
  sender_id         TEXT NOT NULL,
  content           TEXT NOT NULL,
  created_at        INTEGER NOT NULL,
  client_message_id TEXT,                 -- NULLs are distinct: no idempotency without one
  UNIQUE (sender_id, client_message_id)
);
CREATE INDEX messages_by_conversation ON messages (conversation_id, seq);

CREATE TABLE files (
  id            TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  size          INTEGER NOT NULL,
  content_type  TEXT NOT NULL,
  uploader_id   TEXT NOT NULL,
  storage_path  TEXT NOT NULL,
  created_at    INTEGER NOT NULL
);

CREATE TABLE message_attachments (
  message_seq INTEGER NOT NULL REFERENCES messages(seq),
  position    INTEGER NOT NULL,             -- order of the attachments in the message
  file_id     TEXT NOT NULL REFERENCES files(id),
  PRIMARY KEY (message_seq, position)
) WITHOUT ROWID;
CREATE INDEX message_attachments_by_file ON message_attachments (file_id);

CREATE TABLE reads (
  message_seq INTEGER NOT NULL REFERENCES messages(seq),
  user_id     TEXT NOT NULL,
  read_at     INTEGER NOT NULL,             -- the first read; later reads change nothing
  PRIMARY KEY (message_seq, user_id)
) WITHOUT ROWID;
)sql",
    // 2: a user's conversations are listed a page at a time, newest first (created_at desc, id
    // desc). Each membership carries its conversation's created_at so that a page is one range of
    // an index, however many conversations the user is in.
    R"sql(
ALTER TABLE conversation_members ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
UPDATE conversation_members SET created_at =
  (SELECT c.created_at FROM conversations c WHERE c.id = conversation_members.conversation_id);
DROP INDEX conversation_members_by_user;
CREATE INDEX conversation_members_by_user ON conversation_members (user_id, created_at, conversation_id);
)sql",
};

int user_version(connection& c) {
  auto s = c.prepare("PRAGMA user_version");
  return s.step() ? static_cast<int>(s.int64(0)) : 0;
}

}  // namespace

int latest_schema_version() noexcept { return static_cast<int>(migrations.size()); }

int migrate(connection& c) {
  // IMMEDIATE: two processes opening a fresh file at once cannot both run step 1.
  c.exec("BEGIN IMMEDIATE");
  try {
    const int from = user_version(c);
    if (from > latest_schema_version()) {
      throw std::runtime_error("database schema version " + std::to_string(from) +
                               " is newer than this program's (" +
                               std::to_string(latest_schema_version()) + ")");
    }
    for (int v = from; v < latest_schema_version(); ++v) {
      c.exec(migrations[static_cast<std::size_t>(v)]);
      // A PRAGMA takes no parameters; the value is our own constant, never input.
      char set_version[48];
      std::snprintf(set_version, sizeof set_version, "PRAGMA user_version = %d", v + 1);
      c.exec(set_version);
    }
    c.exec("COMMIT");
    return latest_schema_version() - from;
  } catch (...) {
    if (c.in_transaction()) {
      try {
        c.exec("ROLLBACK");
      } catch (const sqlite_failure&) {  // closing the connection rolls back too
      }
    }
    throw;
  }
}

}  // namespace parley::store_detail
