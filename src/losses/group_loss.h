#pragma once
/// The Group Loss for deep metric learning (Elezi, Vascon, Torcinovich, Pelillo and
/// Leal-Taixe, ECCV 2020), following the official implementation (dvl-tum/group_loss:
/// gtg.py, dynamics.py, data_utility.get_labeled_and_unlabeled_points, train.py).
///
/// For a batch of embeddings x [B, D] (not L2-normalised) and class logits z [B, C]:
///  1. W = ReLU(Pearson correlation of the rows of x): each row is centred by its own mean
///     over the D features, then W_ij = cosine(row_i, row_j). The diagonal is 1.
///  2. Priors X0 = softmax(z / T), except for the "labelled anchors", the first k samples
///     of each class in batch order, whose X0 row is the one-hot label.
///  3. Replicator dynamics, `iterations` times: X <- X * (W X), then each row divided by
///     its sum.
///  4. loss = scaling * NLL(log(X + 1e-12), y) + CE(z, y).
/// The official training runs 1 iteration (its GTG class default is 5) with scaling 1.
///
/// Anchors keep their one-hot rows through the dynamics, so they add a constant
/// (log(1 + 1e-12)) to the group term; if every sample is an anchor (m <= k images per
/// class), the group term is constant and only the CE term trains. The module warns once.
///
/// Deviations from the official code, both numerically invisible on valid input: a row
/// whose centred norm is 0 (constant embedding) gets correlation 0 with every other row
/// instead of NaN (the norm is clamped to 1e-12), and the diagonal of W is set to exactly
/// 1 instead of being computed (it is 1 up to rounding, with zero gradient, for every
/// other row). This keeps every row sum of X * (W X) >= sum_c X_ic^2 > 0, so the
/// normalisation never divides by zero.
#include <cstdint>
#include <torch/torch.h>

#include "core/error.h"
#include "losses/reduction.h"

namespace wtp::losses {

/// Options of the Group Loss. Defaults are the old system's tuned values (seed.md).
struct GroupLossOptions {
  double temperature = 12.0;       ///< softmax temperature T of the priors
  int64_t labelled_per_class = 2;  ///< k: the first k samples of each class are anchors
  int64_t iterations = 1;          ///< replicator-dynamics iterations (official training: 1)
  double scaling = 1.0;            ///< weight of the group (NLL) term
  Reduction reduction = Reduction::kMean;  ///< mean, sum or none over the samples

  template <class V>
  void visit(V& v) {
    v("temperature", temperature, "softmax temperature of the priors");
    v("labelled_per_class", labelled_per_class,
      "the first k samples of each class in the batch are labelled anchors");
    v("iterations", iterations, "replicator-dynamics iterations");
    v("scaling", scaling, "weight of the group (NLL) term");
    v("reduction", reduction, "mean, sum or none over the samples");
  }
  void validate() const {
    require(temperature > 0, "group_loss: temperature must be > 0 (the old runs used 12)");
    require(labelled_per_class >= 0,
            "group_loss: labelled_per_class must be >= 0 (the old runs used 2)");
    require(iterations >= 0, "group_loss: iterations must be >= 0 (the official training uses 1)");
    require(scaling >= 0, "group_loss: scaling must be >= 0 (official: 1)");
  }
};

/// Everything group_loss_terms() computes; the trainer logs `group` and `ce`.
struct GroupLossTerms {
  torch::Tensor loss;           ///< scaling * group + ce, reduced
  torch::Tensor group;          ///< NLL(log(X + 1e-12), y), reduced
  torch::Tensor ce;             ///< CE(z, y), reduced
  torch::Tensor probabilities;  ///< X after the dynamics, [B, C]
  torch::Tensor anchors;        ///< bool [B], true for the labelled anchors
  bool all_anchors = false;     ///< every sample is an anchor: the group term is constant
};

/// ReLU of the Pearson correlation between the rows of x, with a diagonal of 1.
/// requires: x floating point [B, D], D >= 2. ensures: [B, B], symmetric, entries in [0, 1].
torch::Tensor pearson_similarity(const torch::Tensor& x);

/// Marks the first `k` samples of each class in batch order.
/// requires: labels int64 [B] (any device). ensures: bool [B] on the labels' device.
torch::Tensor labelled_anchor_mask(const torch::Tensor& labels, int64_t k);

/// Runs `iterations` steps of X <- X * (W X), rows normalised to sum 1.
/// requires: W [B, B] non-negative; X [B, C] rows non-negative, each with a positive
///   W-weighted row sum (true when diag(W) = 1 and every row of X sums to 1).
torch::Tensor replicator_dynamics(const torch::Tensor& W, torch::Tensor X, int64_t iterations);

/// The Group Loss and its parts (see the file comment). Does not log.
/// requires: embeddings floating point [B, D] with D >= 2; logits [B, C] of the same dtype;
///   labels integer [B] in [0, C).
/// ensures: loss/group/ce 0-d for kMean/kSum, [B] for kNone.
GroupLossTerms group_loss_terms(const torch::Tensor& embeddings, const torch::Tensor& logits,
                                const torch::Tensor& labels, const GroupLossOptions& options = {});

/// group_loss_terms(...).loss.
torch::Tensor group_loss(const torch::Tensor& embeddings, const torch::Tensor& logits,
                         const torch::Tensor& labels, const GroupLossOptions& options = {});

/// Module form of group_loss(). Warns once (wtp::log::warn) per module when a batch has
/// only labelled anchors.
class GroupLossImpl : public torch::nn::Module {
 public:
  explicit GroupLossImpl(GroupLossOptions options = {});
  torch::Tensor forward(const torch::Tensor& embeddings, const torch::Tensor& logits,
                        const torch::Tensor& labels);
  /// Same as forward() with all the parts.
  GroupLossTerms terms(const torch::Tensor& embeddings, const torch::Tensor& logits,
                       const torch::Tensor& labels);
  const GroupLossOptions& options() const { return options_; }
  /// True once the "every sample is an anchor" warning has been written.
  bool warned() const { return warned_; }

 private:
  GroupLossOptions options_;
  bool warned_ = false;
};
TORCH_MODULE(GroupLoss);

}  // namespace wtp::losses
