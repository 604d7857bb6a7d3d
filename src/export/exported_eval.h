#pragma once
/// Using an archive written by wtp-export from wtp itself (`wtp-eval --model model.ts`):
/// a summary for people, and embeddings of an image folder through the archive alone (its
/// forward_uint8), so a deployed file can be evaluated like a checkpoint.
#include <cstdint>
#include <filesystem>
#include <string>
#include <torch/torch.h>

#include "data/dataset.h"
#include "export/export_model.h"

namespace wtp::exporter {

/// A few lines describing an archive: what it computes, model, input size, colour order and
/// normalisation, embedding size, thresholds, methods, versions.
std::string describe_exported(const LoadedModel& model);

/// Embeddings [N, D] (float, CPU) of every image of `ds`, in order, by the embedding
/// archive's forward_uint8: each image read as RGB and resized (bilinear, as the `resize`
/// transform) to the archive's input size, `batch_size` images at a time.
/// Throws UsageError when the archive is not an embedding archive, std::runtime_error
/// (naming the file) for an unreadable image.
torch::Tensor embed_dataset(LoadedModel& model, const data::Dataset& ds,
                            std::int64_t batch_size = 32, bool progress = true);

/// `wtp-eval --model M --images DIR`: the embedding archive's embeddings of the image folder
/// `images` (one sub-folder per identity) written as embeddings.npy and its labels beside
/// the report path `report_out` (see eval::report_path), for evaluation as --embeddings.
/// Returns the .npy path.
std::filesystem::path write_folder_embeddings(LoadedModel& model, const std::string& images,
                                              const std::string& report_out);

}  // namespace wtp::exporter
