#pragma once
/// What the Store backends share: the schema's version, encodings and checks (not part of
/// the public interface).
#include <cstdint>
#include <string>
#include <vector>

#include "serve/store.h"

namespace wtp::serve::detail {

/// The schema version this build writes; each backend has this many ordered migrations.
constexpr std::int64_t kSchemaVersion = 1;

enum class Dialect { kSqlite, kPostgres };

/// The SQL that takes the schema from `version` to `version + 1` (0 <= version <
/// kSchemaVersion), in `dialect`: one text for both backends, with the column types that
/// differ filled in.
std::string migration(std::int64_t version, Dialect dialect);

/// Throws UsageError unless a database at `found` can be migrated to kSchemaVersion.
void check_schema_version(std::int64_t found, const std::string& what);

/// The wall clock in Unix ms (for bookkeeping columns such as schema_version.applied_at).
std::int64_t unix_ms();

/// "check_in" / "check_out", as stored.
const char* kind_name(AttendanceKind kind);
AttendanceKind parse_kind(const std::string& name);

/// A float32 embedding as stored (native little-endian bytes) and back; `dim` checks the
/// stored dimension against the blob's size.
std::string embedding_blob(const std::vector<float>& embedding);
std::vector<float> embedding_from_blob(const std::string& blob, std::int64_t dim);

/// Throws std::invalid_argument unless every embedding is non-empty, finite and of one
/// dimension; returns it.
std::int64_t check_embeddings(const std::vector<std::vector<float>>& embeddings);

/// `%query%` for LIKE ... ESCAPE '\', with %, _ and \ in `query` taken literally.
std::string like_pattern(const std::string& query);

}  // namespace wtp::serve::detail
