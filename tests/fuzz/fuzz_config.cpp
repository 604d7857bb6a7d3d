// libFuzzer target: the YAML config reader and the strict decoder. The input is split at
// NUL bytes: part 1 is main.yaml, part 2 base.yaml (which main.yaml may `include:`), every
// further part one `--set` assignment. The merged tree is decoded strictly into an options
// struct with every kind of field (unknown keys, wrong types, out-of-range numbers, enums),
// and written back as YAML. Seeds: tests/fuzz/corpus/config/.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/config.h"
#include "fuzz_support.h"

namespace {

enum class Mode { kFast, kSlow };
WTP_ENUM_NAMES(Mode, {Mode::kFast, "fast"}, {Mode::kSlow, "slow"})

struct Stage {
  std::string name;
  std::int64_t epochs = 1;
  double lr = 0.1;
  template <class V>
  void visit(V& v) {
    v("name", name, "stage name");
    v("epochs", epochs, "epochs");
    v("lr", lr, "learning rate");
  }
  void validate() const { wtp::require(epochs >= 0, "epochs must be >= 0"); }
};

struct Options {
  bool flag = false;
  int small = 0;
  std::uint64_t big = 0;
  float ratio = 0.5f;
  Mode mode = Mode::kFast;
  std::vector<Stage> stages;
  std::optional<std::vector<int>> ks;
  std::map<std::string, double> weights;
  wtp::config::Component model;
  wtp::config::Node raw;
  template <class V>
  void visit(V& v) {
    v("flag", flag, "a bool");
    v("small", small, "an int");
    v("big", big, "an unsigned 64-bit int");
    v("ratio", ratio, "a float");
    v("mode", mode, "an enum");
    v("stages", stages, "a list of structs");
    v("ks", ks, "an optional list");
    v("weights", weights, "a map");
    v("model", model, "a component");
    v("raw", raw, "a raw node");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace config = wtp::config;
  const auto parts = wtp::fuzz::split_parts(wtp::fuzz::as_text(data, size), 8);
  const auto& dir = wtp::fuzz::scratch_dir();
  wtp::fuzz::write_file(dir / "main.yaml", parts[0]);
  wtp::fuzz::write_file(dir / "base.yaml", parts.size() > 1 ? parts[1] : std::string_view());
  try {
    auto root = config::load_file((dir / "main.yaml").string());
    for (std::size_t i = 2; i < parts.size(); ++i)
      config::apply_override(root, std::string(parts[i]));
    auto options = config::decode<Options>(root);
    (void)config::to_yaml(config::encode(options));
    (void)config::to_yaml(root);
  } catch (const std::runtime_error&) {
  }
  return 0;
}
