#pragma once
/// Comma-separated files read by their header line: every CSV the tools read (pair scores,
/// alignment.csv, metrics.csv, ...) goes through `csv::Table`, so columns are found by name
/// in any order, extra columns are ignored and a missing column is named.
#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wtp::csv {

/// Splits one CSV record with RFC 4180 quoting (`a,"b,""c"""` -> `a`, `b,"c"`; no line
/// breaks inside fields). Spaces and tabs around a field are dropped unless it is quoted
/// (` 1 , " x" ` -> `1`, ` x`). Returns nullopt when a quote is left open (a malformed or
/// half-written line).
std::optional<std::vector<std::string>> split(const std::string& line);

/// `field` as one CSV field: unchanged unless it holds a comma, a quote or a line break or
/// starts or ends with a space or tab, then quoted with its quotes doubled. split(join(fields)) ==
/// fields.
std::string quote(const std::string& field);

/// The fields quoted as needed and joined with commas (no line terminator).
std::string join(const std::vector<std::string>& fields);

/// What Table::read does with a data row that is not a well-formed record with as many
/// fields as the header: throw UsageError naming file and line, or leave the row out (for
/// files an interrupted writer may have left half-written).
enum class BadRows { kThrow, kSkip };

/// One data row: its 1-based line number in the file and its fields (as many as the header
/// has columns).
struct Row {
  std::size_t line = 0;
  std::vector<std::string> fields;
};

/// A CSV file with a header line, its columns looked up by name.
class Table {
 public:
  /// Reads `path` (lines ending in "\n" or "\r\n"; blank lines skipped). The first non-blank
  /// line is the header; its names must be unique.
  /// Requires every name in `required` among them, in any order (other columns are kept
  /// and ignored unless asked for). Throws UsageError, naming the file, when it does not
  /// exist or is empty, and when a required column is missing:
  /// "<path>: no column 'distance' in the header 'fold,same,i,j' (required columns:
  /// fold, same, distance; others are ignored)". `bad` decides about malformed data rows.
  static Table read(const std::filesystem::path& path, const std::vector<std::string>& required,
                    BadRows bad = BadRows::kThrow);

  /// Whether the header has column `name`.
  bool has(const std::string& name) const;
  /// The index of column `name` in every row's fields. Requires has(name) (throws
  /// UsageError naming the file otherwise).
  std::size_t column(const std::string& name) const;
  /// The header's column names, in file order.
  const std::vector<std::string>& header() const { return header_; }
  /// The data rows in file order.
  const std::vector<Row>& rows() const { return rows_; }
  /// "<path>:<line>" of `row`, to start a message about one of its values.
  std::string where(const Row& row) const;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::vector<std::string> header_;
  std::vector<Row> rows_;
};

}  // namespace wtp::csv
