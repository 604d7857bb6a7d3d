#pragma once
/// Helpers shared by every test executable.
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

namespace wtp::test {

/// The repository root (where CMakeLists.txt is).
std::filesystem::path source_dir();
/// build/bin: where the tools are.
std::filesystem::path bin_dir();
/// ../shared next to the repository, if it exists. Tests that need it call
/// WTP_REQUIRE_SHARED() first, which skips with a message when it is absent.
std::optional<std::filesystem::path> shared_dir();

/// True under CI (environment CI=true): a test that cannot run fails instead of skipping.
bool skips_fail();
/// Prints the skip marker line (see WTP_SKIP).
void report_skip(const std::string& reason);

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

/// A Python interpreter that can `import torch`: $WTP_PYTHON, python3, then
/// /usr/bin/python3 (Debian's, with python3-torch); nullopt when none can.
std::optional<std::string> python_with_torch();

/// Reads a whole file as bytes.
std::string read_file(const std::filesystem::path& path);

/// The shared part of the tests' tiny training runs, as YAML: seed 3, run directory
/// DIR/run, wtp-synth data in DIR/synth (`identities` x 6 images at 32 px), an identity
/// split 0.6/0.2/0.2, one loader worker, resize-to-32 transforms, a small CNN embedding
/// head (channels [8, 16, 32], hidden [64], 32-d, no dropout) with `num_classes: auto`,
/// retrieval validation on recall_at_1 (ks [1, 2]). No stages: a test adds them and its
/// overrides, either by merging (config::merge) or through `include:` of a file holding
/// this text (write_tiny_base).
std::string tiny_base_yaml(const std::filesystem::path& dir, int identities = 30);

/// Writes tiny_base_yaml(dir, identities) to DIR/tiny_base.yaml and returns that path.
std::filesystem::path write_tiny_base(const std::filesystem::path& dir, int identities = 30);

}  // namespace wtp::test

/// Marks the current test as skipped and leaves it: prints "WTP-SKIPPED: <reason>" (CTest's
/// SKIP_REGULAR_EXPRESSION for every test, see cmake/wtp.cmake, reports it as skipped, never
/// as passed). Under CI (CI=true), where everything is installed, a skip is a failure.
#define WTP_SKIP(reason)                                                                     \
  do {                                                                                       \
    std::ostringstream wtp_skip_reason_;                                                     \
    wtp_skip_reason_ << reason;                                                              \
    if (::wtp::test::skips_fail()) FAIL("cannot skip under CI: " << wtp_skip_reason_.str()); \
    ::wtp::test::report_skip(wtp_skip_reason_.str());                                        \
    return;                                                                                  \
  } while (0)

/// Skips the current test when ../shared is missing.
#define WTP_REQUIRE_SHARED()                                                                    \
  do {                                                                                          \
    if (!::wtp::test::shared_dir()) WTP_SKIP("../shared is not present beside the repository"); \
  } while (0)
