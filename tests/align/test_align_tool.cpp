// wtp-align end to end with the Haar detector (needs nothing but Debian packages):
// mirrored tree, alignment.csv, no-face and unreadable images, resume, thread independence,
// and argument errors.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/align_folder.h"
#include "catch_torch.h"
#include "core/csv.h"
#include "core/error.h"
#include "test_support.h"

namespace fs = std::filesystem;
using wtp::test::run_command;

namespace {

std::string tool() { return (wtp::test::bin_dir() / "wtp-align").string(); }

std::vector<std::string> lines_of(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> split(const std::string& line) { return *wtp::csv::split(line); }

// input/ with: people/a/face.jpg (a shared portrait, if ../shared exists), blank.png (no
// face), broken.jpg (not an image), notes.txt (ignored), deep/x/y/blank2.jpg.
bool make_input(const fs::path& in) {
  fs::create_directories(in / "people" / "a");
  fs::create_directories(in / "deep" / "x" / "y");
  cv::imwrite((in / "blank.png").string(), cv::Mat(90, 120, CV_8UC3, cv::Scalar(40, 80, 120)));
  cv::imwrite((in / "deep" / "x" / "y" / "blank2.jpg").string(),
              cv::Mat(64, 48, CV_8UC3, cv::Scalar(200, 200, 200)));
  std::ofstream(in / "broken.jpg") << "this is not a JPEG";
  std::ofstream(in / "notes.txt") << "ignored";
  const auto shared = wtp::test::shared_dir();
  if (!shared) return false;
  const cv::Mat full = cv::imread((*shared / "faces" / "paul_rudd.jpg").string());
  cv::Mat small;
  cv::resize(full, small, cv::Size(), 0.25, 0.25, cv::INTER_AREA);
  cv::imwrite((in / "people" / "a" / "face.jpg").string(), small);
  return true;
}

}  // namespace

TEST_CASE("wtp-align aligns a folder tree, records it and resumes", "[align][tool]") {
  wtp::test::TempDir tmp;
  const fs::path in = tmp / "in", out = tmp / "out", out1 = tmp / "out1";
  const bool with_face = make_input(in);
  const std::string base = tool() + " --input " + in.string() + " --size 96 --log-level warn";

  auto r = run_command(base + " --output " + out.string() + " --threads 2");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto csv = lines_of(out / "alignment.csv");
  REQUIRE(csv.size() == (with_face ? 5u : 4u));
  CHECK(csv[0] ==
        "file,face,found,status,x1,y1,x2,y2,left_eye_x,left_eye_y,right_eye_x,right_eye_y,"
        "eyes_estimated,confidence,angle,detector,output");
  // Sorted by file: blank.png, broken.jpg, deep/x/y/blank2.jpg, people/a/face.jpg.
  const auto blank = split(csv[1]);
  REQUIRE(blank.size() == 17);
  CHECK(blank[0] == "blank.png");
  CHECK(blank[2] == "0");
  CHECK(blank[3] == "no_face");
  CHECK(blank[15] == "haar");
  CHECK(blank[16] == "blank.png");
  const auto broken = split(csv[2]);
  CHECK(broken[0] == "broken.jpg");
  CHECK(broken[3] == "unreadable");
  CHECK(broken[16] == "");
  CHECK(split(csv[3])[0] == "deep/x/y/blank2.jpg");
  CHECK(cv::imread((out / "blank.png").string()).size() == cv::Size(96, 96));
  CHECK(cv::imread((out / "deep/x/y/blank2.jpg").string()).size() == cv::Size(96, 96));
  CHECK_FALSE(fs::exists(out / "broken.jpg"));
  CHECK_FALSE(fs::exists(out / "notes.txt"));
  if (with_face) {
    const auto face = split(csv[4]);
    CHECK(face[0] == "people/a/face.jpg");
    CHECK(face[1] == "1");
    CHECK(face[2] == "1");
    CHECK(face[3] == "face");
    const double x1 = std::stod(face[4]), x2 = std::stod(face[6]);
    const double lx = std::stod(face[8]), rx = std::stod(face[10]);
    CHECK(x1 < lx);
    CHECK(lx < rx);
    CHECK(rx < x2);
    CHECK(std::abs(std::stod(face[14])) < 30.0);  // angle in degrees
    CHECK(cv::imread((out / "people/a/face.jpg").string()).size() == cv::Size(96, 96));
  } else {
    WARN("../shared absent: the end-to-end run had no face image");
  }

  // Same options with one worker: identical CSV and identical image bytes.
  r = run_command(base + " --output " + out1.string() + " --threads 1");
  REQUIRE(r.status == 0);
  CHECK(lines_of(out1 / "alignment.csv") == csv);
  CHECK(wtp::test::read_file(out1 / "blank.png") == wtp::test::read_file(out / "blank.png"));
  if (with_face)
    CHECK(wtp::test::read_file(out1 / "people/a/face.jpg") ==
          wtp::test::read_file(out / "people/a/face.jpg"));

  // Resume: everything is skipped; after deleting one output only that image is redone.
  r = run_command(base + " --output " + out.string());
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("aligned 0 of"));
  fs::remove(out / "deep/x/y/blank2.jpg");
  r = run_command(base + " --output " + out.string());
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("aligned 1 of"));
  CHECK(lines_of(out / "alignment.csv") == csv);
  CHECK(fs::exists(out / "deep/x/y/blank2.jpg"));

  // A CSV whose columns were reordered, with one more added (say by a spreadsheet), is read
  // by name: nothing is redone and the CSV is written back in its own order.
  {
    std::ofstream edited(out / "alignment.csv", std::ios::trunc);
    for (std::size_t i = 0; i < csv.size(); ++i) {
      auto fields = split(csv[i]);
      std::reverse(fields.begin(), fields.end());
      fields.push_back(i == 0 ? "note" : "checked, ok");
      edited << wtp::csv::join(fields) << "\n";
    }
  }
  r = run_command(base + " --output " + out.string());
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("aligned 0 of"));
  CHECK(lines_of(out / "alignment.csv") == csv);
  std::ofstream(out / "alignment.csv", std::ios::trunc) << "file,face,found\nblank.png,0,0\n";
  r = run_command(base + " --output " + out.string());
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("no column 'status'"));

  // Changed options in the same output folder are refused.
  r = run_command(base + " --output " + out.string() + " --kind simple");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("different options"));
}

TEST_CASE("wtp-align skips faceless images with --no-face skip", "[align][tool]") {
  wtp::test::TempDir tmp;
  fs::create_directories(tmp / "in");
  cv::imwrite((tmp / "in" / "blank.jpg").string(), cv::Mat(50, 50, CV_8UC3, cv::Scalar::all(0)));
  auto r = run_command(tool() + " --input " + (tmp / "in").string() + " --output " +
                       (tmp / "out").string() + " --no-face skip --log-level warn");
  INFO(r.output);
  REQUIRE(r.status == 0);
  const auto csv = lines_of(tmp / "out" / "alignment.csv");
  REQUIRE(csv.size() == 2);
  CHECK(split(csv[1])[3] == "no_face");
  CHECK(split(csv[1])[16] == "");
  CHECK_FALSE(fs::exists(tmp / "out" / "blank.jpg"));
}

TEST_CASE("wtp-align rejects bad arguments with exit code 2", "[align][tool]") {
  wtp::test::TempDir tmp;
  fs::create_directories(tmp / "in");
  const std::string base =
      tool() + " --input " + (tmp / "in").string() + " --output " + (tmp / "out").string();
  auto r = run_command(base + " --weights /somewhere");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("mtcnn detector only"));
  r = run_command(base + " --select biggest");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("largest, confidence, center"));
  r = run_command(base + " --detector retina");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("haar, mtcnn"));
  r = run_command(tool() + " --input " + (tmp / "missing").string() + " --output " +
                  (tmp / "out").string());
  CHECK(r.status == 2);
  r = run_command(base + " --detector mtcnn");
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--weights"));
}

TEST_CASE("AlignRunOptions fold --weights into the mtcnn options", "[align][tool]") {
  wtp::align::AlignRunOptions o;
  o.input = "in";
  o.output = "out";
  o.detector = {"mtcnn", wtp::config::Node()};
  o.weights = "w";
  const auto c = o.detector_component();
  REQUIRE(c.options.find("weights"));
  CHECK(c.options.find("weights")->text() == "w");
  o.detector = {"haar", wtp::config::Node()};
  CHECK_THROWS_AS(o.detector_component(), wtp::UsageError);
  o.size = 0;
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
}
