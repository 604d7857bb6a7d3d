// libFuzzer target: the NumPy .npy reader (header dict, dtype, shape, fortran order, data
// size). Seeds: tests/fuzz/corpus/npy/ (written by numpy).
#include <stdexcept>

#include "fuzz_support.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto tensor = wtp::io::parse_npy(wtp::fuzz::as_text(data, size), "fuzz.npy");
    // Touch every element: the tensor must own (or validly view) all of its bytes.
    if (tensor.numel() > 0) (void)tensor.to(torch::kDouble).sum().item<double>();
  } catch (const std::runtime_error&) {
  }
  return 0;
}
