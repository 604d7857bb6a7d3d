#include "data/image.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

namespace wtp::data {

ImageError::ImageError(const std::filesystem::path& path, const std::string& reason)
    : std::runtime_error("cannot read image '" + path.string() + "': " + reason), path_(path) {}

cv::Mat read_image(const std::filesystem::path& path, ChannelOrder order) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ImageError(path, "no such file");
  cv::Mat image;
  try {
    image = cv::imread(path.string(), cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw ImageError(path, std::string("OpenCV: ") + e.what());
  }
  if (image.empty())
    throw ImageError(path, "not a decodable image (corrupt or unsupported format)");
  if (order == ChannelOrder::kRgb) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  return image;
}

}  // namespace wtp::data
