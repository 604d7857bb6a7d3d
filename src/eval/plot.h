#pragma once
/// Small line-plot renderer on OpenCV (no plotting library needed): several named series,
/// axis labels, ticks, optional log-scale x axis, a legend and vertical marker lines.
/// Used for roc.png / threshold_accuracy.png here and curves.png by the trainer.
///
///     PlotOptions o;
///     o.title = "ROC";  o.x_label = "FAR";  o.y_label = "TAR";  o.log_x = true;
///     save_plot("roc.png", {{"model", far, tar}}, o);
#include <opencv2/core.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace wtp::eval {

/// One line of a plot. x and y have equal sizes; points with a non-finite coordinate
/// (or x <= 0 on a log axis) are skipped and break the line.
struct PlotSeries {
  PlotSeries() = default;
  PlotSeries(std::string name_, std::vector<double> x_, std::vector<double> y_)
      : name(std::move(name_)), x(std::move(x_)), y(std::move(y_)) {}

  std::string name;       ///< legend entry ("" = not in the legend)
  std::vector<double> x;  ///< abscissae
  std::vector<double> y;  ///< ordinates
  /// BGR colour; unset = the next colour of a fixed palette.
  std::optional<cv::Scalar> color;
  int thickness = 2;     ///< line width in pixels (>= 1)
  bool line = true;      ///< join the points with a line
  bool markers = false;  ///< draw a small circle at every point
};

/// A vertical line at x with a label (e.g. a chosen threshold).
struct PlotMarker {
  double x = 0.0;
  std::string label;
};

struct PlotOptions {
  std::string title;                                 ///< drawn above the plot area
  std::string x_label;                               ///< below the x axis
  std::string y_label;                               ///< left of the y axis (rotated)
  bool log_x = false;                                ///< log10 x axis with ticks at powers of ten
  int width = 900;                                   ///< image width in pixels
  int height = 600;                                  ///< image height in pixels
  std::optional<double> x_min, x_max, y_min, y_max;  ///< axis limits; unset = from data
  std::vector<PlotMarker> markers;                   ///< dashed vertical lines
};

/// Renders the plot as an 8-bit BGR image of options.width x options.height.
/// Requires: each series has x.size() == y.size(); width >= 200, height >= 150.
cv::Mat render_plot(const std::vector<PlotSeries>& series, const PlotOptions& options);

/// Renders and writes an image file (format from the extension, e.g. .png).
/// Throws std::runtime_error when the file cannot be written.
void save_plot(const std::string& path, const std::vector<PlotSeries>& series,
               const PlotOptions& options);

/// "Nice" tick positions (1, 2, 2.5 or 5 times a power of ten) covering [lo, hi], about
/// `target` of them. Ensures: increasing, within [lo, hi] (up to rounding).
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

}  // namespace wtp::eval
