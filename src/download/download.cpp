#include "download/download.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "core/log.h"
#include "download/catalogue.h"
#include "download/checksum.h"
#include "download/extract.h"
#include "download/md5.h"
#include "io/torch_file.h"

namespace fs = std::filesystem;

// Mirror rules (DownloadOptions::mirrors, `--mirror`), tried before the catalogue's URLs:
//   NAME=URL    URL serves the catalogue file NAME (e.g. "pairs.txt=https://host/x");
//   URL/        a folder: the file's name is appended, for every file of the dataset;
//   URL         serves the file whose name is the URL's last path segment, or, for a
//               dataset made of a single file, that file whatever the URL looks like.

namespace wtp::download {
namespace {

constexpr const char* kPartialDir = ".wtp-partial";
constexpr const char* kMarkerPrefix = ".wtp-complete-";

std::string last_path_segment(const std::string& url) {
  std::string path = url.substr(0, url.find_first_of("?#"));
  const auto scheme = path.find("://");
  if (scheme != std::string::npos) {
    const auto slash = path.find('/', scheme + 3);
    path = slash == std::string::npos ? "" : path.substr(slash);
  }
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

/// The URLs to try for each file, the user's first.
std::map<std::string, std::vector<std::string>> assign_mirrors(const DatasetSpec& spec,
                                                               const DownloadOptions& o) {
  std::map<std::string, std::vector<std::string>> out;
  std::string names;
  for (const auto& f : spec.files) names += (names.empty() ? "" : ", ") + f.name;
  for (const auto& mirror : o.mirrors) {
    bool used = false;
    const auto eq = mirror.find('=');
    const auto scheme = mirror.find("://");
    if (eq != std::string::npos && scheme != std::string::npos && eq < scheme) {
      const std::string name = mirror.substr(0, eq);
      for (const auto& f : spec.files)
        if (f.name == name) {
          out[f.name].push_back(mirror.substr(eq + 1));
          used = true;
        }
      require(used, "--mirror " + mirror + ": '" + name + "' is not a file of " + spec.name +
                        " (its files: " + names + ")");
      continue;
    }
    if (!mirror.empty() && mirror.back() == '/') {
      for (const auto& f : spec.files) out[f.name].push_back(mirror + f.name);
      continue;
    }
    const std::string segment = last_path_segment(mirror);
    for (const auto& f : spec.files)
      if (f.name == segment) {
        out[f.name].push_back(mirror);
        used = true;
      }
    if (!used && spec.files.size() == 1) {
      out[spec.files[0].name].push_back(mirror);
      used = true;
    }
    require(used, "--mirror " + mirror + " does not name one of " + spec.name + "'s files (" +
                      names +
                      "): end it with '/' to use it as a folder holding all of them, or "
                      "write NAME=URL");
  }
  if (!o.only_mirrors)
    for (const auto& f : spec.files)
      for (const auto& url : f.mirrors) out[f.name].push_back(url);
  return out;
}

/// Local files given with `archives`, by catalogue file name.
std::map<std::string, fs::path> assign_archives(const DatasetSpec& spec, const DownloadOptions& o) {
  std::map<std::string, fs::path> out;
  std::string names;
  for (const auto& f : spec.files) names += (names.empty() ? "" : ", ") + f.name;
  for (const auto& given : o.archives) {
    const fs::path path = fs::absolute(given);
    std::error_code ec;
    require(fs::is_regular_file(path, ec),
            "--archive " + given + ": no such file (give the path of the downloaded file)");
    std::string match;
    for (const auto& f : spec.files)
      if (f.name == path.filename().string()) match = f.name;
    if (match.empty() && spec.files.size() == 1) match = spec.files[0].name;
    require(!match.empty(), "--archive " + given + ": " + spec.name + " is made of " + names +
                                "; name the local file after the one it replaces");
    require(!out.count(match), "--archive: two files given for " + match);
    out[match] = path;
  }
  return out;
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buffer;
}

/// The marker's entries if it exists, is readable and all its entries exist.
std::optional<nlohmann::json> read_complete_marker(const fs::path& marker, const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(marker, ec)) return std::nullopt;
  try {
    std::ifstream in(marker);
    nlohmann::json j = nlohmann::json::parse(in);
    for (const auto& entry : j.at("entries")) {
      if (!fs::exists(dir / entry.get<std::string>(), ec)) {
        log::warn(marker.string(), " lists ", entry.get<std::string>(),
                  ", which is missing: installing again");
        return std::nullopt;
      }
    }
    return j;
  } catch (const std::exception& e) {
    log::warn("unreadable marker ", marker.string(), " (", e.what(), "): installing again");
    return std::nullopt;
  }
}

void write_marker(const fs::path& marker, const DatasetSpec& spec,
                  const std::vector<std::string>& entries, const std::vector<FileRecord>& files) {
  nlohmann::json j;
  j["dataset"] = spec.name;
  j["directory"] = spec.directory;
  j["completed_utc"] = now_utc();
  j["entries"] = entries;
  j["files"] = nlohmann::json::array();
  for (const auto& f : files)
    j["files"].push_back({{"name", f.name},
                          {"md5", f.md5},
                          {"sha256", f.sha256},
                          {"verified", f.verified},
                          {"source", f.source}});
  fs::path tmp = marker;
  tmp += ".tmp";
  {
    std::ofstream out(tmp);
    out << j.dump(2) << "\n";
    out.flush();
    if (!out) throw std::runtime_error("cannot write " + tmp.string());
  }
  fs::rename(tmp, marker);
}

std::string manual_hint(const DownloadOptions& o, const CatalogueFile& f) {
  return "Download " + f.name + " by hand (e.g. in a browser from " +
         (f.mirrors.empty() ? std::string("a mirror you trust") : f.mirrors.front()) +
         (f.google_drive ? ", signed in to a Google account" : "") + "), then run: wtp-download " +
         o.dataset + " --root " + o.root + " --archive /path/to/" + f.name +
         "; or give a working mirror with --mirror URL";
}

/// "" if `path` is of `format`, else what it is instead.
std::string format_problem(const fs::path& path, FileFormat format) {
  if (format == FileFormat::kAny) return "";
  try {
    const io::TorchFile file = io::load_torch_file(path);
    return io::named_tensors(file.root()).empty() ? "a torch.save file without tensors" : "";
  } catch (const std::exception& e) {
    return std::string("not a torch.save file (") + e.what() + ")";
  }
}

/// "" if the file at `path` (with checksums `actual`) is what `f` should be: its known
/// checksums agree and it has the catalogue's format; else what differs.
std::string problem(const fs::path& path, const CatalogueFile& f, const FileChecksums& actual,
                    const ExpectedChecksums& expected) {
  const std::string mismatch = expected.mismatch(actual);
  return mismatch.empty() ? format_problem(path, f.format) : mismatch;
}

void warn_unverified(const CatalogueFile& f, const std::string& what, const FileChecksums& sums) {
  log::warn(f.name, ": no published checksum is known, so ", what,
            " cannot be verified beyond its format; its SHA-256 is ", sums.sha256,
            " (record it and pass it with --sha256 next time)");
}

/// Downloads one file into `dest`, trying each mirror; returns the record.
FileRecord download_file(const CatalogueFile& f, const std::vector<std::string>& urls,
                         const ExpectedChecksums& expected, const fs::path& dest,
                         const DownloadOptions& o) {
  FileRecord record;
  record.name = f.name;
  std::error_code ec;
  // A complete download from an earlier run (e.g. one that failed while extracting) is
  // reused once verified; with --force, only if it can be verified.
  if (o.force && !expected.known()) fs::remove(dest, ec);
  if (fs::exists(dest, ec)) {
    const FileChecksums sums = file_checksums(dest, o.progress ? "verify " + f.name : "");
    const std::string wrong = problem(dest, f, sums, expected);
    if (wrong.empty()) {
      log::info(f.name, ": reusing the download from an earlier run (", dest.string(), ")");
      record.md5 = sums.md5;
      record.sha256 = sums.sha256;
      record.verified = expected.known();
      record.source = "earlier download";
      return record;
    }
    log::warn(f.name, ": the earlier download is wrong (", wrong, "); deleting it");
    fs::remove(dest, ec);
  }
  if (f.approx_size > 0)
    check_free_space(dest.parent_path(), f.approx_size + (64 << 20), "downloading " + f.name);

  HttpOptions http;
  http.connect_timeout = o.timeout;
  http.stall_timeout = o.timeout;
  http.retries = o.retries;
  http.backoff = o.backoff;
  http.progress = o.progress;

  std::vector<std::string> failures;
  bool quota = false;
  for (const auto& url : urls) {
    log::info(f.name, ": downloading from ", url);
    try {
      fetch_url(url, dest, http);
    } catch (const FetchError& e) {
      if (e.kind() == FetchError::Kind::kQuota) quota = true;
      log::warn(f.name, ": ", e.what());
      failures.push_back(e.what());
      continue;
    }
    const FileChecksums sums = file_checksums(dest, o.progress ? "verify " + f.name : "");
    const std::string wrong = problem(dest, f, sums, expected);
    if (!wrong.empty()) {
      fs::remove(dest, ec);
      const std::string message =
          "the mirror " + url + " served a wrong file (" + wrong + "; deleted it)";
      log::warn(f.name, ": ", message, "; trying the next mirror");
      failures.push_back(message);
      continue;
    }
    if (!expected.known()) warn_unverified(f, "the download", sums);
    record.md5 = sums.md5;
    record.sha256 = sums.sha256;
    record.verified = expected.known();
    record.source = url;
    return record;
  }
  std::string message = "could not download " + f.name + " from any of its " +
                        std::to_string(urls.size()) + " mirror" + (urls.size() == 1 ? "" : "s");
  message += urls.empty() ? " (none given: --only-mirrors without --mirror)" : ":";
  for (const auto& failure : failures) message += "\n  - " + failure;
  if (quota)
    message +=
        "\nGoogle Drive limits how often a popular file may be downloaded; the quota "
        "resets after a while (often a day).";
  message += "\n" + manual_hint(o, f);
  throw std::runtime_error(message);
}

}  // namespace

void DownloadOptions::validate() const {
  require(!root.empty(), "root: give the directory to install datasets under (--root DIR)");
  require(timeout > 0, "timeout must be > 0 seconds (got " + std::to_string(timeout) + ")");
  require(retries >= 0, "retries must be >= 0 (got " + std::to_string(retries) + ")");
  require(backoff >= 0, "backoff must be >= 0 seconds");
  require(md5.empty() || is_md5_hex(md5),
          "md5: '" + md5 + "' is not an MD5 (32 hexadecimal digits)");
  require(sha256.empty() || is_sha256_hex(sha256),
          "sha256: '" + sha256 + "' is not a SHA-256 (64 hexadecimal digits)");
  for (const auto& [name, hex] : checksums) parse_checksum(hex, "checksums." + name);
  for (const auto& m : mirrors)
    require(m.find("://") != std::string::npos,
            "mirror '" + m + "' is not a URL (expected http://..., https://... or NAME=URL)");
}

fs::path marker_path(const fs::path& root, const std::string& dataset) {
  const DatasetSpec& spec = find_dataset(dataset);
  return root / spec.directory / (kMarkerPrefix + spec.name);
}

DownloadResult run_download(const DownloadOptions& o) {
  o.validate();
  require(!o.dataset.empty(), "give the dataset to download (one of: " + dataset_names() + ")");
  const DatasetSpec& spec = find_dataset(o.dataset);
  const auto archives = assign_archives(spec, o);
  const auto mirrors = assign_mirrors(spec, o);

  std::map<std::string, ExpectedChecksums> expected;
  for (const auto& f : spec.files) expected[f.name] = {f.md5, f.sha256};
  for (const auto& [name, hex] : o.checksums) {
    require(expected.count(name) > 0, "checksums: '" + name + "' is not a file of " + spec.name);
    expected[name] = parse_checksum(hex, "checksums." + name);
  }
  // --md5 / --sha256 apply to exactly one file; either replaces the catalogue's checksums.
  if (!o.md5.empty() || !o.sha256.empty()) {
    const std::string flag = o.md5.empty() ? "--sha256" : "--md5";
    std::string target;
    if (archives.size() == 1) {
      target = archives.begin()->first;
    } else if (spec.files.size() == 1) {
      target = spec.files[0].name;
    }
    require(!target.empty(), flag + " names the checksum of one file, but " + spec.name +
                                 " has several: give it together with exactly one --archive");
    ExpectedChecksums given;
    if (!o.md5.empty()) given.md5 = normalize_md5(o.md5);
    if (!o.sha256.empty()) given.sha256 = normalize_md5(o.sha256);
    expected[target] = given;
  }

  DownloadResult result;
  const fs::path root = fs::absolute(o.root).lexically_normal();
  result.directory = root / spec.directory;
  result.marker = result.directory / (kMarkerPrefix + spec.name);
  std::error_code ec;
  fs::create_directories(result.directory, ec);
  if (ec)
    throw std::runtime_error("cannot create " + result.directory.string() + ": " + ec.message() +
                             " (choose a writable --root)");

  if (!o.force) {
    if (auto marker = read_complete_marker(result.marker, result.directory)) {
      result.already_complete = true;
      for (const auto& e : (*marker)["entries"]) result.entries.push_back(e.get<std::string>());
      log::info(spec.name, " is already complete in ", result.directory.string(), " (installed ",
                marker->value("completed_utc", std::string("earlier")),
                "); nothing to do. Use --force to download and install it again");
      return result;
    }
  } else {
    fs::remove(result.marker, ec);  // a failed forced run must not look complete
  }

  const fs::path work = result.directory / kPartialDir;
  const fs::path stage = work / ("stage-" + spec.name);
  fs::create_directories(work, ec);
  if (ec) throw std::runtime_error("cannot create " + work.string() + ": " + ec.message());

  // 1. Get and verify every file.
  std::map<std::string, fs::path> sources;  // file name -> verified bytes on disk
  for (const auto& f : spec.files) {
    const auto& want = expected[f.name];
    FileRecord record;
    if (auto it = archives.find(f.name); it != archives.end()) {
      record.name = f.name;
      const FileChecksums sums = file_checksums(it->second, o.progress ? "verify " + f.name : "");
      record.md5 = sums.md5;
      record.sha256 = sums.sha256;
      record.source = "file:" + it->second.string();
      const std::string mismatch = want.mismatch(sums);
      if (!mismatch.empty())
        throw UsageError(
            "--archive " + it->second.string() + ": it has " + mismatch + " for " + f.name +
            ". The file is damaged or another version: fetch it again, or "
            "pass --md5 " +
            sums.md5 + " or --sha256 " + sums.sha256 + " to accept this file as it is");
      const std::string format = format_problem(it->second, f.format);
      require(format.empty(), "--archive " + it->second.string() + ": " + f.name +
                                  " should be a torch.save file of tensors, but it is " + format);
      if (!want.known()) warn_unverified(f, it->second.string(), sums);
      record.verified = want.known();
      log::info(f.name, ": using the local file ", it->second.string(),
                record.verified ? " (verified: " + want.describe() + ")" : "");
      sources[f.name] = it->second;
    } else {
      const fs::path dest = work / f.name;
      record =
          download_file(f, mirrors.count(f.name) ? mirrors.at(f.name) : std::vector<std::string>{},
                        want, dest, o);
      sources[f.name] = dest;
    }
    result.files.push_back(record);
  }

  // 2. Build the dataset in the staging directory, 3. move it into place, 4. mark it.
  try {
    fs::remove_all(stage);
    fs::create_directories(stage);
    for (const auto& f : spec.files) {
      const fs::path& src = sources.at(f.name);
      if (f.action == FileAction::kExtract) {
        log::info(f.name, ": extracting");
        ExtractOptions x;
        x.progress = o.progress;
        extract_archive(src, stage, x);
      } else {
        fs::copy_file(src, stage / f.name, fs::copy_options::overwrite_existing);
      }
    }
    std::vector<std::string> entries;
    for (const auto& entry : fs::directory_iterator(stage)) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(".wtp-", 0) == 0)
        throw std::runtime_error("the data of " + spec.name + " holds '" + name +
                                 "', a name reserved for wtp-download's own files");
      entries.push_back(name);
    }
    std::sort(entries.begin(), entries.end());
    if (entries.empty()) throw std::runtime_error(spec.name + ": the archives held no files");
    for (const auto& name : entries) {
      const fs::path dest = result.directory / name;
      if (fs::exists(fs::symlink_status(dest))) {
        log::info("replacing the earlier ", dest.string());
        fs::remove_all(dest);
      }
      fs::rename(stage / name, dest);
    }
    write_marker(result.marker, spec, entries, result.files);
    result.entries = entries;
  } catch (...) {
    fs::remove_all(stage, ec);
    // A download that could not be verified may be what is wrong: fetch it again next time.
    for (const auto& record : result.files)
      if (!record.verified && !archives.count(record.name)) fs::remove(sources.at(record.name), ec);
    throw;
  }

  // 5. Tidy up: downloaded copies go (or are kept beside the data), the staging goes.
  fs::remove_all(stage, ec);
  for (const auto& f : spec.files) {
    if (archives.count(f.name)) continue;  // the user's own file: never touched
    const fs::path& src = sources.at(f.name);
    if (o.keep_archive && f.action == FileAction::kExtract) {
      fs::rename(src, result.directory / f.name, ec);
      if (!ec) log::info("kept ", (result.directory / f.name).string());
    } else {
      fs::remove(src, ec);
    }
  }
  if (fs::is_empty(work, ec)) fs::remove(work, ec);
  log::info(spec.name, " is complete in ", result.directory.string(), " (", result.entries.size(),
            " top-level entr", result.entries.size() == 1 ? "y" : "ies", ")");
  return result;
}

}  // namespace wtp::download
