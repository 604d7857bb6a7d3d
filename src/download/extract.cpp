#include "download/extract.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "core/log.h"
#include "core/progress.h"

namespace fs = std::filesystem;

namespace wtp::download {
namespace {

struct ReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;
using WriteArchive = std::unique_ptr<archive, WriteDeleter>;

std::string libarchive_error(archive* a) {
  const char* message = archive_error_string(a);
  return message ? message : "unknown libarchive error";
}

ReadArchive open_for_reading(const fs::path& path) {
  ReadArchive a(archive_read_new());
  if (!a) throw std::runtime_error("libarchive could not allocate a reader");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw std::runtime_error("cannot read archive " + path.string() +
                             ": it is corrupt or truncated, or not an archive (" +
                             libarchive_error(a.get()) + ")");
  return a;
}

std::vector<std::string> split_components(const std::string& path) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : path) {
    if (c == '/' || c == '\\') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  parts.push_back(current);
  return parts;
}

bool is_absolute_name(const std::string& name) {
  if (name.empty()) return false;
  if (name[0] == '/' || name[0] == '\\') return true;
  return name.size() >= 2 && std::isalpha(static_cast<unsigned char>(name[0])) && name[1] == ':';
}

[[noreturn]] void refuse(const std::string& archive, const std::string& entry,
                         const std::string& why) {
  throw UnsafeArchiveError("refusing to extract " + archive + ": entry '" + entry + "' " + why +
                           "; nothing was extracted. The archive is damaged or malicious: get "
                           "a clean copy (check its MD5)");
}

/// The entry's link target, checked: a relative path that stays inside the target when
/// resolved from the entry's directory.
void check_symlink(const std::string& archive_name, const std::string& entry,
                   const std::string& rel_path, const std::string& target) {
  if (target.empty()) refuse(archive_name, entry, "is a symbolic link with an empty target");
  if (is_absolute_name(target))
    refuse(archive_name, entry, "is a symbolic link to the absolute path '" + target + "'");
  // Lexical resolution from the link's directory; depth < 0 means outside the target.
  auto dir = split_components(rel_path);
  dir.pop_back();
  int depth = 0;
  for (const auto& part : dir)
    if (!part.empty() && part != ".") ++depth;
  for (const auto& part : split_components(target)) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (--depth < 0)
        refuse(archive_name, entry,
               "is a symbolic link to '" + target + "', which points outside the target directory");
    } else {
      ++depth;
    }
  }
}

struct CheckedEntry {
  std::string path;      ///< safe relative path ("" = the root itself)
  std::string hardlink;  ///< safe relative hard-link target, if any
};

CheckedEntry check_entry(archive_entry* entry, const std::string& archive_name) {
  const char* raw = archive_entry_pathname(entry);
  if (!raw) refuse(archive_name, "?", "has no readable name");
  const std::string name = raw;
  CheckedEntry out;
  out.path = safe_entry_path(name, archive_name);
  if (const char* hl = archive_entry_hardlink(entry)) {
    const std::string target = hl;
    if (is_absolute_name(target))
      refuse(archive_name, name, "is a hard link to the absolute path '" + target + "'");
    for (const auto& part : split_components(target))
      if (part == "..")
        refuse(archive_name, name,
               "is a hard link to '" + target + "', which points outside the target directory");
    out.hardlink = safe_entry_path(target, archive_name);
    if (out.hardlink.empty()) refuse(archive_name, name, "is a hard link to the target itself");
    return out;
  }
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG:
    case AE_IFDIR:
      break;
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(entry);
      check_symlink(archive_name, name, out.path, target ? target : "");
      break;
    }
    default:
      refuse(archive_name, name, "is a device, FIFO or socket, which a dataset never contains");
  }
  return out;
}

}  // namespace

std::string safe_entry_path(const std::string& name, const std::string& archive) {
  if (is_absolute_name(name))
    refuse(archive, name, "has an absolute path and would be written outside the target directory");
  std::string out;
  for (const auto& part : split_components(name)) {
    if (part.empty() || part == ".") continue;
    if (part == "..")
      refuse(archive, name,
             "has a '..' component and would be written outside the target directory");
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

ArchiveSummary scan_archive(const fs::path& path) {
  const std::string name = path.filename().string();
  ReadArchive a = open_for_reading(path);
  ArchiveSummary summary;
  std::set<std::string> top;
  archive_entry* entry = nullptr;
  for (;;) {
    const int rc = archive_read_next_header(a.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      throw std::runtime_error("archive " + path.string() + " is corrupt or truncated (after " +
                               std::to_string(summary.entries) +
                               " entries): " + libarchive_error(a.get()));
    const CheckedEntry checked = check_entry(entry, name);
    ++summary.entries;
    if (archive_entry_size_is_set(entry)) {
      summary.bytes += archive_entry_size(entry);
    } else if (archive_entry_filetype(entry) == AE_IFREG) {
      summary.sizes_known = false;
    }
    if (!checked.path.empty()) top.insert(checked.path.substr(0, checked.path.find('/')));
    if (archive_read_data_skip(a.get()) < ARCHIVE_WARN)
      throw std::runtime_error("archive " + path.string() + " is corrupt or truncated (entry '" +
                               archive_entry_pathname(entry) + "'): " + libarchive_error(a.get()));
  }
  if (summary.entries == 0)
    throw std::runtime_error("archive " + path.string() +
                             " holds no entries (empty, or not an archive libarchive can read)");
  summary.top_level.assign(top.begin(), top.end());
  return summary;
}

void check_free_space(const fs::path& dir, std::int64_t needed, const std::string& what) {
  std::error_code ec;
  const auto info = fs::space(dir, ec);
  if (ec) {
    log::warn("cannot tell the free space in ", dir.string(), " (", ec.message(), "); going ahead");
    return;
  }
  if (needed > 0 && static_cast<std::uintmax_t>(needed) > info.available) {
    constexpr double kMiB = 1024.0 * 1024.0;
    throw std::runtime_error("not enough free disk space in " + dir.string() + " for " + what +
                             ": about " + std::to_string(static_cast<long long>(needed / kMiB)) +
                             " MiB needed, " +
                             std::to_string(static_cast<long long>(info.available / kMiB)) +
                             " MiB available. Free some space or choose another --root");
  }
}

ArchiveSummary extract_archive(const fs::path& archive_path, const fs::path& target_dir,
                               const ExtractOptions& options) {
  const std::string name = archive_path.filename().string();
  const ArchiveSummary summary = scan_archive(archive_path);

  std::error_code ec;
  fs::create_directories(target_dir, ec);
  if (ec) throw std::runtime_error("cannot create " + target_dir.string() + ": " + ec.message());
  // libarchive refuses to extract through symbolic links, including ones in the target's
  // own path (e.g. /tmp -> /private/tmp): give it the resolved path.
  const fs::path target = fs::canonical(target_dir);

  std::int64_t needed = summary.bytes;
  if (!summary.sizes_known)
    needed =
        std::max<std::int64_t>(needed, 2 * static_cast<std::int64_t>(fs::file_size(archive_path)));
  needed += summary.entries * 4096 + options.reserve_bytes;  // block rounding + headroom
  check_free_space(target, needed, "extracting " + name);

  ReadArchive in = open_for_reading(archive_path);
  WriteArchive out(archive_write_disk_new());
  if (!out) throw std::runtime_error("libarchive could not allocate a disk writer");
  archive_write_disk_set_options(out.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  archive_write_disk_set_standard_lookup(out.get());

  std::unique_ptr<Progress> progress;
  if (options.progress)
    progress = std::make_unique<Progress>("extract " + name, summary.bytes, "B");

  archive_entry* entry = nullptr;
  std::int64_t count = 0;
  for (;;) {
    const int rc = archive_read_next_header(in.get(), &entry);
    if (rc == ARCHIVE_EOF) break;
    if (rc < ARCHIVE_WARN)
      throw std::runtime_error("archive " + archive_path.string() +
                               " is corrupt or truncated (after " + std::to_string(count) +
                               " entries): " + libarchive_error(in.get()));
    const std::string entry_name = archive_entry_pathname(entry);
    // Checked again: the archive could differ from the scanned one only if it changed on
    // disk meanwhile, but the check is cheap.
    const CheckedEntry checked = check_entry(entry, name);
    ++count;
    if (checked.path.empty()) continue;  // "./": the target itself
    const std::string full = (target / checked.path).string();
    archive_entry_set_pathname(entry, full.c_str());
    if (!checked.hardlink.empty()) {
      const std::string link = (target / checked.hardlink).string();
      archive_entry_set_hardlink(entry, link.c_str());
    }
    int w = archive_write_header(out.get(), entry);
    if (w < ARCHIVE_WARN)
      throw std::runtime_error("cannot extract entry '" + entry_name + "' of " + name + ": " +
                               libarchive_error(out.get()));
    if (archive_entry_size(entry) > 0 && checked.hardlink.empty()) {
      const void* block = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        const int r = archive_read_data_block(in.get(), &block, &size, &offset);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK)  // a warning here is a checksum or truncation problem
          throw std::runtime_error("archive " + archive_path.string() +
                                   " is corrupt or truncated (entry '" + entry_name +
                                   "'): " + libarchive_error(in.get()));
        if (archive_write_data_block(out.get(), block, size, offset) < ARCHIVE_WARN)
          throw std::runtime_error("cannot write entry '" + entry_name + "' of " + name + ": " +
                                   libarchive_error(out.get()));
        if (progress) progress->advance(static_cast<std::int64_t>(size));
      }
    }
    w = archive_write_finish_entry(out.get());
    if (w < ARCHIVE_WARN)
      throw std::runtime_error("cannot finish entry '" + entry_name + "' of " + name + ": " +
                               libarchive_error(out.get()));
  }
  if (archive_write_close(out.get()) < ARCHIVE_WARN)
    throw std::runtime_error("cannot finish extracting " + name + ": " +
                             libarchive_error(out.get()));
  if (progress) progress->finish();
  return summary;
}

}  // namespace wtp::download
