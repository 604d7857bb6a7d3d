#pragma once
/// Untrusted image bytes -> a decoded image, safely: only JPEG and PNG (recognised by their
/// magic bytes, never by a name or a MIME type), the size read from the header
/// (io/image_header.h) and checked against a pixel cap *before* anything is decoded (a
/// 100-byte PNG can declare 100k x 100k pixels), truncated files refused, nothing written
/// to disk.
///
///     cv::Mat bgr = decode_image(bytes, 4096 * 4096);  // throws BadImage with a reason
#include <cstdint>
#include <opencv2/core.hpp>
#include <stdexcept>
#include <string_view>

namespace wtp::serve {

/// The bytes are not an acceptable image; what() says why in words for a person.
class BadImage : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Decodes JPEG or PNG `bytes` into a CV_8UC3 BGR image (grey expanded, alpha dropped, EXIF
/// orientation applied). Throws BadImage for another format, when io::read_image_header()
/// throws, when width x height > max_pixels (before decoding), when the file is truncated
/// (a JPEG without an EOI marker after its scan, a PNG without its IEND chunk) or when
/// OpenCV cannot decode it. Requires max_pixels >= 1.
cv::Mat decode_image(std::string_view bytes, std::int64_t max_pixels);

}  // namespace wtp::serve
