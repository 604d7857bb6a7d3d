#include <fstream>
#include <sstream>

#include "catch_torch.h"
#include "core/error.h"
#include "data/augment.h"
#include "data/image.h"
#include "data/image_folder.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::vector<std::string> csv_lines(const fs::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("augment: x2 with provenance and reproducible from the seed", "[data][augment]") {
  test::TempDir tmp;
  test::write_image(tmp / "in/open/a.jpg", 20, 20, cv::Scalar(100, 100, 100));
  test::write_image(tmp / "in/closed/b.png", 20, 20, cv::Scalar(50, 60, 70));
  AugmentOptions o;
  o.input = (tmp / "in").string();
  o.output = (tmp / "out").string();
  o.seed = 3;
  const AugmentSummary s = run_augment(o);
  CHECK(s.sources == 2);
  CHECK(s.written == 4);
  CHECK(fs::exists(tmp / "out/open/a.jpg"));
  CHECK(fs::exists(tmp / "out/open/a_aug1.jpg"));
  CHECK(fs::exists(tmp / "out/closed/b_aug1.png"));
  // The originals are copied byte for byte.
  CHECK(test::read_file(tmp / "out/open/a.jpg") == test::read_file(tmp / "in/open/a.jpg"));

  const auto lines = csv_lines(s.provenance);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "file,source,copy,seed,params");
  CHECK(lines[1] == "closed/b.png,closed/b.png,0,,");
  CHECK_THAT(lines[2], Contains("closed/b_aug1.png,closed/b.png,1,") &&
                           Contains("gaussian_blur.sigma=") && Contains("horizontal_flip.flip=") &&
                           Contains("brightness_shift.delta="));

  // The copy is the pipeline applied with the recorded seed: a flat image of 50/60/70 with
  // only blur, flip and a shift stays flat, shifted by the recorded delta (PNG: lossless).
  const std::string params = lines[2].substr(lines[2].rfind(',') + 1);
  const auto pos = params.find("brightness_shift.delta=");
  const double delta = std::stod(params.substr(pos + 23));
  const cv::Mat copy = read_image(tmp / "out/closed/b_aug1.png", ChannelOrder::kBgr);
  CHECK(copy.at<cv::Vec3b>(10, 10)[0] == std::lround(50 + delta));
  CHECK(copy.at<cv::Vec3b>(3, 17)[2] == std::lround(70 + delta));

  // Same seed -> same files; the output folder is a valid image folder of twice the size.
  AugmentOptions again = o;
  again.output = (tmp / "out2").string();
  run_augment(again);
  CHECK(test::read_file(tmp / "out2/closed/b_aug1.png") ==
        test::read_file(tmp / "out/closed/b_aug1.png"));
  ImageFolderOptions f;
  f.root = o.output;
  CHECK(load_image_folder(f).size() == 4);

  AugmentOptions x3 = o;
  x3.factor = 3;
  x3.keep_originals = false;
  x3.output = (tmp / "out3").string();
  CHECK(run_augment(x3).written == 4);
  CHECK(fs::exists(tmp / "out3/open/a_aug2.jpg"));
  CHECK_FALSE(fs::exists(tmp / "out3/open/a.jpg"));

  AugmentOptions bad = o;
  bad.input = (tmp / "missing").string();
  CHECK_THROWS_AS(run_augment(bad), UsageError);
  bad.input = bad.output = o.input;
  CHECK_THROWS_WITH(run_augment(bad), Contains("differ"));
}
