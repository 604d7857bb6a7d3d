// libFuzzer target: CEW's eye coordinate files (EyeCoordinatesInfo_OpenFace.txt and
// _ClosedFace.txt; the input is split at the first NUL byte), loaded with the dataset
// beside two folders of (empty) image files. Seeds: tests/fuzz/corpus/cew_eyes/.
#include <stdexcept>

#include "data/cew.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace fs = std::filesystem;
  const auto parts = wtp::fuzz::split_parts(wtp::fuzz::as_text(data, size), 2);
  const fs::path dir = wtp::fuzz::scratch_dir() / "cew" / "dataset_B_FacialImages";
  if (!fs::exists(dir)) {
    wtp::fuzz::write_file(dir / "OpenFace" / "Aaron_Eckhart_0001.jpg", "");
    wtp::fuzz::write_file(dir / "OpenFace" / "open1.jpg", "");
    wtp::fuzz::write_file(dir / "ClosedFace" / "closed_eye_0001.jpg_face_1.jpg", "");
  }
  wtp::fuzz::write_file(dir / "EyeCoordinatesInfo_OpenFace.txt", parts[0]);
  wtp::fuzz::write_file(dir / "EyeCoordinatesInfo_ClosedFace.txt",
                        parts.size() > 1 ? parts[1] : std::string_view());
  wtp::data::CewOptions options;
  options.root = (wtp::fuzz::scratch_dir() / "cew").string();
  try {
    (void)wtp::data::load_cew(options);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
