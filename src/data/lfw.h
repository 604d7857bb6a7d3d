#pragma once
/// Labeled Faces in the Wild: the image tree `<root>/<images>/<Name>/<Name>_<NNNN>.jpg`, where
/// <images> is the folder of any of the three LFW archives (lfw-deepfunneled, lfw_funneled,
/// lfw; wtp-download's lfw-deepfunneled, lfw and lfw-original), and the protocol files beside
/// it (`pairs.txt`: 10 folds of same/different pairs;
/// `pairsDevTrain.txt` / `pairsDevTest.txt`: View 1; `people.txt`: identities per fold).
/// Image numbers in the protocol files are the 1-based `_NNNN` suffixes.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "data/dataset.h"

namespace wtp::data {

/// The folders the LFW archives extract to, in the order "auto" tries them.
inline const std::vector<std::string> kLfwImageFolders{"lfw-deepfunneled", "lfw_funneled", "lfw"};

struct LfwOptions {
  std::string root;  ///< folder holding the image folder and pairs.txt
  /// image folder under root: "auto" = the first of kLfwImageFolders that exists, "" = root
  std::string images = "auto";
  std::int64_t min_images = 1;  ///< keep identities with at least this many images
  CorruptPolicy on_corrupt = CorruptPolicy::kFail;  ///< unreadable images: fail or skip

  template <class V>
  void visit(V& v) {
    v("root", root, "folder holding the image folder and the protocol files");
    v("images", images,
      "image folder under root (auto: lfw-deepfunneled, lfw_funneled or lfw; '' = root)");
    v("min_images", min_images, "keep identities with at least this many images");
    v("on_corrupt", on_corrupt, "unreadable or corrupt image: fail | skip (and count)");
  }
  void validate() const;
  /// root / images; for "auto", root / the first of kLfwImageFolders that is a directory
  /// (root / kLfwImageFolders[0] when none is, for the error message).
  std::filesystem::path image_dir() const;
};

/// Loads the image tree: one class per person folder (sorted names), items sorted by file
/// name, identity = person name. Throws UsageError when the folder is missing, a person
/// folder holds no image, or nothing is left after min_images.
Dataset load_lfw(const LfwOptions& options);

/// The relative file of image `index` (1-based) of `name`: "Name/Name_0003.jpg".
std::string lfw_file(const std::string& name, std::int64_t index);

/// One line of a pairs file.
struct LfwPair {
  int fold = 0;                         ///< 0-based fold
  bool same = false;                    ///< true: both images show the same person
  std::string name1, name2;             ///< person names (equal when same)
  std::int64_t index1 = 0, index2 = 0;  ///< 1-based image numbers as written
  std::string file1, file2;             ///< lfw_file(name, index)
  std::size_t line = 0;                 ///< 1-based line in the pairs file
};

struct LfwPairs {
  int folds = 0;               ///< number of folds (1 for View 1 files)
  std::int64_t per_fold = 0;   ///< same pairs per fold (= different pairs per fold)
  std::vector<LfwPair> pairs;  ///< in file order
  /// The pairs of fold `f`.
  std::vector<LfwPair> fold(int f) const;
};

/// Reads `pairs.txt` (first line "folds<TAB>n") or a View 1 file (first line "n", one
/// fold). Each fold is n same lines `Name i j` then n different lines `Name1 i Name2 j`.
/// When `image_dir` is not empty every named image must exist there: otherwise UsageError
/// "pairs.txt:17: image 'Name/Name_0003.jpg' not found in '<image_dir>'". Malformed lines,
/// non-positive image numbers and a wrong number of lines are errors naming file:line.
LfwPairs read_lfw_pairs(const std::filesystem::path& pairs_file,
                        const std::filesystem::path& image_dir = {});

/// One entry of people.txt.
struct LfwPerson {
  std::string name;
  std::int64_t images = 0;  ///< number of images stated
  int fold = 0;             ///< 0-based fold (the file has 10)
  std::size_t line = 0;
};
/// Reads people.txt: first line the number of folds, then per fold a count line followed by
/// that many `Name<TAB>num_images` lines.
std::vector<LfwPerson> read_lfw_people(const std::filesystem::path& people_file);

}  // namespace wtp::data
