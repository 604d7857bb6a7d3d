#include "train/run_data.h"

#include <algorithm>

#include "align/align_folder.h"
#include "core/error.h"
#include "core/log.h"
#include "data/dataset_registry.h"
#include "data/split.h"
#include "synth/synth_faces.h"

namespace wtp::train {
namespace fs = std::filesystem;

RunData load_run_data(const TrainConfig& cfg, const fs::path& split_file, bool reuse_split) {
  if (cfg.synth && !fs::exists(fs::path(cfg.synth->out) / "landmarks.csv")) {
    log::info("generating synthetic data in ", cfg.synth->out);
    synth::run_synth(*cfg.synth);
  }
  if (cfg.align) {
    const align::AlignSummary s = align::run_align(*cfg.align);
    if (s.processed > 0)
      log::info("aligned ", s.processed, " images of ", cfg.align->input, " into ",
                cfg.align->output, " (", s.with_face, " with a face)");
  }
  data::Dataset source = data::dataset_registry().create(cfg.data.dataset);
  data::Split split;
  if (reuse_split && fs::exists(split_file)) {
    split = data::read_split(split_file, source);
  } else {
    split = data::split_dataset(source, cfg.data.split);
    std::string options = config::to_yaml(config::encode(cfg.data.split));
    std::replace(options.begin(), options.end(), '\n', ' ');
    data::write_split(split_file, source, split, "split of " + source.name() + ": " + options);
  }
  RunData out;
  out.train = source.subset(split.train, data::Relabel::kCompact);
  if (cfg.data.label == LabelKind::kIdentity && cfg.data.min_images > 1)
    out.train = out.train.with_min_images(cfg.data.min_images);
  require(out.train.size() > 0,
          "the training split is empty: check data.split and data.min_images");
  out.valid = cfg.data.valid ? data::dataset_registry().create(*cfg.data.valid)
                             : source.subset(split.valid, data::Relabel::kCompact);
  out.test = cfg.data.test ? data::dataset_registry().create(*cfg.data.test)
                           : source.subset(split.test, data::Relabel::kCompact);
  out.has_valid = out.valid.size() >= 2;
  out.has_test = out.test.size() >= 2;
  return out;
}

std::vector<std::int64_t> item_labels(const data::Dataset& ds, LabelKind kind) {
  if (kind == LabelKind::kIdentity) return ds.labels();
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(ds.size()));
  for (std::int64_t i = 0; i < ds.size(); ++i) {
    const auto& item = ds.item(i);
    if (!item.eye_state)
      throw UsageError("data.label is eye_state but '" + item.file + "' of dataset '" + ds.name() +
                       "' has no eye state (use the cew dataset)");
    out.push_back(*item.eye_state);
  }
  return out;
}

}  // namespace wtp::train
