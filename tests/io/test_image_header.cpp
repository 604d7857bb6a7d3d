// Image headers: format and size of what OpenCV writes in every supported format, bombs (a
// few bytes that declare a huge image) read without decoding, damage refused with a reason.
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "catch_torch.h"
#include "io/image_header.h"
#include "test_support.h"

using namespace wtp::io;
using Catch::Matchers::Contains;

namespace {

std::string encode(const std::string& ext, const cv::Mat& image,
                   const std::vector<int>& params = {}) {
  std::vector<unsigned char> bytes;
  REQUIRE(cv::imencode(ext, image, bytes, params));
  return std::string(bytes.begin(), bytes.end());
}

cv::Mat pattern(int rows, int cols, int type) {
  cv::Mat m(rows, cols, type);
  cv::randu(m, 0, 255);
  return m;
}

std::string le(std::uint64_t value, int bytes) {
  std::string out;
  for (int i = 0; i < bytes; ++i) out += static_cast<char>((value >> (8 * i)) & 0xFF);
  return out;
}

std::string be(std::uint64_t value, int bytes) {
  std::string out = le(value, bytes);
  return std::string(out.rbegin(), out.rend());
}

std::string message_of(const std::string& bytes) {
  try {
    read_image_header(bytes);
  } catch (const ImageHeaderError& e) {
    return e.what();
  }
  return "";
}

/// The file the image fuzzer found: 50 bytes of BMP whose header declares 13035 x 65536
/// pixels (OpenCV's imread allocated 2.5 GB for it).
std::string fuzzed_bmp_bomb() {
  return wtp::test::read_file(wtp::test::source_dir() / "tests/fuzz/corpus/image/bmp_bomb.bmp");
}

}  // namespace

TEST_CASE("image headers: every format OpenCV writes, at its true size", "[io][image_header]") {
  struct Case {
    std::string ext;
    int type;
    ImageFormat format;
    std::vector<int> params;
  };
  const std::vector<Case> cases{
      {".jpg", CV_8UC3, ImageFormat::kJpeg, {}},
      {".jpg", CV_8UC3, ImageFormat::kJpeg, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}},
      {".png", CV_8UC3, ImageFormat::kPng, {}},
      {".png", CV_8UC1, ImageFormat::kPng, {}},
      {".bmp", CV_8UC3, ImageFormat::kBmp, {}},
      {".bmp", CV_8UC1, ImageFormat::kBmp, {}},
      {".ppm", CV_8UC3, ImageFormat::kPnm, {}},
      {".ppm", CV_8UC3, ImageFormat::kPnm, {cv::IMWRITE_PXM_BINARY, 0}},  // P3, with a comment
      {".pgm", CV_8UC1, ImageFormat::kPnm, {}},
      {".pbm", CV_8UC1, ImageFormat::kPnm, {}},
      {".tiff", CV_8UC3, ImageFormat::kTiff, {}},
      {".webp", CV_8UC3, ImageFormat::kWebp, {}},                              // lossless: VP8L
      {".webp", CV_8UC3, ImageFormat::kWebp, {cv::IMWRITE_WEBP_QUALITY, 80}},  // lossy: VP8
  };
  for (const auto& c : cases) {
    CAPTURE(c.ext, c.params);
    const std::string bytes = encode(c.ext, pattern(23, 37, c.type), c.params);
    REQUIRE(image_format(bytes) == c.format);
    const ImageHeader header = read_image_header(bytes);
    CHECK(header.format == c.format);
    CHECK(header.width == 37);
    CHECK(header.height == 23);
    CHECK(header.pixels() == 37 * 23);
    CHECK((header.jpeg_scan_offset > 0) == (c.format == ImageFormat::kJpeg));
    // What OpenCV's decoder makes of the same bytes.
    const cv::Mat decoded = cv::imdecode(
        cv::Mat(1, static_cast<int>(bytes.size()), CV_8U, const_cast<char*>(bytes.data())),
        cv::IMREAD_COLOR);
    CHECK(decoded.cols == header.width);
    CHECK(decoded.rows == header.height);
    // Cut inside the size fields (PNM's text header is short): refused as damaged, never
    // read past the end.
    const std::size_t cut = c.format == ImageFormat::kPnm ? 5 : 14;
    CHECK_THAT(message_of(bytes.substr(0, cut)), Contains("cut short"));
  }
}

TEST_CASE("image headers: bombs are sized without decoding", "[io][image_header]") {
  SECTION("BMP: the fuzzer's find, top-down rows, the OS/2 1.x header") {
    const ImageHeader bomb = read_image_header(fuzzed_bmp_bomb());
    CHECK(bomb.format == ImageFormat::kBmp);
    CHECK(bomb.width == 13035);
    CHECK(bomb.height == 65536);
    const std::string info = le(40, 4) + le(300, 4) + le(static_cast<std::uint32_t>(-200), 4);
    const ImageHeader top_down = read_image_header("BM" + std::string(12, '\0') + info);
    CHECK(top_down.width == 300);
    CHECK(top_down.height == 200);
    const ImageHeader os2 =
        read_image_header("BM" + std::string(12, '\0') + le(12, 4) + le(640, 2) + le(480, 2));
    CHECK(os2.width == 640);
    CHECK(os2.height == 480);
  }
  SECTION("PNG") {
    const std::string png =
        std::string("\x89PNG\r\n\x1a\n", 8) + be(13, 4) + "IHDR" + be(100000, 4) + be(90000, 4);
    CHECK(read_image_header(png).pixels() == std::int64_t{100000} * 90000);
  }
  SECTION("PNM, with comments between the fields") {
    const ImageHeader pnm = read_image_header("P6\n# a comment\n100000 # another\r200000\n255\n");
    CHECK(pnm.width == 100000);
    CHECK(pnm.height == 200000);
  }
  SECTION("TIFF: big-endian, little-endian BigTIFF") {
    // MM, 42, IFD at 8: two entries, width SHORT 5000, height LONG 70000.
    const std::string mm = std::string("MM\0*", 4) + be(8, 4) + be(2, 2) + be(256, 2) + be(3, 2) +
                           be(1, 4) + be(5000, 2) + be(0, 2) + be(257, 2) + be(4, 2) + be(1, 4) +
                           be(70000, 4);
    CHECK(read_image_header(mm).width == 5000);
    CHECK(read_image_header(mm).height == 70000);
    // II, 43, offset size 8, IFD at 16: an unrelated tag first, then width and height LONG8.
    const std::string big = std::string("II+\0", 4) + le(8, 2) + le(0, 2) + le(16, 8) + le(3, 8) +
                            le(259, 2) + le(3, 2) + le(1, 8) + le(1, 8) + le(256, 2) + le(16, 2) +
                            le(1, 8) + le(123456, 8) + le(257, 2) + le(16, 2) + le(1, 8) +
                            le(654321, 8);
    CHECK(read_image_header(big).width == 123456);
    CHECK(read_image_header(big).height == 654321);
    // A width given twice: the first counts, as in libtiff (a smaller second one cannot
    // slip a large image under a cap).
    const std::string twice = std::string("II*\0", 4) + le(8, 4) + le(3, 2) + le(256, 2) +
                              le(4, 2) + le(1, 4) + le(90000, 4) + le(256, 2) + le(3, 2) +
                              le(1, 4) + le(10, 4) + le(257, 2) + le(3, 2) + le(1, 4) + le(20, 4);
    CHECK(read_image_header(twice).width == 90000);
    CHECK(read_image_header(twice).height == 20);
  }
  SECTION("WebP: the extended format's 24-bit canvas") {
    const std::string vp8x = "RIFF" + le(100, 4) + "WEBPVP8X" + le(10, 4) + std::string(4, '\0') +
                             le(0xFFFFFF, 3) + le(9999, 3);
    CHECK(read_image_header(vp8x).width == 0x1000000);
    CHECK(read_image_header(vp8x).height == 10000);
  }
}

TEST_CASE("image headers: unsupported, empty and damaged input", "[io][image_header]") {
  CHECK_THAT(message_of(""), Contains("empty"));
  CHECK_THAT(message_of("GIF89a\x01\x00\x01\x00"), Contains("not an image in a supported format"));
  CHECK_THAT(message_of("hello"), Contains("JPEG, PNG, BMP, PNM, TIFF or WebP"));
  CHECK_THAT(message_of("P6\n12 x4\n255\n"), Contains("PNM file is cut short or damaged"));
  CHECK_THAT(message_of("P5\n0 10\n255\n"), Contains("declares an empty image"));
  CHECK_THAT(message_of("P5\n99999999999 10\n255\n"), Contains("damaged"));
  CHECK_THAT(message_of("BM" + std::string(12, '\0') + le(20, 4) + std::string(20, '\0')),
             Contains("BMP file has a header of an unknown kind"));
  CHECK_THAT(
      message_of("BM" + std::string(12, '\0') + le(40, 4) + le(0x7FFFFFFF, 4) + le(0x80000000, 4)),
      Contains("damaged"));
  const std::string no_size =
      std::string("II*\0", 4) + le(8, 4) + le(1, 2) + le(259, 2) + le(3, 2) + le(1, 4) + le(1, 4);
  CHECK_THAT(message_of(no_size), Contains("TIFF file's first image has no width or height"));
  const std::string float_size =
      std::string("II*\0", 4) + le(8, 4) + le(1, 2) + le(256, 2) + le(11, 2) + le(1, 4) + le(1, 4);
  CHECK_THAT(message_of(float_size), Contains("TIFF file is cut short or damaged"));
  CHECK_THAT(message_of("RIFF" + le(100, 4) + "WEBPVP8Z" + std::string(30, '\0')),
             Contains("WebP file"));
  // The JPEG walk: an end marker before any frame, a scan before any frame.
  CHECK_THAT(message_of(std::string("\xFF\xD8\xFF\xD9", 4)), Contains("no image"));
  CHECK_THAT(message_of(std::string("\xFF\xD8\xFF\xDA\x00\x02", 6)), Contains("no frame header"));
}
