#pragma once
/// `wtp-download`: fetch a catalogue dataset or weights file (see catalogue.h), verify its
/// checksums (MD5 and/or SHA-256) and format, extract it safely, and install it under a root
/// directory, atomically as far as readers go.
///
///     DownloadOptions o;
///     o.dataset = "lfw";
///     o.root = "data";
///     auto result = run_download(o);  // data/lfw/lfw-deepfunneled/...
///
/// Steps, per dataset:
///  1. If `ROOT/DIR/.wtp-complete-DATASET` exists and lists entries that all exist, the
///     dataset is complete: log so and return (unless `force`).
///  2. Each file comes from a local `archives` file (no network), or from the mirrors:
///     the user's `mirrors` first, then the catalogue's. Downloads go to
///     `ROOT/DIR/.wtp-partial/NAME.part` (resumed across runs). A file whose MD5 or SHA-256
///     differs from the expected one, or that is not of the catalogue's format (e.g. not a
///     torch.save file), is deleted and the next mirror is tried; the message names the
///     mirror that served it. Without any known checksum the computed SHA-256 is logged.
///  3. Archives are extracted (see extract.h) and plain files copied into a staging
///     directory `ROOT/DIR/.wtp-partial/stage-DATASET`, then each top-level entry is
///     renamed into `ROOT/DIR`, and only then is the marker written (with the verified
///     checksums). A run that fails at any point leaves no marker, so an incomplete tree
///     is never taken for a finished dataset.
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "download/http.h"

namespace wtp::download {

/// Options of one run of `wtp-download` (the config keys of the tool).
struct DownloadOptions {
  std::string dataset;                ///< catalogue name (see catalogue.h)
  std::string root = "data";          ///< directory the datasets are installed under
  std::vector<std::string> mirrors;   ///< URLs tried first; see mirror rules in download.cpp
  bool only_mirrors = false;          ///< try only `mirrors`, never the catalogue's URLs
  std::vector<std::string> archives;  ///< local files used instead of downloading them
  std::string md5;                    ///< expected MD5 overriding the catalogue's (one file)
  std::string sha256;                 ///< expected SHA-256 overriding the catalogue's (one file)
  std::map<std::string, std::string> checksums;  ///< per-file MD5 or SHA-256 (NAME: HEX)
  bool force = false;                            ///< redo a dataset that is already complete
  bool keep_archive = false;  ///< keep downloaded archives in ROOT/DIR after extraction
  double timeout = 30;        ///< seconds: connection timeout and stall limit
  int retries = 3;            ///< retries per mirror on transient errors
  double backoff = 1.0;       ///< seconds before the first retry (doubled each time)
  bool progress = true;       ///< show progress bars

  template <class V>
  void visit(V& v) {
    v("dataset", dataset, "catalogue name (datasets and weights, see wtp-download --help)");
    v("root", root, "directory the datasets are installed under");
    v("mirrors", mirrors, "URLs tried before the catalogue's (URL, FOLDER_URL/ or NAME=URL)");
    v("only_mirrors", only_mirrors, "try only `mirrors`, never the catalogue's URLs");
    v("archives", archives, "local files used instead of downloading them");
    v("md5", md5, "expected MD5 overriding the catalogue's (for one file)");
    v("sha256", sha256, "expected SHA-256 overriding the catalogue's (for one file)");
    v("checksums", checksums, "expected MD5 or SHA-256 per file name, overriding the catalogue's");
    v("force", force, "redo a dataset that is already complete");
    v("keep_archive", keep_archive, "keep downloaded archives after extraction");
    v("timeout", timeout, "seconds: connection timeout and stall limit");
    v("retries", retries, "retries per mirror on transient errors");
    v("backoff", backoff, "seconds before the first retry, doubled each time");
    v("progress", progress, "show progress bars");
  }
  /// Checks the values (not the dataset name, which run_download checks).
  void validate() const;
};

/// One file of the installed dataset.
struct FileRecord {
  std::string name;       ///< catalogue file name
  std::string md5;        ///< MD5 of the bytes used (always computed)
  std::string sha256;     ///< SHA-256 of the bytes used (always computed)
  bool verified = false;  ///< true if it matched a known checksum (MD5 and/or SHA-256)
  std::string source;     ///< URL that served it, or "file:PATH" for a local archive
};

/// What run_download() did.
struct DownloadResult {
  bool already_complete = false;     ///< nothing was done: the dataset was complete
  std::filesystem::path directory;   ///< ROOT/DIR
  std::filesystem::path marker;      ///< the completion marker
  std::vector<std::string> entries;  ///< top-level names installed in `directory`
  std::vector<FileRecord> files;     ///< per catalogue file (empty if already complete)
};

/// Downloads (or takes from `archives`), verifies, extracts and installs a dataset.
/// Throws UsageError for bad options (unknown dataset, --archive that is missing or
/// matches no file, an --archive whose checksum differs from the expected one or that is
/// not of the expected format, ...) and
/// std::runtime_error when the work fails (no mirror served a good copy, an archive is
/// unsafe or corrupt, the disk is full); the message says what to do next.
DownloadResult run_download(const DownloadOptions& options);

/// Path of the completion marker of `dataset` under `root`.
std::filesystem::path marker_path(const std::filesystem::path& root, const std::string& dataset);

}  // namespace wtp::download
