#pragma once
/// Image decoding with OpenCV. Images are 8-bit, 3 channels; the transforms work in
/// OpenCV's native BGR order and the conversion to a tensor puts the channels in the
/// order the normalisation asks for (RGB for every preset except caffe).
#include <cstdint>
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

/// The most pixels an image file may declare: Pillow's MAX_IMAGE_PIXELS (89,478,485, about
/// 256 MiB at 3 bytes a pixel), past which torchvision's loaders warn of a decompression
/// bomb. A face image never comes near it; a damaged header or a bomb does.
inline constexpr std::int64_t kMaxImagePixels = 89'478'485;

/// Reads an image file (JPEG, PNG, BMP, PNM, TIFF or WebP, recognised by its content) as
/// CV_8UC3 in `order` (grey images are expanded, alpha dropped, EXIF orientation applied).
/// The size is read from the header first (io/image_header.h): an image declaring more
/// than kMaxImagePixels is refused before anything is decoded. Throws ImageError when the
/// file is missing, unreadable, of another format, too large or not decodable.
cv::Mat read_image(const std::filesystem::path& path, ChannelOrder order = ChannelOrder::kRgb);

}  // namespace wtp::data
