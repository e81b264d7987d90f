#pragma once
// The SQLite store's schema and its migrations.
#include "parley/store/detail/sqlite.hpp"

namespace parley::store_detail {

// Brings the database to the latest schema version, in one transaction, and returns how many
// migration steps it ran (0 when it was current). Throws sqlite_failure, or std::runtime_error
// when the database was written by a newer program.
int migrate(connection& c);
// The schema version this program writes.
int latest_schema_version() noexcept;

}  // namespace parley::store_detail
