#include "data/idx.h"

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <limits>
#include <opencv2/imgcodecs.hpp>

#include "core/error.h"
#include "core/log.h"
#include "core/progress.h"
#include "data/image_folder.h"

namespace wtp::data {
namespace fs = std::filesystem;

namespace {

constexpr int kUnsignedByte = 0x08;
constexpr std::int64_t kMaxValues = std::int64_t{1} << 31;
constexpr const char* kMarker = ".fashion_mnist_complete";

/// A gzip or plain file read through zlib (gzread passes plain files through).
class GzReader {
 public:
  explicit GzReader(const fs::path& path) : path_(path), file_(gzopen(path.c_str(), "rb")) {
    require(file_ != nullptr, "cannot open IDX file " + path.string());
  }
  ~GzReader() { gzclose(file_); }
  GzReader(const GzReader&) = delete;
  GzReader& operator=(const GzReader&) = delete;

  /// Reads up to `n` bytes; fewer only at the end of the file.
  std::int64_t read(void* out, std::int64_t n) {
    std::int64_t done = 0;
    while (done < n) {
      const auto chunk =
          static_cast<unsigned>(std::min<std::int64_t>(n - done, std::int64_t{1} << 30));
      const int got = gzread(file_, static_cast<char*>(out) + done, chunk);
      if (got < 0) {
        int code = 0;
        throw UsageError("IDX file " + path_.string() +
                         " is corrupt (gzip: " + gzerror(file_, &code) + ")");
      }
      if (got == 0) break;
      done += got;
    }
    return done;
  }

 private:
  fs::path path_;
  gzFile file_;
};

/// The IDX file `stem` of `source`, gzip-compressed or plain.
fs::path idx_file(const fs::path& source, const std::string& stem) {
  for (const auto& name : {stem + ".gz", stem})
    if (fs::exists(source / name)) return source / name;
  throw UsageError("Fashion-MNIST: " + (source / (stem + ".gz")).string() +
                   " not found; install Debian's package dataset-fashion-mnist (apt-get install "
                   "dataset-fashion-mnist) or point `source` at a folder holding the IDX files");
}

std::string marker_text(const FashionMnistOptions& options) {
  std::string parts;
  for (const auto& p : options.parts) parts += (parts.empty() ? "" : ",") + p;
  return "parts=" + parts + " per_class=" + std::to_string(options.per_class) + "\n";
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Writes one part's images (the first per_class of each label) under `dir`/<class>/.
std::int64_t write_part(const fs::path& source, const std::string& part, std::int64_t per_class,
                        const fs::path& dir) {
  const std::string prefix = part == "test" ? "t10k" : "train";
  const auto images = read_idx(idx_file(source, prefix + "-images-idx3-ubyte"));
  const auto labels = read_idx(idx_file(source, prefix + "-labels-idx1-ubyte"));
  const auto& classes = fashion_mnist_classes();
  require(
      images.shape.size() == 3 && labels.shape.size() == 1 && images.shape[0] == labels.shape[0],
      "Fashion-MNIST " + part + ": the image file holds " +
          std::to_string(images.shape.empty() ? 0 : images.shape[0]) + " images (rank " +
          std::to_string(images.shape.size()) + ") but the label file " +
          std::to_string(labels.shape.empty() ? 0 : labels.shape[0]) + " labels (rank " +
          std::to_string(labels.shape.size()) + "); the files do not match");
  const int rows = static_cast<int>(images.shape[1]), cols = static_cast<int>(images.shape[2]);
  std::vector<std::int64_t> written(classes.size(), 0);
  std::int64_t total = 0;
  Progress progress("fashion-mnist " + part, images.shape[0], "img");
  for (std::int64_t i = 0; i < images.shape[0]; ++i, progress.advance()) {
    const int label = labels.values[static_cast<std::size_t>(i)];
    require(label < static_cast<int>(classes.size()),
            "Fashion-MNIST " + part + ": label " + std::to_string(label) + " of image " +
                std::to_string(i) + " is not a class (0..9)");
    auto& count = written[static_cast<std::size_t>(label)];
    if (per_class > 0 && count >= per_class) continue;
    const cv::Mat image(rows, cols, CV_8UC1,
                        const_cast<std::uint8_t*>(images.values.data() + i * rows * cols));
    char name[32];
    std::snprintf(name, sizeof name, "%s_%05lld.png", part.c_str(), static_cast<long long>(i));
    const auto path = dir / classes[static_cast<std::size_t>(label)] / name;
    if (!cv::imwrite(path.string(), image))
      throw std::runtime_error("cannot write " + path.string() + " (disk full or read-only?)");
    ++count;
    ++total;
  }
  return total;
}

}  // namespace

IdxArray read_idx(const fs::path& path) {
  require(fs::is_regular_file(path), "IDX file " + path.string() + " not found");
  GzReader in(path);
  unsigned char magic[4];
  require(in.read(magic, 4) == 4 && magic[0] == 0 && magic[1] == 0,
          "IDX file " + path.string() + " does not start with an IDX magic (00 00 type rank)");
  char type[8];
  std::snprintf(type, sizeof type, "0x%02x", magic[2]);
  require(magic[2] == kUnsignedByte,
          "IDX file " + path.string() + " holds values of type " + type +
              "; only unsigned bytes (0x08, MNIST-like images and labels) are supported");
  require(magic[3] >= 1 && magic[3] <= 4,
          "IDX file " + path.string() + ": rank " + std::to_string(magic[3]) + " (expected 1-4)");
  IdxArray out;
  std::int64_t count = 1;
  for (int d = 0; d < magic[3]; ++d) {
    unsigned char b[4];
    require(in.read(b, 4) == 4, "IDX file " + path.string() + " ends inside its dimensions");
    const std::int64_t size = (std::int64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    count *= size;
    require(size > 0 && count <= kMaxValues, "IDX file " + path.string() + ": dimension " +
                                                 std::to_string(d) + " is " + std::to_string(size) +
                                                 " (the values must number 1 to 2^31)");
    out.shape.push_back(size);
  }
  // Grown as the data arrives, so a header that promises more than the file holds does
  // not allocate what it promises.
  std::int64_t got = 0;
  while (got < count) {
    const std::int64_t want = std::min<std::int64_t>(count - got, std::int64_t{1} << 24);
    out.values.resize(static_cast<std::size_t>(got + want));
    const std::int64_t read = in.read(out.values.data() + got, want);
    got += read;
    if (read < want) break;
  }
  require(got == count, "IDX file " + path.string() + " is truncated: " + std::to_string(got) +
                            " of " + std::to_string(count) + " values");
  unsigned char extra;
  require(in.read(&extra, 1) == 0, "IDX file " + path.string() +
                                       " is longer than its dimensions say (" +
                                       std::to_string(count) + " values)");
  return out;
}

void write_idx_gz(const fs::path& path, const IdxArray& array) {
  gzFile file = gzopen(path.c_str(), "wb");
  require(file != nullptr, "cannot write " + path.string());
  std::vector<unsigned char> header{0, 0, kUnsignedByte,
                                    static_cast<unsigned char>(array.shape.size())};
  for (const auto size : array.shape)
    for (int shift = 24; shift >= 0; shift -= 8)
      header.push_back(static_cast<unsigned char>((size >> shift) & 0xff));
  const bool ok = gzwrite(file, header.data(), static_cast<unsigned>(header.size())) ==
                      static_cast<int>(header.size()) &&
                  (array.values.empty() ||
                   gzwrite(file, array.values.data(), static_cast<unsigned>(array.values.size())) ==
                       static_cast<int>(array.values.size()));
  require(gzclose(file) == Z_OK && ok, "cannot write " + path.string() + " (disk full?)");
}

void FashionMnistOptions::validate() const {
  require(!root.empty(), "fashion_mnist: root must name the image folder to write");
  require(!parts.empty(), "fashion_mnist: parts must name train and/or test");
  for (const auto& p : parts)
    require(p == "train" || p == "test",
            "fashion_mnist: part '" + p + "' is not one of train, test");
  require(per_class >= 0, "fashion_mnist: per_class must be >= 0 (0 = every image)");
}

const std::vector<std::string>& fashion_mnist_classes() {
  static const std::vector<std::string> names{"T-shirt_top", "Trouser",   "Pullover", "Dress",
                                              "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                              "Bag",         "Ankle_boot"};
  return names;
}

Dataset load_fashion_mnist(const FashionMnistOptions& options) {
  options.validate();
  const fs::path root = options.root;
  const std::string expected = marker_text(options);
  if (fs::exists(root / kMarker)) {
    const std::string found = read_text(root / kMarker);
    require(found == expected, "fashion_mnist: " + root.string() + " was written with " + found +
                                   "but the config asks for " + expected +
                                   "delete the folder or choose another root");
  } else {
    require(!fs::exists(root), "fashion_mnist: " + root.string() +
                                   " exists but was not written by wtp (no " + kMarker +
                                   "); delete it or choose another root");
    const fs::path tmp = root.string() + ".partial";
    fs::remove_all(tmp);
    for (const auto& c : fashion_mnist_classes()) fs::create_directories(tmp / c);
    std::int64_t total = 0;
    for (const auto& part : options.parts)
      total += write_part(options.source, part, options.per_class, tmp);
    std::ofstream(tmp / kMarker) << expected;
    fs::rename(tmp, root);
    log::info("fashion_mnist: wrote ", total, " images to ", root.string());
  }
  ImageFolderOptions folder;
  folder.root = options.root;
  folder.extensions = {".png"};
  folder.allow_empty = true;  // a class of a part may have no image (tests, tiny sets)
  return load_image_folder(folder);
}

}  // namespace wtp::data
