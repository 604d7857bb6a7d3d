#pragma once
/// Image headers read without decoding: the format from the magic bytes and the declared
/// width and height, so that a caller can refuse a decompression bomb (a few hundred bytes
/// that declare 100k x 100k pixels) before a decoder allocates for it.
///
/// The formats are those wtp reads (data::image_extensions()); each is recognised by the
/// same signature OpenCV's decoder checks, and its size read from the same fields:
///   JPEG  FF D8 (then a marker's FF, as OpenCV's FF D8 FF); the first SOF marker (C0-CF
///         except C4, C8, CC), walking the segments
///   PNG   the 8-byte signature; the IHDR chunk
///   BMP   "BM"; BITMAPINFOHEADER and later (header >= 36 bytes) or OS/2 1.x (12 bytes)
///   PNM   P1-P6 and a white-space byte; the width and height fields (comments skipped)
///   TIFF  "II*\0", "MM\0*" (classic) or "II+\0", "MM\0+" (BigTIFF); tags 256 and 257 of
///         the first image directory (the page OpenCV reads)
///   WebP  "RIFF" .... "WEBP"; the VP8, VP8L or VP8X (canvas) chunk
///
///     const io::ImageHeader header = io::read_image_header(bytes);  // throws ImageHeaderError
///     if (header.pixels() > cap) ...
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace wtp::io {

/// The bytes do not start with a readable header of a supported format; what() says why,
/// in words for a person (no offsets or internals).
class ImageHeaderError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ImageFormat { kJpeg, kPng, kBmp, kPnm, kTiff, kWebp };

/// "JPEG", "PNG", "BMP", "PNM", "TIFF", "WebP".
const char* format_name(ImageFormat format);

/// What the header of an image says.
struct ImageHeader {
  ImageFormat format = ImageFormat::kJpeg;
  std::int64_t width = 0, height = 0;  ///< both >= 1
  /// JPEG: the offset of the first SOS segment (its scan data follows); 0 otherwise.
  std::size_t jpeg_scan_offset = 0;

  std::int64_t pixels() const { return width * height; }
};

/// The format whose signature `bytes` start with; nullopt for anything else.
std::optional<ImageFormat> image_format(std::string_view bytes);

/// Reads format, width and height from the header. Throws ImageHeaderError for empty
/// input, an unsupported format, a header cut short or damaged, or a zero width or height.
ImageHeader read_image_header(std::string_view bytes);

}  // namespace wtp::io
