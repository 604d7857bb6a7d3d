#pragma once
/// Helpers shared by every test executable.
#include <filesystem>
#include <optional>
#include <string>

namespace wtp::test {

/// The repository root (where CMakeLists.txt is).
std::filesystem::path source_dir();
/// build/bin: where the tools are.
std::filesystem::path bin_dir();
/// ../shared next to the repository, if it exists. Tests that need it call
/// WTP_REQUIRE_SHARED() first, which skips with a message when it is absent.
std::optional<std::filesystem::path> shared_dir();

/// A fresh empty directory under the system temp dir, removed with its contents on
/// destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Runs a shell command, returns its exit status (0-255) and captures stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

/// Reads a whole file as bytes.
std::string read_file(const std::filesystem::path& path);

}  // namespace wtp::test

/// Skips the current test (with a visible message) when ../shared is missing.
#define WTP_REQUIRE_SHARED()                                           \
  do {                                                                 \
    if (!::wtp::test::shared_dir()) {                                  \
      WARN("skipped: ../shared is not present beside the repository"); \
      return;                                                          \
    }                                                                  \
  } while (0)
