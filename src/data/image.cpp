#include "data/image.h"

#include <limits>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "io/image_header.h"
#include "io/torch_file.h"

namespace wtp::data {

ImageError::ImageError(const std::filesystem::path& path, const std::string& reason)
    : std::runtime_error("cannot read image '" + path.string() + "': " + reason), path_(path) {}

cv::Mat read_image(const std::filesystem::path& path, ChannelOrder order) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) throw ImageError(path, "no such file");
  const std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > static_cast<std::uintmax_t>(std::numeric_limits<int>::max()))
    throw ImageError(path, "the file is larger than 2 GiB, more than OpenCV decodes");
  std::string bytes;
  io::ImageHeader header;
  try {
    bytes = io::read_file_bytes(path);
    header = io::read_image_header(bytes);
  } catch (const std::runtime_error& e) {
    throw ImageError(path, e.what());
  }
  if (header.pixels() > kMaxImagePixels)
    throw ImageError(path, "it declares " + std::to_string(header.width) + " x " +
                               std::to_string(header.height) + " pixels, more than the " +
                               std::to_string(kMaxImagePixels) +
                               " an image may have (a damaged header or a decompression bomb)");
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U, bytes.data());
  cv::Mat image;
  try {
    image = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception& e) {
    throw ImageError(path, std::string("OpenCV: ") + e.what());
  }
  if (image.empty())
    throw ImageError(path, std::string("the ") + io::format_name(header.format) +
                               " file cannot be decoded (damaged)");
  if (order == ChannelOrder::kRgb) cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  return image;
}

}  // namespace wtp::data
