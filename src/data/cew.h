#pragma once
/// Closed Eyes in the Wild, face images:
/// `<root>/dataset_B_FacialImages/{OpenFace,ClosedFace}/*.jpg` (100x100) and, when present,
/// `EyeCoordinatesInfo_OpenFace.txt` / `EyeCoordinatesInfo_ClosedFace.txt` beside the two
/// folders, one line per image: `<file name> lx ly rx ry` (eye centres in pixels).
///
/// Labels are fixed, whatever the folders contain: 0 = open ("open"), 1 = closed
/// ("closed"); Item::eye_state holds the same value. The open faces are LFW photos named
/// `<Name>_<NNNN>.jpg`: Item::identity is that name when the file name has this form.
#include <string>

#include "data/dataset.h"

namespace wtp::data {

struct CewOptions {
  std::string root;                                 ///< folder holding dataset_B_FacialImages/
  std::string images = "dataset_B_FacialImages";    ///< folder under root ("" = root)
  bool eye_coordinates = true;                      ///< read EyeCoordinatesInfo_*.txt when present
  CorruptPolicy on_corrupt = CorruptPolicy::kFail;  ///< unreadable images: fail or skip

  template <class V>
  void visit(V& v) {
    v("root", root, "folder holding dataset_B_FacialImages/");
    v("images", images, "folder under root holding OpenFace/ and ClosedFace/ ('' = root)");
    v("eye_coordinates", eye_coordinates, "read EyeCoordinatesInfo_*.txt when present");
    v("on_corrupt", on_corrupt, "unreadable or corrupt image: fail | skip (and count)");
  }
  void validate() const;
};

/// Loads both folders (items: all open faces sorted by name, then all closed ones). Throws
/// UsageError when a folder is missing or empty, or a coordinate line is malformed
/// (file:line). Coordinate lines naming an image that is not in the folder are ignored
/// (counted in a warning).
Dataset load_cew(const CewOptions& options);

}  // namespace wtp::data
