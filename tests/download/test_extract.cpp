#include "catch_torch.h"
#include "download/extract.h"
#include "fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace wtp::download;
using wtp::test::ArchiveFormat;
using wtp::test::Entry;

namespace {

ExtractOptions quiet() {
  ExtractOptions o;
  o.progress = false;
  o.reserve_bytes = 0;
  return o;
}

/// Number of entries (of any kind) below `dir`.
std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
       ++it)
    ++n;
  return n;
}

}  // namespace

TEST_CASE("safe_entry_path normalises names and refuses escapes", "[download][extract]") {
  CHECK(safe_entry_path("lfw-deepfunneled/Zico/Zico_0001.jpg", "a") ==
        "lfw-deepfunneled/Zico/Zico_0001.jpg");
  CHECK(safe_entry_path("./a//b/./c", "a") == "a/b/c");
  CHECK(safe_entry_path("./", "a") == "");
  CHECK(safe_entry_path("a..b/c..", "a") == "a..b/c..");  // dots inside names are fine
  CHECK_THROWS_AS(safe_entry_path("../evil.jpg", "x.tgz"), UnsafeArchiveError);
  CHECK_THROWS_WITH(
      safe_entry_path("a/../../evil.jpg", "x.tgz"),
      Catch::Contains("'a/../../evil.jpg'") && Catch::Contains("'..'") && Catch::Contains("x.tgz"));
  CHECK_THROWS_WITH(safe_entry_path("/etc/passwd", "x.tgz"), Catch::Contains("absolute path"));
  CHECK_THROWS_AS(safe_entry_path("C:/Windows/x", "x.zip"), UnsafeArchiveError);
  CHECK_THROWS_AS(safe_entry_path("..\\evil.jpg", "x.zip"), UnsafeArchiveError);
  CHECK_THROWS_AS(safe_entry_path("\\evil.jpg", "x.zip"), UnsafeArchiveError);
}

TEST_CASE("tgz and zip archives of the LFW layout extract exactly", "[download][extract]") {
  for (auto format : {ArchiveFormat::kTgz, ArchiveFormat::kZip}) {
    wtp::test::TempDir dir;
    const auto entries = wtp::test::lfw_entries();
    const fs::path archive = dir / (format == ArchiveFormat::kTgz ? "lfw.tgz" : "lfw.zip");
    wtp::test::write_bytes(archive, wtp::test::make_archive(format, entries));

    const ArchiveSummary scanned = scan_archive(archive);
    CHECK(scanned.entries == static_cast<std::int64_t>(entries.size()));
    std::int64_t bytes = 0;
    for (const auto& e : entries) bytes += static_cast<std::int64_t>(e.data.size());
    CHECK(scanned.bytes == bytes);
    CHECK(scanned.top_level == std::vector<std::string>{"lfw-deepfunneled"});

    const ArchiveSummary s = extract_archive(archive, dir / "out", quiet());
    CHECK(s.entries == scanned.entries);
    CHECK(wtp::test::read_tree(dir / "out") == wtp::test::tree_of(entries));
    CHECK(fs::is_directory(dir / "out/lfw-deepfunneled/Abel_Pacheco"));
  }
}

TEST_CASE("a symlink inside the target is kept", "[download][extract]") {
  wtp::test::TempDir dir;
  std::vector<Entry> entries{Entry::dir("d/"), Entry::file("d/a.jpg", "A"),
                             Entry::symlink("d/latest.jpg", "a.jpg"),
                             Entry::symlink("d/sub/up.jpg", "../a.jpg")};
  wtp::test::write_bytes(dir / "ok.tgz", wtp::test::make_archive(ArchiveFormat::kTgz, entries));
  extract_archive(dir / "ok.tgz", dir / "out", quiet());
  CHECK(fs::is_symlink(dir / "out/d/latest.jpg"));
  CHECK(fs::read_symlink(dir / "out/d/latest.jpg") == "a.jpg");
  CHECK(wtp::test::read_file(dir / "out/d/sub/up.jpg") == "A");
}

TEST_CASE("hostile archives are refused before anything is written", "[download][extract]") {
  struct Case {
    const char* name;
    std::vector<Entry> entries;
    const char* entry;  // the entry the message must name
  };
  wtp::test::TempDir dir;
  const std::string outside = (dir / "outside").string();
  const std::vector<Case> cases = {
      {"dot-dot",
       {Entry::file("lfw/ok.jpg", "ok"), Entry::file("../evil.jpg", "evil")},
       "../evil.jpg"},
      {"nested dot-dot",
       {Entry::file("lfw/ok.jpg", "ok"), Entry::file("lfw/../../outside/evil.jpg", "evil")},
       "lfw/../../outside/evil.jpg"},
      {"absolute",
       {Entry::file("lfw/ok.jpg", "ok"), Entry::file(outside + "/abs.jpg", "evil")},
       "/abs.jpg"},
      {"symlink out",
       {Entry::file("lfw/ok.jpg", "ok"), Entry::symlink("lfw/link", "../../outside"),
        Entry::file("lfw/link/evil.jpg", "evil")},
       "lfw/link"},
      {"absolute symlink", {Entry::symlink("lfw/link", outside)}, "lfw/link"},
  };
  for (auto format : {ArchiveFormat::kTgz, ArchiveFormat::kZip}) {
    for (const auto& c : cases) {
      INFO(c.name << (format == ArchiveFormat::kTgz ? " (tgz)" : " (zip)"));
      fs::remove_all(dir / "outside");
      fs::remove_all(dir / "target");
      fs::create_directories(dir / "outside");
      const fs::path archive = dir / "evil.archive";
      wtp::test::write_bytes(archive, wtp::test::make_archive(format, c.entries));
      REQUIRE_THROWS_AS(extract_archive(archive, dir / "target", quiet()), UnsafeArchiveError);
      CHECK_THROWS_WITH(extract_archive(archive, dir / "target", quiet()),
                        Catch::Contains(c.entry) && Catch::Contains("refusing to extract"));
      CHECK(count_entries(dir / "outside") == 0);
      CHECK_FALSE(fs::exists(dir / "evil.jpg"));
      CHECK_FALSE(fs::exists(dir / "target/lfw/ok.jpg"));  // refused as a whole
    }
  }
  // tar hard links: to an absolute path or through '..'.
  for (const char* target : {"/etc/passwd", "../outside/x"}) {
    INFO(target);
    wtp::test::write_bytes(
        dir / "hard.tgz",
        wtp::test::make_archive(ArchiveFormat::kTgz, {Entry::hardlink("lfw/h.jpg", target)}));
    CHECK_THROWS_WITH(extract_archive(dir / "hard.tgz", dir / "target", quiet()),
                      Catch::Contains("'lfw/h.jpg'") && Catch::Contains("hard link"));
  }
}

TEST_CASE("a truncated or corrupt archive is reported as such", "[download][extract]") {
  wtp::test::TempDir dir;
  for (auto format : {ArchiveFormat::kTgz, ArchiveFormat::kZip}) {
    const std::string bytes = wtp::test::make_archive(format, wtp::test::lfw_entries());
    wtp::test::write_bytes(dir / "cut.archive", bytes.substr(0, bytes.size() / 2));
    fs::remove_all(dir / "out");
    CHECK_THROWS_WITH(extract_archive(dir / "cut.archive", dir / "out", quiet()),
                      Catch::Contains("corrupt or truncated") && Catch::Contains("cut.archive"));
  }
  wtp::test::write_bytes(dir / "junk.tgz", "this is not an archive at all");
  CHECK_THROWS_WITH(extract_archive(dir / "junk.tgz", dir / "out", quiet()),
                    Catch::Contains("junk.tgz"));
}

TEST_CASE("free space is checked before extracting", "[download][extract]") {
  wtp::test::TempDir dir;
  CHECK_NOTHROW(check_free_space(dir.path(), 1024, "a test"));
  const std::int64_t exabyte = std::int64_t{1} << 60;
  CHECK_THROWS_WITH(check_free_space(dir.path(), exabyte, "a test"),
                    Catch::Contains("not enough free disk space") && Catch::Contains("MiB needed"));
  // Through extract_archive: reserve more than any disk has.
  wtp::test::write_bytes(dir / "lfw.tgz",
                         wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries()));
  ExtractOptions o = quiet();
  o.reserve_bytes = exabyte;
  CHECK_THROWS_WITH(extract_archive(dir / "lfw.tgz", dir / "out", o),
                    Catch::Contains("not enough free disk space"));
  CHECK((!fs::exists(dir / "out") || fs::is_empty(dir / "out")));
}

TEST_CASE("RAR 4 stored archives built in the test extract with libarchive",
          "[download][extract][rar]") {
  wtp::test::TempDir dir;
  const auto entries = wtp::test::cew_entries();
  const std::string rar = wtp::test::make_rar(entries);
  REQUIRE(rar.substr(0, 7) == std::string("Rar!\x1a\x07\x00", 7));
  wtp::test::write_bytes(dir / "cew.rar", rar);
  const ArchiveSummary s = extract_archive(dir / "cew.rar", dir / "out", quiet());
  CHECK(s.entries == static_cast<std::int64_t>(entries.size()));
  CHECK(s.top_level == std::vector<std::string>{"dataset_B_FacialImages"});
  CHECK(wtp::test::read_tree(dir / "out") == wtp::test::tree_of(entries));

  SECTION("a corrupted header byte fails the header CRC check") {
    // (libarchive 3.6 does not check the CRC-32 of *stored* RAR data, only the header
    // CRC-16s: whole-file MD5s are what guard the data.)
    std::string bad = rar;
    const auto at = bad.find("OpenFace/Aaron_Guiel_0001.jpg");
    REQUIRE(at != std::string::npos);
    bad[at + 3] = static_cast<char>(bad[at + 3] ^ 0x01);
    wtp::test::write_bytes(dir / "bad.rar", bad);
    CHECK_THROWS_WITH(extract_archive(dir / "bad.rar", dir / "bad", quiet()),
                      Catch::Contains("bad.rar") && Catch::Contains("CRC"));
  }
  SECTION("a '..' entry is refused and nothing is written") {
    std::vector<Entry> evil = entries;
    evil.push_back(Entry::file("../evil.jpg", "evil"));
    wtp::test::write_bytes(dir / "evil.rar", wtp::test::make_rar(evil));
    CHECK_THROWS_WITH(extract_archive(dir / "evil.rar", dir / "target", quiet()),
                      Catch::Contains("'../evil.jpg'") && Catch::Contains("evil.rar"));
    CHECK_FALSE(fs::exists(dir / "evil.jpg"));
    CHECK_FALSE(fs::exists(dir / "target/dataset_B_FacialImages"));
  }
  SECTION("a symlink pointing outside is refused") {
    wtp::test::write_bytes(
        dir / "link.rar",
        wtp::test::make_rar({Entry::symlink("dataset_B_FacialImages/x", "../../..")}));
    CHECK_THROWS_WITH(
        extract_archive(dir / "link.rar", dir / "target", quiet()),
        Catch::Contains("'dataset_B_FacialImages/x'") && Catch::Contains("symbolic link"));
  }
}
