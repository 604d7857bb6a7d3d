// The face pipeline's pieces: quality measures, and the detectors the service accepts
// (Haar, an MTCNN weights folder, an MTCNN detector archive giving the same faces).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "align/mtcnn.h"
#include "catch_torch.h"
#include "core/error.h"
#include "export/export_model.h"
#include "serve/face_pipeline.h"
#include "test_support.h"

using namespace wtp::serve;

TEST_CASE("quality: sharpness is the variance of the Laplacian, brightness the mean grey",
          "[serve][pipeline]") {
  cv::Mat flat(40, 40, CV_8UC3, cv::Scalar(90, 90, 90));
  QualityResult q;
  measure_quality(flat, cv::Rect(5, 5, 20, 20), q);
  CHECK(q.sharpness == 0.0);
  CHECK(q.brightness == Approx(90.0));
  // A vertical step edge at column 20: the Laplacian (3x3 aperture 1: [1 -2 1] per axis) is
  // +-d on the two columns beside it and 0 elsewhere.
  cv::Mat edge(40, 40, CV_8UC3, cv::Scalar(0, 0, 0));
  edge(cv::Rect(20, 0, 20, 40)).setTo(cv::Scalar(100, 100, 100));
  measure_quality(edge, cv::Rect(10, 10, 20, 20), q);  // columns 10..29: 2 of 20 nonzero
  CHECK(q.brightness == Approx(50.0));
  CHECK(q.sharpness == Approx(100.0 * 100.0 * 2.0 / 20.0).epsilon(1e-9));
  // Blurring lowers it.
  cv::Mat blurred;
  cv::GaussianBlur(edge, blurred, cv::Size(0, 0), 3.0);
  QualityResult qb;
  measure_quality(blurred, cv::Rect(10, 10, 20, 20), qb);
  CHECK(qb.sharpness < q.sharpness / 10.0);
  // A box partly outside the image is clamped.
  measure_quality(flat, cv::Rect(30, 30, 50, 50), q);
  CHECK(q.brightness == Approx(90.0));
}

TEST_CASE("detectors: haar, an MTCNN weights folder, an MTCNN archive", "[serve][pipeline]") {
  CHECK_THROWS_AS(detector_factory("no-such-thing"), wtp::UsageError);
  auto haar = detector_factory("haar")();
  CHECK(haar->name() == "haar");
  WTP_REQUIRE_SHARED();
  const auto shared = *wtp::test::shared_dir();
  const std::string weights = (shared / "weights" / "mtcnn").string();
  wtp::test::TempDir dir;
  auto nets = wtp::align::load_mtcnn(weights);
  wtp::exporter::ExportOptions options;
  options.what = wtp::exporter::ExportKind::kDetector;
  wtp::exporter::export_detector(nets, (dir / "mtcnn.ts").string(), options);
  const cv::Mat photo = cv::imread((shared / "faces" / "multiface.jpg").string());
  REQUIRE_FALSE(photo.empty());
  const auto from_weights = detector_factory(weights)()->detect(photo);
  const auto from_archive = detector_factory((dir / "mtcnn.ts").string())()->detect(photo);
  REQUIRE(from_weights.size() >= 2);
  REQUIRE(from_archive.size() == from_weights.size());
  for (std::size_t i = 0; i < from_weights.size(); ++i) {
    CHECK(from_archive[i].box.x1 == Approx(from_weights[i].box.x1).margin(1e-3));
    CHECK(from_archive[i].box.y2 == Approx(from_weights[i].box.y2).margin(1e-3));
    CHECK(from_archive[i].confidence == Approx(from_weights[i].confidence).margin(1e-5));
  }
  // A missing archive is refused.
  wtp::test::TempDir other;
  CHECK_THROWS_AS(detector_factory((other / "missing.ts").string()), wtp::UsageError);
}
