#include "eval/plot.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <stdexcept>

#include "core/error.h"

namespace wtp::eval {

namespace {

const cv::Scalar kPalette[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                               {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {127, 127, 127}};
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

std::string tick_text(double v, bool log_axis) {
  char buf[32];
  if (log_axis) {
    const int e = static_cast<int>(std::lround(std::log10(v)));
    if (e >= 0 && e <= 3)
      std::snprintf(buf, sizeof(buf), "%g", std::pow(10.0, e));
    else
      std::snprintf(buf, sizeof(buf), "1e%d", e);
  } else {
    std::snprintf(buf, sizeof(buf), "%g", std::fabs(v) < 1e-12 ? 0.0 : v);
  }
  return buf;
}

cv::Size text_size(const std::string& text, double scale, int thickness = 1) {
  int base = 0;
  return cv::getTextSize(text, kFont, scale, thickness, &base);
}

void dashed_vline(cv::Mat& img, int x, int y0, int y1, const cv::Scalar& color) {
  for (int y = y0; y < y1; y += 10)
    cv::line(img, {x, y}, {x, std::min(y + 5, y1)}, color, 1, cv::LINE_AA);
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  std::vector<double> ticks;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(target, 1);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    step = m * mag;
    if (step >= raw) break;
  }
  const double first = std::ceil(lo / step - 1e-9) * step;
  for (int i = 0;; ++i) {
    const double v = first + i * step;
    if (v > hi + step * 1e-9) break;
    ticks.push_back(v);
  }
  return ticks;
}

cv::Mat render_plot(const std::vector<PlotSeries>& series, const PlotOptions& o) {
  require(o.width >= 200 && o.height >= 150, "render_plot: image must be at least 200 x 150");
  for (const auto& s : series) {
    require(s.thickness >= 1, "render_plot: series '" + s.name + "' needs thickness >= 1");
    require(s.x.size() == s.y.size(), "render_plot: series '" + s.name + "' has " +
                                          std::to_string(s.x.size()) + " x values but " +
                                          std::to_string(s.y.size()) + " y values");
  }
  auto tx = [&](double x) { return o.log_x ? std::log10(x) : x; };
  auto usable = [&](double x, double y) {
    return std::isfinite(x) && std::isfinite(y) && (!o.log_x || x > 0);
  };

  // Data range in transformed x.
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (std::size_t i = 0; i < s.x.size(); ++i)
      if (usable(s.x[i], s.y[i])) {
        x0 = std::min(x0, tx(s.x[i]));
        x1 = std::max(x1, tx(s.x[i]));
        y0 = std::min(y0, s.y[i]);
        y1 = std::max(y1, s.y[i]);
      }
  if (!std::isfinite(x0)) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (o.x_min) x0 = tx(*o.x_min);
  if (o.x_max) x1 = tx(*o.x_max);
  if (o.y_min) y0 = *o.y_min;
  if (o.y_max) y1 = *o.y_max;
  if (o.log_x && !o.x_min) x0 = std::floor(x0);
  if (o.log_x && !o.x_max) x1 = std::ceil(x1);
  if (!(x1 > x0)) x0 -= 0.5, x1 += 0.5;
  if (!(y1 > y0)) y0 -= 0.5, y1 += 0.5;
  if (!o.y_min && !o.y_max) {  // a little air above and below
    const double pad = 0.04 * (y1 - y0);
    y0 -= pad;
    y1 += pad;
  }

  cv::Mat img(o.height, o.width, CV_8UC3, cv::Scalar(255, 255, 255));
  const int left = 90, right = 30, top = o.title.empty() ? 25 : 50, bottom = 70;
  const cv::Rect area(left, top, o.width - left - right, o.height - top - bottom);
  auto px = [&](double x) { return area.x + (x - x0) / (x1 - x0) * area.width; };
  auto py = [&](double y) { return area.y + area.height - (y - y0) / (y1 - y0) * area.height; };
  const cv::Scalar black(0, 0, 0), grid(225, 225, 225), dark(90, 90, 90);

  // Ticks and grid.
  std::vector<double> xt;
  if (o.log_x) {
    for (double e = std::ceil(x0 - 1e-9); e <= x1 + 1e-9; e += 1) xt.push_back(e);
  } else {
    xt = nice_ticks(x0, x1);
  }
  for (double t : xt) {
    const int x = static_cast<int>(std::lround(px(t)));
    cv::line(img, {x, area.y}, {x, area.y + area.height}, grid, 1);
    cv::line(img, {x, area.y + area.height}, {x, area.y + area.height + 5}, black, 1);
    const std::string label = tick_text(o.log_x ? std::pow(10.0, t) : t, o.log_x);
    const auto sz = text_size(label, 0.45);
    cv::putText(img, label, {x - sz.width / 2, area.y + area.height + 8 + sz.height}, kFont, 0.45,
                black, 1, cv::LINE_AA);
  }
  if (o.log_x) {  // minor ticks at 2..9 x 10^e
    for (double e = std::floor(x0); e < x1; e += 1)
      for (int m = 2; m <= 9; ++m) {
        const double t = e + std::log10(static_cast<double>(m));
        if (t < x0 || t > x1) continue;
        const int x = static_cast<int>(std::lround(px(t)));
        cv::line(img, {x, area.y + area.height}, {x, area.y + area.height + 3}, black, 1);
      }
  }
  for (double t : nice_ticks(y0, y1)) {
    const int y = static_cast<int>(std::lround(py(t)));
    cv::line(img, {area.x, y}, {area.x + area.width, y}, grid, 1);
    cv::line(img, {area.x - 5, y}, {area.x, y}, black, 1);
    const std::string label = tick_text(t, false);
    const auto sz = text_size(label, 0.45);
    cv::putText(img, label, {area.x - 8 - sz.width, y + sz.height / 2}, kFont, 0.45, black, 1,
                cv::LINE_AA);
  }

  // Markers, then series, clipped to the plot area.
  cv::Mat plot_area = img(area);
  int marker_row = 0;  // labels stacked so that close markers stay readable
  for (const auto& m : o.markers) {
    if (o.log_x && m.x <= 0) continue;
    const int x = static_cast<int>(std::lround(px(tx(m.x))));
    if (x < area.x || x > area.x + area.width) continue;
    dashed_vline(img, x, area.y, area.y + area.height, dark);
    if (!m.label.empty())
      cv::putText(img, m.label, {x + 4, area.y + 14 + 16 * marker_row++}, kFont, 0.42, dark, 1,
                  cv::LINE_AA);
  }
  std::size_t palette_next = 0;
  std::vector<cv::Scalar> colors;
  for (const auto& s : series) {
    const cv::Scalar color = s.color ? *s.color : kPalette[palette_next++ % 8];
    colors.push_back(color);
    std::vector<cv::Point> run;
    auto flush = [&] {
      if (s.line && run.size() >= 2)
        cv::polylines(plot_area, run, false, color, s.thickness, cv::LINE_AA);
      run.clear();
    };
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (!usable(s.x[i], s.y[i])) {
        flush();
        continue;
      }
      const cv::Point p(static_cast<int>(std::lround(px(tx(s.x[i])) - area.x)),
                        static_cast<int>(std::lround(py(s.y[i]) - area.y)));
      run.push_back(p);
      if (s.markers) cv::circle(plot_area, p, 3, color, cv::FILLED, cv::LINE_AA);
    }
    flush();
  }
  cv::rectangle(img, area, black, 1);

  // Title and axis labels.
  if (!o.title.empty()) {
    const auto sz = text_size(o.title, 0.7, 2);
    cv::putText(img, o.title, {(o.width - sz.width) / 2, 32}, kFont, 0.7, black, 2, cv::LINE_AA);
  }
  if (!o.x_label.empty()) {
    const auto sz = text_size(o.x_label, 0.55);
    cv::putText(img, o.x_label, {area.x + (area.width - sz.width) / 2, o.height - 18}, kFont, 0.55,
                black, 1, cv::LINE_AA);
  }
  if (!o.y_label.empty()) {
    const auto sz = text_size(o.y_label, 0.55);
    cv::Mat label(sz.height + 8, sz.width + 4, CV_8UC3, cv::Scalar(255, 255, 255));
    cv::putText(label, o.y_label, {2, sz.height + 2}, kFont, 0.55, black, 1, cv::LINE_AA);
    cv::Mat rotated;
    cv::rotate(label, rotated, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int x = 8, y = area.y + (area.height - rotated.rows) / 2;
    if (y >= 0 && y + rotated.rows <= img.rows && x + rotated.cols <= img.cols)
      rotated.copyTo(img(cv::Rect(x, y, rotated.cols, rotated.rows)));
  }

  // Legend in the lower-right corner of the plot area.
  std::vector<std::size_t> named;
  for (std::size_t i = 0; i < series.size(); ++i)
    if (!series[i].name.empty()) named.push_back(i);
  if (!named.empty()) {
    int w = 0;
    for (auto i : named) w = std::max(w, text_size(series[i].name, 0.5).width);
    const int row = 22, bw = w + 50, bh = static_cast<int>(named.size()) * row + 10;
    const cv::Rect box(area.x + area.width - bw - 10, area.y + area.height - bh - 10, bw, bh);
    cv::rectangle(img, box, cv::Scalar(255, 255, 255), cv::FILLED);
    cv::rectangle(img, box, dark, 1);
    for (std::size_t r = 0; r < named.size(); ++r) {
      const int y = box.y + 5 + static_cast<int>(r) * row + row / 2;
      const PlotSeries& s = series[named[r]];
      if (s.line) cv::line(img, {box.x + 8, y}, {box.x + 36, y}, colors[named[r]], 2, cv::LINE_AA);
      if (s.markers) cv::circle(img, {box.x + 22, y}, 4, colors[named[r]], cv::FILLED, cv::LINE_AA);
      cv::putText(img, series[named[r]].name, {box.x + 42, y + 5}, kFont, 0.5, black, 1,
                  cv::LINE_AA);
    }
  }
  return img;
}

void save_plot(const std::string& path, const std::vector<PlotSeries>& series,
               const PlotOptions& options) {
  const cv::Mat img = render_plot(series, options);
  bool ok = false;
  try {
    ok = cv::imwrite(path, img);
  } catch (const cv::Exception& e) {
    throw std::runtime_error("cannot write plot " + path + ": " + e.what());
  }
  if (!ok) throw std::runtime_error("cannot write plot " + path);
}

}  // namespace wtp::eval
