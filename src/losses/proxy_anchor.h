#pragma once
/// Proxy-Anchor loss (Kim et al. 2020). The proxies are the class centres of the model's
/// normalised-weight head, so the loss reads the cosines s(x, p) [B, C] the head outputs:
///     (1/|P+|) sum_{p in P+} log(1 + sum_{x of class p}     exp(-alpha (s(x,p) - margin)))
///   + (1/C)    sum_{p}       log(1 + sum_{x not of class p} exp( alpha (s(x,p) + margin)))
/// where P+ are the classes present in the batch.
#include <torch/torch.h>

#include "core/error.h"

namespace wtp::losses {

struct ProxyAnchorOptions {
  double margin = 0.1;  ///< delta
  double alpha = 32.0;  ///< scaling

  template <class V>
  void visit(V& v) {
    v("margin", margin, "margin delta");
    v("alpha", alpha, "scaling alpha");
  }
  void validate() const { require(alpha > 0, "proxy_anchor: alpha must be > 0 (e.g. 32)"); }
};

/// requires: cosines floating point [B, C] in [-1, 1]; labels integer [B] in [0, C).
/// ensures: a 0-d tensor >= 0.
torch::Tensor proxy_anchor_loss(const torch::Tensor& cosines, const torch::Tensor& labels,
                                const ProxyAnchorOptions& options = {});

}  // namespace wtp::losses
