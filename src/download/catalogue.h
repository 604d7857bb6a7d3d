#pragma once
/// The built-in catalogue of downloadable datasets: for each dataset, the files it is
/// made of, their published MD5s, the mirrors tried in order, and where the result lives
/// under the download root.
///
/// Layouts (matching what `wtp-synth` writes and what the loaders in src/data read):
///   lfw           ROOT/lfw/lfw-deepfunneled/<Name>/<Name>_<NNNN>.jpg
///   lfw-protocol  ROOT/lfw/{pairs.txt, people.txt, pairsDevTrain.txt, pairsDevTest.txt}
///   celeba        ROOT/celeba/img_align_celeba/NNNNNN.jpg,
///                 ROOT/celeba/{identity_CelebA.txt, list_eval_partition.txt}
///   cew           ROOT/cew/dataset_B_FacialImages/{OpenFace,ClosedFace}/*.jpg (+ eye files)
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wtp::download {

/// What to do with a file once it is downloaded and verified.
enum class FileAction {
  kInstall,  ///< copy the file itself into the dataset directory (e.g. pairs.txt)
  kExtract,  ///< extract the archive (.tgz, .zip, .rar) into the dataset directory
};

/// One file of a dataset.
struct CatalogueFile {
  std::string name;                  ///< file name, e.g. "lfw-deepfunneled.tgz"
  std::optional<std::string> md5;    ///< published MD5 (lower-case hex), if one is known
  std::vector<std::string> mirrors;  ///< URLs tried in order
  FileAction action = FileAction::kInstall;
  std::int64_t approx_size = 0;  ///< approximate size in bytes (0 = unknown), for messages
  bool google_drive = false;     ///< hosted on Google Drive (confirm step, quota errors)
};

/// One dataset of the catalogue.
struct DatasetSpec {
  std::string name;                  ///< catalogue name, e.g. "lfw"
  std::string description;           ///< one line for --help and messages
  std::string directory;             ///< sub-directory of the root the dataset lives in
  std::vector<CatalogueFile> files;  ///< every file the dataset is made of
};

/// All datasets, in a fixed order (lfw, lfw-protocol, celeba, cew).
const std::vector<DatasetSpec>& catalogue();

/// The dataset called `name`. Throws UsageError listing the known names if unknown.
const DatasetSpec& find_dataset(const std::string& name);

/// Known dataset names, comma-separated (for help and messages).
std::string dataset_names();

}  // namespace wtp::download
