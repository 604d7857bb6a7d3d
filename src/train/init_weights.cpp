#include "train/init_weights.h"

#include <filesystem>
#include <regex>

#include "core/error.h"
#include "download/catalogue.h"
#include "io/torch_file.h"
#include "train/checkpoint.h"

namespace wtp::train {
namespace fs = std::filesystem;

void check_init_file(const InitOptions& init) {
  if (init.checkpoint.empty() || fs::exists(init.checkpoint)) return;
  std::string message = "init.checkpoint '" + init.checkpoint + "' does not exist";
  if (const auto command = download::download_command(init.checkpoint))
    message += ": run `" + *command + "` first";
  else
    message +=
        " (give a wtp checkpoint or a torch.save file, or init.checkpoint: \"\" to start "
        "from random weights)";
  throw UsageError(message);
}

models::LoadReport load_init_weights(const InitOptions& init, torch::nn::Module& model) {
  check_init_file(init);
  models::NamedTensors source;
  try {
    source = read_checkpoint_tensors(init.checkpoint);
  } catch (const std::runtime_error&) {
    const io::TorchFile file = io::load_torch_file(init.checkpoint);
    source = io::named_tensors(file.root());
  }
  std::vector<std::regex> ignore;
  for (const auto& pattern : init.ignore) ignore.emplace_back(pattern);
  models::NamedTensors selected;
  for (auto& [name, tensor] : source) {
    if (name.rfind(init.source_prefix, 0) != 0) continue;
    const std::string rest = name.substr(init.source_prefix.size());
    bool dropped = false;
    for (const auto& re : ignore) dropped = dropped || std::regex_search(rest, re);
    if (!dropped) selected.emplace_back(init.target_prefix + rest, tensor);
  }
  require(!selected.empty(), "init.checkpoint '" + init.checkpoint + "' has no tensor under '" +
                                 init.source_prefix + "'");
  models::LoadOptions options;
  options.auto_prefix = false;
  options.strictness = models::Strictness::kLenient;
  auto report = models::load_weights(model, selected, options);
  if (init.strict) {
    for (const auto& missing : report.missing)
      require(missing.rfind(init.target_prefix, 0) != 0,
              "init: '" + missing + "' has no tensor in '" + init.checkpoint +
                  "' (set init.strict: false to allow)");
    require(report.unexpected.empty(),
            "init: '" + init.checkpoint + "' has tensors the model lacks, e.g. '" +
                (report.unexpected.empty() ? "" : report.unexpected[0]) +
                "' (adjust init.source_prefix/target_prefix or leave them out with init.ignore)");
  }
  return report;
}

}  // namespace wtp::train
