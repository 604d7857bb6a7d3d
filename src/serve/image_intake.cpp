#include "serve/image_intake.h"

#include <opencv2/imgcodecs.hpp>
#include <string>

#include "core/error.h"

namespace wtp::serve {

namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);

std::uint32_t big_endian(std::string_view bytes, std::size_t at, int count) {
  std::uint32_t value = 0;
  for (int i = 0; i < count; ++i)
    value = (value << 8) | static_cast<unsigned char>(bytes[at + static_cast<std::size_t>(i)]);
  return value;
}

ImageHeader png_header(std::string_view bytes) {
  // Signature, then the IHDR chunk: length (4) "IHDR" width (4) height (4).
  if (bytes.size() < 24 || bytes.substr(12, 4) != "IHDR")
    throw BadImage("the PNG file is cut short or damaged (no IHDR header)");
  return {ImageFormat::kPng, big_endian(bytes, 16, 4), big_endian(bytes, 20, 4)};
}

bool is_sof(unsigned char marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

/// Walks the JPEG marker segments from SOI to the first SOF; `sos` receives the offset of
/// the first SOS marker when it is reached (the scan data follows it).
ImageHeader jpeg_header(std::string_view bytes, std::size_t* sos) {
  const auto cut = [] { return BadImage("the JPEG file is cut short or damaged"); };
  ImageHeader header;
  header.format = ImageFormat::kJpeg;
  std::size_t at = 2;
  while (true) {
    if (at >= bytes.size() || static_cast<unsigned char>(bytes[at]) != 0xFF) throw cut();
    while (at < bytes.size() && static_cast<unsigned char>(bytes[at]) == 0xFF) ++at;  // fill
    if (at >= bytes.size()) throw cut();
    const auto marker = static_cast<unsigned char>(bytes[at++]);
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // no length
    if (marker == 0xD9) throw BadImage("the JPEG file has no image (end marker before a frame)");
    if (at + 2 > bytes.size()) throw cut();
    const std::size_t length = big_endian(bytes, at, 2);
    if (length < 2 || at + length > bytes.size()) throw cut();
    if (marker == 0xDA) {
      if (header.width == 0) throw BadImage("the JPEG file has no frame header before its scan");
      *sos = at;
      return header;
    }
    if (is_sof(marker) && header.width == 0) {
      if (length < 7) throw cut();
      header.height = big_endian(bytes, at + 3, 2);
      header.width = big_endian(bytes, at + 5, 2);
      if (header.width == 0 || header.height == 0)
        throw BadImage("the JPEG file declares an empty image");
    }
    at += length;
  }
}

/// read_image_header(); for a JPEG, `sos` receives the offset of its first scan.
ImageHeader parse_header(std::string_view bytes, std::size_t* sos) {
  if (bytes.empty()) throw BadImage("the image is empty (0 bytes)");
  ImageHeader header;
  if (bytes.size() >= kPngSignature.size() &&
      bytes.substr(0, kPngSignature.size()) == kPngSignature) {
    header = png_header(bytes);
  } else if (bytes.size() >= 2 && static_cast<unsigned char>(bytes[0]) == 0xFF &&
             static_cast<unsigned char>(bytes[1]) == 0xD8) {
    header = jpeg_header(bytes, sos);
  } else {
    throw BadImage("not a JPEG or PNG image");
  }
  if (header.width == 0 || header.height == 0) throw BadImage("the image declares no pixels");
  return header;
}

}  // namespace

ImageHeader read_image_header(std::string_view bytes) {
  std::size_t sos = 0;
  return parse_header(bytes, &sos);
}

cv::Mat decode_image(std::string_view bytes, std::int64_t max_pixels) {
  require(max_pixels >= 1, "max_pixels must be >= 1");
  std::size_t sos = 0;
  const ImageHeader header = parse_header(bytes, &sos);
  if (header.width * header.height > max_pixels)
    throw BadImage("the image has too many pixels (" + std::to_string(header.width) + " x " +
                   std::to_string(header.height) + ", at most " + std::to_string(max_pixels) +
                   " accepted)");
  if (header.format == ImageFormat::kJpeg) {
    const auto eoi = bytes.rfind(std::string_view("\xFF\xD9", 2));
    if (eoi == std::string_view::npos || eoi < sos)
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
