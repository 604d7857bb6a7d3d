#include <cmath>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "eval/plot.h"
#include "eval/report.h"
#include "test_support.h"

// Last: Catch's CHECK must replace the one glog (via LibTorch) defines.
#include <catch2/catch.hpp>

using namespace wtp::eval;
using Catch::Matchers::Contains;

TEST_CASE("report: JSON, Markdown and table", "[eval][report]") {
  Report r{{"accuracy_mean", 0.9935}, {"queries", 13233}, {"undefined", std::nan("")}};
  auto json = nlohmann::json::parse(report_json(r));
  CHECK(json["accuracy_mean"].get<double>() == 0.9935);
  CHECK(json["queries"].get<double>() == 13233);
  CHECK(json["undefined"].is_null());
  const auto md = report_markdown(r, "t");
  CHECK_THAT(md, Contains("| accuracy_mean | 0.9935 |"));
  CHECK_THAT(md, Contains("| queries | 13233 |"));
  CHECK_THAT(report_table(r), Contains("accuracy_mean"));
  CHECK(format_metric(0.123456789) == "0.123457");
  wtp::test::TempDir dir;
  write_report_json(dir / "r.json", r);
  write_report_markdown(dir / "r.md", r);
  CHECK(nlohmann::json::parse(wtp::test::read_file(dir / "r.json")) == json);
  CHECK(std::filesystem::exists(dir / "r.md"));
  CHECK_THROWS_AS(write_report_json(dir / "missing" / "r.json", r), std::runtime_error);
}

TEST_CASE("plot: nice ticks", "[eval][plot]") {
  CHECK(nice_ticks(0, 1) == std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1});
  auto t = nice_ticks(0.03, 0.97, 5);
  REQUIRE(!t.empty());
  CHECK(t.front() >= 0.03);
  CHECK(t.back() <= 0.97);
  CHECK(nice_ticks(-3, 3, 6).size() >= 4);
}

TEST_CASE("plot: renders series, log axis, legend and markers to a PNG", "[eval][plot]") {
  std::vector<double> far{0, 1e-4, 1e-3, 1e-2, 0.1, 1}, tar{0, 0.5, 0.8, 0.9, 0.97, 1};
  PlotOptions o;
  o.title = "ROC";
  o.x_label = "FAR";
  o.y_label = "TAR";
  o.log_x = true;
  o.markers = {{1e-3, "1e-3"}};
  PlotSeries other("other", {1e-4, 1}, {0.2, 0.9});
  other.markers = true;
  cv::Mat img = render_plot({{"model", far, tar}, other}, o);
  CHECK(img.cols == 900);
  CHECK(img.rows == 600);
  CHECK(img.type() == CV_8UC3);
  // The first palette colour (BGR 180, 119, 31) appears: the line was drawn.
  cv::Mat mask;
  cv::inRange(img, cv::Scalar(170, 109, 21), cv::Scalar(190, 129, 41), mask);
  CHECK(cv::countNonZero(mask) > 100);
  wtp::test::TempDir dir;
  const auto path = (dir / "roc.png").string();
  save_plot(path, {{"model", far, tar}}, o);
  cv::Mat back = cv::imread(path);
  CHECK(back.cols == 900);
  CHECK_THROWS_AS(render_plot({PlotSeries("bad", {1, 2}, {1})}, o), wtp::UsageError);
  CHECK_THROWS_AS(save_plot((dir / "no" / "x.png").string(), {}, o), std::runtime_error);
}
