// libFuzzer target: the IDX reader (magic, value type, rank, dimensions, gzip stream, data
// length). Seeds: tests/fuzz/corpus/idx/ (plain and gzip-compressed, valid and near-valid).
#include <stdexcept>

#include "data/idx.h"
#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = wtp::fuzz::scratch_dir() / "input.idx";
  wtp::fuzz::write_file(path, wtp::fuzz::as_text(data, size));
  try {
    const auto array = wtp::data::read_idx(path);
    std::int64_t count = 1;
    for (const auto d : array.shape) count *= d;
    if (count != static_cast<std::int64_t>(array.values.size()))
      __builtin_trap();  // the shape must describe exactly the values read
  } catch (const std::runtime_error&) {
  }
  return 0;
}
