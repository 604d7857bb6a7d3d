#pragma once
/// Safe extraction of dataset archives (.tgz/.tar.gz, .zip, .rar and whatever else
/// libarchive reads) into a target directory.
///
/// Safety contract: every entry is checked before a single byte is written. An archive is
/// refused as a whole, naming the offending entry, if any entry
///   - has an absolute path (`/x`, `\x`, `C:x`) or a `..` component,
///   - is a symbolic link whose target is absolute or resolves outside the target,
///   - is a hard link to an absolute or `..` path,
///   - is a device, FIFO or socket.
/// libarchive's own guards (no extraction through symlinks, no `..`) are kept on as a
/// second line of defence. Nothing is ever written outside the target.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

namespace wtp::download {

/// An archive entry would escape the target directory (or is a kind we never extract).
class UnsafeArchiveError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// What an archive holds, found by reading it once without writing anything.
struct ArchiveSummary {
  std::int64_t entries = 0;            ///< number of entries (files, directories, links)
  std::int64_t bytes = 0;              ///< sum of the entries' uncompressed sizes (known ones)
  bool sizes_known = true;             ///< false if some entry did not declare its size
  std::vector<std::string> top_level;  ///< sorted first path components ("lfw-deepfunneled")
};

/// Options for extract_archive().
struct ExtractOptions {
  bool progress = true;                   ///< show a progress bar (bytes written)
  std::int64_t reserve_bytes = 64 << 20;  ///< free space to leave on the disk beyond the data
};

/// Normalises an entry name to a safe relative path ("./a//b" -> "a/b"); "" for the
/// archive's root itself ("./"). Throws UnsafeArchiveError naming `name` for an absolute
/// path or a `..` component. `archive` names the archive in the message.
std::string safe_entry_path(const std::string& name, const std::string& archive);

/// Reads every header of `archive` and checks it with the rules above, without writing.
/// Throws UnsafeArchiveError for an unsafe entry, std::runtime_error (saying the archive
/// is corrupt or truncated) when libarchive cannot read it to the end.
ArchiveSummary scan_archive(const std::filesystem::path& archive);

/// Throws std::runtime_error if the file system holding `dir` has less than `needed`
/// bytes available; the message says how much is needed and how much is free.
void check_free_space(const std::filesystem::path& dir, std::int64_t needed,
                      const std::string& what);

/// Extracts `archive` into `target` (created if missing): scan_archive() first, then a
/// free-space check against the uncompressed size (or, when sizes are unknown, twice the
/// archive's size), then the extraction itself.
/// Ensures: all entries are under `target`; on failure an exception names the archive
/// and the entry, and `target` may hold a partial tree (the caller extracts into a
/// temporary directory and removes it).
ArchiveSummary extract_archive(const std::filesystem::path& archive,
                               const std::filesystem::path& target,
                               const ExtractOptions& options = {});

}  // namespace wtp::download
