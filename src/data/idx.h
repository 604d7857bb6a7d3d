#pragma once
/// IDX files (the MNIST format of LeCun et al.: a 4-byte magic `00 00 <type> <rank>`, the
/// dimensions as big-endian 32-bit integers, then the values), plain or gzip-compressed, and
/// Fashion-MNIST (Xiao et al. 2017; Debian's package dataset-fashion-mnist) written out once
/// as an image folder and loaded like one:
///
///     data:
///       dataset: {name: fashion_mnist, root: data/fashion-mnist, per_class: 300}
///
/// writes data/fashion-mnist/<class>/<part>_<index>.png (28 x 28 grey PNGs; classes named as
/// upstream, e.g. T-shirt_top, Ankle_boot) on first use, from the IDX files in `source`, and
/// loads that folder with load_image_folder().
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace wtp::data {

/// An unsigned-byte IDX array (type 0x08, the one MNIST-like image and label files use).
struct IdxArray {
  std::vector<std::int64_t> shape;   ///< e.g. {60000, 28, 28} or {60000}
  std::vector<std::uint8_t> values;  ///< row-major, product(shape) values
};

/// Reads `path` (gzip-compressed or plain, told by its first bytes). Throws UsageError
/// naming the file for a missing file, a bad magic, another value type, more than 2^31
/// values, or a file shorter or longer than its dimensions say.
IdxArray read_idx(const std::filesystem::path& path);

/// Writes `array` as a gzip-compressed IDX file (for tests and converters).
void write_idx_gz(const std::filesystem::path& path, const IdxArray& array);

struct FashionMnistOptions {
  /// Folder holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz].
  std::string source = "/usr/share/datasets/fashion-mnist";
  std::string root = "data/fashion-mnist";          ///< the image folder, written when absent
  std::vector<std::string> parts{"train", "test"};  ///< train (60,000) and/or test (10,000)
  std::int64_t per_class = 0;  ///< the first N images of each class of each part (0 = all)

  template <class V>
  void visit(V& v) {
    v("source", source, "folder of the IDX files (Debian's dataset-fashion-mnist)");
    v("root", root, "image folder the PNGs are written to on first use");
    v("parts", parts, "parts to write: train (60,000 images) and/or test (10,000)");
    v("per_class", per_class, "first N images of each class of each part (0 = all)");
  }
  void validate() const;
};

/// Fashion-MNIST's ten class names in the IDX files' label order, as folder names (the
/// loaded dataset numbers them in sorted order, as torchvision's ImageFolder does).
const std::vector<std::string>& fashion_mnist_classes();

/// Writes the image folder when options.root holds none (into a temporary folder, renamed
/// when complete, with a marker recording parts and per_class), then loads it. Throws
/// UsageError when the IDX files are missing (saying which package installs them), when
/// images and labels disagree, or when root was written with other parts or per_class.
Dataset load_fashion_mnist(const FashionMnistOptions& options);

}  // namespace wtp::data
