#include "core/csv.h"

#include <algorithm>
#include <fstream>

#include "core/error.h"

namespace wtp::csv {
namespace fs = std::filesystem;

namespace {

std::string trim(const std::string& s) {
  const auto begin = s.find_first_not_of(" \t");
  if (begin == std::string::npos) return "";
  return s.substr(begin, s.find_last_not_of(" \t") - begin + 1);
}

std::string comma_list(const std::vector<std::string>& names, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) out += (i ? separator : "") + names[i];
  return out;
}

}  // namespace

std::optional<std::vector<std::string>> split(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  bool quoted = false, was_quoted = false;
  auto finish = [&] {
    out.push_back(was_quoted ? std::move(field) : trim(field));
    field.clear();
    was_quoted = false;
  };
  for (std::size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quoted) {
      if (c != '"') {
        field += c;
      } else if (i + 1 < line.size() && line[i + 1] == '"') {
        field += '"';
        ++i;
      } else {
        quoted = false;
      }
    } else if (c == '"' && !was_quoted && trim(field).empty()) {
      field.clear();
      quoted = was_quoted = true;
    } else if (c == ',') {
      finish();
    } else if (!was_quoted || (c != ' ' && c != '\t')) {
      field += c;
    }
  }
  if (quoted) return std::nullopt;
  finish();
  return out;
}

std::string quote(const std::string& field) {
  const bool padded = !field.empty() && (field.front() == ' ' || field.front() == '\t' ||
                                         field.back() == ' ' || field.back() == '\t');
  if (!padded && field.find_first_of(",\"\n\r") == std::string::npos) return field;
  std::string out = "\"";
  for (char c : field) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string join(const std::vector<std::string>& fields) {
  std::string line;
  for (std::size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + quote(fields[i]);
  return line;
}

Table Table::read(const fs::path& path, const std::vector<std::string>& required, BadRows bad) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw UsageError(path.string() + ": no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(path.string() + ": cannot be opened for reading");
  Table table;
  table.path_ = path;
  const std::string expected = "expected a header line with the columns " +
                               comma_list(required, ",") + " (others are ignored)";
  bool have_header = false;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (trim(line).empty()) continue;
    auto fields = split(line);
    if (!have_header) {
      if (!fields)
        throw UsageError(path.string() + ":" + std::to_string(number) +
                         ": malformed header (a quote is left open); " + expected);
      for (auto& name : *fields) {
        if (std::count(table.header_.begin(), table.header_.end(), name))
          throw UsageError(path.string() + ": the column '" + name +
                           "' appears twice in the header '" + line + "'");
        table.header_.push_back(name);
      }
      for (const auto& name : required)
        if (!table.has(name))
          throw UsageError(path.string() + ": no column '" + name + "' in the header '" + line +
                           "' (required columns: " + comma_list(required, ", ") +
                           "; others are ignored)");
      have_header = true;
      continue;
    }
    if (!fields || fields->size() != table.header_.size()) {
      if (bad == BadRows::kSkip) continue;
      throw UsageError(path.string() + ":" + std::to_string(number) + ": " +
                       (fields ? "expected " + std::to_string(table.header_.size()) +
                                     " comma-separated fields as in the header, got " +
                                     std::to_string(fields->size())
                               : std::string("a quote is left open")) +
                       ": '" + line + "'");
    }
    table.rows_.push_back(Row{number, std::move(*fields)});
  }
  if (in.bad()) throw std::runtime_error("error while reading " + path.string());
  if (!have_header) throw UsageError(path.string() + ": empty file (" + expected + ")");
  return table;
}

bool Table::has(const std::string& name) const {
  return std::find(header_.begin(), header_.end(), name) != header_.end();
}

std::size_t Table::column(const std::string& name) const {
  const auto it = std::find(header_.begin(), header_.end(), name);
  if (it == header_.end())
    throw UsageError(path_.string() + ": no column '" + name + "' in the header '" + join(header_) +
                     "'");
  return static_cast<std::size_t>(it - header_.begin());
}

std::string Table::where(const Row& row) const {
  return path_.string() + ":" + std::to_string(row.line);
}

}  // namespace wtp::csv
