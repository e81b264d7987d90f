#pragma once
// The SQLite store beyond the store interface: durability, sync, checkpoint and reader knobs,
// and counters for tests, benchmarks and metrics. The service needs only
// make_sqlite_store(sqlite_options).
//
//   auto db = parley::make_sqlite_store({.path = "chat.db"}, {.durability = sqlite_durability::power_loss});
//   if (auto s = parley::sqlite_stats(*db)) log(s->transactions, s->writes);
//
// Behaviour the store interface leaves open, as this store (and any other) implements it:
// - create_conversation: the creator is added to member_ids, which come back sorted and unique;
//   an empty id gets a fresh random one; ids starting with "dm:" are conflict (reserved for
//   direct_conversation, see ids.hpp).
// - insert_message into a conversation id that does not exist creates it as a public
//   conversation with no creator and no members (as a Socket.IO room exists once used), in the
//   same atomic unit as the message; an unknown "dm:" id is not_found instead. Its new_files are
//   recorded and its attachments checked (forbidden) in that unit too.
// - direct_conversation: created_by is the first caller's user_a.
// - save_file: an existing id is conflict; an empty id gets a fresh random one.
// - file_conversations: not_found for an unknown file, empty for a file attached nowhere.
// - Ids: see ids.hpp. A callback that throws is ignored. close() may be called from a callback
//   (it then does not wait); destroying the store from its own callback is not allowed.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

#include "parley/store/store.hpp"

namespace parley {

// What an acknowledged write survives. Both run SQLite in WAL mode.
enum class sqlite_durability {
  // synchronous=NORMAL: a commit is written to the WAL (the OS page cache) but not fsync'ed; the
  // WAL is synced at checkpoints. Survives a crash or SIGKILL of the process (the kernel still
  // holds the pages); a power loss or kernel panic may lose the last commits (the database stays
  // consistent).
  process_crash,
  // The WAL is fsync'ed after each group commit and before any of its writes is acknowledged
  // (see pipelined_sync). Survives a power loss too. One fsync per batch, not per message.
  power_loss,
};

struct sqlite_tuning {
  sqlite_durability durability = sqlite_durability::power_loss;
  std::size_t read_connections = 2;  // reader threads, one connection each (at least 1)
  // power_loss only: who fsyncs the WAL.
  //   true: the writer commits with synchronous=NORMAL, then the store fdatasyncs the WAL file
  //   and only then acknowledges; under a steady stream of writes a sync thread does that while
  //   the writer runs and commits the next batch. What an acknowledgement guarantees is the same
  //   as FULL's.
  //   false: synchronous=FULL, SQLite fsyncs inside COMMIT on the writer thread.
  bool pipelined_sync = true;
  // WAL checkpoints never run inside a commit: a checkpoint thread runs a PASSIVE checkpoint
  // (it blocks neither the writer nor readers) each time this many WAL frames (pages) were
  // appended since the previous one (SQLite's automatic checkpoint, which this replaces, uses
  // 1000 too).
  std::size_t checkpoint_frames = 1000;
  // Under sustained writes a concurrent checkpoint never catches up with the end of the WAL, and
  // the WAL only restarts from its beginning once it did: past this many frames the writer
  // finishes a checkpoint itself between two commits (then it restarts), so the WAL file stays
  // bounded (about this many pages) and is overwritten rather than appended to.
  std::size_t wal_restart_frames = 16384;  // 64 MiB with 4 KiB pages
};

struct sqlite_store_stats {
  std::uint64_t transactions = 0;   // write transactions committed (one per group commit)
  std::uint64_t writes = 0;         // write calls run by the writer (committed or not)
  std::uint64_t largest_batch = 0;  // the most writes one transaction carried
  std::uint64_t wal_syncs = 0;      // fdatasyncs of the WAL by the store (pipelined_sync)
  std::uint64_t handed_over = 0;    // batches called back by the sync thread, not the writer
  std::uint64_t checkpoints = 0;    // checkpoints run by the checkpoint thread
  std::uint64_t writer_checkpoints = 0;  // checkpoints the writer finished itself (see above)
  int migrations_applied = 0;       // schema steps run when this store opened (0: was current)
  int schema_version = 0;
};

std::unique_ptr<store> make_sqlite_store(const sqlite_options& opts, const sqlite_tuning& tuning);

// The counters of a store made by make_sqlite_store; nullopt for any other store.
std::optional<sqlite_store_stats> sqlite_stats(const store& s);

}  // namespace parley
