#pragma once
/// The built-in catalogue of downloadable datasets and pretrained weights: for each entry,
/// the files it is made of, their published checksums (MD5 and/or SHA-256), the mirrors
/// tried in order, and where the result lives under the download root.
///
/// Layouts (matching what `wtp-synth` writes and what the loaders in src/data read; the LFW
/// loader finds whichever of the three LFW image folders is there):
///   lfw               ROOT/lfw/lfw_funneled/<Name>/<Name>_<NNNN>.jpg (funneled, figshare)
///   lfw-original      ROOT/lfw/lfw/<Name>/<Name>_<NNNN>.jpg (unaligned, figshare)
///   lfw-deepfunneled  ROOT/lfw/lfw-deepfunneled/<Name>/<Name>_<NNNN>.jpg (the old system's
///                     variant; its only host is gone: --archive or --mirror)
///   lfw-protocol      ROOT/lfw/{pairs.txt, people.txt, pairsDevTrain.txt, pairsDevTest.txt}
///   celeba            ROOT/celeba/img_align_celeba/NNNNNN.jpg,
///                     ROOT/celeba/{identity_CelebA.txt, list_eval_partition.txt}
///   cew               ROOT/cew/dataset_B_FacialImages/{OpenFace,ClosedFace}/*.jpg (+ eyes)
///   bn-inception-imagenet, inception-resnet-v1-vggface2, inception-resnet-v1-casia-webface
///                     ROOT/weights/<upstream file name> (torch.save files for init.checkpoint)
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace wtp::download {

/// What to do with a file once it is downloaded and verified.
enum class FileAction {
  kInstall,  ///< copy the file itself into the dataset directory (e.g. pairs.txt)
  kExtract,  ///< extract the archive (.tgz, .zip, .rar) into the dataset directory
};

/// What a file must be, checked after its checksums (the only check when none is published).
enum class FileFormat {
  kAny,        ///< anything
  kTorchFile,  ///< a torch.save file holding tensors (zip or legacy format, see io/torch_file.h)
};

/// One file of a dataset.
struct CatalogueFile {
  std::string name;                   ///< file name, e.g. "lfw-deepfunneled.tgz"
  std::optional<std::string> md5;     ///< published MD5 (lower-case hex), if one is known
  std::optional<std::string> sha256;  ///< published SHA-256 (lower-case hex; a leading part of
                                      ///< at least 8 digits when that is all the name gives)
  std::vector<std::string> mirrors;   ///< URLs tried in order
  FileAction action = FileAction::kInstall;
  std::int64_t approx_size = 0;          ///< approximate size in bytes (0 = unknown), for messages
  bool google_drive = false;             ///< hosted on Google Drive (confirm step, quota errors)
  FileFormat format = FileFormat::kAny;  ///< checked after download
};

/// One dataset of the catalogue.
struct DatasetSpec {
  std::string name;                  ///< catalogue name, e.g. "lfw"
  std::string description;           ///< one line for --help and messages
  std::string directory;             ///< sub-directory of the root the dataset lives in
  std::vector<CatalogueFile> files;  ///< every file the dataset is made of
};

/// Every entry, in a fixed order (lfw, lfw-original, lfw-deepfunneled, lfw-protocol, celeba,
/// cew, then the weights).
const std::vector<DatasetSpec>& catalogue();

/// The entry called `name`. Throws UsageError listing the known names if unknown.
const DatasetSpec& find_dataset(const std::string& name);

/// Known entry names, comma-separated (for help and messages).
std::string dataset_names();

/// The command that installs `file` when its name is a catalogue file, e.g.
/// "wtp-download bn-inception-imagenet --root data" for data/weights/bn_inception-52deb4733.pth
/// (the root is the path above the entry's directory when the file sits in it, else the
/// file's own folder is named as the place the entry installs into).
std::optional<std::string> download_command(const std::filesystem::path& file);

}  // namespace wtp::download
