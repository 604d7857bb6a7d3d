// Image intake: JPEG/PNG by magic bytes, header size read before decoding, pixel cap,
// truncated and garbage input refused with a message.
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "catch_torch.h"
#include "io/image_header.h"
#include "serve/image_intake.h"
#include "test_support.h"

using namespace wtp::serve;
using Catch::Matchers::Contains;

namespace {

std::string encode(const std::string& ext, const cv::Mat& image) {
  std::vector<unsigned char> bytes;
  REQUIRE(cv::imencode(ext, image, bytes));
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat pattern(int rows, int cols) {
  cv::Mat m(rows, cols, CV_8UC3);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) m.at<cv::Vec3b>(r, c) = cv::Vec3b(r * 3, c * 5, (r + c) * 7);
  return m;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

/// A PNG whose header declares width x height but holds almost no data (a bomb's header).
std::string png_bomb(std::uint32_t width, std::uint32_t height) {
  std::string png("\x89PNG\r\n\x1a\n", 8);
  png += be32(13) + "IHDR" + be32(width) + be32(height) + std::string("\x08\x02\x00\x00\x00", 5);
  png += be32(0);  // CRC not checked before the size
  png += be32(0) + "IEND" + be32(0xAE426082);
  return png;
}

std::string message_of(const std::string& bytes, std::int64_t max_pixels = 1 << 24) {
  try {
    decode_image(bytes, max_pixels);
  } catch (const BadImage& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("JPEG and PNG decode to BGR with their header sizes", "[serve][intake]") {
  const cv::Mat image = pattern(30, 50);
  for (const std::string ext : {".png", ".jpg"}) {
    const std::string bytes = encode(ext, image);
    const wtp::io::ImageHeader header = wtp::io::read_image_header(bytes);
    CHECK(header.format ==
          (ext == ".png" ? wtp::io::ImageFormat::kPng : wtp::io::ImageFormat::kJpeg));
    CHECK(header.width == 50);
    CHECK(header.height == 30);
    const cv::Mat decoded = decode_image(bytes, 50 * 30);
    CHECK(decoded.type() == CV_8UC3);
    CHECK(decoded.size() == image.size());
    if (ext == ".png") CHECK(cv::norm(decoded, image, cv::NORM_INF) == 0);
  }
  // Grey images are expanded to 3 channels.
  cv::Mat grey(20, 10, CV_8UC1, cv::Scalar(77));
  CHECK(decode_image(encode(".png", grey), 1000).type() == CV_8UC3);
}

TEST_CASE("the pixel cap is checked from the header before decoding", "[serve][intake]") {
  const std::string bytes = encode(".png", pattern(30, 50));
  CHECK_THAT(message_of(bytes, 50 * 30 - 1), Contains("too many pixels"));
  // A 60-byte PNG that declares 100000 x 100000 pixels is refused without decoding.
  const std::string bomb = png_bomb(100000, 100000);
  CHECK(bomb.size() < 100);
  CHECK(wtp::io::read_image_header(bomb).width == 100000);
  CHECK_THAT(message_of(bomb, 4096 * 4096), Contains("100000 x 100000"));
  // Same for a JPEG header.
  CHECK_THAT(message_of(encode(".jpg", pattern(64, 64)), 64 * 64 - 1), Contains("too many"));
}

TEST_CASE("truncated, empty and non-image input is refused with a message", "[serve][intake]") {
  const std::string jpeg = encode(".jpg", pattern(64, 64));
  const std::string png = encode(".png", pattern(64, 64));
  CHECK_THAT(message_of(""), Contains("empty"));
  CHECK_THAT(message_of("hello, this is text"), Contains("not a JPEG or PNG"));
  CHECK_THAT(message_of("GIF89a\x01\x00\x01\x00"), Contains("not a JPEG or PNG"));
  // Formats the research reader accepts are still refused here (smaller attack surface).
  for (const std::string ext : {".bmp", ".ppm", ".tiff", ".webp"})
    CHECK_THAT(message_of(encode(ext, pattern(8, 8))), Contains("not a JPEG or PNG"));
  // Cut in the scan data, in the headers, right after the magic bytes.
  CHECK_THAT(message_of(jpeg.substr(0, jpeg.size() * 2 / 3)), Contains("cut short"));
  CHECK_THAT(message_of(jpeg.substr(0, 40)), Contains("cut short"));
  CHECK_THAT(message_of(jpeg.substr(0, 2)), Contains("cut short"));
  CHECK_THAT(message_of(png.substr(0, png.size() * 2 / 3)), Contains("cut short"));
  CHECK_THAT(message_of(png.substr(0, 16)), Contains("cut short"));
  // Valid headers followed by garbage: decoding fails.
  std::string garbage = png.substr(0, 33) + std::string(200, '\x17') + png.substr(png.size() - 12);
  CHECK_THAT(message_of(garbage), Contains("cannot be decoded"));
  // The untouched files pass (the checks above are not refusing everything).
  CHECK(message_of(jpeg).empty());
  CHECK(message_of(png).empty());
}
