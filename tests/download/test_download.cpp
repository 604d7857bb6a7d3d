#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "catch_torch.h"
#include "download/catalogue.h"
#include "download/checksum.h"
#include "download/download.h"
#include "download/extract.h"
#include "download/http.h"
#include "download/md5.h"
#include "fixtures.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace wtp::download;
using wtp::test::ArchiveFormat;
using wtp::test::Entry;
using wtp::test::TestServer;

namespace {

/// Options that only ever use the given local mirrors.
DownloadOptions local_options(const std::string& dataset, const fs::path& root) {
  DownloadOptions o;
  o.dataset = dataset;
  o.root = root.string();
  o.only_mirrors = true;
  o.progress = false;
  o.timeout = 5;
  o.retries = 2;
  o.backoff = 0.01;
  return o;
}

HttpOptions quick_http() {
  HttpOptions h;
  h.connect_timeout = 5;
  h.stall_timeout = 5;
  h.retries = 2;
  h.backoff = 0.01;
  h.progress = false;
  return h;
}

/// The files under ROOT/DIR, without the completion marker (which must exist).
std::map<std::string, std::string> installed_tree(const fs::path& dir, const std::string& dataset) {
  auto tree = wtp::test::read_tree(dir);
  const std::string marker = ".wtp-complete-" + dataset;
  CHECK(tree.erase(marker) == 1);
  return tree;
}

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TestServer::Route file_route(const std::string& body) {
  TestServer::Route r;
  r.body = body;
  return r;
}

/// The body of Google Drive's current "can't scan for viruses" page (trimmed), whose
/// form sends id, export, confirm=t and uuid to `action`.
std::string drive_warning_page(const std::string& action, const std::string& id,
                               const std::string& uuid) {
  return "<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head>"
         "<body><div class=\"uc-main\"><p class=\"uc-warning-caption\">Google Drive can't scan "
         "this file for viruses.</p><p class=\"uc-warning-subcaption\">img_align_celeba.zip "
         "(1.3G) is too large for Google to scan for viruses. Would you still like to download "
         "this file?</p><form id=\"download-form\" action=\"" +
         action +
         "\" method=\"get\"><input type=\"submit\" id=\"uc-download-link\" "
         "class=\"goog-inline-block "
         "jfk-button jfk-button-action\" value=\"Download anyway\"/><input type=\"hidden\" "
         "name=\"id\" value=\"" +
         id +
         "\"><input type=\"hidden\" name=\"export\" value=\"download\"><input type=\"hidden\" "
         "name=\"confirm\" value=\"t\"><input type=\"hidden\" name=\"uuid\" value=\"" +
         uuid + "\"></form></div></body></html>";
}

const char* kQuotaPage =
    "<html><head><title>Google Drive - Quota exceeded</title></head><body><p>Sorry, you can't "
    "view or download this file at this time.</p><p>Too many users have viewed or downloaded "
    "this file recently. Please try accessing the file again later.</p></body></html>";

}  // namespace

TEST_CASE("the catalogue lists the datasets and weights with their published checksums",
          "[download]") {
  CHECK(dataset_names() ==
        "lfw, lfw-original, lfw-deepfunneled, lfw-protocol, celeba, cew, bn-inception-imagenet, "
        "inception-resnet-v1-vggface2, inception-resnet-v1-casia-webface");
  // The default LFW is the funneled archive of scikit-learn's figshare mirror (its URL and
  // SHA-256 in sklearn/datasets/_lfw.py; the MD5 from ../shared/docs/seed.md).
  const auto& lfw = find_dataset("lfw");
  REQUIRE(lfw.files.size() == 1);
  CHECK(lfw.files[0].name == "lfw-funneled.tgz");
  CHECK(lfw.files[0].mirrors.at(0) == "https://ndownloader.figshare.com/files/5976015");
  CHECK(lfw.files[0].sha256 ==
        std::optional<std::string>(
            "b47c8422c8cded889dc5a13418c4bc2abbda121092b3533a83306f90d900100a"));
  CHECK(lfw.files[0].md5 == std::optional<std::string>("1b42dfed7d15c9b2dd63d5e5840c86ad"));
  CHECK(lfw.files[0].action == FileAction::kExtract);
  const auto& original = find_dataset("lfw-original");
  CHECK(original.files.at(0).name == "lfw.tgz");
  CHECK(original.files[0].mirrors.at(0) == "https://ndownloader.figshare.com/files/5976018");
  CHECK(original.files[0].sha256 ==
        std::optional<std::string>(
            "055f7d9c632d7370e6fb4afc7468d40f970c34a80d4c6f50ffec63f5a8d536c0"));
  CHECK(original.files[0].md5 == std::optional<std::string>("a17d05bd522c52d84eca14327a23d494"));
  const auto& deep = find_dataset("lfw-deepfunneled");
  CHECK(deep.files.at(0).name == "lfw-deepfunneled.tgz");
  CHECK(deep.files[0].md5 == std::optional<std::string>("68331da3eb755a505a502b5aacb3c201"));
  for (const auto* spec : {&lfw, &original, &deep}) CHECK(spec->directory == "lfw");
  // Weights: upstream URLs; the SHA-256 prefix the PyTorch-hub-style name carries.
  const auto& bn = find_dataset("bn-inception-imagenet");
  CHECK(bn.directory == "weights");
  CHECK(bn.files.at(0).name == "bn_inception-52deb4733.pth");
  CHECK(bn.files[0].mirrors.at(0) ==
        "http://data.lip6.fr/cadene/pretrainedmodels/bn_inception-52deb4733.pth");
  CHECK(bn.files[0].sha256 == std::optional<std::string>("52deb4733"));
  CHECK(bn.files[0].format == FileFormat::kTorchFile);
  CHECK(bn.files[0].action == FileAction::kInstall);
  const auto& vgg = find_dataset("inception-resnet-v1-vggface2");
  CHECK(vgg.files.at(0).mirrors.at(0) ==
        "https://github.com/timesler/facenet-pytorch/releases/download/v2.2.9/"
        "20180402-114759-vggface2.pt");
  CHECK_FALSE(vgg.files[0].sha256.has_value());
  CHECK(find_dataset("inception-resnet-v1-casia-webface").files.at(0).name ==
        "20180408-102900-casia-webface.pt");
  const auto& protocol = find_dataset("lfw-protocol");
  REQUIRE(protocol.files.size() == 4);
  CHECK(protocol.files[0].name == "pairs.txt");
  CHECK(protocol.files[0].md5 == std::optional<std::string>("9f1ba174e4e1c508ff7cdf10ac338a7d"));
  CHECK(protocol.directory == "lfw");
  const auto& celeba = find_dataset("celeba");
  REQUIRE(celeba.files.size() == 3);
  CHECK(celeba.files[0].md5 == std::optional<std::string>("00d2c5bc6d35e252742224ab0c1e8fcb"));
  CHECK(celeba.files[0].google_drive);
  CHECK(celeba.files[0].mirrors.at(0).find("0B7EVK8r0v71pZjFTYXZWM3FlRnM") != std::string::npos);
  const auto& cew = find_dataset("cew");
  CHECK_FALSE(cew.files.at(0).md5.has_value());
  for (const auto& spec : catalogue())
    for (const auto& f : spec.files) {
      CHECK_FALSE(f.mirrors.empty());
      if (f.md5) CHECK(is_md5_hex(*f.md5));
      if (f.sha256) CHECK(f.sha256->size() >= 8);
    }
  CHECK_THROWS_WITH(find_dataset("lfw2"), Catch::Contains("unknown dataset 'lfw2'") &&
                                              Catch::Contains("lfw, lfw-original"));
}

TEST_CASE("Google Drive interstitial pages are recognised", "[download][http]") {
  const std::string page_url =
      "https://drive.usercontent.google.com/download?id=ABC&export=download";
  SECTION("current page: download form with confirm and uuid") {
    const auto page = parse_interstitial(
        drive_warning_page("https://drive.usercontent.google.com/download", "ABC", "u-1"), page_url,
        "");
    CHECK(page.kind == InterstitialPage::Kind::kConfirm);
    CHECK(
        page.next_url ==
        "https://drive.usercontent.google.com/download?id=ABC&export=download&confirm=t&uuid=u-1");
  }
  SECTION("relative form action") {
    const auto page = parse_interstitial(drive_warning_page("/download", "ABC", "u-2"),
                                         "http://127.0.0.1:8080/uc?id=ABC", "");
    CHECK(page.next_url ==
          "http://127.0.0.1:8080/download?id=ABC&export=download&confirm=t&uuid=u-2");
  }
  SECTION("older page: a link carrying confirm=TOKEN") {
    const auto page = parse_interstitial(
        "<html><a id=\"uc-download-link\" href=\"/uc?export=download&amp;confirm=Xy_1&amp;id=ABC\">"
        "Download anyway</a></html>",
        "https://drive.google.com/uc?export=download&id=ABC", "");
    CHECK(page.kind == InterstitialPage::Kind::kConfirm);
    CHECK(page.next_url == "https://drive.google.com/uc?export=download&confirm=Xy_1&id=ABC");
  }
  SECTION("oldest scheme: token only in the download_warning cookie") {
    const auto page = parse_interstitial(
        "<html>large file</html>", "https://drive.google.com/uc?export=download&id=ABC", "tok9");
    CHECK(page.kind == InterstitialPage::Kind::kConfirm);
    CHECK(page.next_url == "https://drive.google.com/uc?export=download&id=ABC&confirm=tok9");
  }
  SECTION("quota exceeded") {
    CHECK(parse_interstitial(kQuotaPage, page_url, "").kind == InterstitialPage::Kind::kQuota);
  }
  SECTION("an unrelated page") {
    CHECK(parse_interstitial("<html><title>Sign in</title></html>", page_url, "").kind ==
          InterstitialPage::Kind::kUnknown);
  }
}

TEST_CASE("lfw: download, verify, extract and mark complete; a second run is a no-op",
          "[download][lfw]") {
  wtp::test::TempDir root;
  TestServer server;
  const auto entries = wtp::test::lfw_entries();
  const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, entries);
  server.route("/mirror/lfw-deepfunneled.tgz", file_route(tgz));

  auto o = local_options("lfw-deepfunneled", root.path());
  o.mirrors = {server.url("/mirror/lfw-deepfunneled.tgz")};
  o.md5 = md5_hex(tgz);  // the catalogue's MD5 is the real archive's
  const DownloadResult r = run_download(o);
  CHECK_FALSE(r.already_complete);
  CHECK(r.directory == root.path() / "lfw");
  CHECK(r.entries == std::vector<std::string>{"lfw-deepfunneled"});
  REQUIRE(r.files.size() == 1);
  CHECK(r.files[0].verified);
  CHECK(r.files[0].md5 == md5_hex(tgz));
  CHECK(r.files[0].source == o.mirrors[0]);

  CHECK(installed_tree(root / "lfw", "lfw-deepfunneled") ==
        wtp::test::tree_of(entries));  // nothing else
  const auto marker = read_json(root / "lfw/.wtp-complete-lfw-deepfunneled");
  CHECK(marker["dataset"] == "lfw-deepfunneled");
  CHECK(marker["files"][0]["md5"] == md5_hex(tgz));
  CHECK(marker["files"][0]["sha256"] == sha256_hex(tgz));
  CHECK(marker["files"][0]["verified"] == true);
  CHECK_FALSE(fs::exists(root / "lfw/.wtp-partial"));  // no download or staging left over
  CHECK_FALSE(fs::exists(root / "lfw/lfw-deepfunneled.tgz"));

  const std::size_t requests = server.seen().size();
  const DownloadResult again = run_download(o);
  CHECK(again.already_complete);
  CHECK(again.entries == r.entries);
  CHECK(server.seen().size() == requests);  // no network at all

  SECTION("--force downloads and installs again, --keep-archive keeps the archive") {
    o.force = true;
    o.keep_archive = true;
    const DownloadResult forced = run_download(o);
    CHECK_FALSE(forced.already_complete);
    CHECK(server.seen().size() == requests + 1);
    CHECK(wtp::test::read_file(root / "lfw/lfw-deepfunneled.tgz") == tgz);
  }
  SECTION("a missing entry makes the marker stale") {
    fs::remove_all(root / "lfw/lfw-deepfunneled");
    CHECK_FALSE(run_download(o).already_complete);
    CHECK(fs::exists(root / "lfw/lfw-deepfunneled/Zico/Zico_0002.jpg"));
  }
}

TEST_CASE("lfw-protocol: four text files from a folder mirror", "[download][lfw]") {
  wtp::test::TempDir root;
  TestServer server;
  const std::map<std::string, std::string> files = {
      {"pairs.txt", "10\t1\nZico\t1\t2\nAaron_Guiel\t1\tZico\t2\n"},
      {"people.txt", "10\n1\nZico\t2\n"},
      {"pairsDevTrain.txt", "1\nZico\t1\t2\nAaron_Guiel\t1\tZico\t1\n"},
      {"pairsDevTest.txt", "1\nAbel_Pacheco\t1\t4\nAbel_Pacheco\t2\tZico\t2\n"}};
  auto o = local_options("lfw-protocol", root.path());
  for (const auto& [name, text] : files) {
    server.route("/lfw/" + name, file_route(text));
    o.checksums[name] = md5_hex(text);
  }
  o.mirrors = {server.url("/lfw/")};
  const DownloadResult r = run_download(o);
  CHECK(r.entries == std::vector<std::string>{"pairs.txt", "pairsDevTest.txt", "pairsDevTrain.txt",
                                              "people.txt"});
  for (const auto& [name, text] : files) CHECK(wtp::test::read_file(root / "lfw" / name) == text);
  for (const auto& f : r.files) CHECK(f.verified);
  CHECK(fs::exists(root / "lfw/.wtp-complete-lfw-protocol"));
  CHECK_FALSE(fs::exists(root / "lfw/.wtp-partial"));
  // lfw and lfw-protocol share ROOT/lfw but are complete independently.
  CHECK_FALSE(fs::exists(root / "lfw/.wtp-complete-lfw-deepfunneled"));
}

TEST_CASE("celeba: Google Drive's confirmation step is followed", "[download][celeba]") {
  wtp::test::TempDir root;
  TestServer server;
  const auto entries = wtp::test::celeba_entries();
  const std::string zip = wtp::test::make_archive(ArchiveFormat::kZip, entries);
  const std::string identity =
      "000001.jpg 2880\n000002.jpg 2937\n000003.jpg 8692\n"
      "000004.jpg 5805\n000005.jpg 9295\n000006.jpg 4153\n";
  const std::string partition =
      "000001.jpg 0\n000002.jpg 0\n000003.jpg 0\n000004.jpg 1\n"
      "000005.jpg 2\n000006.jpg 2\n";
  // /uc answers with the warning page and a download_warning cookie; /download serves the
  // zip only to a request carrying confirm=t and the page's uuid.
  TestServer::Route uc;
  const std::string action = server.url("/download");
  uc.handler = [action](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Set-Cookie", "download_warning_13058876669334088843_ABC=t; Path=/");
    res.set_content(drive_warning_page(action, req.get_param_value("id"), "0d4e-uuid"),
                    "text/html; charset=utf-8");
  };
  server.route("/uc", uc);
  TestServer::Route download;
  download.handler = [zip](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("confirm") != "t" || req.get_param_value("uuid") != "0d4e-uuid") {
      res.status = 400;
      res.set_content("bad confirmation", "text/plain");
      return;
    }
    TestServer::serve_body(res, zip, "application/octet-stream");
  };
  server.route("/download", download);
  server.route("/celeba/identity_CelebA.txt", file_route(identity));
  server.route("/celeba/list_eval_partition.txt", file_route(partition));

  auto o = local_options("celeba", root.path());
  o.mirrors = {
      "img_align_celeba.zip=" + server.url("/uc?export=download&id=0B7EVK8r0v71pZjFTYXZWM3FlRnM"),
      server.url("/celeba/identity_CelebA.txt"), server.url("/celeba/list_eval_partition.txt")};
  o.checksums = {{"img_align_celeba.zip", md5_hex(zip)},
                 {"identity_CelebA.txt", md5_hex(identity)},
                 {"list_eval_partition.txt", md5_hex(partition)}};
  const DownloadResult r = run_download(o);
  CHECK(r.entries == std::vector<std::string>{"identity_CelebA.txt", "img_align_celeba",
                                              "list_eval_partition.txt"});
  auto expected = wtp::test::tree_of(entries);
  expected["identity_CelebA.txt"] = identity;
  expected["list_eval_partition.txt"] = partition;
  CHECK(installed_tree(root / "celeba", "celeba") == expected);
  const auto confirmed = server.seen("/download");
  REQUIRE(confirmed.size() == 1);
  CHECK(confirmed[0].query ==
        "confirm=t&export=download&id=0B7EVK8r0v71pZjFTYXZWM3FlRnM&uuid=0d4e-uuid");
  CHECK(confirmed[0].cookie.find("download_warning_13058876669334088843_ABC=t") !=
        std::string::npos);
  CHECK(r.files[0].source.find("/uc?") != std::string::npos);
}

TEST_CASE("Google Drive: cookie-only confirmation and the quota page", "[download][celeba]") {
  wtp::test::TempDir dir;
  TestServer server;
  const std::string body(70000, 'z');
  TestServer::Route legacy;
  legacy.handler = [body](const httplib::Request& req, httplib::Response& res) {
    if (req.get_param_value("confirm") == "Tk3n") {
      TestServer::serve_body(res, body, "application/zip");
      return;
    }
    res.set_header("Set-Cookie", "download_warning_1_XYZ=Tk3n; Path=/");
    res.set_content("<html><body>Google Drive can't scan this file</body></html>", "text/html");
  };
  server.route("/uc", legacy);
  const std::string served =
      fetch_url(server.url("/uc?export=download&id=XYZ"), dir / "f.zip", quick_http());
  CHECK(served.find("confirm=Tk3n") != std::string::npos);
  CHECK(wtp::test::read_file(dir / "f.zip") == body);

  TestServer::Route quota;
  quota.body = kQuotaPage;
  quota.content_type = "text/html; charset=utf-8";
  server.route("/quota", quota);
  try {
    fetch_url(server.url("/quota?id=1"), dir / "q.zip", quick_http());
    FAIL("no error");
  } catch (const FetchError& e) {
    CHECK(e.kind() == FetchError::Kind::kQuota);
    CHECK_THAT(e.what(), Catch::Contains("quota"));
  }
  CHECK_FALSE(fs::exists(dir / "q.zip"));

  // Through run_download the message tells the user to fetch the file by hand.
  auto o = local_options("celeba", dir / "root");
  o.mirrors = {"img_align_celeba.zip=" + server.url("/quota?id=1")};
  CHECK_THROWS_WITH(run_download(o), Catch::Contains("quota") && Catch::Contains("--archive") &&
                                         Catch::Contains("img_align_celeba.zip"));
  CHECK_FALSE(fs::exists(dir / "root/celeba/.wtp-complete-celeba"));

  // An HTML page from an ordinary mirror is not taken for the file.
  TestServer::Route login;
  login.body = "<html><head><title>Please sign in</title></head></html>";
  login.content_type = "text/html";
  server.route("/login", login);
  CHECK_THROWS_WITH(fetch_url(server.url("/login"), dir / "l.zip", quick_http()),
                    Catch::Contains("HTML page") && Catch::Contains("Please sign in"));
}

TEST_CASE("cew: a .rar download without a published MD5", "[download][cew][rar]") {
  wtp::test::TempDir root;
  TestServer server;
  const auto entries = wtp::test::cew_entries();
  const std::string rar = wtp::test::make_rar(entries);
  server.route("/d/dataset_B_Facial_Images.rar", file_route(rar));
  auto o = local_options("cew", root.path());
  o.mirrors = {server.url("/d/dataset_B_Facial_Images.rar")};
  const DownloadResult r = run_download(o);
  REQUIRE(r.files.size() == 1);
  CHECK_FALSE(r.files[0].verified);       // nothing to verify against
  CHECK(r.files[0].md5 == md5_hex(rar));  // but recorded
  CHECK(installed_tree(root / "cew", "cew") == wtp::test::tree_of(entries));
  CHECK(read_json(root / "cew/.wtp-complete-cew")["files"][0]["md5"] == md5_hex(rar));
}

TEST_CASE("resume after the server drops the connection half-way", "[download][resume]") {
  wtp::test::TempDir root;
  TestServer server;
  const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries());
  const std::size_t half = tgz.size() / 2;

  SECTION("within one run, by a retry with a Range header") {
    TestServer::Route r = file_route(tgz);
    r.drop_at = half;
    r.drop_times = 1;
    server.route("/lfw-deepfunneled.tgz", r);
    auto o = local_options("lfw-deepfunneled", root.path());
    o.mirrors = {server.url("/lfw-deepfunneled.tgz")};
    o.md5 = md5_hex(tgz);
    const auto result = run_download(o);
    CHECK(result.files[0].verified);
    const auto seen = server.seen("/lfw-deepfunneled.tgz");
    REQUIRE(seen.size() == 2);
    CHECK(seen[0].range.empty());
    CHECK(seen[1].range == "bytes=" + std::to_string(half) + "-");
    CHECK(installed_tree(root / "lfw", "lfw-deepfunneled") ==
          wtp::test::tree_of(wtp::test::lfw_entries()));
  }
  SECTION("across runs: the .part is kept and resumed") {
    TestServer::Route r = file_route(tgz);
    r.drop_at = half;
    r.drop_times = 1;
    server.route("/lfw-deepfunneled.tgz", r);
    auto o = local_options("lfw-deepfunneled", root.path());
    o.mirrors = {server.url("/lfw-deepfunneled.tgz")};
    o.md5 = md5_hex(tgz);
    o.retries = 0;
    CHECK_THROWS_WITH(run_download(o),
                      Catch::Contains("closed mid-transfer") && Catch::Contains(o.mirrors[0]));
    const fs::path part = root / "lfw/.wtp-partial/lfw-deepfunneled.tgz.part";
    REQUIRE(fs::exists(part));
    CHECK(fs::file_size(part) == half);
    CHECK_FALSE(fs::exists(root / "lfw/.wtp-complete-lfw-deepfunneled"));
    CHECK_FALSE(fs::exists(root / "lfw/lfw-deepfunneled"));

    run_download(o);
    const auto seen = server.seen("/lfw-deepfunneled.tgz");
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].range == "bytes=" + std::to_string(half) + "-");
    CHECK(fs::exists(root / "lfw/.wtp-complete-lfw-deepfunneled"));
    CHECK_FALSE(fs::exists(part));
  }
  SECTION("a server that ignores Range makes the download restart from zero") {
    TestServer::Route r = file_route(tgz);
    r.drop_at = half;
    r.drop_times = 1;
    r.ignore_range = true;
    server.route("/lfw-deepfunneled.tgz", r);
    const fs::path dest = root / "f.tgz";
    fetch_url(server.url("/lfw-deepfunneled.tgz"), dest, quick_http());
    const auto seen = server.seen("/lfw-deepfunneled.tgz");
    REQUIRE(seen.size() == 2);
    CHECK(seen[1].range == "bytes=" + std::to_string(half) + "-");  // asked, got a 200
    CHECK(md5_file(dest) == md5_hex(tgz));                          // not spliced twice
  }
  SECTION("a 206 that starts elsewhere than asked makes the download restart from zero") {
    int calls = 0;
    TestServer::Route r;
    r.handler = [&calls, tgz, half](const httplib::Request& req, httplib::Response& res) {
      if (++calls == 1) {
        TestServer::serve_body(res, tgz, "application/gzip", true, half);
      } else if (!req.ranges.empty()) {
        const_cast<httplib::Request&>(req).ranges.clear();  // answer the range ourselves...
        res.status = 206;                                   // ...from byte 0: wrong
        res.set_header("Content-Range", "bytes 0-" + std::to_string(tgz.size() - 1) + "/" +
                                            std::to_string(tgz.size()));
        res.set_content(tgz, "application/gzip");
      } else {
        TestServer::serve_body(res, tgz, "application/gzip");
      }
    };
    server.route("/lfw-deepfunneled.tgz", r);
    const fs::path dest = root / "f.tgz";
    fetch_url(server.url("/lfw-deepfunneled.tgz"), dest, quick_http());
    const auto seen = server.seen("/lfw-deepfunneled.tgz");
    REQUIRE(seen.size() == 3);
    CHECK(seen[1].range == "bytes=" + std::to_string(half) + "-");
    CHECK(seen[2].range.empty());
    CHECK(md5_file(dest) == md5_hex(tgz));
  }
  SECTION("a .part from another URL is not resumed") {
    server.route("/lfw-deepfunneled.tgz", file_route(tgz));
    const fs::path dest = root / "f.tgz";
    wtp::test::write_bytes(root / "f.tgz.part", "garbage from elsewhere");
    wtp::test::write_bytes(root / "f.tgz.part.url", "http://elsewhere.invalid/f.tgz\n");
    fetch_url(server.url("/lfw-deepfunneled.tgz"), dest, quick_http());
    CHECK(server.seen("/lfw-deepfunneled.tgz").at(0).range.empty());
    CHECK(md5_file(dest) == md5_hex(tgz));
  }
}

TEST_CASE("an MD5 mismatch deletes the file, names the mirror and tries the next",
          "[download][md5]") {
  wtp::test::TempDir root;
  TestServer server;
  const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries());
  std::string corrupt = tgz;
  corrupt[corrupt.size() / 3] ^= 0x20;
  server.route("/bad/lfw-deepfunneled.tgz", file_route(corrupt));
  server.route("/good/lfw-deepfunneled.tgz", file_route(tgz));
  auto o = local_options("lfw-deepfunneled", root.path());
  o.md5 = md5_hex(tgz);

  SECTION("the next mirror serves the right file") {
    o.mirrors = {server.url("/bad/"), server.url("/good/")};
    const auto r = run_download(o);
    CHECK(r.files[0].source == server.url("/good/lfw-deepfunneled.tgz"));
    CHECK(server.seen("/bad/lfw-deepfunneled.tgz").size() == 1);
    CHECK(fs::exists(root / "lfw/.wtp-complete-lfw-deepfunneled"));
  }
  SECTION("no mirror serves it: the error lists each mirror and what was wrong") {
    o.mirrors = {server.url("/bad/"), server.url("/missing/")};
    CHECK_THROWS_WITH(
        run_download(o),
        Catch::Contains("could not download lfw-deepfunneled.tgz from any of its 2 mirrors") &&
            Catch::Contains("the mirror " + server.url("/bad/lfw-deepfunneled.tgz") +
                            " served a wrong file (MD5 " + md5_hex(corrupt)) &&
            Catch::Contains("HTTP 404") && Catch::Contains("--archive"));
    CHECK_FALSE(fs::exists(root / "lfw/.wtp-partial/lfw-deepfunneled.tgz"));  // deleted
    CHECK_FALSE(fs::exists(root / "lfw/.wtp-complete-lfw-deepfunneled"));
  }
}

TEST_CASE("404, refused connections and timeouts are reported clearly", "[download][http]") {
  wtp::test::TempDir dir;
  TestServer server;
  SECTION("404 is permanent: no retry") {
    try {
      fetch_url(server.url("/nothing.tgz"), dir / "x.tgz", quick_http());
      FAIL("no error");
    } catch (const FetchError& e) {
      CHECK(e.kind() == FetchError::Kind::kPermanent);
      CHECK_THAT(e.what(), Catch::Contains("HTTP 404 Not Found") &&
                               Catch::Contains(server.url("/nothing.tgz")));
    }
    CHECK(server.seen("/nothing.tgz").size() == 1);
  }
  SECTION("503 is transient: retried, then reported with the attempt count") {
    TestServer::Route r;
    r.status = 503;
    server.route("/busy.tgz", r);
    CHECK_THROWS_WITH(fetch_url(server.url("/busy.tgz"), dir / "x.tgz", quick_http()),
                      Catch::Contains("HTTP 503") && Catch::Contains("gave up after 3 attempts"));
    CHECK(server.seen("/busy.tgz").size() == 3);
  }
  SECTION("a stalled server times out") {
    TestServer::Route r = file_route("late");
    r.delay = 4;
    server.route("/slow.tgz", r);
    HttpOptions h = quick_http();
    h.stall_timeout = 1;
    h.retries = 0;
    const auto start = std::chrono::steady_clock::now();
    CHECK_THROWS_WITH(fetch_url(server.url("/slow.tgz"), dir / "x.tgz", h),
                      Catch::Contains("timed out") && Catch::Contains(server.url("/slow.tgz")));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(seconds < 3.5);
  }
  SECTION("nothing listening") {
    const int port = server.port();
    server.stop();
    HttpOptions h = quick_http();
    h.retries = 1;
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/x.tgz";
    CHECK_THROWS_WITH(fetch_url(url, dir / "x.tgz", h),
                      Catch::Contains("could not connect") && Catch::Contains(url));
  }
  SECTION("redirects are followed") {
    TestServer::Route moved;
    const std::string target = server.url("/real.bin");
    moved.handler = [target](const httplib::Request&, httplib::Response& res) {
      res.set_redirect(target);
    };
    server.route("/moved.bin", moved);
    server.route("/real.bin", file_route("payload"));
    fetch_url(server.url("/moved.bin"), dir / "r.bin", quick_http());
    CHECK(wtp::test::read_file(dir / "r.bin") == "payload");
  }
}

TEST_CASE("a local --archive file is installed without any network", "[download][archive]") {
  wtp::test::TempDir dir;
  const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries());
  const fs::path archive = dir / "lfw-deepfunneled.tgz";
  wtp::test::write_bytes(archive, tgz);
  DownloadOptions o = local_options("lfw-deepfunneled", dir / "root");
  o.mirrors = {"http://127.0.0.1:9/never-contacted/"};  // refused if it ever were
  o.archives = {archive.string()};

  SECTION("an MD5 mismatch is an error that shows both checksums") {
    try {
      run_download(o);
      FAIL("no error");
    } catch (const wtp::UsageError& e) {
      CHECK_THAT(e.what(), Catch::Contains(md5_hex(tgz)) &&
                               Catch::Contains("68331da3eb755a505a502b5aacb3c201") &&
                               Catch::Contains("--md5"));
    }
    CHECK(fs::exists(archive));  // the user's file is never deleted
    CHECK_FALSE(fs::exists(dir / "root/lfw/.wtp-complete-lfw-deepfunneled"));
  }
  SECTION("--md5 overrides the catalogue's checksum") {
    o.md5 = md5_hex(tgz);
    const auto r = run_download(o);
    CHECK(r.files[0].verified);
    CHECK(r.files[0].source == "file:" + archive.string());
    CHECK(installed_tree(dir / "root/lfw", "lfw-deepfunneled") ==
          wtp::test::tree_of(wtp::test::lfw_entries()));
    CHECK(fs::exists(archive));
  }
  SECTION("bad uses of --archive are usage errors") {
    o.archives = {(dir / "nope.tgz").string()};
    CHECK_THROWS_AS(run_download(o), wtp::UsageError);
    auto p = local_options("lfw-protocol", dir / "root");
    wtp::test::write_bytes(dir / "other.txt", "x");
    p.archives = {(dir / "other.txt").string()};
    CHECK_THROWS_WITH(run_download(p),
                      Catch::Contains("pairs.txt") && Catch::Contains("other.txt"));
  }
}

TEST_CASE("unsafe and truncated downloads never leave a finished dataset", "[download][extract]") {
  wtp::test::TempDir root;
  TestServer server;
  SECTION("an archive with a ../evil entry") {
    auto entries = wtp::test::lfw_entries();
    entries.push_back(Entry::file("../evil.jpg", "evil"));
    const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, entries);
    server.route("/lfw-deepfunneled.tgz", file_route(tgz));
    auto o = local_options("lfw-deepfunneled", root / "data");
    o.mirrors = {server.url("/lfw-deepfunneled.tgz")};
    o.md5 = md5_hex(tgz);
    CHECK_THROWS_AS(run_download(o), UnsafeArchiveError);
    CHECK_FALSE(fs::exists(root / "data/lfw/.wtp-complete-lfw-deepfunneled"));
    CHECK_FALSE(fs::exists(root / "data/lfw/lfw-deepfunneled"));
    CHECK_FALSE(fs::exists(root / "data/lfw/evil.jpg"));
    CHECK_FALSE(fs::exists(root / "data/evil.jpg"));
    CHECK_FALSE(fs::exists(root / "data/lfw/.wtp-partial/stage-lfw"));
  }
  SECTION("a truncated archive (whose MD5 was wrongly published for the truncated bytes)") {
    const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, wtp::test::lfw_entries());
    const std::string cut = tgz.substr(0, tgz.size() * 2 / 3);
    server.route("/lfw-deepfunneled.tgz", file_route(cut));
    auto o = local_options("lfw-deepfunneled", root / "data");
    o.mirrors = {server.url("/lfw-deepfunneled.tgz")};
    o.md5 = md5_hex(cut);
    CHECK_THROWS_WITH(run_download(o), Catch::Contains("corrupt or truncated") &&
                                           Catch::Contains("lfw-deepfunneled.tgz"));
    CHECK_FALSE(fs::exists(root / "data/lfw/.wtp-complete-lfw-deepfunneled"));
    CHECK_FALSE(fs::exists(root / "data/lfw/lfw-deepfunneled"));
  }
}

TEST_CASE("an unverifiable download that fails to extract is fetched again next time",
          "[download][cew][rar]") {
  wtp::test::TempDir root;
  TestServer server;
  const std::string rar = wtp::test::make_rar(wtp::test::cew_entries());
  std::string broken = rar;
  broken[20] = static_cast<char>(broken[20] ^ 0x01);  // inside the first file header
  server.route("/dataset_B_Facial_Images.rar", file_route(broken));
  auto o = local_options("cew", root.path());
  o.mirrors = {server.url("/dataset_B_Facial_Images.rar")};
  CHECK_THROWS_WITH(run_download(o), Catch::Contains("dataset_B_Facial_Images.rar"));
  CHECK_FALSE(fs::exists(root / "cew/.wtp-partial/dataset_B_Facial_Images.rar"));
  CHECK_FALSE(fs::exists(root / "cew/.wtp-complete-cew"));

  server.route("/dataset_B_Facial_Images.rar", file_route(rar));
  const auto r = run_download(o);
  CHECK(r.files[0].md5 == md5_hex(rar));
  CHECK(server.seen("/dataset_B_Facial_Images.rar").size() == 2);
}

TEST_CASE("download options are validated", "[download]") {
  DownloadOptions o;
  o.dataset = "lfw";
  o.timeout = 0;
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("timeout"));
  o.timeout = 1;
  o.md5 = "xyz";
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("not an MD5"));
  o.md5.clear();
  o.sha256 = "abc";
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("not a SHA-256"));
  o.sha256.clear();
  o.checksums = {{"pairs.txt", "123"}};
  CHECK_THROWS_WITH(o.validate(),
                    Catch::Contains("checksums.pairs.txt") && Catch::Contains("neither an MD5"));
  o.checksums.clear();
  o.mirrors = {"ftp.example.org/x"};
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("not a URL"));
  o.mirrors.clear();
  o.dataset = "mnist";
  CHECK_THROWS_WITH(run_download(o), Catch::Contains("unknown dataset 'mnist'"));

  wtp::test::TempDir dir;
  auto p = local_options("lfw-protocol", dir.path());
  p.mirrors = {"http://127.0.0.1:9/some/file.bin"};
  CHECK_THROWS_WITH(run_download(p), Catch::Contains("does not name one of lfw-protocol's files"));
  p.mirrors = {"nope.txt=http://127.0.0.1:9/x"};
  CHECK_THROWS_WITH(run_download(p), Catch::Contains("'nope.txt' is not a file of lfw-protocol"));
  p.mirrors.clear();
  p.md5 = "9f1ba174e4e1c508ff7cdf10ac338a7d";
  CHECK_THROWS_WITH(run_download(p), Catch::Contains("--md5") && Catch::Contains("several"));
}

namespace {

/// Sets an environment variable for the scope, restoring the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace

TEST_CASE("the usual proxy variables are honoured", "[download][http]") {
  // The test server plays the proxy: libcurl sends it the absolute URL. The target host
  // is in the reserved .invalid domain, so nothing could reach it without the proxy.
  wtp::test::TempDir dir;
  TestServer proxy;
  proxy.route("http://files.invalid/data/pairs.txt", file_route("10\t300\n"));
  ScopedEnv http_proxy("http_proxy", proxy.url("").c_str());
  ScopedEnv no_proxy_lower("no_proxy", nullptr);
  ScopedEnv no_proxy_upper("NO_PROXY", nullptr);
  fetch_url("http://files.invalid/data/pairs.txt", dir / "pairs.txt", quick_http());
  CHECK(wtp::test::read_file(dir / "pairs.txt") == "10\t300\n");
  REQUIRE(proxy.seen().size() == 1);
  CHECK(proxy.seen()[0].path == "http://files.invalid/data/pairs.txt");
}

namespace {

/// lfw_entries() under another top-level folder (lfw_funneled/ or lfw/).
std::vector<Entry> lfw_entries_in(const std::string& folder) {
  auto entries = wtp::test::lfw_entries();
  for (auto& e : entries) e.path = folder + e.path.substr(e.path.find('/'));
  return entries;
}

/// The bytes of a small torch.save file ({"conv.weight", "conv.bias"}), as LibTorch's
/// pickler writes it for Python's torch.load.
std::string torch_file_bytes() {
  c10::Dict<std::string, torch::Tensor> state;
  state.insert("conv.weight", torch::arange(6, torch::kFloat).reshape({2, 3}));
  state.insert("conv.bias", torch::ones({2}));
  const auto bytes = torch::pickle_save(state);
  return std::string(bytes.begin(), bytes.end());
}

}  // namespace

TEST_CASE("lfw (funneled) and lfw-original install from a mirror, verified by SHA-256",
          "[download][lfw]") {
  for (const auto& [dataset, file, folder] : {std::tuple<std::string, std::string, std::string>{
                                                  "lfw", "lfw-funneled.tgz", "lfw_funneled"},
                                              {"lfw-original", "lfw.tgz", "lfw"}}) {
    INFO(dataset);
    wtp::test::TempDir root;
    TestServer server;
    const auto entries = lfw_entries_in(folder);
    const std::string tgz = wtp::test::make_archive(ArchiveFormat::kTgz, entries);
    server.route("/m/" + file, file_route(tgz));
    auto o = local_options(dataset, root.path());
    o.mirrors = {server.url("/m/")};
    // The catalogue's checksums are the real archive's: this one is refused, naming both.
    CHECK_THROWS_WITH(run_download(o), Catch::Contains("SHA-256 " + sha256_hex(tgz)) &&
                                           Catch::Contains(*find_dataset(dataset).files[0].sha256));
    o.sha256 = sha256_hex(tgz);
    const DownloadResult r = run_download(o);
    CHECK(r.entries == std::vector<std::string>{folder});
    REQUIRE(r.files.size() == 1);
    CHECK(r.files[0].verified);
    CHECK(r.files[0].sha256 == sha256_hex(tgz));
    CHECK(r.files[0].md5 == md5_hex(tgz));
    CHECK(installed_tree(root / "lfw", dataset) == wtp::test::tree_of(entries));
    // A SHA-256 through `checksums` works as well; a wrong one is refused.
    auto again = local_options(dataset, root / "again");
    again.mirrors = o.mirrors;
    again.checksums = {{file, std::string(64, '0')}};
    CHECK_THROWS_WITH(run_download(again), Catch::Contains("not the expected 0000"));
    again.checksums = {{file, sha256_hex(tgz)}};
    CHECK(run_download(again).files.at(0).verified);
  }
}

TEST_CASE("weights: the SHA-256 prefix in the name is verified, the format is checked",
          "[download][weights]") {
  wtp::test::TempDir dir;
  TestServer server;
  const std::string weights = torch_file_bytes();
  const std::string name = "bn_inception-52deb4733.pth";
  server.route("/w/" + name, file_route(weights));
  auto o = local_options("bn-inception-imagenet", dir / "data");
  o.mirrors = {server.url("/w/")};
  // Our bytes do not start with the SHA-256 52deb4733 the name promises.
  CHECK_THROWS_WITH(run_download(o), Catch::Contains("SHA-256 " + sha256_hex(weights)) &&
                                         Catch::Contains("not the expected 52deb4733..."));
  // Given their own (prefix of the) SHA-256, they install as a file in ROOT/weights/.
  o.sha256 = sha256_hex(weights);
  const auto r = run_download(o);
  CHECK(r.files.at(0).verified);
  CHECK(wtp::test::read_file(dir / "data/weights" / name) == weights);

  SECTION("no published checksum: format only, and the SHA-256 is reported") {
    const std::string vgg = "20180402-114759-vggface2.pt";
    server.route("/w/" + vgg, file_route(weights));
    auto v = local_options("inception-resnet-v1-vggface2", dir / "data");
    v.mirrors = {server.url("/w/")};
    const auto got = run_download(v);
    CHECK_FALSE(got.files.at(0).verified);
    CHECK(got.files[0].sha256 == sha256_hex(weights));
    CHECK(fs::exists(dir / "data/weights" / vgg));
    // Not a torch.save file (an HTML error page served with 200): refused, nothing installed.
    const std::string casia = "20180408-102900-casia-webface.pt";
    server.route("/w/" + casia, file_route("<html>rate limited</html>"));
    auto c = local_options("inception-resnet-v1-casia-webface", dir / "data");
    c.mirrors = {server.url("/w/")};
    CHECK_THROWS_WITH(run_download(c), Catch::Contains("not a torch.save file"));
    CHECK_FALSE(fs::exists(dir / "data/weights" / casia));
    wtp::test::write_bytes(dir / casia, "not torch");
    c.archives = {(dir / casia).string()};
    CHECK_THROWS_AS(run_download(c), wtp::UsageError);
  }
}

TEST_CASE("download_command names the catalogue entry that installs a file", "[download]") {
  CHECK(download_command("data/weights/bn_inception-52deb4733.pth") ==
        std::optional<std::string>("wtp-download bn-inception-imagenet --root data"));
  CHECK(download_command("weights/20180402-114759-vggface2.pt") ==
        std::optional<std::string>("wtp-download inception-resnet-v1-vggface2 --root ."));
  CHECK_THAT(download_command("/w/20180402-114759-vggface2.pt").value(),
             Catch::Contains("--root /w (it installs /w/weights/20180402-114759-vggface2.pt"));
  CHECK_FALSE(download_command("data/weights/mine.pt").has_value());
}
