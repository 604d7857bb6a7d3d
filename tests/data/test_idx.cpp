// IDX files and Fashion-MNIST written out as an image folder.
#include <algorithm>
#include <opencv2/imgcodecs.hpp>

#include "catch_torch.h"
#include "core/error.h"
#include "data/dataset_registry.h"
#include "data/idx.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

/// n images of 3 x 2 pixels, image i filled with value 10 * i + pixel, and their labels.
void write_fashion_part(const fs::path& dir, const std::string& prefix,
                        const std::vector<std::uint8_t>& labels) {
  IdxArray images{{static_cast<std::int64_t>(labels.size()), 3, 2}, {}};
  for (std::size_t i = 0; i < labels.size(); ++i)
    for (int p = 0; p < 6; ++p) images.values.push_back(static_cast<std::uint8_t>(10 * i + p));
  fs::create_directories(dir);
  write_idx_gz(dir / (prefix + "-images-idx3-ubyte.gz"), images);
  write_idx_gz(dir / (prefix + "-labels-idx1-ubyte.gz"),
               {{static_cast<std::int64_t>(labels.size())}, labels});
}

}  // namespace

TEST_CASE("IDX files read back as written, compressed or plain", "[data][idx]") {
  test::TempDir dir;
  const IdxArray array{{2, 3}, {1, 2, 3, 4, 5, 255}};
  write_idx_gz(dir / "a.idx.gz", array);
  const auto back = read_idx(dir / "a.idx.gz");
  CHECK(back.shape == array.shape);
  CHECK(back.values == array.values);
  // The plain file: the documented layout, byte by byte.
  const std::string plain{
      "\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03\x01\x02\x03\x04\x05\xff", 18};
  test::write_text(dir / "a.idx", plain);
  const auto raw = read_idx(dir / "a.idx");
  CHECK(raw.shape == array.shape);
  CHECK(raw.values == array.values);
}

TEST_CASE("malformed IDX files are refused with the reason", "[data][idx]") {
  test::TempDir dir;
  auto refused = [&](const std::string& bytes) {
    test::write_text(dir / "bad.idx", bytes);
    try {
      read_idx(dir / "bad.idx");
    } catch (const UsageError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  using S = std::string;
  CHECK_THAT(refused(S("\x01\x00\x08\x01\x00\x00\x00\x01\x07", 9)), Contains("IDX magic"));
  CHECK_THAT(refused(S("\x00\x00\x0d\x01\x00\x00\x00\x01\x00\x00\x00\x00", 12)),
             Contains("type 0x0d") && Contains("unsigned bytes"));
  CHECK_THAT(refused(S("\x00\x00\x08\x00", 4)), Contains("rank 0"));
  CHECK_THAT(refused(S("\x00\x00\x08\x02\x00\x00", 6)), Contains("ends inside its dimensions"));
  CHECK_THAT(refused(S("\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02", 10)),
             Contains("truncated: 2 of 4"));
  CHECK_THAT(refused(S("\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", 10)), Contains("longer"));
  CHECK_THAT(refused(S("\x00\x00\x08\x01\x00\x00\x00\x00", 8)), Contains("dimension 0 is 0"));
  // 2^16 x 2^16 values: refused before anything is allocated.
  CHECK_THAT(refused(S("\x00\x00\x08\x02\x00\x01\x00\x00\x00\x01\x00\x00", 12)), Contains("2^31"));
  // A corrupt gzip stream.
  test::write_text(dir / "bad.gz", S("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03garbage", 17));
  CHECK_THROWS_WITH(read_idx(dir / "bad.gz"), Contains("bad.gz"));
  CHECK_THROWS_WITH(read_idx(dir / "none.idx"), Contains("not found"));
}

TEST_CASE("fashion_mnist writes its image folder once and loads it like one", "[data][idx]") {
  test::TempDir dir;
  write_fashion_part(dir / "src", "train", {9, 0, 9, 1, 9, 0});
  write_fashion_part(dir / "src", "t10k", {3, 9});
  FashionMnistOptions options;
  options.source = (dir / "src").string();
  options.root = (dir / "out" / "fashion").string();
  options.per_class = 2;
  const Dataset d = load_fashion_mnist(options);
  // Labels number the class folders in sorted order, as torchvision's ImageFolder does.
  auto sorted = fashion_mnist_classes();
  std::sort(sorted.begin(), sorted.end());
  CHECK(d.class_names() == sorted);
  // per_class = 2 of each part: train keeps images 0, 2 (label 9), 1, 5 (0) and 3 (1);
  // test keeps 0 (3) and 1 (9).
  std::vector<std::string> files;
  for (const auto& item : d.items()) files.push_back(item.file);
  CHECK(files == std::vector<std::string>{"Ankle_boot/test_00001.png", "Ankle_boot/train_00000.png",
                                          "Ankle_boot/train_00002.png", "Dress/test_00000.png",
                                          "T-shirt_top/train_00001.png",
                                          "T-shirt_top/train_00005.png",
                                          "Trouser/train_00003.png"});
  // The pixels are the IDX values, grey.
  const cv::Mat image = cv::imread(
      (dir / "out" / "fashion" / "Ankle_boot" / "train_00002.png").string(), cv::IMREAD_UNCHANGED);
  REQUIRE(image.type() == CV_8UC1);
  CHECK(image.rows == 3);
  CHECK(image.cols == 2);
  CHECK(image.at<std::uint8_t>(2, 1) == 25);
  CHECK_FALSE(fs::exists(dir / "out" / "fashion.partial"));

  // Loaded again, the folder is read, not rewritten (the sources may be gone).
  fs::remove_all(dir / "src");
  CHECK(load_fashion_mnist(options).size() == 7);
  // Through the registry, as a config names it.
  config::Component component{
      "fashion_mnist",
      config::parse("{root: " + options.root + ", source: none, per_class: 2}", "t.yaml")};
  CHECK(dataset_registry().create(component).size() == 7);

  // Other options for the same folder are refused, saying what it holds.
  options.per_class = 3;
  CHECK_THROWS_WITH(load_fashion_mnist(options),
                    Contains("per_class=2") && Contains("per_class=3") && Contains("delete"));
  // A folder wtp did not write is never overwritten.
  fs::create_directories(dir / "mine");
  options.root = (dir / "mine").string();
  CHECK_THROWS_WITH(load_fashion_mnist(options), Contains("not written by wtp"));
}

TEST_CASE("fashion_mnist explains missing files and mismatched parts", "[data][idx]") {
  test::TempDir dir;
  FashionMnistOptions options;
  options.source = (dir / "src").string();
  options.root = (dir / "out").string();
  CHECK_THROWS_WITH(load_fashion_mnist(options), Contains("apt-get install dataset-fashion-mnist"));
  CHECK_FALSE(fs::exists(dir / "out"));

  write_fashion_part(dir / "src", "train", {1, 2, 3});
  write_idx_gz(dir / "src" / "train-labels-idx1-ubyte.gz", {{2}, {1, 2}});
  options.parts = {"train"};
  CHECK_THROWS_WITH(load_fashion_mnist(options), Contains("3 images") && Contains("2 labels"));
  write_idx_gz(dir / "src" / "train-labels-idx1-ubyte.gz", {{3}, {1, 12, 3}});
  CHECK_THROWS_WITH(load_fashion_mnist(options), Contains("label 12 of image 1"));
  CHECK_FALSE(fs::exists(dir / "out"));

  options.parts = {"valid"};
  CHECK_THROWS_WITH(load_fashion_mnist(options), Contains("'valid'"));
}

TEST_CASE("Debian's Fashion-MNIST files read as upstream describes them", "[data][idx]") {
  const fs::path source = FashionMnistOptions{}.source;
  if (!fs::exists(source / "train-images-idx3-ubyte.gz"))
    WTP_SKIP(
        "Debian's dataset-fashion-mnist is not installed (apt-get install "
        "dataset-fashion-mnist, or WTP_WITH_DATASETS=1 bash scripts/setup.sh)");
  const auto images = read_idx(source / "train-images-idx3-ubyte.gz");
  const auto labels = read_idx(source / "train-labels-idx1-ubyte.gz");
  CHECK(images.shape == std::vector<std::int64_t>{60000, 28, 28});
  REQUIRE(labels.shape == std::vector<std::int64_t>{60000});
  std::vector<int> per_class(10, 0);
  for (auto l : labels.values) ++per_class.at(l);
  CHECK(per_class == std::vector<int>(10, 6000));  // upstream: 6,000 of each class
  CHECK(read_idx(source / "t10k-labels-idx1-ubyte.gz").shape == std::vector<std::int64_t>{10000});
}
