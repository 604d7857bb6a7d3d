// libFuzzer target: image decoding through the library's reader (data::read_image: JPEG,
// PNG, BMP, ... via OpenCV, converted to 3-channel RGB). Seeds: tests/fuzz/corpus/image/
// (tiny images written by OpenCV).
#include <stdexcept>

#include "data/image.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = wtp::fuzz::scratch_dir() / "image";
  wtp::fuzz::write_file(file, wtp::fuzz::as_text(data, size));
  try {
    auto image = wtp::data::read_image(file);
    if (image.channels() != 3 || image.depth() != CV_8U)
      throw std::logic_error("read_image returned something other than 8-bit, 3 channels");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
