#include "serve_fixture.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <sys/file.h>

#include "download/md5.h"
#include "test_support.h"

namespace wtp::test {

namespace fs = std::filesystem;

namespace {

/// Holds an exclusive lock on a file for its lifetime.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0)
      throw std::runtime_error("cannot lock " + path.string());
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }

 private:
  int fd_;
};

void train(const std::string& args) {
  const CommandResult r = run_command((bin_dir() / "wtp-train").string() +
                                      " --threads 1 --log-level warn " + args + " 2>&1");
  if (r.status != 0)
    throw std::runtime_error("serve fixture: wtp-train " + args + " failed:\n" + r.output);
}

}  // namespace

std::optional<ServeArchives> serve_archives(std::string& why) {
  if (!fs::exists(bin_dir() / "wtp-train")) {
    why = "wtp-train is not built (cmake --build build --target wtp-train)";
    return std::nullopt;
  }
  const fs::path recipes = source_dir() / "tests" / "serve";
  const fs::path dir = bin_dir().parent_path() / "serve_fixture";
  fs::create_directories(dir);
  FileLock lock(dir / "lock");
  ServeArchives archives{dir / "embedding" / "model.ts", dir / "liveness" / "model.ts"};
  const std::string stamp = download::md5_hex(read_file(recipes / "fixture_embedding.yaml") +
                                              read_file(recipes / "fixture_liveness.yaml"));
  if (fs::exists(dir / "stamp") && read_file(dir / "stamp") == stamp &&
      fs::exists(archives.model) && fs::exists(archives.liveness))
    return archives;
  for (const char* sub : {"embedding", "liveness", "synth", "synth_cew", "stamp"})
    fs::remove_all(dir / sub);
  const std::string d = dir.string();
  train("--config " + (recipes / "fixture_embedding.yaml").string() + " --set out=" + d +
        "/embedding --set synth.out=" + d + "/synth --set data.dataset.root=" + d +
        "/synth/celeba");
  train("--config " + (recipes / "fixture_liveness.yaml").string() + " --set out=" + d +
        "/liveness --set synth.out=" + d + "/synth_cew --set data.dataset.root=" + d +
        "/synth_cew/cew");
  std::ofstream(dir / "stamp") << stamp;
  return archives;
}

}  // namespace wtp::test
