#include "download/checksum.h"

#include <cctype>
#include <fstream>
#include <openssl/evp.h>
#include <stdexcept>
#include <vector>

#include "core/error.h"
#include "core/progress.h"
#include "download/md5.h"

namespace wtp::download {

struct Digest::Context {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  bool finished = false;
  ~Context() { EVP_MD_CTX_free(ctx); }
};

Digest::Digest(Algorithm algorithm) : context_(std::make_unique<Context>()) {
  const EVP_MD* md = algorithm == Algorithm::kMd5 ? EVP_md5() : EVP_sha256();
  if (!context_->ctx || EVP_DigestInit_ex(context_->ctx, md, nullptr) != 1)
    throw std::runtime_error("OpenSSL could not start a digest");
}

Digest::~Digest() = default;

void Digest::update(const void* data, std::size_t size) {
  if (context_->finished) throw std::logic_error("Digest::update after hex_digest");
  if (EVP_DigestUpdate(context_->ctx, data, size) != 1)
    throw std::runtime_error("OpenSSL digest update failed");
}

std::string Digest::hex_digest() {
  if (context_->finished) throw std::logic_error("Digest::hex_digest called twice");
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(context_->ctx, digest, &size) != 1)
    throw std::runtime_error("OpenSSL digest final failed");
  context_->finished = true;
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 sha;
  sha.update(bytes);
  return sha.hex_digest();
}

void read_chunks(const std::filesystem::path& path, const std::string& label,
                 const std::string& purpose,
                 const std::function<void(const char* data, std::size_t size)>& chunk) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string() + " " + purpose);
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  std::unique_ptr<Progress> progress;
  if (!label.empty())
    progress = std::make_unique<Progress>(label, ec ? 0 : static_cast<std::int64_t>(size), "B");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = in.gcount();
    if (got <= 0) break;
    chunk(buffer.data(), static_cast<std::size_t>(got));
    if (progress) progress->advance(got);
  }
  if (in.bad()) throw std::runtime_error("read error on " + path.string() + " " + purpose);
  if (progress) progress->finish();
}

FileChecksums file_checksums(const std::filesystem::path& path, const std::string& label) {
  Md5 md5;
  Sha256 sha;
  read_chunks(path, label, "to compute its checksums", [&](const char* data, std::size_t size) {
    md5.update(data, size);
    sha.update(data, size);
  });
  return {md5.hex_digest(), sha.hex_digest()};
}

bool is_sha256_hex(std::string_view text) {
  if (text.size() != 64) return false;
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string ExpectedChecksums::mismatch(const FileChecksums& actual) const {
  if (sha256 && actual.sha256.compare(0, sha256->size(), *sha256) != 0)
    return "SHA-256 " + actual.sha256 + ", not the expected " + *sha256 +
           (sha256->size() < 64 ? "..." : "");
  if (md5 && actual.md5 != *md5) return "MD5 " + actual.md5 + ", not the expected " + *md5;
  return "";
}

std::string ExpectedChecksums::describe() const {
  std::string out;
  if (md5) out = "MD5 " + *md5;
  if (sha256)
    out += (out.empty() ? "" : ", ") + std::string("SHA-256 ") + *sha256 +
           (sha256->size() < 64 ? "..." : "");
  return out;
}

ExpectedChecksums parse_checksum(const std::string& hex, const std::string& what) {
  ExpectedChecksums out;
  if (is_md5_hex(hex)) {
    out.md5 = normalize_md5(hex);
  } else if (is_sha256_hex(hex)) {
    out.sha256 = normalize_md5(hex);
  } else {
    throw UsageError(what + ": '" + hex +
                     "' is neither an MD5 (32 hexadecimal digits) nor a SHA-256 (64)");
  }
  return out;
}

}  // namespace wtp::download
