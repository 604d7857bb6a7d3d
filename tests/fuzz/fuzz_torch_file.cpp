// libFuzzer target: the torch.save reader (zip and legacy formats) and the plain pickle
// reader, with every loaded value walked and summarised (odd shapes, strides and storage
// offsets included). Seeds: tests/fuzz/corpus/torch_file/ (written by python3-torch).
#include <sstream>
#include <stdexcept>

#include "fuzz_support.h"
#include "io/inspect.h"
#include "io/torch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = wtp::fuzz::as_text(data, size);
  wtp::fuzz::scratch_dir();  // quiet logging
  try {
    auto file = wtp::io::load_torch_bytes(std::string(bytes), "fuzz");
    std::ostringstream sink;
    wtp::io::inspect_value(file.root(), 4, sink);
  } catch (const std::runtime_error&) {
  }
  try {
    auto doc = wtp::io::load_pickle_bytes(bytes, "fuzz");
    std::ostringstream sink;
    wtp::io::inspect_value(doc.root(), 4, sink);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
