#pragma once
/// TorchScript export of wtp models for deployment (`wtp-export`): a self-contained archive
/// that `torch::jit::load` (C++) or `torch.jit.load` (Python) runs without wtp.
///
/// Methods of an archive, by ExportKind (N any batch size, S = input.height/width of
/// meta.json):
///   embedding  forward(images)               float [N, 3, S, S] -> L2-normalised [N, D]
///              forward_uint8(images)         uint8 [N, S, S, 3] RGB 0-255 -> the same
///   siamese    forward(left, right)          float [N, 3, S, S] x 2 -> pair logit [N]
///              forward_uint8(left, right)    uint8 [N, S, S, 3] x 2 -> the same
///                                            (sigmoid(logit) = probability "different")
///   liveness   forward(images)               float [N, 3, S, S] -> P(eyes closed) [N]
///              forward_uint8(images)         uint8 [N, S, S, 3] -> the same
///   detector   pnet(x) -> (regression [N, 4, H', W'], probabilities [N, 2, H', W']), any
///              H, W >= 12; rnet(x) on [N, 3, 24, 24] -> (regression [N, 4], probs [N, 2]);
///              onet(x) on [N, 3, 48, 48] -> (regression [N, 4], landmarks [N, 10],
///              probs [N, 2]); x = (v - 127.5) * 0.0078125 of RGB values v; and
///              pnet_uint8 / rnet_uint8 / onet_uint8 taking uint8 [N, H, W, 3] RGB.
/// The float input of forward is what the model consumes, i.e. what the data pipeline
/// produces: out[c] = (v * scale - mean[c]) / std[c] for the 8-bit value v of channel c, in
/// meta.json's input.color_order (RGB for every preset except caffe, which is BGR), with
/// scale/mean/std in input.normalization. The uint8 methods take RGB images (whatever the
/// model's channel order) and normalise inside, so a deployment only aligns and resizes.
///
/// Metadata: the TorchScript extra file `meta.json` (torch.jit.load(path, _extra_files=
/// {"meta.json": ""}) in Python; read_meta() here). Integrity: LibTorch does not check the
/// zip CRCs when loading, so meta.json records `content_md5` (MD5 over the names and bytes
/// of every other record) and the extra file `meta.md5` holds the MD5 of meta.json;
/// load_exported() checks both, so a damaged or edited archive fails with a clear error.
///
/// Parameters keep their C++ names (`backbone.cnn.0.weight`, ...); in a detector archive the
/// networks' weights are under pnet_layers / rnet_layers / onet_layers.
///
/// Every export is checked: the archive is written to a temporary file, reloaded with
/// torch::jit::load and run on seeded sample images at every check batch size; each output
/// must match the C++ model within `tolerance` (max abs) or the export fails and nothing is
/// written at `path`.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <torch/script.h>
#include <vector>

#include "align/mtcnn.h"
#include "core/config.h"
#include "models/embedding_model.h"
#include "models/export_kind.h"

namespace wtp::exporter {

/// What an archive computes (see the top of this file).
using models::ExportKind;

/// Version of the meta.json layout (bumped when a key changes meaning).
constexpr int kMetaFormatVersion = 1;

struct ExportOptions {
  ExportKind what = ExportKind::kEmbedding;           ///< what the archive computes
  std::vector<std::int64_t> check_batch_sizes{1, 3};  ///< batch sizes checked after reload
  double tolerance = 1e-5;                            ///< max abs difference allowed
  std::uint64_t seed = 0;                             ///< seed of the sample images
};

/// What an export wrote and measured.
struct ExportReport {
  std::string path;                  ///< the archive
  std::vector<std::string> methods;  ///< methods it has, e.g. forward, forward_uint8
  double max_abs_diff = 0.0;         ///< largest difference over every check
  nlohmann::json meta;               ///< the meta.json written
};

/// Exports `model` (put in eval mode, on the CPU) as options.what (kEmbedding, kSiamese or
/// kLiveness) to `path`. `extra_meta` (a JSON object, e.g. thresholds and the run's config
/// hash) is merged into the meta.json the exporter writes (model, input, normalisation,
/// embedding_size, methods, liveness decision rule, version): its keys win, and an object
/// under a key the exporter also writes as an object (liveness) is merged key by key. A
/// liveness open_threshold/closed_threshold pair given there also becomes the blink rule's. Throws
/// UsageError when the model cannot be exported as that kind (siamese needs a pair head, liveness a
/// single logit), std::runtime_error when tracing or the check fails (nothing is left at `path`).
ExportReport export_model(models::EmbeddingModel model, const std::string& path,
                          const ExportOptions& options,
                          const nlohmann::json& extra_meta = nlohmann::json::object());

/// Exports MTCNN's three networks (ExportKind::kDetector; see the top of this file) to
/// `path`, checked against their C++ forward like export_model.
ExportReport export_detector(align::MtcnnNets& nets, const std::string& path,
                             const ExportOptions& options,
                             const nlohmann::json& extra_meta = nlohmann::json::object());

/// An archive back from disk.
struct LoadedModel {
  torch::jit::Module module;  ///< in eval mode
  nlohmann::json meta;        ///< its meta.json
};

/// Loads an archive written by export_model/export_detector. Throws UsageError when the
/// file is missing or is not a readable wtp TorchScript archive (truncated, modified, another
/// kind of file, or a TorchScript file without wtp's meta.json), naming the file and saying
/// to export it again.
LoadedModel load_exported(const std::string& path);

/// meta.json of an archive without loading its code (UsageError as load_exported()).
nlohmann::json read_meta(const std::string& path);

/// The input spec recorded in `meta` (input size and normalisation preset).
models::InputSpec input_spec_from_meta(const nlohmann::json& meta);

}  // namespace wtp::exporter
