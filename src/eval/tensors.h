#pragma once
/// Small conversions between LibTorch tensors and std::vector used by the metrics, with
/// input checks that name the argument. Shared by the eval sources; not a general API.
#include <cstdint>
#include <string>
#include <torch/torch.h>
#include <vector>

namespace wtp::eval {

/// The values of a 1-D tensor of any real or integer dtype as doubles.
/// Requires: `tensor` is defined and 1-D. Throws UsageError naming `what` otherwise.
std::vector<double> to_doubles(const torch::Tensor& tensor, const std::string& what);

/// The values of a 1-D tensor of an integer or bool dtype as int64.
/// Requires: `tensor` is defined, 1-D, integer or bool. Throws UsageError naming `what`.
std::vector<std::int64_t> to_int64s(const torch::Tensor& tensor, const std::string& what);

/// Maps arbitrary int64 labels to dense ids 0..C-1 in order of first appearance.
/// Ensures: result.size() == labels.size(); `classes` (if given) receives C.
std::vector<std::int64_t> dense_labels(const std::vector<std::int64_t>& labels,
                                       std::int64_t* classes = nullptr);

}  // namespace wtp::eval
