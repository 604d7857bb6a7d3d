#include <cmath>
#include <opencv2/imgcodecs.hpp>

#include "catch_torch.h"
#include "core/error.h"
#include "data/builtin_transforms.h"
#include "data/image.h"
#include "data/transforms.h"
#include "fixtures.h"
#include "test_support.h"

using namespace wtp;
using namespace wtp::data;
using Catch::Matchers::Contains;

namespace {

cv::Mat constant(int w, int h, cv::Vec3b bgr) {
  return cv::Mat(h, w, CV_8UC3, cv::Scalar(bgr[0], bgr[1], bgr[2]));
}

// A 1-row image whose blue channel is 10 * x (green 0, red 255 - 10 * x).
cv::Mat gradient(int w) {
  cv::Mat m(1, w, CV_8UC3);
  for (int x = 0; x < w; ++x)
    m.at<cv::Vec3b>(0, x) =
        cv::Vec3b(static_cast<uchar>(10 * x), 0, static_cast<uchar>(255 - 10 * x));
  return m;
}

cv::Mat noise(int w, int h, std::uint64_t seed) {
  cv::Mat m(h, w, CV_8UC3);
  Rng rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        m.at<cv::Vec3b>(y, x)[c] = static_cast<uchar>(rng.integer(0, 255));
  return m;
}

config::Component component(const std::string& yaml) {
  return config::decode_component(config::parse(yaml, "test.yaml"), "transform");
}

}  // namespace

TEST_CASE("read_image: RGB order and clear errors", "[data][image]") {
  test::TempDir tmp;
  test::write_image(tmp / "a.png", 3, 2, cv::Scalar(10, 20, 30));  // B, G, R
  const cv::Mat rgb = read_image(tmp / "a.png");
  REQUIRE(rgb.type() == CV_8UC3);
  CHECK(rgb.at<cv::Vec3b>(1, 2) == cv::Vec3b(30, 20, 10));
  CHECK(read_image(tmp / "a.png", ChannelOrder::kBgr).at<cv::Vec3b>(0, 0) == cv::Vec3b(10, 20, 30));
  CHECK_THROWS_WITH(read_image(tmp / "none.jpg"), Contains("none.jpg") && Contains("no such file"));
  test::write_text(tmp / "bad.jpg", "this is not a JPEG");
  CHECK_THROWS_AS(read_image(tmp / "bad.jpg"), ImageError);
  CHECK_THROWS_WITH(read_image(tmp / "bad.jpg"),
                    Contains("bad.jpg") && Contains("not an image in a supported format"));
}

TEST_CASE("read_image: every supported format, as OpenCV reads it", "[data][image]") {
  test::TempDir tmp;
  const cv::Mat image = noise(37, 23, 5);
  for (const std::string ext : {".jpg", ".png", ".bmp", ".ppm", ".tiff", ".webp"}) {
    CAPTURE(ext);
    const auto file = tmp / ("a" + ext);
    REQUIRE(cv::imwrite(file.string(), image));
    const cv::Mat read = read_image(file, ChannelOrder::kBgr);
    REQUIRE(read.type() == CV_8UC3);
    CHECK(cv::norm(read, cv::imread(file.string(), cv::IMREAD_COLOR), cv::NORM_INF) == 0);
  }
}

TEST_CASE("read_image: a decompression bomb is refused before decoding", "[data][image]") {
  // The image fuzzer's find (tests/fuzz/corpus/image/bmp_bomb.bmp): 50 bytes declaring
  // 13035 x 65536 pixels, for which OpenCV's imread allocated 2.5 GB.
  test::TempDir tmp;
  const auto bomb = test::source_dir() / "tests/fuzz/corpus/image/bmp_bomb.bmp";
  REQUIRE(std::filesystem::file_size(bomb) == 50);
  CHECK_THROWS_WITH(read_image(bomb), Contains("bmp_bomb.bmp") && Contains("13035 x 65536") &&
                                          Contains("decompression bomb"));
  // Under the cap the decoder is reached (and fails on the missing rows); one row more is
  // refused from the header.
  const auto bmp = [&](std::int64_t height) {
    std::string info(40, '\0');
    const auto put = [&](std::size_t at, std::int64_t value) {
      for (int i = 0; i < 4; ++i) info[at + i] = static_cast<char>((value >> (8 * i)) & 0xFF);
    };
    put(0, 40), put(4, 8192), put(8, height), put(12, 1 | (24 << 16));  // 1 plane, 24 bits
    const auto file = tmp / ("h" + std::to_string(height) + ".bmp");
    test::write_text(file, "BM" + std::string(12, '\0') + info);
    return file;
  };
  const std::int64_t rows = kMaxImagePixels / 8192;
  CHECK_THROWS_WITH(read_image(bmp(rows)), Contains("BMP file cannot be decoded"));
  CHECK_THROWS_WITH(read_image(bmp(rows + 1)), Contains("8192 x " + std::to_string(rows + 1)) &&
                                                   Contains("decompression bomb"));
  // A file over 2 GiB (sparse: nothing is written) is refused from its size, unread.
  const auto huge = tmp / "huge.png";
  test::write_text(huge, "");
  std::filesystem::resize_file(huge, std::uintmax_t{1} << 31);
  CHECK_THROWS_WITH(read_image(huge), Contains("huge.png") && Contains("larger than 2 GiB"));
}

TEST_CASE("letterbox: 100x50 white into 64 is centred on black", "[data][transforms]") {
  const cv::Mat white = constant(100, 50, {255, 255, 255});
  LetterboxGeometry g;
  const cv::Mat out = letterbox(white, 64, &g);
  REQUIRE(out.size() == cv::Size(64, 64));
  CHECK(g.scale == Approx(0.64));
  CHECK(g.offset_x == 0);
  CHECK(g.offset_y == 16);
  CHECK(g.height == 32);
  for (int y = 0; y < 64; ++y) {
    const bool inside = y >= 16 && y <= 47;
    for (int x = 0; x < 64; ++x)
      for (int c = 0; c < 3; ++c) REQUIRE(out.at<cv::Vec3b>(y, x)[c] == (inside ? 255 : 0));
  }
  // The transform does the same and fixes the output size.
  Letterbox t({64, Interpolation::kLinear});
  CHECK(t.fixed_size() == cv::Size(64, 64));
  cv::Mat image = white.clone();
  Rng rng(0);
  t.apply(image, rng, nullptr);
  CHECK(cv::norm(image, out, cv::NORM_INF) == 0);
}

TEST_CASE("horizontal flip mirrors a gradient fused or not", "[data][transforms]") {
  HorizontalFlip flip({1.0});
  cv::Mat image = gradient(5);
  Rng rng(1);
  TransformRecord record;
  flip.apply(image, rng, &record);
  for (int x = 0; x < 5; ++x) CHECK(image.at<cv::Vec3b>(0, x)[0] == 10 * (4 - x));
  CHECK(record.str() == "horizontal_flip.flip=1");
  HorizontalFlip never({0.0});
  cv::Mat same = gradient(5);
  never.apply(same, rng, nullptr);
  CHECK(cv::norm(same, gradient(5), cv::NORM_INF) == 0);

  // Fused into the tensor conversion (RGB planes, unit scale): R plane = (255 - 10 x') / 255.
  Pipeline p({std::make_shared<HorizontalFlip>(FlipOptions{1.0})});
  Rng r2(1);
  torch::Tensor out = torch::empty({3, 1, 5});
  p.run(gradient(5), r2, out.data_ptr<float>(), cv::Size(5, 1));
  for (int x = 0; x < 5; ++x) {
    CHECK(out[2][0][x].item<float>() == Approx(10.0 * (4 - x) / 255.0));          // blue plane
    CHECK(out[0][0][x].item<float>() == Approx((255.0 - 10 * (4 - x)) / 255.0));  // red plane
  }
}

TEST_CASE("rotation moves a point counter-clockwise about the centre", "[data][transforms]") {
  cv::Mat image = constant(5, 5, {0, 0, 0});
  image.at<cv::Vec3b>(2, 4) = cv::Vec3b(255, 255, 255);  // right of the centre (2, 2)
  RotationOptions o;
  o.min_degrees = o.max_degrees = 90;
  Rotation t(o);
  Rng rng(3);
  TransformRecord record;
  t.apply(image, rng, &record);
  // 90 degrees counter-clockwise on screen: right of centre -> above the centre.
  CHECK(image.at<cv::Vec3b>(0, 2) == cv::Vec3b(255, 255, 255));
  CHECK(image.at<cv::Vec3b>(2, 4) == cv::Vec3b(0, 0, 0));
  CHECK(cv::countNonZero(image.reshape(1)) == 3);
  CHECK(record.str() == "rotation.degrees=90");
  const cv::Point2d p = rotate_point({4, 2}, 90, {2, 2});
  CHECK(p.x == Approx(2).margin(1e-12));
  CHECK(p.y == Approx(0).margin(1e-12));
  const cv::Point2d q = rotate_point({3, 2}, 30, {2, 2});
  CHECK(q.x == Approx(2 + std::cos(CV_PI / 6)));
  CHECK(q.y == Approx(2 - std::sin(CV_PI / 6)));
}

TEST_CASE("normalisation presets numerically", "[data][transforms]") {
  const cv::Mat px = constant(1, 1, {0, 128, 255});  // BGR: R = 255, G = 128, B = 0
  auto values = [&](NormalizePreset p) {
    const torch::Tensor t = to_tensor(px, Normalization::preset(p));
    REQUIRE(t.sizes() == torch::IntArrayRef({3, 1, 1}));
    return std::array<float, 3>{t[0][0][0].item<float>(), t[1][0][0].item<float>(),
                                t[2][0][0].item<float>()};
  };
  auto unit = values(NormalizePreset::kUnit);
  CHECK(unit[0] == Approx(1.0));
  CHECK(unit[1] == Approx(128.0 / 255));
  CHECK(unit[2] == Approx(0.0));
  auto in = values(NormalizePreset::kImagenet);
  CHECK(in[0] == Approx((1.0 - 0.485) / 0.229));
  CHECK(in[1] == Approx((128.0 / 255 - 0.456) / 0.224));
  CHECK(in[2] == Approx((0.0 - 0.406) / 0.225));
  auto fn = values(NormalizePreset::kFacenet);
  CHECK(fn[0] == Approx((255 - 127.5) / 128));
  CHECK(fn[1] == Approx((128 - 127.5) / 128));
  CHECK(fn[2] == Approx(-127.5 / 128));
  // caffe: BGR order, 0-255, minus [104, 117, 128].
  auto cf = values(NormalizePreset::kCaffe);
  CHECK(cf[0] == Approx(0 - 104.0));
  CHECK(cf[1] == Approx(128 - 117.0));
  CHECK(cf[2] == Approx(255 - 128.0));
}

TEST_CASE("resize and centre crop and random resized crop geometry", "[data][transforms]") {
  Rng rng(0);
  ResizeOptions ro;
  ro.height = 6;
  ro.width = 10;
  cv::Mat a = constant(20, 30, {1, 2, 3});
  Resize(ro).apply(a, rng, nullptr);
  CHECK(a.size() == cv::Size(10, 6));
  CHECK(a.at<cv::Vec3b>(3, 5) == cv::Vec3b(1, 2, 3));
  ResizeOptions rs;
  rs.shorter_side = 10;
  cv::Mat b = constant(20, 40, {1, 2, 3});
  Resize(rs).apply(b, rng, nullptr);
  CHECK(b.size() == cv::Size(10, 20));
  CHECK_FALSE(Resize(rs).fixed_size());
  CHECK_THROWS_AS(Resize(ResizeOptions{}), UsageError);

  // Centre crop of a 6x4 image with column index values picks the middle columns.
  cv::Mat c(4, 6, CV_8UC3);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 6; ++x)
      c.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x), static_cast<uchar>(y), 0);
  CenterCropOptions co;
  co.size = 2;
  cv::Mat cc = c.clone();
  CenterCrop(co).apply(cc, rng, nullptr);
  REQUIRE(cc.size() == cv::Size(2, 2));
  CHECK(cc.at<cv::Vec3b>(0, 0) == cv::Vec3b(2, 1, 0));
  CHECK(cc.at<cv::Vec3b>(1, 1) == cv::Vec3b(3, 2, 0));
  // Larger than the image: padded with black around the centred image.
  co.size = 8;
  cv::Mat pad = constant(6, 4, {9, 9, 9});
  CenterCrop(co).apply(pad, rng, nullptr);
  CHECK(pad.size() == cv::Size(8, 8));
  CHECK(pad.at<cv::Vec3b>(1, 1) == cv::Vec3b(0, 0, 0));
  CHECK(pad.at<cv::Vec3b>(2, 1) == cv::Vec3b(9, 9, 9));
  CHECK(pad.at<cv::Vec3b>(5, 6) == cv::Vec3b(9, 9, 9));
  CHECK(pad.at<cv::Vec3b>(6, 6) == cv::Vec3b(0, 0, 0));

  RandomResizedCropOptions rr;
  rr.size = 16;
  RandomResizedCrop crop(rr);
  for (std::uint64_t s = 0; s < 200; ++s) {
    Rng r(s);
    const cv::Rect box = crop.sample({50, 40}, r);
    REQUIRE(box.x >= 0);
    REQUIRE(box.y >= 0);
    REQUIRE(box.width > 0);
    REQUIRE(box.height > 0);
    REQUIRE(box.x + box.width <= 50);
    REQUIRE(box.y + box.height <= 40);
    const double area = static_cast<double>(box.area()) / (50 * 40);
    REQUIRE(area <= 1.0);
  }
  Rng r1(5), r2(5);
  CHECK(crop.sample({50, 40}, r1) == crop.sample({50, 40}, r2));
  rr.scale = {1.0, 1.0};
  rr.ratio = {1.0, 1.0};
  Rng r3(9);
  CHECK(RandomResizedCrop(rr).sample({30, 30}, r3) == cv::Rect(0, 0, 30, 30));
  cv::Mat d = noise(50, 40, 1);
  Rng r4(2);
  crop.apply(d, r4, nullptr);
  CHECK(d.size() == cv::Size(16, 16));
}

TEST_CASE("colour jitter and brightness shift follow their formulas", "[data][transforms]") {
  ColorJitterOptions bo;
  bo.brightness = 0.5;
  bo.contrast = 0;
  cv::Mat img = constant(4, 4, {100, 200, 10});
  Rng rng(42);
  TransformRecord rec;
  ColorJitter(bo).apply(img, rng, &rec);
  Rng expect(42);
  const double f = expect.uniform(0.5, 1.5);
  CHECK(rec.entries().at(0).second == Approx(f));
  CHECK(img.at<cv::Vec3b>(0, 0)[0] == std::min(255L, std::lround(100 * f)));
  CHECK(img.at<cv::Vec3b>(0, 0)[1] == std::min(255L, std::lround(200 * f)));

  // Contrast: half the pixels (B,G,R) = (0,0,0), half (200,200,200): mean grey 100.
  ColorJitterOptions co;
  co.brightness = 0;
  co.contrast = 0.5;
  cv::Mat two = constant(2, 1, {0, 0, 0});
  two.at<cv::Vec3b>(0, 1) = cv::Vec3b(200, 200, 200);
  Rng r2(7);
  ColorJitter(co).apply(two, r2, nullptr);
  Rng e2(7);
  const double c = e2.uniform(0.5, 1.5);
  CHECK(two.at<cv::Vec3b>(0, 0)[2] == std::lround(std::max(0.0, (1 - c) * 100)));
  CHECK(two.at<cv::Vec3b>(0, 1)[2] == std::lround(std::min(255.0, 200 * c + (1 - c) * 100)));

  BrightnessShift shift({30});
  cv::Mat s = constant(1, 1, {250, 5, 100});
  Rng r3(11);
  shift.apply(s, r3, nullptr);
  Rng e3(11);
  const double delta = e3.uniform(-30, 30);
  CHECK(s.at<cv::Vec3b>(0, 0)[0] == std::lround(std::min(255.0, 250 + delta)));
  CHECK(s.at<cv::Vec3b>(0, 0)[1] == std::lround(std::max(0.0, 5 + delta)));
  CHECK(s.at<cv::Vec3b>(0, 0)[2] == std::lround(100 + delta));
}

TEST_CASE("gaussian blur: spreads an impulse and keeps a constant image", "[data][transforms]") {
  GaussianBlurOptions o;
  o.min_sigma = o.max_sigma = 1.0;
  GaussianBlur blur(o);
  cv::Mat flat = constant(9, 9, {50, 60, 70});
  Rng rng(0);
  blur.apply(flat, rng, nullptr);
  CHECK(cv::norm(flat, constant(9, 9, {50, 60, 70}), cv::NORM_INF) == 0);
  cv::Mat dot = constant(9, 9, {0, 0, 0});
  dot.at<cv::Vec3b>(4, 4) = cv::Vec3b(255, 255, 255);
  blur.apply(dot, rng, nullptr);
  const int centre = dot.at<cv::Vec3b>(4, 4)[0];
  // 2-D Gaussian with sigma 1: centre weight 1 / (2 pi) = 0.159 -> about 41.
  CHECK(centre == Approx(255 / (2 * CV_PI)).margin(3));
  CHECK(dot.at<cv::Vec3b>(4, 5)[0] < centre);
  CHECK(dot.at<cv::Vec3b>(4, 5)[0] == dot.at<cv::Vec3b>(4, 3)[0]);
  CHECK(dot.at<cv::Vec3b>(4, 5)[0] > 0);
  o.min_sigma = o.max_sigma = 0;
  cv::Mat same = noise(5, 5, 3);
  GaussianBlur(o).apply(same, rng, nullptr);
  CHECK(cv::norm(same, noise(5, 5, 3), cv::NORM_INF) == 0);
}

TEST_CASE("pipeline: fused conversion equals applying every transform", "[data][pipeline]") {
  const Pipeline p = build_pipeline(
      {component("{name: resize, size: 12}"), component("{name: horizontal_flip, p: 0.5}"),
       component("{name: color_jitter, brightness: 0.4, contrast: 0.4}"),
       component("{name: brightness_shift, max_delta: 30}"),
       component("{name: normalize, preset: imagenet}")});
  CHECK(p.describe() ==
        "resize -> horizontal_flip -> color_jitter -> brightness_shift -> normalize(imagenet)");
  CHECK(p.output_size() == cv::Size(12, 12));
  int flipped = 0;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const cv::Mat image = noise(17, 13, seed);
    Rng a(seed), b(seed);
    torch::Tensor fused = torch::empty({3, 12, 12});
    TransformRecord record;
    p.run(image.clone(), a, fused.data_ptr<float>(), cv::Size(12, 12), &record);
    const torch::Tensor plain = p(image.clone(), b);
    REQUIRE(torch::equal(fused, plain));
    flipped += record.entries().at(0).second == 1.0;
  }
  CHECK(flipped > 0);
  CHECK(flipped < 20);

  Rng rng(0);
  torch::Tensor out = torch::empty({3, 12, 12});
  CHECK_THROWS_WITH(p.run(noise(17, 13, 0), rng, out.data_ptr<float>(), cv::Size(10, 10)),
                    Contains("12x12") && Contains("10x10"));
}

TEST_CASE("pipeline from YAML: registry errors and normalisation placement", "[data][pipeline]") {
  const auto yaml =
      "train:\n"
      "  - {name: random_resized_crop, size: 8}\n"
      "  - horizontal_flip\n"
      "  - {name: normalize, preset: caffe}\n"
      "eval:\n"
      "  - {name: letterbox, size: 8}\n";
  const auto options = config::decode<PipelineOptions>(config::parse(yaml, "t.yaml"));
  const Pipeline train = build_pipeline(options.train);
  CHECK(train.normalization().order == ChannelOrder::kBgr);
  CHECK(train.transforms().size() == 2);
  const Pipeline eval = build_pipeline(options.eval);
  CHECK(eval.normalization().scale == Approx(1.0 / 255));
  CHECK(eval.output_size() == cv::Size(8, 8));
  CHECK_FALSE(Pipeline().output_size());
  CHECK_THROWS_WITH(build_pipeline({component("normalize"), component("{name: resize, size: 4}")}),
                    Contains("must be the last"));
  CHECK_THROWS_WITH(build_pipeline({component("{name: blur}")}), Contains("gaussian_blur"));
  CHECK_THROWS_WITH(build_pipeline({component("{name: horizontal_flip, prob: 1}")}),
                    Contains("prob"));
  CHECK_THROWS_AS(build_pipeline({component("{name: horizontal_flip, p: 2}")}), UsageError);
  CHECK_THROWS_AS(build_pipeline({component("{name: normalize, preset: vgg}")}), UsageError);
}
