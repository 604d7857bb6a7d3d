// Robustness: truncated, bit-flipped and garbage inputs must give a clean
// std::runtime_error or a successful load (never a crash, hang or other exception).
#include <sstream>

#include "core/random.h"
#include "io/inspect.h"
#include "io/npy.h"
#include "io/torch_file.h"
#include "io_test_util.h"  // first: torch before Catch2
#include "test_support.h"

namespace {

/// A string literal with embedded NUL bytes, as std::string.
template <std::size_t N>
std::string lit(const char (&s)[N]) {
  return std::string(s, N - 1);
}

const std::string kLegacyHeader =
    lit("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.\x80\x02M\xe9\x03.\x80\x02}.");

struct Outcome {
  int loaded = 0;
  int rejected = 0;
};

/// Loads `bytes`; on success also walks and summarises every tensor (sums, first values)
/// so that odd shapes/strides are exercised too.
void try_load(const std::string& bytes, Outcome& outcome) {
  try {
    auto file = wtp::io::load_torch_bytes(bytes, "fuzzed.pt");
    std::ostringstream sink;
    wtp::io::inspect_value(file.root(), 8, sink);
    ++outcome.loaded;
  } catch (const std::runtime_error& e) {
    std::string what = e.what();
    if (what.rfind("fuzzed.pt", 0) != 0)
      FAIL("error message does not start with the file: " << what);
    ++outcome.rejected;
  } catch (const std::exception& e) {
    FAIL("unexpected exception type: " << e.what());
  } catch (...) {
    FAIL("unexpected non-std exception");
  }
}

std::vector<std::string> fixtures() {
  std::vector<std::string> out;
  auto dir = *wtp::test::shared_dir() / "fixtures/checkpoints";
  for (const char* name : {"state_dict_zip.pt", "state_dict_legacy.pt", "lightning_like.ckpt"})
    out.push_back(wtp::test::read_file(dir / name));
  return out;
}

}  // namespace

TEST_CASE("every truncation of the fixtures is rejected cleanly", "[io][fuzz]") {
  WTP_REQUIRE_SHARED();
  for (const auto& original : fixtures()) {
    Outcome outcome;
    for (std::size_t n = 0; n < original.size(); ++n) try_load(original.substr(0, n), outcome);
    // The legacy format has no trailer after the last storage, so only complete files load;
    // a zip cut anywhere loses its central directory.
    CHECK(outcome.loaded == 0);
    CHECK(outcome.rejected == static_cast<int>(original.size()));
  }
}

TEST_CASE("random byte changes in the fixtures load or fail cleanly", "[io][fuzz]") {
  WTP_REQUIRE_SHARED();
  auto files = fixtures();
  Outcome outcome;
  for (std::size_t f = 0; f < files.size(); ++f) {
    wtp::Rng rng(wtp::mix_seed(20261128, f));
    for (int trial = 0; trial < 1500; ++trial) {
      std::string bytes = files[f];
      int changes = static_cast<int>(rng.integer(1, 6));
      for (int c = 0; c < changes; ++c) {
        auto at = static_cast<std::size_t>(rng.integer(0, static_cast<int64_t>(bytes.size()) - 1));
        switch (rng.integer(0, 3)) {
          case 0:  // flip one bit
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << rng.integer(0, 7)));
            break;
          case 1:  // random byte
            bytes[at] = static_cast<char>(rng.integer(0, 255));
            break;
          case 2:  // extreme byte (size fields)
            bytes[at] = static_cast<char>(rng.bernoulli(0.5) ? 0xFF : 0x7F);
            break;
          default:  // delete a byte
            bytes.erase(at, 1);
        }
      }
      try_load(bytes, outcome);
    }
  }
  INFO("loaded " << outcome.loaded << ", rejected " << outcome.rejected);
  CHECK(outcome.loaded + outcome.rejected == 4500);
  CHECK(outcome.rejected > 0);
  CHECK(outcome.loaded > 0);  // many changes hit tensor data only
}

TEST_CASE("random garbage and pickle-opcode soup fail cleanly", "[io][fuzz]") {
  wtp::Rng rng(7);
  Outcome outcome;
  const std::string opcodes = "()}]NKJMXqhQRbtsuae.\x80\x85\x86\x87\x88\x89\x8a\x8c\x93\x94\x95";
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bytes;
    if (trial % 2 == 0) {
      // A plausible legacy header followed by random opcodes with random arguments.
      bytes = kLegacyHeader;
      int n = static_cast<int>(rng.integer(1, 200));
      for (int i = 0; i < n; ++i) {
        bytes += opcodes[static_cast<std::size_t>(
            rng.integer(0, static_cast<int64_t>(opcodes.size()) - 1))];
        if (rng.bernoulli(0.5)) bytes += static_cast<char>(rng.integer(0, 255));
      }
    } else {
      bytes = "PK\x03\x04";
      int n = static_cast<int>(rng.integer(0, 300));
      for (int i = 0; i < n; ++i) bytes += static_cast<char>(rng.integer(0, 255));
    }
    try_load(bytes, outcome);
  }
  CHECK(outcome.loaded + outcome.rejected == 2000);
}

TEST_CASE("deep nesting and self-reference are rejected, not crashed on", "[io][fuzz]") {
  // 100000 nested lists: ] ] ] ... a a a .
  std::string deep = "\x80\x02";
  for (int i = 0; i < 100000; ++i) deep += ']';
  for (int i = 0; i < 99999; ++i) deep += 'a';
  deep += '.';
  CHECK_THROWS_WITH(wtp::io::load_pickle_bytes(deep, "deep.pkl"),
                    Catch::Contains("deep.pkl") && Catch::Contains("nested deeper"));
  // A list that contains itself: ] q0 h0 a .
  std::string cycle =
      lit("\x80\x02]q\x00h\x00"
          "a.");
  CHECK_THROWS_WITH(wtp::io::load_pickle_bytes(cycle, "cycle.pkl"),
                    Catch::Contains("cycle.pkl") && Catch::Contains("cycle"));
  // Copy amplification: set(L) called 20000 times on one 2000-element list L.
  std::string amplify = lit("\x80\x02]q\x01(");
  for (int i = 0; i < 2000; ++i) amplify += lit("K\x01");
  amplify +=
      lit("e"
          "cbuiltins\nset\nq\x02");
  for (int i = 0; i < 20000; ++i) amplify += lit("h\x02h\x01\x85R0");
  amplify += '.';
  CHECK_THROWS_WITH(wtp::io::load_pickle_bytes(amplify, "amplify.pkl"),
                    Catch::Contains("amplify.pkl") && Catch::Contains("copies far more"));
  // A legacy file whose storage claims 2^60 elements: rejected before any allocation.
  std::string huge = kLegacyHeader +
                     lit("\x80\x02"
                         "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storage"
                         "ctorch\nFloatStorage\nX\x01\x00\x00\x00"
                         "0X\x03\x00\x00\x00"
                         "cpu"
                         "\x8a\x08\x00\x00\x00\x00\x00\x00\x00\x10Ntq\x00QK\x00K\x01\x85K\x01\x85"
                         "\x89}tR.") +
                     lit("\x80\x02]X\x01\x00\x00\x00"
                         "0a.") +
                     lit("\x00\x00\x00\x00\x00\x00\x00\x10"
                         "abcd");
  CHECK_THROWS_WITH(wtp::io::load_torch_bytes(huge, "huge.pt"),
                    Catch::Contains("huge.pt") && Catch::Contains("truncated"));
}
