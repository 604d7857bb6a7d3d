#pragma once
/// Agreement between two labellings of the same samples: mutual information, NMI and AMI
/// with scikit-learn's definitions (natural logarithm, arithmetic normalisation, sklearn's
/// special cases), so numbers compare directly with `normalized_mutual_info_score` and
/// `adjusted_mutual_info_score`.
#include <cstdint>
#include <torch/torch.h>
#include <vector>

namespace wtp::eval {

/// Entropy (nats) of a labelling; 0 for a single class, 1 for an empty one (sklearn).
double label_entropy(const std::vector<std::int64_t>& labels);

/// Mutual information (nats) of two labellings, clipped at 0 as sklearn does.
/// Requires: equal sizes. Labels are arbitrary int64 values.
double mutual_information(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);

/// Expected mutual information of two labellings under the permutation (hypergeometric)
/// model, given their class sizes (Vinh, Epps & Bailey 2010), as sklearn computes it.
/// Requires: both size lists sum to the same n.
double expected_mutual_information(const std::vector<std::int64_t>& sizes_a,
                                   const std::vector<std::int64_t>& sizes_b);

/// NMI = MI / ((H(a) + H(b)) / 2). Special cases as sklearn: 1 when both labellings have
/// one class (or none), 0 when MI = 0. Requires equal sizes.
double normalized_mutual_info(const std::vector<std::int64_t>& a,
                              const std::vector<std::int64_t>& b);
/// As above on 1-D integer tensors.
double normalized_mutual_info(const torch::Tensor& a, const torch::Tensor& b);

/// AMI = (MI - EMI) / ((H(a) + H(b)) / 2 - EMI), the denominator kept at least machine
/// epsilon in magnitude with its sign (sklearn); 1 when both have one class (or none).
double adjusted_mutual_info(const std::vector<std::int64_t>& a, const std::vector<std::int64_t>& b);
/// As above on 1-D integer tensors.
double adjusted_mutual_info(const torch::Tensor& a, const torch::Tensor& b);

}  // namespace wtp::eval
