// libFuzzer target: safe archive extraction (tar, tar.gz, zip, rar and whatever else
// libarchive reads): scan, then extract into a scratch directory. Beyond the usual
// contract, nothing may be written outside the target directory: the process's scratch
// directory must hold no new entry afterwards. Seeds: tests/fuzz/corpus/extract/ (archives
// built in memory by tests/download's fixtures and by python3).
#include <set>
#include <stdexcept>

#include "download/extract.h"
#include "fuzz_support.h"

namespace {

std::set<std::filesystem::path> entries_of(const std::filesystem::path& dir) {
  std::set<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.insert(e.path());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  const fs::path work = wtp::fuzz::scratch_dir() / "work";
  const fs::path archive = wtp::fuzz::scratch_dir() / "archive.bin";
  const auto before = entries_of(wtp::fuzz::scratch_dir());
  wtp::fuzz::write_file(archive, wtp::fuzz::as_text(data, size));
  fs::create_directories(work);
  try {
    wtp::download::ExtractOptions options;
    options.progress = false;
    options.reserve_bytes = 0;
    (void)wtp::download::extract_archive(archive, work / "target", options);
  } catch (const std::runtime_error&) {
  }
  fs::remove_all(work);
  fs::remove(archive);
  if (entries_of(wtp::fuzz::scratch_dir()) != before)
    throw std::logic_error("extraction wrote outside its target directory");
  return 0;
}
