#include "io/npy.h"

#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <vector>

#include "core/error.h"
#include "io/torch_file.h"

namespace wtp::io {
namespace {

constexpr std::string_view kMagic("\x93NUMPY", 6);

struct NpyType {
  const char* code;  // without byte-order character
  c10::ScalarType dtype;
};
constexpr NpyType kTypes[] = {
    {"b1", c10::kBool},  {"u1", c10::kByte},  {"i1", c10::kChar},
    {"i2", c10::kShort}, {"i4", c10::kInt},   {"i8", c10::kLong},
    {"f2", c10::kHalf},  {"f4", c10::kFloat}, {"f8", c10::kDouble},
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& source) : text_(text), source_(source) {}

  std::string descr;
  std::optional<bool> fortran_order;
  std::optional<std::vector<std::int64_t>> shape;

  void parse() {
    expect('{');
    while (true) {
      skip_space();
      if (peek() == '}') break;
      std::string key = string_literal();
      expect(':');
      skip_space();
      if (key == "descr") {
        if (peek() != '\'' && peek() != '"')
          fail("'descr' is not a simple type string (structured dtypes are not supported)");
        descr = string_literal();
      } else if (key == "fortran_order") {
        fortran_order = boolean();
      } else if (key == "shape") {
        shape = int_tuple();
      } else {
        fail("unknown header key '" + key + "'");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail("expected ',' or '}' in the header");
    }
    if (descr.empty() || !fortran_order || !shape)
      fail("header lacks one of 'descr', 'fortran_order', 'shape'");
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw std::runtime_error(source_ + ": bad .npy header: " + what +
                             " (header: " + std::string(text_.substr(0, 200)) + ")");
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\n' || text_[pos_] == '\t'))
      ++pos_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++pos_;
  }
  std::string string_literal() {
    skip_space();
    char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    auto end = text_.find(q, pos_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return out;
  }
  bool boolean() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::int64_t> int_tuple() {
    expect('(');
    std::vector<std::int64_t> out;
    while (true) {
      skip_space();
      if (peek() == ')') {
        ++pos_;
        return out;
      }
      if (peek() < '0' || peek() > '9') fail("shape entries must be non-negative integers");
      std::int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, peek() - '0', &v))
          fail("shape entry too large");
        ++pos_;
      }
      if (peek() == 'L') ++pos_;  // Python 2 long suffix
      out.push_back(v);
      if (out.size() > 64) fail("more than 64 dimensions");
      skip_space();
      if (peek() == ',')
        ++pos_;
      else if (peek() != ')')
        fail("expected ',' or ')' in the shape");
    }
  }

  std::string_view text_;
  const std::string& source_;
  std::size_t pos_ = 0;
};

}  // namespace

bool looks_like_npy(std::string_view bytes) { return bytes.substr(0, kMagic.size()) == kMagic; }

torch::Tensor parse_npy(std::string_view bytes, const std::string& source) {
  if (!looks_like_npy(bytes))
    throw std::runtime_error(source + ": not a .npy file (no \\x93NUMPY magic)");
  if (bytes.size() < 10) throw std::runtime_error(source + ": truncated .npy header");
  auto major = static_cast<unsigned char>(bytes[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
    start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw std::runtime_error(source + ": truncated .npy header");
    for (int i = 0; i < 4; ++i)
      header_len |= std::size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
    start = 12;
  } else {
    throw std::runtime_error(source + ": unsupported .npy format version " + std::to_string(major) +
                             " (1, 2 and 3 are supported)");
  }
  if (header_len > bytes.size() - start)
    throw std::runtime_error(source + ": truncated .npy header (" + std::to_string(header_len) +
                             " bytes announced, " + std::to_string(bytes.size() - start) +
                             " present)");
  HeaderParser header(bytes.substr(start, header_len), source);
  header.parse();
  if (*header.fortran_order)
    throw std::runtime_error(source + ": Fortran-order arrays are not supported; save with " +
                             "numpy.ascontiguousarray(a)");
  const std::string& d = header.descr;
  if (d.size() != 3) throw std::runtime_error(source + ": unsupported dtype '" + d + "'");
  std::optional<c10::ScalarType> dtype;
  for (const auto& t : kTypes)
    if (d.compare(1, 2, t.code) == 0) dtype = t.dtype;
  if (!dtype)
    throw std::runtime_error(source + ": unsupported dtype '" + d +
                             "' (supported: b1 u1 i1 i2 i4 i8 f2 f4 f8)");
  auto item = static_cast<std::int64_t>(c10::elementSize(*dtype));
  if (d[0] == '>' && item > 1)
    throw std::runtime_error(source + ": big-endian data ('" + d +
                             "') is not supported; save with a.astype(a.dtype.newbyteorder('<'))");
  if (d[0] != '<' && d[0] != '|' && d[0] != '=' && d[0] != '>')
    throw std::runtime_error(source + ": bad byte-order character in dtype '" + d + "'");
  std::int64_t numel = 1;
  for (auto s : *header.shape)
    if (__builtin_mul_overflow(numel, s, &numel))
      throw std::runtime_error(source + ": shape too large");
  std::int64_t nbytes = 0;
  std::size_t data_start = start + header_len;
  if (__builtin_mul_overflow(numel, item, &nbytes) ||
      static_cast<std::uint64_t>(nbytes) != bytes.size() - data_start)
    throw std::runtime_error(source + ": data size mismatch: shape needs " + std::to_string(numel) +
                             " x " + std::to_string(item) + " bytes, the file has " +
                             std::to_string(bytes.size() - data_start));
  auto t = torch::empty(*header.shape, torch::TensorOptions().dtype(*dtype));
  if (nbytes > 0)
    std::memcpy(t.data_ptr(), bytes.data() + data_start, static_cast<std::size_t>(nbytes));
  if (*dtype == c10::kBool) {
    auto* p = static_cast<unsigned char*>(t.data_ptr());
    for (std::int64_t i = 0; i < numel; ++i) p[i] = p[i] ? 1 : 0;
  }
  return t;
}

torch::Tensor read_npy(const std::filesystem::path& path) {
  return parse_npy(read_file_bytes(path), path.string());
}

std::string npy_bytes(const torch::Tensor& tensor) {
  require(tensor.defined(), "write_npy: the tensor is undefined");
  require(tensor.device().is_cpu(), "write_npy: the tensor must be on the CPU (call .cpu())");
  const char* code = nullptr;
  for (const auto& t : kTypes)
    if (t.dtype == tensor.scalar_type()) code = t.code;
  require(code != nullptr, std::string("write_npy: dtype ") + c10::toString(tensor.scalar_type()) +
                               " has no .npy equivalent here (use float32/64, int8/16/32/64, "
                               "uint8, bool or float16)");
  auto t = tensor.contiguous();
  std::string descr = std::string(c10::elementSize(t.scalar_type()) == 1 ? "|" : "<") + code;
  std::string shape = "(";
  for (int64_t i = 0; i < t.dim(); ++i)
    shape += std::to_string(t.size(i)) + (t.dim() == 1 ? "," : i + 1 < t.dim() ? ", " : "");
  shape += ")";
  std::string header =
      "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  std::size_t prefix = 10;
  if (header.size() + 1 + prefix > 65535) prefix = 12;
  std::size_t total = prefix + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out(kMagic);
  out += static_cast<char>(prefix == 10 ? 1 : 2);
  out += '\0';
  for (std::size_t i = 0; i < prefix - 8; ++i)
    out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  out += header;
  out.append(static_cast<const char*>(t.data_ptr()), t.numel() * t.element_size());
  return out;
}

void write_npy(const std::filesystem::path& path, const torch::Tensor& tensor) {
  std::string bytes = npy_bytes(tensor);
  auto tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error(tmp.string() + ": cannot open for writing");
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) throw std::runtime_error(tmp.string() + ": write error");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw std::runtime_error(path.string() + ": cannot rename into place: " + ec.message());
}

}  // namespace wtp::io
