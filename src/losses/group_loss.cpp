#include "losses/group_loss.h"

#include <map>
#include <vector>

#include "core/log.h"

namespace wtp::losses {

torch::Tensor pearson_similarity(const torch::Tensor& x) {
  detail::check_float(x, "group_loss", "the embeddings", 2);
  require(x.size(1) >= 2,
          "group_loss: the embeddings need at least 2 features for a correlation, got " +
              detail::shape_string(x));
  const torch::Tensor centred = x - x.mean(1, /*keepdim=*/true);
  const torch::Tensor norms = centred.norm(2, 1).clamp_min(1e-12);
  const torch::Tensor cosine = centred.mm(centred.t()) / norms.unsqueeze(1) / norms.unsqueeze(0);
  const torch::Tensor eye = torch::eye(x.size(0), x.options());
  return torch::relu(cosine) * (1 - eye) + eye;
}

torch::Tensor labelled_anchor_mask(const torch::Tensor& labels, int64_t k) {
  const torch::Tensor cpu = labels.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* y = cpu.data_ptr<int64_t>();
  torch::Tensor mask = torch::zeros({cpu.size(0)}, torch::kBool);
  bool* m = mask.data_ptr<bool>();
  std::map<int64_t, int64_t> seen;
  for (int64_t i = 0; i < cpu.size(0); ++i) m[i] = seen[y[i]]++ < k;
  return mask.to(labels.device());
}

torch::Tensor replicator_dynamics(const torch::Tensor& W, torch::Tensor X, int64_t iterations) {
  for (int64_t i = 0; i < iterations; ++i) {
    X = X * W.mm(X);
    X = X / X.sum(1, /*keepdim=*/true);
  }
  return X;
}

GroupLossTerms group_loss_terms(const torch::Tensor& embeddings, const torch::Tensor& logits,
                                const torch::Tensor& labels, const GroupLossOptions& options) {
  options.validate();
  detail::check_float(embeddings, "group_loss", "the embeddings", 2);
  detail::check_float(logits, "group_loss", "the logits", 2);
  require(embeddings.size(0) == logits.size(0),
          "group_loss: embeddings and logits must have one row per sample, got " +
              detail::shape_string(embeddings) + " and " + detail::shape_string(logits));
  require(embeddings.scalar_type() == logits.scalar_type(),
          "group_loss: embeddings and logits must have the same dtype");
  const int64_t batch = logits.size(0);
  const int64_t classes = logits.size(1);
  const torch::Tensor y = detail::class_labels(labels, batch, classes, "group_loss");

  GroupLossTerms out;
  out.anchors = labelled_anchor_mask(y, options.labelled_per_class);
  out.all_anchors = batch > 0 && out.anchors.all().item<bool>();

  const torch::Tensor W = pearson_similarity(embeddings);
  const torch::Tensor priors = torch::softmax(logits / options.temperature, 1);
  const torch::Tensor one_hot = torch::one_hot(y, classes).to(logits.scalar_type());
  const torch::Tensor X0 = torch::where(out.anchors.unsqueeze(1), one_hot, priors);
  out.probabilities = replicator_dynamics(W, X0, options.iterations);

  const torch::Tensor log_x = torch::log(out.probabilities + 1e-12);
  const torch::Tensor group = -log_x.gather(1, y.unsqueeze(1)).squeeze(1);
  const torch::Tensor ce = -torch::log_softmax(logits, 1).gather(1, y.unsqueeze(1)).squeeze(1);
  out.loss = reduce(options.scaling * group + ce, options.reduction);
  out.group = reduce(group, options.reduction);
  out.ce = reduce(ce, options.reduction);
  return out;
}

torch::Tensor group_loss(const torch::Tensor& embeddings, const torch::Tensor& logits,
                         const torch::Tensor& labels, const GroupLossOptions& options) {
  return group_loss_terms(embeddings, logits, labels, options).loss;
}

GroupLossImpl::GroupLossImpl(GroupLossOptions options) : options_(options) { options_.validate(); }

torch::Tensor GroupLossImpl::forward(const torch::Tensor& embeddings, const torch::Tensor& logits,
                                     const torch::Tensor& labels) {
  return terms(embeddings, logits, labels).loss;
}

GroupLossTerms GroupLossImpl::terms(const torch::Tensor& embeddings, const torch::Tensor& logits,
                                    const torch::Tensor& labels) {
  GroupLossTerms out = group_loss_terms(embeddings, logits, labels, options_);
  if (out.all_anchors && !warned_) {
    warned_ = true;
    log::warn("group_loss: every sample of the batch is a labelled anchor (labelled_per_class = ",
              options_.labelled_per_class,
              " >= images per class), so the group term is constant and only cross-entropy "
              "trains; use more images per class than labelled_per_class");
  }
  return out;
}

}  // namespace wtp::losses
