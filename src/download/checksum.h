#pragma once
/// MD5 and SHA-256 (OpenSSL's libcrypto) and the checksums a downloaded file is verified with:
/// publishers list an MD5 (LFW, CelebA), a SHA-256 (scikit-learn's LFW mirrors) or the
/// first hex digits of a SHA-256 in the file name (PyTorch hub weights such as
/// `bn_inception-52deb4733.pth`).
///
///     Sha256 sha;
///     sha.update("abc");
///     sha.hex_digest();  // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace wtp::download {

/// An incremental message digest computed by OpenSSL's libcrypto (EVP): update() any number
/// of times, then hex_digest() once.
class Digest {
 public:
  enum class Algorithm { kMd5, kSha256 };
  explicit Digest(Algorithm algorithm);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;
  /// Appends `size` bytes. Requires: hex_digest() not yet called (else std::logic_error).
  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  /// Finishes and returns the digest as lower-case hex digits (32 for MD5, 64 for SHA-256).
  std::string hex_digest();

 private:
  struct Context;
  std::unique_ptr<Context> context_;
};

/// Incremental SHA-256.
class Sha256 : public Digest {
 public:
  Sha256() : Digest(Algorithm::kSha256) {}
};

/// SHA-256 of a byte string as 64 lower-case hex digits.
std::string sha256_hex(std::string_view bytes);

/// Calls `chunk(data, size)` on consecutive pieces of the file, showing a progress bar
/// labelled `label` (in bytes) when it is not empty. Throws std::runtime_error naming the
/// file and `purpose` ("to compute its MD5") if it cannot be read.
void read_chunks(const std::filesystem::path& path, const std::string& label,
                 const std::string& purpose,
                 const std::function<void(const char* data, std::size_t size)>& chunk);

/// The two checksums of a file's bytes (lower-case hex).
struct FileChecksums {
  std::string md5;
  std::string sha256;
};

/// MD5 and SHA-256 of a whole file in one read (progress bar as in read_chunks).
FileChecksums file_checksums(const std::filesystem::path& path, const std::string& label = "");

/// True if `text` is 64 hex digits (either case): a whole SHA-256.
bool is_sha256_hex(std::string_view text);

/// The checksums a file is expected to have; each one may be unknown.
struct ExpectedChecksums {
  std::optional<std::string> md5;     ///< 32 lower-case hex digits
  std::optional<std::string> sha256;  ///< lower-case hex: all 64 digits, or a leading part
                                      ///< (at least 8) as in PyTorch hub file names

  /// Whether any checksum is known (else a file cannot be verified).
  bool known() const { return md5 || sha256; }
  /// "" when `actual` agrees with every known checksum; otherwise what differs, e.g.
  /// "SHA-256 9f86d0..., not the expected 52deb4733...".
  std::string mismatch(const FileChecksums& actual) const;
  /// "MD5 <hex>", "SHA-256 <hex>" or both, for messages ("" when none is known).
  std::string describe() const;
};

/// Reads a user's checksum: 32 hex digits are an MD5, 64 a SHA-256 (either case). Throws
/// UsageError naming `what` ("--md5", "checksums.pairs.txt") for anything else.
ExpectedChecksums parse_checksum(const std::string& hex, const std::string& what);

}  // namespace wtp::download
