#pragma once
/// The datasets of a training run: the configured source split into train/valid/test
/// (identity-disjoint by default, the file lists kept in the run directory so a resumed
/// run or a later evaluation sees exactly the same split), or separate valid/test datasets.
#include <cstdint>
#include <filesystem>
#include <vector>

#include "data/dataset.h"
#include "train/train_config.h"

namespace wtp::train {

struct RunData {
  data::Dataset train, valid, test;  ///< labels compacted to 0..classes-1 per split
  bool has_valid = false;            ///< valid has at least 2 images
  bool has_test = false;             ///< test has at least 2 images
};

/// Loads the run's datasets. Generates the synthetic data first when `cfg.synth` asks for
/// it and it is absent, then aligns `cfg.align`'s folder (resuming an earlier alignment). If
/// `split_file` exists and `reuse_split` is set, the split is read from it (UsageError if it names
/// images the dataset lacks); otherwise it is drawn from `cfg.data.split` and written there.
/// Training identities with fewer than `cfg.data.min_images` images are dropped. Throws UsageError
/// when the training split is empty.
RunData load_run_data(const TrainConfig& cfg, const std::filesystem::path& split_file,
                      bool reuse_split);

/// The training label of every item of `ds`: its identity, or its eye state (UsageError
/// naming the file when an item has none).
std::vector<std::int64_t> item_labels(const data::Dataset& ds, LabelKind kind);

}  // namespace wtp::train
