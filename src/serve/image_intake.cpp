#include "serve/image_intake.h"

#include <opencv2/imgcodecs.hpp>
#include <string>

#include "core/error.h"
#include "io/image_header.h"

namespace wtp::serve {

namespace {

/// The header of JPEG or PNG `bytes`; BadImage for anything else.
io::ImageHeader jpeg_or_png_header(std::string_view bytes) {
  if (bytes.empty()) throw BadImage("the image is empty (0 bytes)");
  const auto format = io::image_format(bytes);
  if (format != io::ImageFormat::kJpeg && format != io::ImageFormat::kPng)
    throw BadImage("not a JPEG or PNG image");
  try {
    return io::read_image_header(bytes);
  } catch (const io::ImageHeaderError& e) {
    throw BadImage(e.what());
  }
}

}  // namespace

cv::Mat decode_image(std::string_view bytes, std::int64_t max_pixels) {
  require(max_pixels >= 1, "max_pixels must be >= 1");
  const io::ImageHeader header = jpeg_or_png_header(bytes);
  if (header.pixels() > max_pixels)
    throw BadImage("the image has too many pixels (" + std::to_string(header.width) + " x " +
                   std::to_string(header.height) + ", at most " + std::to_string(max_pixels) +
                   " accepted)");
  if (header.format == io::ImageFormat::kJpeg) {
    const auto eoi = bytes.rfind(std::string_view("\xFF\xD9", 2));
    if (eoi == std::string_view::npos || eoi < header.jpeg_scan_offset)
      throw BadImage("the JPEG file is cut short (no end marker)");
  } else {
    const auto iend = bytes.rfind("IEND");
    if (iend == std::string_view::npos || iend < 24)
      throw BadImage("the PNG file is cut short (no IEND chunk)");
  }
  const cv::Mat raw(1, static_cast<int>(bytes.size()), CV_8U,
                    const_cast<char*>(bytes.data()));  // imdecode only reads it
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(raw, cv::IMREAD_COLOR);
  } catch (const cv::Exception&) {
    bgr.release();
  }
  if (bgr.empty()) throw BadImage("the image cannot be decoded (damaged file)");
  return bgr;
}

}  // namespace wtp::serve
