#include "train/trained_model.h"

#include "core/device.h"
#include "core/error.h"
#include "models/model_registry.h"

namespace wtp::train {
namespace fs = std::filesystem;

TrainedModel load_trained_model(const std::string& checkpoint, const std::string& device) {
  if (!fs::exists(checkpoint))
    throw UsageError("checkpoint '" + checkpoint +
                     "' does not exist (a run keeps RUN_DIR/checkpoints/best.pt and last.pt)");
  TrainedModel out;
  try {
    out.state = read_checkpoint_state(checkpoint);
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string(e.what()) +
                     " (a torch.save file can start a run through init.checkpoint instead)");
  }
  out.config_node = config::parse(out.state.config_yaml, checkpoint + ":config");
  out.config = decode_train_config(out.config_node);
  if (!device.empty()) out.config.device = device;
  out.run_dir = fs::path(checkpoint).parent_path().parent_path();
  out.model = models::model_registry().create(out.config.model);
  out.model->to(parse_device(out.config.device));
  load_checkpoint(checkpoint, *out.model, nullptr);
  out.model->eval();
  return out;
}

}  // namespace wtp::train
