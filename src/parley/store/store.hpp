#pragma once
// Where the chat service keeps conversations, messages, read receipts and files: an interface,
// so that the embedded SQLite store and a PostgreSQL store are interchangeable.
//
// Every call is asynchronous: it returns at once and calls `done` later on a store thread,
// never on the caller's thread and never while holding a store lock. A write's `done` runs only
// after the write is durably committed (the service acknowledges nothing before that).
// Callbacks must be quick (acks and emits are); heavy work goes elsewhere.
//
// Order: writes (create_conversation, direct_conversation, insert_message, mark_read, save_file)
// take effect in the order of the calls (one that returned before another was made comes first),
// and their callbacks run in that order, one after the other (never two at once), until close()
// (a write made after it fails, and may be called back before those it drains). The chat
// service relies on it to keep one sender's messages in order (handlers/sequencer.hpp): it makes
// the next insert_message call only once the previous one has returned.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "sio/common/result.hpp"

namespace parley {

using time_ms = std::int64_t;  // milliseconds since the Unix epoch, UTC

struct conversation {
  std::string id;
  std::string title;
  bool is_private = false;
  std::vector<std::string> member_ids;  // sorted; empty for a public conversation nobody created
  std::string created_by;
  time_ms created_at = 0;
};

// A position in a user's list of conversations, which is ordered newest first: by created_at
// descending, then by id descending (ids compared as bytes). A page that starts after the
// conversation (created_at, id) holds those after it in that order: conversations created later
// do not shift it, so paging stays stable while the list grows.
struct conversation_cursor {
  time_ms created_at = 0;
  std::string id;
};

struct conversation_page {
  std::vector<conversation> conversations;
  bool more = false;  // the list goes on after the last one of this page
};

struct file_record {
  std::string id;
  std::string name;          // as uploaded (sanitised for display, never used as a path)
  std::int64_t size = 0;
  std::string content_type;
  std::string uploader_id;
  std::string storage_path;  // where the bytes are, under the upload directory
  time_ms created_at = 0;
};

struct stored_message {
  std::string id;  // assigned by the store; ids of one conversation sort by their order in it
  std::string conversation_id;
  std::string sender_id;
  std::string content;
  time_ms created_at = 0;
  std::optional<std::string> client_message_id;
  std::vector<file_record> attachments;
};

struct new_message {
  std::string conversation_id;
  std::string sender_id;
  std::string content;
  time_ms created_at = 0;
  std::optional<std::string> client_message_id;
  // In order. Each must be a file the sender may read (may_read_file, file_access.hpp), decided
  // in the same atomic unit as the insert; else the insert is forbidden, the same error for a
  // file that does not exist, so that the answer tells nothing about other users' files.
  std::vector<std::string> attachment_file_ids;
  // Files that come with the message (Socket.IO binary attachments, their bytes already on disk):
  // recorded in the same atomic unit as the message, and only when it is stored (not when the
  // insert fails, nor on a retry that returns the earlier message). attachment_file_ids names
  // them where they go.
  std::vector<file_record> new_files;
};

struct insert_result {
  stored_message message;
  bool created = true;  // false: this (sender, clientMessageId) was stored before; that message
};

struct read_result {
  bool first_read = false;  // false when this user had read it already
  stored_message message;
  time_ms read_at = 0;      // the first read's time
};

enum class store_error {
  not_found = 1,  // no such conversation / message / file
  conflict,       // a conversation id that exists already
  unavailable,    // the database failed or is closed
  forbidden,      // insert_message: an attachment the sender may not read (or no such file)
};
const std::error_category& store_category() noexcept;
std::error_code make_error_code(store_error e) noexcept;

class store {
 public:
  template <class T>
  using callback = std::function<void(sio::result<T>)>;

  virtual ~store() = default;

  // Conversations. create: conflict when the id exists.
  virtual void create_conversation(conversation c, callback<conversation> done) = 0;
  // not_found when absent.
  virtual void get_conversation(std::string id, callback<conversation> done) = 0;
  // Those the user is a member of (private ones, and public ones the user created), in the order
  // of conversation_cursor: at most `limit` of them after `after` (from the newest when absent).
  virtual void list_conversations(std::string user_id, std::optional<conversation_cursor> after, int limit,
                                  callback<conversation_page> done) = 0;
  // The private conversation of exactly these two users, created on first use with a stable id.
  virtual void direct_conversation(std::string user_a, std::string user_b, time_ms now,
                                   callback<conversation> done) = 0;

  // Messages. Idempotent on (sender_id, client_message_id) when the latter is given.
  virtual void insert_message(new_message m, callback<insert_result> done) = 0;
  // Up to `limit` newest messages strictly older than message `before` (all when absent),
  // returned oldest first. not_found when `before` is not a message of that conversation.
  virtual void history(std::string conversation_id, std::optional<std::string> before, int limit,
                       callback<std::vector<stored_message>> done) = 0;
  virtual void get_message(std::string id, callback<stored_message> done) = 0;
  // Records that `user_id` read message `message_id` (first time wins).
  virtual void mark_read(std::string message_id, std::string user_id, time_ms now, callback<read_result> done) = 0;

  // Files.
  virtual void save_file(file_record f, callback<file_record> done) = 0;
  virtual void get_file(std::string id, callback<file_record> done) = 0;
  // The conversations whose messages attach this file (to decide who may download it).
  virtual void file_conversations(std::string file_id, callback<std::vector<conversation>> done) = 0;

  // Finishes pending writes and closes the database; later calls fail with unavailable.
  virtual void close() = 0;
};

struct sqlite_options {
  std::string path = "parley.db";
  std::chrono::milliseconds busy_timeout{5000};
  std::size_t max_batch = 512;  // writes committed together in one transaction at most
};

// The embedded default: SQLite in WAL mode, one writer thread that commits queued writes in
// groups (one fsync for many messages), readers on their own connection. Creates and
// migrates the schema. Throws std::runtime_error naming the path when it cannot open it.
std::unique_ptr<store> make_sqlite_store(const sqlite_options& opts);

}  // namespace parley

template <>
struct std::is_error_code_enum<parley::store_error> : std::true_type {};
