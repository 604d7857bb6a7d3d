#include "catch_torch.h"
#include "download/md5.h"
#include "fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using wtp::test::ArchiveFormat;

namespace {

std::string tool() {
  const fs::path path = wtp::test::bin_dir() / "wtp-download";
  REQUIRE(fs::exists(path));  // built with the project (tools/wtp_download.cpp)
  return path.string();
}

std::string quote(const fs::path& p) { return "'" + p.string() + "'"; }

}  // namespace

TEST_CASE("wtp-download: help, and bad arguments exit 2", "[download][cli]") {
  const auto help = wtp::test::run_command(tool() + " --help");
  CHECK(help.status == 0);
  for (const char* text :
       {"lfw-protocol", "lfw-original", "lfw-deepfunneled", "celeba", "cew",
        "bn-inception-imagenet", "inception-resnet-v1-vggface2", "--root", "--mirror", "--archive",
        "--md5", "--sha256", "--force", "--keep-archive", "--timeout", "--retries",
        "the old notebooks used lfw-deepfunneled"})
    CHECK_THAT(help.output, Catch::Contains(text));

  wtp::test::TempDir dir;
  const auto unknown = wtp::test::run_command(tool() + " mnist --root " + quote(dir.path()));
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.output, Catch::Contains("unknown dataset 'mnist'"));
  const auto retries =
      wtp::test::run_command(tool() + " lfw --root " + quote(dir.path()) + " --retries -1");
  CHECK(retries.status == 2);
  CHECK_THAT(retries.output, Catch::Contains("retries"));
  const auto no_root = wtp::test::run_command(tool() + " lfw");
  CHECK(no_root.status == 2);
}

TEST_CASE("wtp-download --archive installs, then a second run does nothing", "[download][cli]") {
  wtp::test::TempDir dir;
  const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries());
  wtp::test::write_bytes(dir / "lfw-deepfunneled.tgz", tgz);
  const std::string md5 = wtp::download::md5_hex(tgz);
  const std::string base = tool() + " lfw-deepfunneled --root " + quote(dir / "data") +
                           " --archive " + quote(dir / "lfw-deepfunneled.tgz") +
                           " --only-mirrors --mirror http://127.0.0.1:9/never-contacted/";

  const auto mismatch = wtp::test::run_command(base);
  CHECK(mismatch.status == 2);
  CHECK_THAT(mismatch.output,
             Catch::Contains(md5) && Catch::Contains("68331da3eb755a505a502b5aacb3c201"));

  const auto first = wtp::test::run_command(base + " --md5 " + md5);
  INFO(first.output);
  CHECK(first.status == 0);
  CHECK_THAT(first.output, Catch::Contains("installed in") && Catch::Contains(md5) &&
                               Catch::Contains("verified"));
  CHECK(fs::exists(dir / "data/lfw/lfw-deepfunneled/Zico/Zico_0001.jpg"));

  const auto second = wtp::test::run_command(base + " --md5 " + md5);
  CHECK(second.status == 0);
  CHECK_THAT(second.output, Catch::Contains("already complete"));
}

TEST_CASE("wtp-download: a failing mirror exits 1 with the reason", "[download][cli]") {
  wtp::test::TempDir dir;
  wtp::test::TestServer server;
  const auto run = wtp::test::run_command(tool() + " lfw-deepfunneled --root " +
                                          quote(dir / "data") + " --only-mirrors --mirror " +
                                          server.url("/none/") + " --timeout 5 --retries 0");
  CHECK(run.status == 1);
  CHECK_THAT(run.output, Catch::Contains("HTTP 404") &&
                             Catch::Contains(server.url("/none/lfw-deepfunneled.tgz")) &&
                             Catch::Contains("--archive"));
  CHECK_FALSE(fs::exists(dir / "data/lfw/.wtp-complete-lfw-deepfunneled"));
}
