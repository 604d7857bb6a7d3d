#pragma once
/// MD5 message digest (RFC 1321), used to verify downloaded dataset files against the
/// checksums their publishers list. Not for security: MD5 only detects corruption and
/// wrong files here.
///
///     Md5 md5;
///     md5.update("abc");
///     md5.hex_digest();  // "900150983cd24fb0d6963f7d28e17f72"
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace wtp::download {

/// Incremental MD5. update() any number of times, then digest()/hex_digest() once.
class Md5 {
 public:
  Md5();
  /// Appends `size` bytes. Requires: digest() not yet called.
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  /// Finishes and returns the 16-byte digest. Further update() calls are a logic error.
  std::array<std::uint8_t, 16> digest();
  /// Finishes and returns the digest as 32 lower-case hex digits.
  std::string hex_digest();

 private:
  void transform(const std::uint8_t block[64]);

  std::uint32_t state_[4];
  std::uint64_t length_ = 0;  ///< bytes hashed so far
  std::uint8_t buffer_[64];
  std::size_t buffered_ = 0;
  bool finished_ = false;
};

/// MD5 of a byte string as 32 lower-case hex digits.
std::string md5_hex(std::string_view bytes);

/// MD5 of a whole file as 32 lower-case hex digits. Shows a progress bar labelled
/// `label` (in bytes) when `label` is not empty. Throws std::runtime_error if the file
/// cannot be read.
std::string md5_file(const std::filesystem::path& path, const std::string& label = "");

/// True if `text` is 32 hex digits (either case).
bool is_md5_hex(std::string_view text);

/// Lower-cases a hex checksum (for comparisons and messages).
std::string normalize_md5(std::string_view text);

}  // namespace wtp::download
