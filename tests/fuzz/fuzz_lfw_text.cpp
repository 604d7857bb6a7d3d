// libFuzzer target: LFW's protocol files. The input is read both as a pairs file
// (pairs.txt / pairsDevTrain.txt layout) and as people.txt. Seeds: tests/fuzz/corpus/lfw_text/
// (wtp-synth's files and near-misses).
#include <stdexcept>

#include "data/lfw.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto file = wtp::fuzz::scratch_dir() / "lfw.txt";
  wtp::fuzz::write_file(file, wtp::fuzz::as_text(data, size));
  try {
    auto pairs = wtp::data::read_lfw_pairs(file);
    for (int f = 0; f < pairs.folds; ++f) (void)pairs.fold(f);
  } catch (const std::runtime_error&) {
  }
  try {
    (void)wtp::data::read_lfw_people(file);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
