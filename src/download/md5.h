#pragma once
/// MD5 message digest (RFC 1321, computed by OpenSSL's libcrypto), used to verify downloaded
/// dataset files against the checksums their publishers list. Not for security: MD5 only detects
/// corruption and wrong files here.
///
///     Md5 md5;
///     md5.update("abc");
///     md5.hex_digest();  // "900150983cd24fb0d6963f7d28e17f72"
#include <filesystem>
#include <string>
#include <string_view>

#include "download/checksum.h"

namespace wtp::download {

/// Incremental MD5 (OpenSSL's, see checksum.h). update() any number of times, then
/// hex_digest() once.
class Md5 : public Digest {
 public:
  Md5() : Digest(Algorithm::kMd5) {}
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
