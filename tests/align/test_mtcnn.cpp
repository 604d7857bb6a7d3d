// MTCNN: network shapes and parameter names, NMS and pyramid arithmetic, and detection
// with facenet-pytorch's weights on the shared faces, against facenet-pytorch's own output.
#include <ATen/Parallel.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/detector.h"
#include "align/mtcnn.h"
#include "catch_torch.h"
#include "core/error.h"
#include "models/weights.h"
#include "test_support.h"

using namespace wtp::align;

namespace {

std::string weights_dir() { return (*wtp::test::shared_dir() / "weights" / "mtcnn").string(); }

cv::Mat shared_image(const std::string& name, int side = 0) {
  const cv::Mat full = cv::imread((*wtp::test::shared_dir() / "faces" / name).string());
  REQUIRE(!full.empty());
  if (side == 0) return full;
  const double s = static_cast<double>(side) / std::max(full.cols, full.rows);
  cv::Mat small;
  cv::resize(full, small, cv::Size(), s, s, cv::INTER_AREA);
  return small;
}

std::vector<std::string> names(const torch::nn::Module& m) {
  std::vector<std::string> out;
  for (const auto& [name, tensor] : wtp::models::state_dict(m)) out.push_back(name);
  return out;
}

// Tolerances against facenet-pytorch (measured here: 2e-4 px, 2e-7), with room for oneDNN's
// kernels on other CPUs, which round differently.
constexpr double kPixels = 0.01;
constexpr double kProbability = 1e-5;

// facenet-pytorch's own output for ../shared/faces/NAME.jpg (../shared/reference/mtcnn/NAME.json,
// see ../shared/reference/README.md), in its order.
std::vector<Face> reference_faces(const std::string& name) {
  std::ifstream in(*wtp::test::shared_dir() / "reference" / "mtcnn" / (name + ".json"));
  REQUIRE(in);
  const auto json = nlohmann::json::parse(in);
  std::vector<Face> faces;
  for (const auto& item : json.at("faces")) {
    Face f;
    const auto& b = item.at("box");
    f.box = {b[0].get<double>(), b[1].get<double>(), b[2].get<double>(), b[3].get<double>()};
    f.confidence = item.at("prob").get<double>();
    for (const auto& p : item.at("landmarks"))
      f.landmarks.emplace_back(p[0].get<double>(), p[1].get<double>());
    faces.push_back(std::move(f));
  }
  REQUIRE(faces.size() == json.at("n_faces").get<std::size_t>());
  return faces;
}

double iou(const Box& a, const Box& b) {
  const double w = std::max(0.0, std::min(a.x2, b.x2) - std::max(a.x1, b.x1));
  const double h = std::max(0.0, std::min(a.y2, b.y2) - std::max(a.y1, b.y1));
  return w * h / (a.area() + b.area() - w * h);
}

// Every number of two detections, for exact comparisons.
std::vector<double> flatten(const std::vector<Face>& faces) {
  std::vector<double> v;
  for (const auto& f : faces) {
    v.insert(v.end(), {f.box.x1, f.box.y1, f.box.x2, f.box.y2, f.confidence});
    for (const auto& p : f.landmarks) v.insert(v.end(), {p.x, p.y});
  }
  return v;
}

}  // namespace

TEST_CASE("MTCNN networks have facenet-pytorch's shapes and parameter names", "[align][mtcnn]") {
  torch::NoGradGuard no_grad;
  PNet p;
  auto [reg, prob] = p->forward(torch::zeros({2, 3, 12, 12}));
  CHECK(reg.sizes() == torch::IntArrayRef({2, 4, 1, 1}));
  CHECK(prob.sizes() == torch::IntArrayRef({2, 2, 1, 1}));
  // H' = ceil((H - 2) / 2) - 4: 31 -> ceil(29 / 2) - 4 = 11 (ceil-mode pooling).
  CHECK(p->forward(torch::zeros({1, 3, 31, 40})).first.sizes() ==
        torch::IntArrayRef({1, 4, 11, 15}));
  CHECK(prob.sum(1).allclose(torch::ones({2, 1, 1})));
  RNet r;
  auto [rreg, rprob] = r->forward(torch::zeros({3, 3, 24, 24}));
  CHECK(rreg.sizes() == torch::IntArrayRef({3, 4}));
  CHECK(rprob.sizes() == torch::IntArrayRef({3, 2}));
  ONet o;
  auto [oreg, olm, oprob] = o->forward(torch::zeros({1, 3, 48, 48}));
  CHECK(oreg.sizes() == torch::IntArrayRef({1, 4}));
  CHECK(olm.sizes() == torch::IntArrayRef({1, 10}));
  CHECK(oprob.sizes() == torch::IntArrayRef({1, 2}));
  CHECK(names(*p) == std::vector<std::string>{"conv1.weight", "conv1.bias", "prelu1.weight",
                                              "conv2.weight", "conv2.bias", "prelu2.weight",
                                              "conv3.weight", "conv3.bias", "prelu3.weight",
                                              "conv4_1.weight", "conv4_1.bias", "conv4_2.weight",
                                              "conv4_2.bias"});
  CHECK(names(*o).size() == 21);
  CHECK(names(*o)[12] == "dense5.weight");
  // The fixed-order dense layers agree with nn::Linear (BLAS) up to rounding.
  const auto x = torch::rand({5, 3, 24, 24});
  auto h = r->pool2(r->prelu2(r->conv2(r->pool1(r->prelu1(r->conv1(x))))));
  h = caffe_flatten(r->prelu3(r->conv3(h)));
  h = r->prelu4(r->dense4(h));
  auto [fixed_reg, fixed_prob] = r->forward(x);
  CHECK(fixed_reg.allclose(r->dense5_2(h), 1e-4, 1e-5));
  CHECK(fixed_prob.allclose(torch::softmax(r->dense5_1(h), 1), 1e-4, 1e-5));
}

TEST_CASE("NMS keeps the best box and suppresses overlaps above the threshold", "[align][mtcnn]") {
  // Box 0: [0, 10]^2 (area 100), box 1: [5, 15] x [0, 10] (IoU 50 / 150 = 1/3), box 2 far.
  const auto boxes =
      torch::tensor({0.f, 0.f, 10.f, 10.f, 5.f, 0.f, 15.f, 10.f, 50.f, 50.f, 60.f, 60.f})
          .view({3, 4});
  const auto scores = torch::tensor({0.8f, 0.9f, 0.5f});
  auto as_vector = [](const torch::Tensor& t) {
    return std::vector<std::int64_t>(t.data_ptr<std::int64_t>(),
                                     t.data_ptr<std::int64_t>() + t.numel());
  };
  CHECK(as_vector(nms(boxes, scores, 0.3, NmsMode::kUnion)) == std::vector<std::int64_t>{1, 2});
  CHECK(as_vector(nms(boxes, scores, 0.34, NmsMode::kUnion)) == std::vector<std::int64_t>{1, 0, 2});
  // Min overlap with +1 areas: inter 6 x 11 = 66, min area 121 -> 0.545.
  CHECK(as_vector(nms(boxes, scores, 0.54, NmsMode::kMin)) == std::vector<std::int64_t>{1, 2});
  CHECK(as_vector(nms(boxes, scores, 0.55, NmsMode::kMin)) == std::vector<std::int64_t>{1, 0, 2});
  // Groups are independent: box 0 survives in its own group.
  const auto groups = torch::tensor({0, 1, 1}, torch::kInt64);
  CHECK(as_vector(batched_nms(boxes, scores, groups, 0.3, NmsMode::kUnion)) ==
        std::vector<std::int64_t>{1, 0, 2});
  CHECK(nms(torch::zeros({0, 4}), torch::zeros({0}), 0.5, NmsMode::kUnion).numel() == 0);
  // Equal scores: torchvision keeps the earlier box, facenet-pytorch's "Min" NMS (the last of
  // NumPy's ascending argsort) the later one. IoU 81 / 119, Min overlap 100 / 121.
  const auto twins = torch::tensor({0.f, 0.f, 10.f, 10.f, 1.f, 1.f, 11.f, 11.f}).view({2, 4});
  const auto tied = torch::tensor({0.9f, 0.9f});
  CHECK(as_vector(nms(twins, tied, 0.5, NmsMode::kUnion)) == std::vector<std::int64_t>{0});
  CHECK(as_vector(nms(twins, tied, 0.5, NmsMode::kMin)) == std::vector<std::int64_t>{1});
}

TEST_CASE("the pyramid starts at 12 / min_face and stops below 12 pixels", "[align][mtcnn]") {
  // 100 x 100, min_face 20: m = 0.6, min side 60 -> 42.54 -> 30.16 -> 21.39 -> 15.16 -> 10.75.
  const auto s = pyramid_scales(100, 120, 20, 0.709);
  REQUIRE(s.size() == 5);
  CHECK(s[0] == Approx(0.6));
  CHECK(s[1] == Approx(0.6 * 0.709));
  CHECK(s[4] == Approx(0.6 * std::pow(0.709, 4)));
  CHECK(pyramid_scales(19, 200, 20, 0.709).empty());  // 19 * 0.6 < 12
}

TEST_CASE("MTCNN options are validated; missing weights say where to get them", "[align][mtcnn]") {
  MtcnnOptions o;
  o.thresholds = {0.6, 0.7};
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
  o = MtcnnOptions{};
  o.min_face = 5;
  CHECK_THROWS_AS(o.validate(), wtp::UsageError);
  CHECK_THROWS_WITH(load_mtcnn(""), Catch::Contains("pnet.pt"));
  CHECK_THROWS_AS(load_mtcnn("/nonexistent-wtp-dir"), wtp::UsageError);
  const auto& registry = detector_registry();
  CHECK_THROWS_AS(registry.create({"mtcnn", wtp::config::Node()}), wtp::UsageError);
}

TEST_CASE("MTCNN gives facenet-pytorch's faces on the shared photos", "[align][mtcnn][shared]") {
  WTP_REQUIRE_SHARED();
  MtcnnOptions o;
  o.weights = weights_dir();
  MtcnnDetector detector(o);
  const int before = at::get_num_threads();
  for (const std::string name : {"angelina_jolie", "kate_siegel", "paul_rudd", "multiface"}) {
    CAPTURE(name);
    const auto reference = reference_faces(name);
    const cv::Mat image = shared_image(name + ".jpg");
    at::set_num_threads(1);
    const auto one = detector.detect(image);
    at::set_num_threads(2);
    const auto faces = rank_faces(detector.detect(image), FaceSelect::kLargest, image.size());
    at::set_num_threads(before);
    CHECK(flatten(rank_faces(one, FaceSelect::kLargest, image.size())) == flatten(faces));
    // The reference lists the faces as MTCNN.detect does with select_largest: by box area.
    REQUIRE(faces.size() == reference.size());
    for (std::size_t i = 0; i < faces.size(); ++i) {
      CAPTURE(i);
      const Face& f = faces[i];
      const Face& r = reference[i];
      CHECK(iou(f.box, r.box) > 0.999);
      CHECK(f.box.x1 == Approx(r.box.x1).margin(kPixels));
      CHECK(f.box.y1 == Approx(r.box.y1).margin(kPixels));
      CHECK(f.box.x2 == Approx(r.box.x2).margin(kPixels));
      CHECK(f.box.y2 == Approx(r.box.y2).margin(kPixels));
      CHECK(f.confidence == Approx(r.confidence).margin(kProbability));
      REQUIRE(f.landmarks.size() == 5);
      for (std::size_t j = 0; j < 5; ++j) {
        CAPTURE(j);
        CHECK(f.landmarks[j].x == Approx(r.landmarks[j].x).margin(kPixels));
        CHECK(f.landmarks[j].y == Approx(r.landmarks[j].y).margin(kPixels));
      }
    }
  }
}

TEST_CASE("MTCNN output does not depend on the LibTorch thread count or batching",
          "[align][mtcnn][shared]") {
  WTP_REQUIRE_SHARED();
  MtcnnOptions o;
  o.weights = weights_dir();
  MtcnnDetector detector(o);
  const cv::Mat image = shared_image("multiface.jpg", 600);
  const int before = at::get_num_threads();
  at::set_num_threads(1);
  const auto one = detector.detect(image);
  at::set_num_threads(2);
  const auto two = detector.detect(image);
  at::set_num_threads(before);
  REQUIRE(one.size() >= 5);
  CHECK(flatten(one) == flatten(two));
  cv::Mat flipped;
  cv::flip(image, flipped, 1);
  const auto batch = detector.detect_batch({image, flipped});
  REQUIRE(batch.size() == 2);
  CHECK(flatten(batch[0]) == flatten(one));
  CHECK(flatten(batch[1]) == flatten(detector.detect(flipped)));
  CHECK_THROWS_AS(detector.detect_batch({image, shared_image("multiface.jpg", 500)}),
                  std::invalid_argument);
}
