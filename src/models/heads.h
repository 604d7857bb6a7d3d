#pragma once
/// Heads that wrap any backbone from the model registry. The backbone is registered as
/// `backbone`, so backbone weights load with `LoadOptions::add_prefix = "backbone."` and
/// freeze(model, {"backbone"}) freezes it.
#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "models/embedding_model.h"
#include "models/freeze.h"

namespace wtp::models {

/// Siamese pair classifier trained with BCE (the old InceptionResnetV1 Siamese model).
/// Branch (shared by both sides): backbone embedding -> `branch` [Linear(D -> branch_dim),
/// PReLU, BatchNorm1d]. Pair head on |e1 - e2|: `pair` [Linear(branch_dim -> pair_dim),
/// PReLU, BatchNorm1d, Dropout] -> Linear(pair_dim -> 1) = logit, 1 = different.
/// The old model cut facenet after the average pool (1792-d): use
/// `backbone: {name: inception_resnet_v1, embedding_dim: 0, normalize: false}` for that.
struct SiameseBceOptions {
  /// Backbone model (any registry name with its options).
  config::Component backbone{"inception_resnet_v1", {}};
  std::int64_t branch_dim = 1024;  ///< width of the shared branch FC
  std::int64_t pair_dim = 512;     ///< width of the pair head's hidden FC
  double dropout = 0.02;           ///< dropout in the pair head
  bool freeze_backbone = true;     ///< freeze the backbone (weights and BatchNorm statistics)
  std::int64_t seed = 0;           ///< seed of the head's weight initialisation

  template <class V>
  void visit(V& v) {
    v("backbone", backbone, "backbone model (registry name and options)");
    v("branch_dim", branch_dim, "width of the shared branch FC");
    v("pair_dim", pair_dim, "width of the pair head's hidden FC");
    v("dropout", dropout, "dropout in the pair head");
    v("freeze_backbone", freeze_backbone, "freeze the backbone (weights and BN statistics)");
    v("seed", seed, "seed of the head's weight initialisation");
  }
  void validate() const;
};

class SiameseBceImpl : public EmbeddingModelImpl {
 public:
  SiameseBceImpl(const SiameseBceOptions& options, EmbeddingModel backbone);
  /// images [N, 3, H, W] -> embedding = branch output [N, branch_dim]; logits undefined.
  ModelOutput forward(const torch::Tensor& images) override;
  /// Logits [N] of N pairs from branch embeddings a, b [N, branch_dim] (1 = different).
  torch::Tensor pair_logits(const torch::Tensor& a, const torch::Tensor& b) override;
  /// Both sides in one batch (so BatchNorm sees 2N samples): [N, 3, H, W] x 2 -> [N].
  torch::Tensor forward_pair(const torch::Tensor& left, const torch::Tensor& right);
  std::string name() const override { return "siamese_bce"; }
  InputSpec input_spec() const override { return backbone_->input_spec(); }
  std::int64_t embedding_dim() const override { return options_.branch_dim; }
  bool has_pair_head() const override { return true; }
  EmbeddingModel backbone() const { return backbone_; }

 private:
  SiameseBceOptions options_;
  EmbeddingModel backbone_{nullptr};
  torch::nn::Sequential branch_{nullptr};
  torch::nn::Sequential pair_{nullptr};
};
TORCH_MODULE(SiameseBce);

/// The classifier of an embedding head.
///  - linear: Linear(embedding_dim -> num_classes) with bias, on the (normalised) embedding.
///  - cosine: a normalised-weight head, no bias: the cosines between the L2-normalised
///    embedding and the L2-normalised rows of `classifier.weight` (the class centres), in
///    [-1, 1]; what the margin losses (arcface, cosface) and proxy_anchor read.
enum class ClassifierKind { kLinear, kCosine };
WTP_ENUM_NAMES(ClassifierKind, {ClassifierKind::kLinear, "linear"},
               {ClassifierKind::kCosine, "cosine"})

/// Embedding / classifier head: backbone embedding -> optional `projection`
/// Linear(D -> embedding_dim) -> optional L2 normalisation -> optional `classifier`
/// (ClassifierKind) on the (normalised) embedding.
struct EmbeddingHeadOptions {
  config::Component backbone{"bn_inception", {}};  ///< backbone model
  std::int64_t embedding_dim = 0;  ///< projection size; 0 = no projection (backbone's D)
  std::int64_t num_classes = 0;    ///< classifier classes; 0 = no classifier
  ClassifierKind classifier = ClassifierKind::kLinear;  ///< linear or cosine
  bool normalize = false;                               ///< L2-normalise the embedding
  bool freeze_backbone = false;                         ///< freeze the backbone
  std::int64_t seed = 0;  ///< seed of the head's weight initialisation

  template <class V>
  void visit(V& v) {
    v("backbone", backbone, "backbone model (registry name and options)");
    v("embedding_dim", embedding_dim, "projection size; 0 = none");
    v("num_classes", num_classes, "classifier classes; 0 = none");
    v("classifier", classifier, "linear, or cosine (normalised weights: arcface, cosface, ...)");
    v("normalize", normalize, "L2-normalise the embedding");
    v("freeze_backbone", freeze_backbone, "freeze the backbone");
    v("seed", seed, "seed of the head's weight initialisation");
  }
  void validate() const;
};

class EmbeddingHeadImpl : public EmbeddingModelImpl {
 public:
  EmbeddingHeadImpl(const EmbeddingHeadOptions& options, EmbeddingModel backbone);
  /// images -> embedding [N, embedding_dim()], logits [N, num_classes] or undefined.
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "embedding_head"; }
  InputSpec input_spec() const override { return backbone_->input_spec(); }
  std::int64_t embedding_dim() const override;
  std::int64_t num_classes() const override { return options_.num_classes; }
  EmbeddingModel backbone() const { return backbone_; }

 private:
  EmbeddingHeadOptions options_;
  EmbeddingModel backbone_{nullptr};
  torch::nn::Linear projection_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(EmbeddingHead);

/// Liveness (eyes closed) head: backbone embedding -> `classifier` Linear(D -> 1);
/// logits [N], sigmoid = probability that the eyes are closed.
struct LivenessOptions {
  config::Component backbone{"bn_inception", {}};  ///< backbone model
  bool freeze_backbone = true;  ///< freeze the backbone (weights and BatchNorm statistics)
  std::int64_t seed = 0;        ///< seed of the head's weight initialisation

  template <class V>
  void visit(V& v) {
    v("backbone", backbone, "backbone model (registry name and options)");
    v("freeze_backbone", freeze_backbone, "freeze the backbone (weights and BN statistics)");
    v("seed", seed, "seed of the head's weight initialisation");
  }
};

class LivenessImpl : public EmbeddingModelImpl {
 public:
  LivenessImpl(const LivenessOptions& options, EmbeddingModel backbone);
  /// images -> embedding = backbone embedding [N, D], logits [N] (1 = eyes closed).
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "liveness"; }
  InputSpec input_spec() const override { return backbone_->input_spec(); }
  std::int64_t embedding_dim() const override { return backbone_->embedding_dim(); }
  std::int64_t num_classes() const override { return 1; }
  EmbeddingModel backbone() const { return backbone_; }

 private:
  LivenessOptions options_;
  EmbeddingModel backbone_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};
TORCH_MODULE(Liveness);

}  // namespace wtp::models
