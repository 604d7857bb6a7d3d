#pragma once
/// Image decoding with OpenCV. Images are 8-bit, 3 channels; the transforms work in
/// OpenCV's native BGR order and the conversion to a tensor puts the channels in the
/// order the normalisation asks for (RGB for every preset except caffe).
#include <filesystem>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string>

#include "data/normalization.h"

namespace wtp::data {

/// An image file could not be read or decoded; what() names the file.
class ImageError : public std::runtime_error {
 public:
  ImageError(const std::filesystem::path& path, const std::string& reason);
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Reads an image file as CV_8UC3 in `order` (grey images are expanded, alpha dropped).
/// Throws ImageError when the file is missing, unreadable or not a decodable image.
cv::Mat read_image(const std::filesystem::path& path, ChannelOrder order = ChannelOrder::kRgb);

}  // namespace wtp::data
