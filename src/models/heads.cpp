#include "models/heads.h"

#include "core/error.h"
#include "core/random.h"

namespace wtp::models {

namespace {

EmbeddingModel checked(EmbeddingModel backbone, const char* head) {
  if (!backbone) throw std::invalid_argument(std::string(head) + ": backbone is null");
  return backbone;
}

}  // namespace

void SiameseBceOptions::validate() const {
  require(branch_dim > 0, "siamese_bce.branch_dim must be > 0");
  require(pair_dim > 0, "siamese_bce.pair_dim must be > 0");
  require(dropout >= 0 && dropout < 1, "siamese_bce.dropout must be in [0, 1)");
}

SiameseBceImpl::SiameseBceImpl(const SiameseBceOptions& options, EmbeddingModel backbone)
    : options_(options), backbone_(checked(std::move(backbone), "siamese_bce")) {
  options_.validate();
  register_module("backbone", backbone_);
  branch_ = torch::nn::Sequential(
      torch::nn::Linear(backbone_->embedding_dim(), options_.branch_dim), torch::nn::PReLU(),
      FreezableBatchNorm1d(torch::nn::BatchNormOptions(options_.branch_dim)));
  pair_ = torch::nn::Sequential(
      torch::nn::Linear(options_.branch_dim, options_.pair_dim), torch::nn::PReLU(),
      FreezableBatchNorm1d(torch::nn::BatchNormOptions(options_.pair_dim)),
      FreezableDropout(torch::nn::DropoutOptions(options_.dropout)),
      torch::nn::Linear(options_.pair_dim, 1));
  register_module("branch", branch_);
  register_module("pair", pair_);
  init_default(*branch_, static_cast<std::uint64_t>(options_.seed));
  init_default(*pair_, mix_seed(static_cast<std::uint64_t>(options_.seed), 1));
  if (options_.freeze_backbone) freeze(*this, {"backbone"});
}

ModelOutput SiameseBceImpl::forward(const torch::Tensor& images) {
  return {branch_->forward(backbone_->forward(images).embedding), torch::Tensor()};
}

torch::Tensor SiameseBceImpl::pair_logits(const torch::Tensor& a, const torch::Tensor& b) {
  TORCH_CHECK(a.sizes() == b.sizes() && a.dim() == 2 && a.size(1) == options_.branch_dim,
              "siamese_bce.pair_logits expects two [N, ", options_.branch_dim, "] embeddings, got ",
              a.sizes(), " and ", b.sizes());
  return pair_->forward((a - b).abs()).squeeze(1);
}

torch::Tensor SiameseBceImpl::forward_pair(const torch::Tensor& left, const torch::Tensor& right) {
  TORCH_CHECK(left.sizes() == right.sizes(),
              "siamese_bce.forward_pair: both sides must have the same shape, got ", left.sizes(),
              " and ", right.sizes());
  auto e = forward(torch::cat({left, right}, 0)).embedding;
  const auto n = left.size(0);
  return pair_logits(e.narrow(0, 0, n), e.narrow(0, n, n));
}

void EmbeddingHeadOptions::validate() const {
  require(embedding_dim >= 0, "embedding_head.embedding_dim must be >= 0 (0 = no projection)");
  require(num_classes >= 0, "embedding_head.num_classes must be >= 0 (0 = no classifier)");
}

EmbeddingHeadImpl::EmbeddingHeadImpl(const EmbeddingHeadOptions& options, EmbeddingModel backbone)
    : options_(options), backbone_(checked(std::move(backbone), "embedding_head")) {
  options_.validate();
  register_module("backbone", backbone_);
  if (options_.embedding_dim > 0)
    projection_ = register_module(
        "projection", torch::nn::Linear(backbone_->embedding_dim(), options_.embedding_dim));
  if (options_.num_classes > 0)
    classifier_ = register_module(
        "classifier",
        torch::nn::Linear(torch::nn::LinearOptions(embedding_dim(), options_.num_classes)
                              .bias(options_.classifier == ClassifierKind::kLinear)));
  if (projection_) init_default(*projection_, static_cast<std::uint64_t>(options_.seed));
  if (classifier_)
    init_default(*classifier_, mix_seed(static_cast<std::uint64_t>(options_.seed), 1));
  if (options_.freeze_backbone) freeze(*this, {"backbone"});
}

std::int64_t EmbeddingHeadImpl::embedding_dim() const {
  return options_.embedding_dim > 0 ? options_.embedding_dim : backbone_->embedding_dim();
}

ModelOutput EmbeddingHeadImpl::forward(const torch::Tensor& images) {
  auto x = backbone_->forward(images).embedding;
  if (projection_) x = projection_->forward(x);
  if (options_.normalize) x = l2_normalize(x);
  ModelOutput out{x, torch::Tensor()};
  if (classifier_ && options_.classifier == ClassifierKind::kCosine)
    out.logits = torch::nn::functional::linear(l2_normalize(x), l2_normalize(classifier_->weight));
  else if (classifier_)
    out.logits = classifier_->forward(x);
  return out;
}

LivenessImpl::LivenessImpl(const LivenessOptions& options, EmbeddingModel backbone)
    : options_(options), backbone_(checked(std::move(backbone), "liveness")) {
  register_module("backbone", backbone_);
  classifier_ = register_module("classifier", torch::nn::Linear(backbone_->embedding_dim(), 1));
  init_default(*classifier_, static_cast<std::uint64_t>(options_.seed));
  if (options_.freeze_backbone) freeze(*this, {"backbone"});
}

ModelOutput LivenessImpl::forward(const torch::Tensor& images) {
  auto e = backbone_->forward(images).embedding;
  return {e, classifier_->forward(e).squeeze(1)};
}

}  // namespace wtp::models
