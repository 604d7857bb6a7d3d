#include "serve_fixture.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <sys/file.h>

#include "download/md5.h"
#include "synth/clips.h"
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

/// Trains tests/serve/`recipe` in `dir` (its relative paths resolve there).
void train(const fs::path& dir, const fs::path& recipe) {
  const CommandResult r =
      run_command("cd '" + dir.string() + "' && " + (bin_dir() / "wtp-train").string() +
                  " --threads 1 --log-level warn --config '" + recipe.string() + "' 2>&1");
  if (r.status != 0)
    throw std::runtime_error("serve fixture: wtp-train --config " + recipe.string() + " failed:\n" +
                             r.output);
}

}  // namespace

std::vector<cv::Mat> login_clip(int identity, int take, bool blink, int blink_at, int frames) {
  synth::ClipOptions o;
  o.seed = kPeopleSeed;
  o.identity = identity;
  o.take = take;
  o.frames = frames;
  o.fps = static_cast<int>(1000.0 / kFrameMs);
  o.size = kFrameSize;
  o.eyes = blink ? synth::EyeSchedule::kBlink : synth::EyeSchedule::kOpen;
  o.blink_at = blink_at;
  o.blink_frames = 4;
  std::vector<cv::Mat> out;
  for (const auto& f : synth::render_clip(o).frames) out.push_back(f.image);
  return out;
}

std::vector<synth::RenderedFace> enrolment_stills(int identity, int images) {
  synth::EnrolOptions o;
  o.seed = kPeopleSeed;
  o.identity = identity;
  o.images = images;
  o.size = kFrameSize;
  return synth::render_enrolment(o);
}

std::optional<ServeArchives> serve_archives(std::string& why) {
  if (!fs::exists(bin_dir() / "wtp-train")) {
    why = "wtp-train is not built (cmake --build build --target wtp-train)";
    return std::nullopt;
  }
  const fs::path source = source_dir() / "tests" / "serve";
  const fs::path dir = bin_dir().parent_path() / "serve_fixture";
  fs::create_directories(dir);
  FileLock lock(dir / "lock");
  ServeArchives archives{dir / "embedding" / "model.ts", dir / "liveness" / "model.ts"};
  const fs::path recipes[] = {source / "fixture_embedding.yaml", source / "fixture_liveness.yaml"};
  const std::string stamp = download::md5_hex(read_file(recipes[0]) + read_file(recipes[1]));
  if (fs::exists(dir / "stamp") && read_file(dir / "stamp") == stamp &&
      fs::exists(archives.model) && fs::exists(archives.liveness))
    return archives;
  fs::remove(dir / "stamp");
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename() != "lock") fs::remove_all(entry.path());
  for (const auto& recipe : recipes) train(dir, recipe);
  std::ofstream(dir / "stamp") << stamp;
  return archives;
}

}  // namespace wtp::test
