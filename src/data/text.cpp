#include "data/text.h"

#include <cerrno>
#include <cstdlib>
#include <fstream>

#include "core/error.h"

namespace wtp::data {

std::vector<std::string> read_lines(const std::filesystem::path& path, const std::string& what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw UsageError(what + " not found: '" + path.string() + "' does not exist or is not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw UsageError(what + " '" + path.string() + "' cannot be opened for reading");
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
  }
  if (in.bad())
    throw std::runtime_error("error while reading " + what + " '" + path.string() + "'");
  return lines;
}

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    std::size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

std::int64_t parse_int(const std::string& token, const std::string& where,
                       const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const long long value = std::strtoll(token.c_str(), &end, 10);
  if (token.empty() || end != token.c_str() + token.size() || errno == ERANGE)
    throw UsageError(where + ": " + what + " '" + token + "' is not an integer");
  return static_cast<std::int64_t>(value);
}

double parse_number(const std::string& token, const std::string& where, const std::string& what) {
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(token.c_str(), &end);
  if (token.empty() || end != token.c_str() + token.size() || errno == ERANGE)
    throw UsageError(where + ": " + what + " '" + token + "' is not a number");
  return value;
}

std::string at_line(const std::filesystem::path& path, std::size_t line) {
  return path.string() + ":" + std::to_string(line);
}

std::string relative_file(const std::filesystem::path& path, const std::filesystem::path& base) {
  return path.lexically_relative(base).generic_string();
}

void require_directory(const std::filesystem::path& dir, const std::string& what,
                       const std::string& hint) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec))
    throw UsageError(what + " not found: '" + dir.string() + "' is not a directory (" + hint + ")");
}

}  // namespace wtp::data
