#include "synth/face_renderer.h"

#include <algorithm>
#include <cmath>
#include <opencv2/imgproc.hpp>
#include <stdexcept>
#include <vector>

#include "core/random.h"

namespace wtp::synth {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kCanvas = 128.0;  // face units per image side
constexpr double kCentre = 64.0;   // rotation centre in face units
constexpr int kSupersample = 3;    // drawing resolution / output resolution
constexpr int kShift = 8;          // fractional bits of OpenCV drawing coordinates

double rad(double degrees) { return degrees * kPi / 180.0; }

cv::Scalar mul(const cv::Scalar& c, double f) {
  return {std::clamp(c[0] * f, 0.0, 255.0), std::clamp(c[1] * f, 0.0, 255.0),
          std::clamp(c[2] * f, 0.0, 255.0)};
}

cv::Scalar mix(const cv::Scalar& a, const cv::Scalar& b, double t) {
  return {a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t};
}

cv::Scalar random_colour(Rng& rng, double lo = 15, double hi = 240) {
  return {rng.uniform(lo, hi), rng.uniform(lo, hi), rng.uniform(lo, hi)};
}

/// Picks one of `palette` and jitters each channel by up to +-jitter.
cv::Scalar pick(Rng& rng, const std::vector<cv::Scalar>& palette, double jitter) {
  const auto& base = palette[static_cast<std::size_t>(
      rng.integer(0, static_cast<std::int64_t>(palette.size()) - 1))];
  return {std::clamp(base[0] + rng.uniform(-jitter, jitter), 0.0, 255.0),
          std::clamp(base[1] + rng.uniform(-jitter, jitter), 0.0, 255.0),
          std::clamp(base[2] + rng.uniform(-jitter, jitter), 0.0, 255.0)};
}

/// Draws in face units onto a supersampled canvas under a pose.
class Painter {
 public:
  Painter(cv::Mat& canvas, const FaceVariation& v, int size)
      : canvas_(canvas),
        cos_(std::cos(rad(v.rotation))),
        sin_(std::sin(rad(v.rotation))),
        variation_(v),
        pixels_per_unit_(size / kCanvas),
        render_per_unit_(kSupersample * size / kCanvas * v.scale) {}

  /// Face units -> output pixel coordinates.
  cv::Point2d to_output(cv::Point2d p) const {
    const double dx = p.x - kCentre, dy = p.y - kCentre;
    const double s = variation_.scale;
    const double x = kCentre + s * (cos_ * dx - sin_ * dy) + variation_.shift_x;
    const double y = kCentre + s * (sin_ * dx + cos_ * dy) + variation_.shift_y;
    return {x * pixels_per_unit_, y * pixels_per_unit_};
  }

  /// Face units -> drawing (supersampled) pixel coordinates, fixed point.
  cv::Point fixed(cv::Point2d p) const {
    const cv::Point2d o = to_output(p);
    return fixed_render({(o.x + 0.5) * kSupersample - 0.5, (o.y + 0.5) * kSupersample - 0.5});
  }
  static cv::Point fixed_render(cv::Point2d r) {
    return {static_cast<int>(std::lround(r.x * (1 << kShift))),
            static_cast<int>(std::lround(r.y * (1 << kShift)))};
  }
  int fixed_length(double units) const {
    return static_cast<int>(std::lround(units * render_per_unit_ * (1 << kShift)));
  }
  int thickness(double units) const {
    return std::max(1, static_cast<int>(std::lround(units * render_per_unit_)));
  }

  void fill(const std::vector<cv::Point2d>& points, const cv::Scalar& colour) {
    std::vector<cv::Point> fixed_points;
    fixed_points.reserve(points.size());
    for (const auto& p : points) fixed_points.push_back(fixed(p));
    const cv::Point* data = fixed_points.data();
    const int count = static_cast<int>(fixed_points.size());
    cv::fillPoly(canvas_, &data, &count, 1, colour, cv::LINE_AA, kShift);
  }
  void stroke(const std::vector<cv::Point2d>& points, bool closed, const cv::Scalar& colour,
              double thickness_units) {
    std::vector<cv::Point> fixed_points;
    for (const auto& p : points) fixed_points.push_back(fixed(p));
    cv::polylines(canvas_, fixed_points, closed, colour, thickness(thickness_units), cv::LINE_AA,
                  kShift);
  }
  void line(cv::Point2d a, cv::Point2d b, const cv::Scalar& colour, double thickness_units) {
    cv::line(canvas_, fixed(a), fixed(b), colour, thickness(thickness_units), cv::LINE_AA, kShift);
  }
  void disc(cv::Point2d centre, double radius, const cv::Scalar& colour) {
    cv::circle(canvas_, fixed(centre), std::max(1, fixed_length(radius)), colour, cv::FILLED,
               cv::LINE_AA, kShift);
  }
  /// Filled ellipse (thickness_units < 0) or outline; `angle` in degrees in face space.
  void ellipse(cv::Point2d centre, double ax, double ay, double angle, const cv::Scalar& colour,
               double thickness_units = -1) {
    cv::ellipse(canvas_, fixed(centre), cv::Size(fixed_length(ax), fixed_length(ay)),
                angle + variation_.rotation, 0, 360, colour,
                thickness_units < 0 ? cv::FILLED : thickness(thickness_units), cv::LINE_AA, kShift);
  }

 private:
  cv::Mat& canvas_;
  double cos_, sin_;
  const FaceVariation& variation_;
  double pixels_per_unit_;
  double render_per_unit_;
};

/// Points of an ellipse (centre, half axes, rotation in degrees) from angle t0 to t1
/// (degrees, in the ellipse frame, clockwise on screen like cv::ellipse).
std::vector<cv::Point2d> ellipse_points(cv::Point2d c, double ax, double ay, double angle,
                                        double t0, double t1, int n) {
  std::vector<cv::Point2d> out;
  const double ca = std::cos(rad(angle)), sa = std::sin(rad(angle));
  for (int i = 0; i <= n; ++i) {
    const double t = rad(t0 + (t1 - t0) * i / n);
    const double x = ax * std::cos(t), y = ay * std::sin(t);
    out.push_back({c.x + ca * x - sa * y, c.y + sa * x + ca * y});
  }
  return out;
}

/// Half width of the face outline at height `dy` below the face centre (negative: above).
double half_width(const FaceIdentity& f, double dy) {
  const double r = std::abs(dy) / f.face_b;
  if (r >= 1) return 0;
  double w = f.face_a * std::pow(1 - std::pow(r, f.face_power), 1 / f.face_power);
  if (dy > 0) w *= 1 - f.chin_taper * r * r;
  return w;
}

/// The face outline: a superellipse whose lower half narrows toward the chin.
std::vector<cv::Point2d> face_outline(const FaceIdentity& f, double grow = 0, int n = 120) {
  std::vector<cv::Point2d> out;
  const double a = f.face_a + grow, b = f.face_b + grow;
  for (int i = 0; i < n; ++i) {
    const double t = 2 * kPi * i / n;
    const double c = std::cos(t), s = std::sin(t);
    double x = a * (c < 0 ? -1 : 1) * std::pow(std::abs(c), 2 / f.face_power);
    const double y = b * (s < 0 ? -1 : 1) * std::pow(std::abs(s), 2 / f.face_power);
    if (y > 0) x *= 1 - f.chin_taper * (y / b) * (y / b);
    out.push_back({f.face_cx + x, f.face_cy + y});
  }
  return out;
}

double eye_top(const FaceIdentity& f) { return f.eye_y - f.eye_h; }

double nose_tip_y(const FaceIdentity& f) { return f.eye_y + f.nose_len; }

double mouth_y(const FaceIdentity& f) {
  return std::min(nose_tip_y(f) + f.mouth_gap, f.face_cy + f.face_b * 0.72);
}

/// Top arc of the hair's outer boundary (left to right), down to height y_side.
std::vector<cv::Point2d> hair_arc(const FaceIdentity& f, double volume, double y_side,
                                  double wave = 0) {
  const double a = f.face_a + volume, b = f.face_b + volume * 0.9;
  const double dy = std::min(y_side - f.face_cy, 0.0);
  const double s0 = std::pow(std::min(std::abs(dy) / b, 1.0), f.face_power / 2);
  const double t_left = kPi + std::asin(s0), t_right = 2 * kPi - std::asin(s0);
  std::vector<cv::Point2d> out;
  const int n = 60;
  for (int i = 0; i <= n; ++i) {
    const double t = t_left + (t_right - t_left) * i / n;
    const double c = std::cos(t), s = std::sin(t);
    const double r = 1 + wave * std::sin(14 * t);
    const double x = a * r * (c < 0 ? -1 : 1) * std::pow(std::abs(c), 2 / f.face_power);
    const double y = b * r * (s < 0 ? -1 : 1) * std::pow(std::abs(s), 2 / f.face_power);
    out.push_back({f.face_cx + x, f.face_cy + y});
  }
  // Extend straight down to y_side when it lies below the face centre.
  if (y_side > f.face_cy) {
    out.insert(out.begin(), {f.face_cx - a, y_side});
    out.push_back({f.face_cx + a, y_side});
  }
  return out;
}

/// The hair cap: outer arc, then the hairline from the right temple to the left temple.
std::vector<cv::Point2d> hair_cap(const FaceIdentity& f, double volume, double y_side,
                                  double hairline, double flatness, double wave = 0) {
  std::vector<cv::Point2d> out = hair_arc(f, volume, y_side, wave);
  const double w_side = half_width(f, std::min(y_side - f.face_cy, 0.0)) - 0.5;
  const double xl = f.face_cx - w_side, xr = f.face_cx + w_side;
  const double x_peak = f.face_cx + f.hair_part * w_side * 0.5;
  const int n = 40;
  for (int i = 0; i <= n; ++i) {
    const double x = xr + (xl - xr) * i / n;
    const double q = x >= x_peak ? (x - x_peak) / (xr - x_peak) : (x_peak - x) / (x_peak - xl);
    const double y = hairline + (std::min(y_side, f.face_cy) - hairline) * std::pow(q, flatness);
    out.push_back({x, y});
  }
  return out;
}

void draw_background(cv::Mat& canvas, const FaceVariation& v) {
  Rng rng(v.background_seed);
  const int n = canvas.rows;
  const cv::Scalar c1 = random_colour(rng), c2 = random_colour(rng);
  const int kind = static_cast<int>(rng.integer(0, 2));
  if (kind == 0) {  // linear gradient in a random direction
    const double angle = rng.uniform(0, 2 * kPi);
    const double ca = std::cos(angle), sa = std::sin(angle);
    for (int r = 0; r < n; ++r) {
      auto* row = canvas.ptr<cv::Vec3b>(r);
      for (int c = 0; c < n; ++c) {
        const double t = std::clamp(0.5 + ((c - n / 2.0) * ca + (r - n / 2.0) * sa) / n, 0.0, 1.0);
        for (int ch = 0; ch < 3; ++ch)
          row[c][ch] = static_cast<unsigned char>(std::lround(c1[ch] + (c2[ch] - c1[ch]) * t));
      }
    }
  } else {  // two regions split by a random line (wall and floor, door, ...)
    canvas.setTo(c1);
    const double y0 = rng.uniform(0.1, 0.9) * n, y1 = rng.uniform(0.1, 0.9) * n;
    std::vector<cv::Point> region{
        {0, static_cast<int>(y0)}, {n, static_cast<int>(y1)}, {n, n}, {0, n}};
    if (kind == 2) region = {{static_cast<int>(y0), 0}, {static_cast<int>(y1), n}, {n, n}, {n, 0}};
    cv::fillConvexPoly(canvas, region, c2, cv::LINE_AA);
  }
  // Stripes (a patterned wall or curtain) now and then.
  if (rng.bernoulli(0.3)) {
    const cv::Scalar stripe = mix(c1, random_colour(rng), 0.5);
    const double period = rng.uniform(0.06, 0.2) * n;
    const int width = std::max(1, static_cast<int>(period * rng.uniform(0.2, 0.5)));
    const bool vertical = rng.bernoulli(0.5);
    for (double p = rng.uniform(0, period); p < n; p += period) {
      const int q = static_cast<int>(p);
      if (vertical)
        cv::rectangle(canvas, {q, 0}, {q + width, n}, stripe, cv::FILLED);
      else
        cv::rectangle(canvas, {0, q}, {n, q + width}, stripe, cv::FILLED);
    }
  }
  // Clutter: objects behind the person.
  const int count = static_cast<int>(rng.integer(2, 7));
  for (int i = 0; i < count; ++i) {
    const cv::Scalar colour = random_colour(rng);
    const cv::Point p(static_cast<int>(rng.uniform(0, n)), static_cast<int>(rng.uniform(0, n)));
    const int size = static_cast<int>(rng.uniform(0.05, 0.3) * n);
    switch (rng.integer(0, 3)) {
      case 0:
        cv::rectangle(canvas, p,
                      p + cv::Point(size, static_cast<int>(size * rng.uniform(0.4, 2.5))), colour,
                      cv::FILLED, cv::LINE_AA);
        break;
      case 1:
        cv::circle(canvas, p, size / 2 + 1, colour, cv::FILLED, cv::LINE_AA);
        break;
      case 2: {
        const cv::Point q(static_cast<int>(rng.uniform(0, n)), static_cast<int>(rng.uniform(0, n)));
        cv::line(canvas, p, q, colour, std::max(1, size / 6), cv::LINE_AA);
        break;
      }
      default:
        cv::circle(canvas, p, size / 2 + 2, colour, std::max(1, size / 8), cv::LINE_AA);
        break;
    }
  }
}

void draw_eye(Painter& paint, const FaceIdentity& f, const FaceVariation& v, int side) {
  const cv::Point2d e(f.face_cx + side * f.eye_dx, f.eye_y);
  // side -1 is the left eye (smaller x): a clockwise turn lifts its outer corner.
  const double angle = -side * f.eye_tilt;
  const cv::Scalar dark = mul(mix(f.brow, f.skin, 0.25), 0.7);
  const double lid = 0.45 + 0.1 * f.eye_w / 5;
  if (v.eye_state == EyeState::kOpen) {
    paint.ellipse(e, f.eye_w, f.eye_h, angle, cv::Scalar(236, 240, 244));
    // Iris and pupil are clipped to the eye opening; both are centred on the eye centre.
    const double ca = std::cos(rad(angle)), sa = std::sin(rad(angle));
    auto clipped_disc = [&](double radius) {
      std::vector<cv::Point2d> pts;
      for (int i = 0; i < 72; ++i) {
        const double t = 2 * kPi * i / 72;
        const double c = std::cos(t), s = std::sin(t);
        const double edge =
            1 / std::sqrt(c * c / (f.eye_w * f.eye_w) + s * s / (f.eye_h * f.eye_h));
        const double r = std::min(radius, edge * 0.97);
        const double x = r * c, y = r * s;
        pts.push_back({e.x + ca * x - sa * y, e.y + sa * x + ca * y});
      }
      return pts;
    };
    const double iris_r = f.eye_h * f.iris_ratio;
    paint.fill(clipped_disc(iris_r), f.iris);
    paint.fill(clipped_disc(iris_r * 0.45), cv::Scalar(18, 16, 16));
    // Upper lid line (thick) and lower lid line (thin).
    const auto upper = ellipse_points(e, f.eye_w * 1.02, f.eye_h * 1.05, angle, 180, 360, 24);
    if (v.eye_openness < 1) {
      // A lowered lid: skin from the top of the opening down to the lid edge, an arc whose
      // vertical half axis goes from -1.05 eye_h (open: the upper lid line) to +0.45 eye_h
      // (closed: the closure line of a closed eye) as the openness goes from 1 to 0.
      const double bow = -1.05 + 1.5 * (1 - std::clamp(v.eye_openness, 0.0, 1.0));
      const auto edge = ellipse_points(e, f.eye_w * 1.02, f.eye_h * bow, angle, 0, 180, 24);
      std::vector<cv::Point2d> lid_area = upper;
      lid_area.insert(lid_area.end(), edge.begin(), edge.end());
      paint.fill(lid_area, mul(f.skin, 0.88));
      paint.stroke(edge, false, dark, lid + 0.35);
    } else {
      paint.stroke(upper, false, dark, lid + 0.35);
    }
    paint.stroke(ellipse_points(e, f.eye_w, f.eye_h, angle, 15, 165, 18), false, mul(f.skin, 0.72),
                 0.45);
    if (f.lash > 0 && v.eye_openness >= 1) {
      for (double t : {200.0, 230.0, 310.0, 340.0}) {
        const auto p = ellipse_points(e, f.eye_w, f.eye_h, angle, t, t, 1)[0];
        const auto q = ellipse_points(e, f.eye_w + f.lash, f.eye_h + f.lash, angle, t, t, 1)[0];
        paint.line(p, q, dark, 0.35);
      }
    }
  } else {
    // Closed: the lid covers the opening; the lid line bows downward across the middle.
    paint.ellipse(e, f.eye_w * 1.02, f.eye_h * 1.02, angle, mul(f.skin, 0.88));
    paint.stroke(ellipse_points(e, f.eye_w * 0.85, f.eye_h * 0.8, angle, 195, 345, 18), false,
                 mul(f.skin, 0.74), 0.4);  // crease
    const auto closure = ellipse_points(e, f.eye_w * 1.02, f.eye_h * 0.45, angle, 0, 180, 24);
    paint.stroke(closure, false, dark, lid + 0.35);
    const double lash = std::max(f.lash, 0.8);
    for (int i : {5, 9, 12, 15, 19}) {
      const cv::Point2d p = closure[static_cast<std::size_t>(i)];
      const double ox = p.x - e.x, oy = (p.y - e.y) + f.eye_h;  // point away from above
      const double norm = std::max(std::sqrt(ox * ox + oy * oy), 1e-9);
      paint.line(p, {p.x + ox / norm * lash, p.y + oy / norm * lash}, dark, 0.3);
    }
  }
}

void draw_brow(Painter& paint, const FaceIdentity& f, const FaceVariation& v, int side) {
  const double len = f.brow_len * f.eye_w;
  const double cx = f.face_cx + side * (f.eye_dx + 0.1 * f.eye_w);
  const double cy = eye_top(f) - f.brow_gap - v.brow_raise;
  std::vector<cv::Point2d> upper, lower;
  const int n = 16;
  for (int i = 0; i <= n; ++i) {
    const double u = -1 + 2.0 * i / n;  // -1 inner ... +1 outer
    const double x = cx + side * u * len;
    const double y = cy - f.brow_arch * (1 - u * u) - f.brow_tilt * u;
    const double t = f.brow_thick * (1 - 0.5 * std::pow((u + 1) / 2, 2));
    upper.push_back({x, y - t / 2});
    lower.push_back({x, y + t / 2});
  }
  upper.insert(upper.end(), lower.rbegin(), lower.rend());
  paint.fill(upper, f.brow);
}

void draw_mouth(Painter& paint, const FaceIdentity& f, const FaceVariation& v) {
  const double ym = mouth_y(f), w = f.mouth_w, smile = f.smile + v.smile_delta;
  const int n = 24;
  std::vector<cv::Point2d> line, upper, lower;
  for (int i = 0; i <= n; ++i) {
    const double u = -1 + 2.0 * i / n;
    const double x = f.face_cx + u * w;
    const double y = ym - smile * u * u;
    const double bulge = std::pow(std::max(1 - u * u, 0.0), 0.6);
    line.push_back({x, y});
    upper.push_back({x, y - f.lip_thick * 0.6 * bulge * (1 - 0.3 * std::exp(-u * u / 0.02))});
    lower.push_back({x, y + f.lip_thick * bulge});
  }
  std::vector<cv::Point2d> lower_lip(line.begin(), line.end());
  lower_lip.insert(lower_lip.end(), lower.rbegin(), lower.rend());
  paint.fill(lower_lip, f.lips);
  std::vector<cv::Point2d> upper_lip(line.begin(), line.end());
  upper_lip.insert(upper_lip.end(), upper.rbegin(), upper.rend());
  paint.fill(upper_lip, mul(f.lips, 0.88));
  paint.stroke(line, false, mul(f.lips, 0.45), 0.5);
}

void draw_nose(Painter& paint, const FaceIdentity& f) {
  const double tip = nose_tip_y(f), cx = f.face_cx, w = f.nose_w;
  const cv::Scalar shade = mul(f.skin, 0.74), nostril = mul(f.skin, 0.5);
  if (f.nose_style == 2)
    paint.fill({{cx, f.eye_y + 2}, {cx + w, tip}, {cx, tip + 1.2}, {cx - w, tip}},
               mul(f.skin, 0.9));
  if (f.nose_style == 0) {
    paint.stroke({{cx + 0.3 * w, f.eye_y + 2},
                  {cx + 0.45 * w, tip - 2},
                  {cx + 0.1 * w, tip + 0.6},
                  {cx - 0.6 * w, tip}},
                 false, shade, 0.5);
  } else {
    paint.stroke(ellipse_points({cx, tip - 0.5}, w * 0.75, 1.6, 0, 20, 160, 12), false, shade, 0.4);
  }
  for (int side : {-1, 1})
    paint.ellipse({cx + side * w * 0.45, tip}, w * 0.26, std::max(0.5, w * 0.13), side * 15.0,
                  nostril);
}

void draw_beard(Painter& paint, const FaceIdentity& f) {
  if (f.beard == BeardStyle::kNone || f.beard == BeardStyle::kMoustache) return;
  const double chin = f.face_cy + f.face_b;
  if (f.beard == BeardStyle::kGoatee) {
    const double top = mouth_y(f) + f.lip_thick * 0.6;
    paint.ellipse({f.face_cx, (top + chin) / 2 + 0.5}, f.mouth_w * 0.6, (chin - top) / 2 + 0.5, 0,
                  f.hair);
    return;
  }
  // Lower face below the cheekbones, a little beyond the outline, open above the mouth.
  const double y0 = f.eye_y + f.nose_len * 0.8;
  std::vector<cv::Point2d> pts;
  for (const auto& p : face_outline(f, 0.8))
    if (p.y >= y0) pts.push_back(p);
  std::sort(pts.begin(), pts.end(), [&](const cv::Point2d& a, const cv::Point2d& b) {
    return std::atan2(a.y - f.face_cy, a.x - f.face_cx) <
           std::atan2(b.y - f.face_cy, b.x - f.face_cx);
  });
  // Upper edge, left to right: cheek, mouth corner, under the nose, mouth corner, cheek.
  const double tip = nose_tip_y(f), ym = mouth_y(f);
  const double side = half_width(f, y0 - f.face_cy) - 1;
  pts.push_back({f.face_cx - side, y0});
  pts.push_back({f.face_cx - f.mouth_w * 1.35, ym - 1});
  pts.push_back({f.face_cx - f.nose_w * 1.1, tip + 1.5});
  pts.push_back({f.face_cx + f.nose_w * 1.1, tip + 1.5});
  pts.push_back({f.face_cx + f.mouth_w * 1.35, ym - 1});
  pts.push_back({f.face_cx + side, y0});
  const cv::Scalar colour = f.beard == BeardStyle::kStubble ? mix(f.skin, f.hair, 0.35) : f.hair;
  paint.fill(pts, colour);
}

void draw_moustache(Painter& paint, const FaceIdentity& f) {
  if (f.beard != BeardStyle::kMoustache && f.beard != BeardStyle::kFull) return;
  const double ym = mouth_y(f) - f.lip_thick * 0.6 - 0.3, w = f.mouth_w * 1.1;
  std::vector<cv::Point2d> pts{{f.face_cx - w, ym + 1.5}, {f.face_cx - w * 0.7, ym - 2.2},
                               {f.face_cx, ym - 2.8},     {f.face_cx + w * 0.7, ym - 2.2},
                               {f.face_cx + w, ym + 1.5}, {f.face_cx + w * 0.5, ym},
                               {f.face_cx, ym + 0.2},     {f.face_cx - w * 0.5, ym}};
  paint.fill(pts, mul(f.hair, 0.9));
}

void draw_glasses(Painter& paint, const FaceIdentity& f) {
  if (f.glasses == GlassesStyle::kNone) return;
  const double r = f.glasses_size * f.eye_w;
  const double t = f.glasses_thick * 0.6;
  for (int side : {-1, 1}) {
    const cv::Point2d e(f.face_cx + side * f.eye_dx, f.eye_y);
    if (f.glasses == GlassesStyle::kRound) {
      paint.ellipse(e, r, r * 0.9, 0, f.glasses_colour, t);
    } else {
      const double hw = r * 1.1, hh = r * 0.75;
      paint.stroke({{e.x - hw, e.y - hh},
                    {e.x + hw, e.y - hh},
                    {e.x + hw * 0.95, e.y + hh},
                    {e.x - hw * 0.95, e.y + hh}},
                   true, f.glasses_colour, t);
    }
    const double outer = e.x + side * r * (f.glasses == GlassesStyle::kRound ? 1.0 : 1.1);
    paint.line({outer, e.y - r * 0.3},
               {f.face_cx + side * (half_width(f, f.eye_y - f.face_cy) + 1), e.y - r * 0.4},
               f.glasses_colour, t);
  }
  const double inner = f.eye_dx - r * (f.glasses == GlassesStyle::kRound ? 1.0 : 1.1);
  paint.stroke({{f.face_cx - inner, f.eye_y - r * 0.3},
                {f.face_cx, f.eye_y - r * 0.5},
                {f.face_cx + inner, f.eye_y - r * 0.3}},
               false, f.glasses_colour, t);
}

bool ears_covered(const FaceIdentity& f) {
  return f.hair_style == HairStyle::kLong || f.hair_style == HairStyle::kCurly;
}

void draw_hair_back(Painter& paint, const FaceIdentity& f) {
  if (f.hair_style == HairStyle::kLong) {
    std::vector<cv::Point2d> pts = hair_arc(f, f.hair_volume, f.face_cy);
    const double w = f.face_a + f.hair_volume;
    pts.push_back({f.face_cx + w + 1, f.hair_length - 8});
    pts.push_back({f.face_cx + w * 0.6, f.hair_length});
    pts.push_back({f.face_cx - w * 0.6, f.hair_length});
    pts.push_back({f.face_cx - w - 1, f.hair_length - 8});
    paint.fill(pts, mul(f.hair, 0.85));
  } else if (f.hair_style == HairStyle::kCurly) {
    paint.ellipse({f.face_cx, f.face_cy - f.face_b * 0.2}, f.face_a + f.hair_volume + 3,
                  f.face_b * 0.85 + f.hair_volume, 0, mul(f.hair, 0.85));
  } else if (f.hair_style == HairStyle::kBun) {
    paint.disc({f.face_cx + f.hair_part * 6, f.face_cy - f.face_b - f.hair_volume - 2},
               5 + f.hair_volume * 0.6, mul(f.hair, 0.9));
  }
}

void draw_hair_front(Painter& paint, const FaceIdentity& f) {
  const double temple = f.eye_y - f.eye_h - 1.5;
  switch (f.hair_style) {
    case HairStyle::kBald:
      for (int side : {-1, 1}) {
        std::vector<cv::Point2d> outer, inner;
        for (int i = 0; i <= 10; ++i) {
          const double y = f.eye_y - 9 + 12.0 * i / 10;
          const double w = half_width(f, y - f.face_cy);
          outer.push_back({f.face_cx + side * (w + 1.2), y});
          inner.push_back({f.face_cx + side * (w - 1.2), y});
        }
        outer.insert(outer.end(), inner.rbegin(), inner.rend());
        paint.fill(outer, f.hair);
      }
      break;
    case HairStyle::kBuzz:
      paint.fill(hair_cap(f, 0.6, temple, f.hairline, 2.5), mix(f.skin, f.hair, 0.6));
      break;
    case HairStyle::kShort:
    case HairStyle::kBun:
      paint.fill(hair_cap(f, f.hair_volume, temple, f.hairline, 2.5), f.hair);
      break;
    case HairStyle::kSidePart:
      paint.fill(hair_cap(f, f.hair_volume, temple, f.hairline, 1.6), f.hair);
      break;
    case HairStyle::kFringe:
      paint.fill(hair_cap(f, f.hair_volume, temple + 1, f.hairline, 6), f.hair);
      break;
    case HairStyle::kLong:
      paint.fill(hair_cap(f, f.hair_volume, f.eye_y + 8, f.hairline, 2.0), f.hair);
      break;
    case HairStyle::kCurly:
      paint.fill(hair_cap(f, f.hair_volume, f.eye_y + 2, f.hairline, 2.5, 0.025), f.hair);
      break;
  }
}

}  // namespace

FaceIdentity sample_identity(std::uint64_t seed) {
  Rng rng(seed);
  FaceIdentity f;
  f.face_cx = 64 + rng.uniform(-1.5, 1.5);
  f.face_cy = 67 + rng.uniform(-2, 2);
  f.face_a = rng.uniform(23, 31);
  f.face_b = f.face_a * rng.uniform(1.15, 1.45);
  f.face_power = rng.uniform(1.9, 3.2);
  f.chin_taper = rng.uniform(0.0, 0.4);
  // Skin: from light to dark with a warm/cool shift.
  const double tone = rng.uniform();
  const cv::Scalar light(185, 205, 240), dark(55, 75, 115);
  f.skin = mix(light, dark, tone);
  const double warm = rng.uniform(-12, 12);
  f.skin = {std::clamp(f.skin[0] - warm, 0.0, 255.0), f.skin[1],
            std::clamp(f.skin[2] + warm, 0.0, 255.0)};
  f.ear_w = f.face_a * rng.uniform(0.13, 0.2);
  f.ear_h = f.ear_w * rng.uniform(1.5, 2.1);
  f.blush = rng.uniform() < 0.35 ? rng.uniform(0.3, 1.0) : 0.0;
  // Eyes, proportional to the face.
  f.eye_dx = f.face_a * rng.uniform(0.36, 0.5);
  f.eye_w = f.face_a * rng.uniform(0.15, 0.22);
  f.eye_w = std::min(f.eye_w, f.eye_dx - f.face_a * 0.15);
  f.eye_h = f.eye_w * rng.uniform(0.45, 0.75);
  f.eye_y = f.face_cy - f.face_b * rng.uniform(0.05, 0.22);
  f.eye_tilt = rng.uniform(-9, 9);
  f.iris_ratio = rng.uniform(0.75, 1.2);
  f.iris = pick(
      rng,
      {{35, 65, 105}, {25, 30, 40}, {170, 125, 70}, {95, 140, 85}, {140, 140, 125}, {55, 110, 135}},
      18);
  f.lash = rng.uniform() < 0.5 ? rng.uniform(0.8, 1.8) : 0.0;
  // Hair colour first: brows follow it.
  f.hair = pick(rng,
                {{25, 25, 30},
                 {30, 45, 70},
                 {45, 75, 120},
                 {110, 175, 215},
                 {40, 70, 165},
                 {150, 150, 155},
                 {215, 215, 220}},
                15);
  f.brow = mul(f.hair, rng.uniform(0.55, 0.9));
  f.brow_gap = rng.uniform(2.5, 5.5);
  f.brow_thick = rng.uniform(1.0, 3.2);
  f.brow_len = rng.uniform(1.0, 1.6);
  f.brow_arch = rng.uniform(0, 2.5);
  f.brow_tilt = rng.uniform(-1.5, 1.5);
  f.nose_style = static_cast<int>(rng.integer(0, 2));
  f.nose_len = f.face_b * rng.uniform(0.3, 0.45);
  f.nose_w = f.face_a * rng.uniform(0.12, 0.24);
  f.mouth_gap = f.face_b * rng.uniform(0.14, 0.25);
  f.mouth_w = f.face_a * rng.uniform(0.25, 0.42);
  f.lip_thick = rng.uniform(1.2, 3.5);
  f.smile = rng.uniform(-1.5, 3);
  f.lips =
      mul(mix(f.skin, cv::Scalar(90, 80, 200), rng.uniform(0.25, 0.6)), rng.uniform(0.7, 0.95));
  // Hair style and shape.
  f.hair_style = static_cast<HairStyle>(rng.integer(0, 7));
  f.hair_volume = rng.uniform(1.5, 7);
  if (f.hair_style == HairStyle::kCurly) f.hair_volume = rng.uniform(7, 12);
  const double brow_top = eye_top(f) - f.brow_gap - f.brow_arch - f.brow_thick - 1.5;
  f.hairline = f.face_cy - f.face_b * rng.uniform(0.62, 0.85);
  if (f.hair_style == HairStyle::kFringe) f.hairline = brow_top - rng.uniform(0, 3);
  f.hairline = std::min(f.hairline, brow_top);
  f.hair_part = rng.uniform(-1, 1);
  f.hair_length = rng.uniform(100, 128);
  // Accessories and marks.
  const double beard = rng.uniform();
  f.beard = beard < 0.62   ? BeardStyle::kNone
            : beard < 0.72 ? BeardStyle::kStubble
            : beard < 0.82 ? BeardStyle::kFull
            : beard < 0.9  ? BeardStyle::kGoatee
                           : BeardStyle::kMoustache;
  const double glasses = rng.uniform();
  f.glasses = glasses < 0.7    ? GlassesStyle::kNone
              : glasses < 0.85 ? GlassesStyle::kRound
                               : GlassesStyle::kRectangular;
  f.glasses_colour =
      pick(rng, {{20, 20, 20}, {30, 60, 90}, {60, 170, 200}, {190, 190, 190}, {40, 40, 170}}, 10);
  f.glasses_size = rng.uniform(1.35, 1.7);
  f.glasses_thick = static_cast<int>(rng.integer(1, 2));
  f.earrings = rng.uniform() < 0.2;
  f.earring_colour = pick(rng, {{60, 190, 220}, {200, 200, 200}}, 10);
  f.mole = rng.uniform() < 0.3;
  f.mole_x = rng.uniform(-0.6, 0.6) * f.face_a;
  f.mole_y = rng.uniform(0.05, 0.6) * f.face_b;
  f.mole_r = rng.uniform(0.7, 1.5);
  return f;
}

FaceVariation sample_variation(std::uint64_t seed, EyeState eye_state) {
  Rng rng(seed);
  FaceVariation v;
  v.rotation = rng.uniform(-20, 20);
  v.scale = rng.uniform(0.85, 1.15);
  v.shift_x = rng.uniform(-9, 9);
  v.shift_y = rng.uniform(-9, 9);
  v.eye_state = eye_state;
  v.smile_delta = rng.uniform(-1, 1.2);
  v.brow_raise = rng.uniform(-0.5, 1.5);
  v.clothing = random_colour(rng);
  v.background_seed = rng.next();
  v.gain = rng.uniform(0.6, 1.25);
  v.light_angle = rng.uniform(0, 360);
  v.light_strength = rng.uniform(0, 0.45);
  v.gamma = rng.uniform(0.75, 1.3);
  v.cast = {rng.uniform(0.88, 1.12), rng.uniform(0.88, 1.12), rng.uniform(0.88, 1.12)};
  v.blur_sigma = rng.uniform(0, 1.3);
  v.noise_sigma = rng.uniform(1, 8);
  v.noise_seed = rng.next();
  return v;
}

cv::Point2d pose_point(const FaceVariation& variation, int size, cv::Point2d face_point) {
  cv::Mat dummy;
  return Painter(dummy, variation, size).to_output(face_point);
}

RenderedFace render_face(const FaceIdentity& f, const FaceVariation& v, int size) {
  if (size < 16) throw std::invalid_argument("render_face: size must be >= 16");
  const int n = size * kSupersample;
  cv::Mat canvas(n, n, CV_8UC3);
  draw_background(canvas, v);
  Painter paint(canvas, v, size);

  draw_hair_back(paint, f);
  // Neck and shoulders.
  const double neck_top = f.face_cy + f.face_b * 0.5;
  paint.fill({{f.face_cx - f.face_a * 0.45, neck_top},
              {f.face_cx + f.face_a * 0.45, neck_top},
              {f.face_cx + f.face_a * 0.5, 150},
              {f.face_cx - f.face_a * 0.5, 150}},
             mul(f.skin, 0.82));
  paint.ellipse({f.face_cx, f.face_cy + f.face_b + 32}, f.face_a * 2.3, 30, 0, v.clothing);
  paint.ellipse({f.face_cx, f.face_cy + f.face_b + 2}, f.face_a * 0.5, 5, 0, mul(f.skin, 0.8));
  // Ears.
  const double ear_y = f.eye_y + 3;
  for (int side : {-1, 1}) {
    const double x = f.face_cx + side * (half_width(f, ear_y - f.face_cy) + f.ear_w * 0.3);
    paint.ellipse({x, ear_y}, f.ear_w, f.ear_h, side * 10.0, mul(f.skin, 0.93));
    paint.ellipse({x + side * 0.3 * f.ear_w, ear_y}, f.ear_w * 0.5, f.ear_h * 0.6, side * 10.0,
                  mul(f.skin, 0.75), 0.4);
  }
  paint.fill(face_outline(f), f.skin);
  if (f.blush > 0) {
    for (int side : {-1, 1})
      paint.ellipse({f.face_cx + side * f.eye_dx * 1.05, f.eye_y + f.eye_h + 6}, f.eye_w * 1.1,
                    f.eye_w * 0.6, 0, mix(f.skin, cv::Scalar(120, 110, 230), 0.18 * f.blush));
  }
  draw_beard(paint, f);
  draw_nose(paint, f);
  draw_mouth(paint, f, v);
  draw_moustache(paint, f);
  for (int side : {-1, 1}) draw_eye(paint, f, v, side);
  for (int side : {-1, 1}) draw_brow(paint, f, v, side);
  draw_hair_front(paint, f);
  draw_glasses(paint, f);
  if (f.earrings && !ears_covered(f)) {
    for (int side : {-1, 1}) {
      const double x = f.face_cx + side * (half_width(f, ear_y - f.face_cy) + f.ear_w * 0.3);
      paint.disc({x, ear_y + f.ear_h * 0.95}, 1.3, f.earring_colour);
    }
  }
  if (f.mole) paint.disc({f.face_cx + f.mole_x, f.face_cy + f.mole_y}, f.mole_r, mul(f.skin, 0.45));

  // Area reduction by an integer factor keeps pixel centres: output pixel c covers drawing
  // pixels [3c, 3c + 3), whose centres average to 3c + 1 = (c + 0.5) * 3 - 0.5.
  cv::Mat image;
  cv::resize(canvas, image, cv::Size(size, size), 0, 0, cv::INTER_AREA);

  // Lighting: gain with a linear gradient, per-channel cast, then gamma via a table.
  unsigned char gamma_lut[256];
  for (int i = 0; i < 256; ++i)
    gamma_lut[i] = static_cast<unsigned char>(std::lround(255.0 * std::pow(i / 255.0, v.gamma)));
  const double la = rad(v.light_angle), lc = std::cos(la), ls = std::sin(la);
  const double half = size / 2.0;
  for (int r = 0; r < size; ++r) {
    auto* row = image.ptr<cv::Vec3b>(r);
    for (int c = 0; c < size; ++c) {
      const double g =
          v.gain * (1 + v.light_strength * ((c + 0.5 - half) * lc + (r + 0.5 - half) * ls) / half);
      for (int ch = 0; ch < 3; ++ch) {
        const long value = std::lround(std::clamp(row[c][ch] * g * v.cast[ch], 0.0, 255.0));
        row[c][ch] = gamma_lut[value];
      }
    }
  }
  // Blur (symmetric, so it does not move the eye centres).
  const double sigma = v.blur_sigma * size / kCanvas;
  if (sigma > 0.05) {
    const int k = 2 * static_cast<int>(std::ceil(3 * sigma)) + 1;
    cv::GaussianBlur(image, image, cv::Size(k, k), sigma, sigma, cv::BORDER_REFLECT_101);
  }
  // Sensor noise: a shared luminance part and a smaller per-channel part.
  if (v.noise_sigma > 0) {
    Rng rng(v.noise_seed);
    for (int r = 0; r < size; ++r) {
      auto* row = image.ptr<cv::Vec3b>(r);
      for (int c = 0; c < size; ++c) {
        const double luma = v.noise_sigma * rng.normal();
        for (int ch = 0; ch < 3; ++ch) {
          const double value = row[c][ch] + luma + 0.3 * v.noise_sigma * rng.normal();
          row[c][ch] = static_cast<unsigned char>(std::lround(std::clamp(value, 0.0, 255.0)));
        }
      }
    }
  }

  RenderedFace out;
  out.image = image;
  out.left_eye = paint.to_output({f.face_cx - f.eye_dx, f.eye_y});
  out.right_eye = paint.to_output({f.face_cx + f.eye_dx, f.eye_y});
  out.eye_state = v.eye_state;
  return out;
}

}  // namespace wtp::synth
