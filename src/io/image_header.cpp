#include "io/image_header.h"

#include <limits>
#include <string>

namespace wtp::io {

namespace {

constexpr std::string_view kPngSignature("\x89PNG\r\n\x1a\n", 8);
constexpr std::int64_t kLargestSide = std::numeric_limits<std::int32_t>::max();

/// Bounds-checked reads of `bytes`; running past the end throws "<format> file is cut
/// short or damaged".
class Bytes {
 public:
  Bytes(std::string_view bytes, ImageFormat format) : bytes_(bytes), format_(format) {}

  std::size_t size() const { return bytes_.size(); }
  ImageHeaderError damaged() const {
    return ImageHeaderError(std::string("the ") + format_name(format_) +
                            " file is cut short or damaged");
  }
  unsigned char at(std::uint64_t offset) const {
    if (offset >= bytes_.size()) throw damaged();
    return static_cast<unsigned char>(bytes_[offset]);
  }
  /// An unsigned `count`-byte integer at `offset`, big- or little-endian.
  std::uint64_t uint(std::uint64_t offset, int count, bool big_endian) const {
    if (offset > bytes_.size() || bytes_.size() - offset < static_cast<std::size_t>(count))
      throw damaged();
    std::uint64_t value = 0;
    for (int i = 0; i < count; ++i) {
      const std::uint64_t byte =
          at(offset + static_cast<std::uint64_t>(big_endian ? i : count - 1 - i));
      value = (value << 8) | byte;
    }
    return value;
  }
  std::uint64_t be(std::uint64_t offset, int count) const { return uint(offset, count, true); }
  std::uint64_t le(std::uint64_t offset, int count) const { return uint(offset, count, false); }
  std::string_view text(std::size_t offset, std::size_t count) const {
    if (offset > bytes_.size() || bytes_.size() - offset < count) throw damaged();
    return bytes_.substr(offset, count);
  }

 private:
  std::string_view bytes_;
  ImageFormat format_;
};

ImageHeader sized(ImageFormat format, std::int64_t width, std::int64_t height) {
  if (width <= 0 || height <= 0)
    throw ImageHeaderError(std::string("the ") + format_name(format) +
                           " file declares an empty image");
  if (width > kLargestSide || height > kLargestSide)
    throw ImageHeaderError(std::string("the ") + format_name(format) + " file declares " +
                           std::to_string(width) + " x " + std::to_string(height) +
                           " pixels, more than any decoder accepts");
  ImageHeader header;
  header.format = format;
  header.width = width;
  header.height = height;
  return header;
}

bool is_sof(unsigned char marker) {
  return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
}

/// Walks the marker segments from SOI to the first SOS, taking the size from the first SOF.
ImageHeader jpeg_header(const Bytes& b) {
  std::int64_t width = 0, height = 0;
  std::size_t at = 2;
  while (true) {
    if (b.at(at) != 0xFF) throw b.damaged();
    while (b.at(at) == 0xFF) ++at;  // fill bytes
    const unsigned char marker = b.at(at++);
    if ((marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) continue;  // no length
    if (marker == 0xD9)
      throw ImageHeaderError("the JPEG file has no image (end marker before a frame)");
    const std::size_t length = b.be(at, 2);
    if (length < 2 || at + length > b.size()) throw b.damaged();
    if (marker == 0xDA) {
      if (width == 0) throw ImageHeaderError("the JPEG file has no frame header before its scan");
      ImageHeader header = sized(ImageFormat::kJpeg, width, height);
      header.jpeg_scan_offset = at;
      return header;
    }
    if (is_sof(marker) && width == 0) {
      if (length < 7) throw b.damaged();
      height = static_cast<std::int64_t>(b.be(at + 3, 2));
      width = static_cast<std::int64_t>(b.be(at + 5, 2));
      if (width == 0 || height == 0)
        throw ImageHeaderError("the JPEG file declares an empty image");
    }
    at += length;
  }
}

ImageHeader png_header(const Bytes& b) {
  // Signature, then the IHDR chunk: length (4) "IHDR" width (4) height (4).
  if (b.size() < 24 || b.text(12, 4) != "IHDR")
    throw ImageHeaderError("the PNG file is cut short or damaged (no IHDR header)");
  return sized(ImageFormat::kPng, static_cast<std::int64_t>(b.be(16, 4)),
               static_cast<std::int64_t>(b.be(20, 4)));
}

/// BITMAPINFOHEADER and its successors (>= 36 bytes: signed 32-bit width and height, a
/// negative height meaning top-down rows) or the OS/2 1.x header (12 bytes: 16-bit sizes).
ImageHeader bmp_header(const Bytes& b) {
  const auto info_size = static_cast<std::int32_t>(b.le(14, 4));
  if (info_size >= 36) {
    const auto width = static_cast<std::int32_t>(b.le(18, 4));
    const auto height = static_cast<std::int32_t>(b.le(22, 4));
    if (height == std::numeric_limits<std::int32_t>::min()) throw b.damaged();
    return sized(ImageFormat::kBmp, width, height < 0 ? -std::int64_t{height} : height);
  }
  if (info_size == 12)
    return sized(ImageFormat::kBmp, static_cast<std::int64_t>(b.le(18, 2)),
                 static_cast<std::int64_t>(b.le(20, 2)));
  throw ImageHeaderError("the BMP file has a header of an unknown kind");
}

bool is_space(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// The next decimal field of a PNM header at `at`: white space and '#' comments (to the end
/// of the line) are skipped; anything else before the digits is damage.
std::int64_t pnm_number(const Bytes& b, std::size_t& at) {
  while (true) {
    const unsigned char c = b.at(at);
    if (c >= '0' && c <= '9') break;
    if (c == '#') {
      while (b.at(at) != '\n' && b.at(at) != '\r') ++at;
    } else if (!is_space(c)) {
      throw b.damaged();
    }
    ++at;
  }
  std::int64_t value = 0;
  for (; at < b.size() && b.at(at) >= '0' && b.at(at) <= '9'; ++at) {
    value = value * 10 + (b.at(at) - '0');
    if (value > kLargestSide) throw b.damaged();
  }
  return value;
}

ImageHeader pnm_header(const Bytes& b) {
  std::size_t at = 2;
  const std::int64_t width = pnm_number(b, at);
  const std::int64_t height = pnm_number(b, at);
  return sized(ImageFormat::kPnm, width, height);
}

/// Tags 256 (ImageWidth) and 257 (ImageLength) of the first image file directory; of a tag
/// given twice the first counts (libtiff ignores the duplicate).
ImageHeader tiff_header(const Bytes& b) {
  const bool big_endian = b.at(0) == 'M';
  const bool big_tiff = b.uint(2, 2, big_endian) == 43;
  const auto read = [&](std::uint64_t offset, int count) {
    return b.uint(offset, count, big_endian);
  };
  // Classic: IFD offset (4) at 4; entries of 12 bytes after a 2-byte count, the value in the
  // last 4. BigTIFF: offset size 8 at 4, IFD offset (8) at 8; 20-byte entries after an
  // 8-byte count, the value in the last 8. Values are left-justified in their field.
  if (big_tiff && read(4, 2) != 8) throw b.damaged();
  const std::uint64_t directory = big_tiff ? read(8, 8) : read(4, 4);
  const std::uint64_t entries = read(directory, big_tiff ? 8 : 2);
  const std::uint64_t first = directory + (big_tiff ? 8 : 2), entry_size = big_tiff ? 20 : 12;
  std::optional<std::int64_t> width, height;
  for (std::uint64_t i = 0; i < entries && !(width && height); ++i) {
    const std::uint64_t entry = first + i * entry_size;
    if (entry > b.size()) throw b.damaged();
    const std::uint64_t tag = read(entry, 2);
    if ((tag != 256 || width) && (tag != 257 || height)) continue;
    const std::uint64_t type = read(entry + 2, 2);
    const std::uint64_t value_at = entry + (big_tiff ? 12 : 8);
    std::uint64_t value = 0;
    if (type == 3)
      value = read(value_at, 2);  // SHORT
    else if (type == 4)
      value = read(value_at, 4);  // LONG
    else if (type == 16 && big_tiff)
      value = read(value_at, 8);  // LONG8
    else
      throw b.damaged();
    const auto side = value > static_cast<std::uint64_t>(kLargestSide)
                          ? kLargestSide + 1
                          : static_cast<std::int64_t>(value);
    (tag == 256 ? width : height) = side;
  }
  if (!width || !height)
    throw ImageHeaderError("the TIFF file's first image has no width or height");
  return sized(ImageFormat::kTiff, *width, *height);
}

/// The first chunk after "RIFF" size "WEBP": lossy (VP8, 14-bit sizes after the key-frame
/// start code), lossless (VP8L, 14-bit sizes minus one after the 0x2F signature) or
/// extended (VP8X, 24-bit canvas sizes minus one).
ImageHeader webp_header(const Bytes& b) {
  const std::string_view chunk = b.text(12, 4);
  if (chunk == "VP8 ") {
    if ((b.at(20) & 1) != 0 || b.text(23, 3) != std::string_view("\x9D\x01\x2A", 3))
      throw b.damaged();
    return sized(ImageFormat::kWebp, static_cast<std::int64_t>(b.le(26, 2) & 0x3FFF),
                 static_cast<std::int64_t>(b.le(28, 2) & 0x3FFF));
  }
  if (chunk == "VP8L") {
    if (b.at(20) != 0x2F) throw b.damaged();
    const std::uint64_t bits = b.le(21, 4);
    return sized(ImageFormat::kWebp, static_cast<std::int64_t>(bits & 0x3FFF) + 1,
                 static_cast<std::int64_t>((bits >> 14) & 0x3FFF) + 1);
  }
  if (chunk == "VP8X")
    return sized(ImageFormat::kWebp, static_cast<std::int64_t>(b.le(24, 3)) + 1,
                 static_cast<std::int64_t>(b.le(27, 3)) + 1);
  throw b.damaged();
}

bool starts_with(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

}  // namespace

const char* format_name(ImageFormat format) {
  switch (format) {
    case ImageFormat::kJpeg:
      return "JPEG";
    case ImageFormat::kPng:
      return "PNG";
    case ImageFormat::kBmp:
      return "BMP";
    case ImageFormat::kPnm:
      return "PNM";
    case ImageFormat::kTiff:
      return "TIFF";
    case ImageFormat::kWebp:
      return "WebP";
  }
  return "image";
}

std::optional<ImageFormat> image_format(std::string_view bytes) {
  if (starts_with(bytes, kPngSignature)) return ImageFormat::kPng;
  if (starts_with(bytes, std::string_view("\xFF\xD8", 2))) return ImageFormat::kJpeg;
  if (starts_with(bytes, "BM")) return ImageFormat::kBmp;
  if (bytes.size() >= 3 && bytes[0] == 'P' && bytes[1] >= '1' && bytes[1] <= '6' &&
      is_space(static_cast<unsigned char>(bytes[2])))
    return ImageFormat::kPnm;
  for (const std::string_view tiff : {std::string_view("II*\0", 4), std::string_view("MM\0*", 4),
                                      std::string_view("II+\0", 4), std::string_view("MM\0+", 4)})
    if (starts_with(bytes, tiff)) return ImageFormat::kTiff;
  if (bytes.size() >= 12 && starts_with(bytes, "RIFF") && bytes.substr(8, 4) == "WEBP")
    return ImageFormat::kWebp;
  return std::nullopt;
}

ImageHeader read_image_header(std::string_view bytes) {
  if (bytes.empty()) throw ImageHeaderError("the image is empty (0 bytes)");
  const auto format = image_format(bytes);
  if (!format)
    throw ImageHeaderError(
        "not an image in a supported format (JPEG, PNG, BMP, PNM, TIFF or WebP)");
  const Bytes b(bytes, *format);
  switch (*format) {
    case ImageFormat::kJpeg:
      return jpeg_header(b);
    case ImageFormat::kPng:
      return png_header(b);
    case ImageFormat::kBmp:
      return bmp_header(b);
    case ImageFormat::kPnm:
      return pnm_header(b);
    case ImageFormat::kTiff:
      return tiff_header(b);
    case ImageFormat::kWebp:
      return webp_header(b);
  }
  throw b.damaged();
}

}  // namespace wtp::io
