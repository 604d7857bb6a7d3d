// libFuzzer harness for the torch.save / pickle / .npy readers (not part of ctest).
// Every input must load or throw std::runtime_error; anything else (crash, sanitizer
// report, other exception, timeout, out-of-memory) is a bug. Build and run with
// tests/io/fuzz/run_fuzzer.sh (clang with libFuzzer and AddressSanitizer).
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <string>

#include "core/log.h"
#include "io/inspect.h"
#include "io/npy.h"
#include "io/torch_file.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wtp::log::set_level(wtp::log::Level::kQuiet);
  std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    auto file = wtp::io::load_torch_bytes(bytes, "fuzz");
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
  try {
    wtp::io::parse_npy(bytes, "fuzz");
  } catch (const std::runtime_error&) {
  }
  return 0;
}
