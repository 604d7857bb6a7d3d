#include "align/face.h"

#include <algorithm>
#include <stdexcept>

namespace wtp::align {

cv::Point2d Face::left_eye() const {
  if (landmarks.size() < 2) throw std::logic_error("Face::left_eye: the face has no eye landmarks");
  return landmarks[0];
}

cv::Point2d Face::right_eye() const {
  if (landmarks.size() < 2)
    throw std::logic_error("Face::right_eye: the face has no eye landmarks");
  return landmarks[1];
}

double selection_score(const Face& face, FaceSelect select, cv::Size image_size,
                       double center_weight) {
  switch (select) {
    case FaceSelect::kLargest:
      return face.box.area();
    case FaceSelect::kConfidence:
      return face.confidence;
    case FaceSelect::kCenter: {
      const cv::Point2d c = face.box.center();
      const double dx = c.x - image_size.width / 2.0, dy = c.y - image_size.height / 2.0;
      return face.box.area() - center_weight * (dx * dx + dy * dy);
    }
  }
  return 0.0;
}

std::vector<Face> rank_faces(std::vector<Face> faces, FaceSelect select, cv::Size image_size,
                             double center_weight) {
  std::vector<std::pair<double, std::size_t>> order;
  order.reserve(faces.size());
  for (std::size_t i = 0; i < faces.size(); ++i)
    order.emplace_back(selection_score(faces[i], select, image_size, center_weight), i);
  std::stable_sort(order.begin(), order.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<Face> out;
  out.reserve(faces.size());
  for (const auto& entry : order) out.push_back(std::move(faces[entry.second]));
  return out;
}

}  // namespace wtp::align
