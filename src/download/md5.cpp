#include "download/md5.h"

#include <cctype>

namespace wtp::download {

std::string md5_hex(std::string_view bytes) {
  Md5 md5;
  md5.update(bytes);
  return md5.hex_digest();
}

std::string md5_file(const std::filesystem::path& path, const std::string& label) {
  Md5 md5;
  read_chunks(path, label, "to compute its MD5",
              [&](const char* data, std::size_t size) { md5.update(data, size); });
  return md5.hex_digest();
}

bool is_md5_hex(std::string_view text) {
  if (text.size() != 32) return false;
  for (char c : text)
    if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string normalize_md5(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace wtp::download
