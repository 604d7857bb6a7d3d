#pragma once
/// Small helpers for the line-oriented annotation files of the datasets (internal to
/// src/data, but usable by anyone reading such files).
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace wtp::data {

/// The lines of a text file, without line terminators ("\n" or "\r\n"). Throws UsageError
/// naming the file when it does not exist or cannot be read; `what` describes it
/// ("LFW pairs file").
std::vector<std::string> read_lines(const std::filesystem::path& path, const std::string& what);
/// Splits on runs of spaces and tabs.
std::vector<std::string> split_fields(const std::string& line);
/// Parses a whole token as a base-10 integer; throws UsageError "<where>: <what> '<token>' is
/// not an integer".
std::int64_t parse_int(const std::string& token, const std::string& where, const std::string& what);
/// Parses a whole token as a number.
double parse_number(const std::string& token, const std::string& where, const std::string& what);
/// "file:line" for messages (line 1-based).
std::string at_line(const std::filesystem::path& path, std::size_t line);
/// A path as '/'-separated text relative to `base` (for Item::file).
std::string relative_file(const std::filesystem::path& path, const std::filesystem::path& base);
/// Requires `dir` to be an existing directory; otherwise throws UsageError:
/// "<what> not found: '<dir>' is not a directory (<hint>)".
void require_directory(const std::filesystem::path& dir, const std::string& what,
                       const std::string& hint);

}  // namespace wtp::data
