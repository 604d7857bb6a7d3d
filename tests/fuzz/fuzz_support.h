#pragma once
/// Helpers shared by the libFuzzer targets in tests/fuzz.
///
/// Contract of every target: any input either parses or makes the parser throw
/// std::runtime_error (UsageError and ConfigError included). Anything else — a crash, a
/// sanitizer report, a leak, another exception type (std::terminate aborts), a time-out or
/// an allocation over libFuzzer's -rss_limit_mb / -malloc_limit_mb — is a defect.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace wtp::fuzz {

/// A scratch directory private to this process, created on first use and removed at exit.
const std::filesystem::path& scratch_dir();

/// Writes `bytes` to `path` (truncating), creating parent directories.
void write_file(const std::filesystem::path& path, std::string_view bytes);

/// Removes everything inside `dir` but keeps `dir` itself.
void clear_dir(const std::filesystem::path& dir);

/// The input as text.
inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

/// Splits the input at NUL bytes into at most `max_parts` parts (the last takes the rest).
/// Targets that read several files take one part per file.
std::vector<std::string_view> split_parts(std::string_view input, std::size_t max_parts);

}  // namespace wtp::fuzz
