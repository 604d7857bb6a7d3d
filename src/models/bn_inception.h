#pragma once
/// BN-Inception (Ioffe & Szegedy 2015) as ported from Caffe by Cadene's pretrainedmodels
/// (`bninception.py`) and used by metric-learning code (Proxy-NCA, the Group Loss
/// `net/bn_inception.py`), with the same flat parameter names so those state dicts import
/// unchanged: `conv1_7x7_s2.weight`, `conv1_7x7_s2_bn.running_var`,
/// `inception_3a_1x1.weight`, `inception_3a_double_3x3_2_bn.bias`, ..., `last_linear.*`.
///
/// Input [N, 3, 224, 224], Caffe preprocessing (BGR, 0-255, minus [104, 117, 128]).
/// Every conv has a bias and is followed by BatchNorm2d(eps 1e-5) and ReLU; max pools use
/// ceil_mode; the inception pool branches are 3x3 average pools (count_include_pad) except
/// 3c/4e (3x3/2 max, no projection) and 5b (3x3/1 max). Ends with the port's 7x7 average
/// pool, applied as a global average (identical at 224 x 224) -> 1024-d features.
///
/// Memory layout: convolution weights and all 4-d activations are channels-last (NHWC
/// strides; shapes and parameter names unchanged), the layout oneDNN convolves fastest.
/// Inputs may have either layout.
///
/// Outputs: embedding = the 1024-d pooled features, or `projection` Linear(1024 -> dim) of
/// them when embedding_dim != 1024 (optionally L2-normalised); logits = `last_linear`
/// Linear(embedding -> classes) when num_classes > 0 (as in the Group Loss code, which
/// returns (logits, features)).
#include <cstdint>
#include <vector>

#include "models/embedding_model.h"
#include "models/freeze.h"

namespace wtp::models {

struct BnInceptionOptions {
  /// Embedding size; 1024 = the pooled features, anything else adds `projection`.
  std::int64_t embedding_dim = 1024;
  /// Classes of `last_linear`; 0 = no classifier (1000 for the ImageNet weights, 10177 for
  /// CelebA identities as in the old project).
  std::int64_t num_classes = 0;
  bool normalize = false;  ///< L2-normalise ModelOutput::embedding (logits use it as is)
  /// BatchNorm momentum in PyTorch's convention (weight of the new batch statistic). The
  /// Caffe port and the Group Loss training use 0.9.
  double bn_momentum = 0.9;
  Normalization normalization = Normalization::kCaffe;  ///< expected input preprocessing
  std::int64_t input_size = 224;                        ///< square input side (>= 33)
  std::int64_t seed = 0;                                ///< seed of the weight initialisation

  template <class V>
  void visit(V& v) {
    v("embedding_dim", embedding_dim, "embedding size (1024 = pooled features, else projection)");
    v("num_classes", num_classes, "classes of last_linear; 0 = no classifier");
    v("normalize", normalize, "L2-normalise the embedding");
    v("bn_momentum", bn_momentum, "BatchNorm momentum (PyTorch convention; 0.9 in the port)");
    v("normalization", normalization, "expected input preprocessing");
    v("input_size", input_size, "square input side in pixels");
    v("seed", seed, "seed of the weight initialisation");
  }
  void validate() const;
};

class BnInceptionImpl : public EmbeddingModelImpl {
 public:
  explicit BnInceptionImpl(const BnInceptionOptions& options = {});
  /// images [N, 3, S, S] -> embedding [N, embedding_dim], logits [N, num_classes]
  /// (undefined when num_classes == 0).
  ModelOutput forward(const torch::Tensor& images) override;
  std::string name() const override { return "bn_inception"; }
  InputSpec input_spec() const override;
  std::int64_t embedding_dim() const override { return options_.embedding_dim; }
  std::int64_t num_classes() const override { return options_.num_classes; }
  const BnInceptionOptions& options() const { return options_; }

  /// The 1024-d globally pooled features for images [N, 3, S, S].
  torch::Tensor features(const torch::Tensor& images);

  /// One Conv2d + BatchNorm2d pair registered as `<name>` and `<name>_bn`.
  struct ConvBn {
    torch::nn::Conv2d conv{nullptr};
    FreezableBatchNorm2d bn{nullptr};
    torch::Tensor operator()(const torch::Tensor& x);
  };
  /// One inception block (3a ... 5b); units absent from a block are undefined.
  struct Block {
    enum class Pool { kAvg, kMax };
    ConvBn b1x1, b3x3_reduce, b3x3, d_reduce, d1, d2, pool_proj;
    Pool pool = Pool::kAvg;
    std::int64_t pool_stride = 1;
    torch::Tensor forward(const torch::Tensor& x);
  };

 private:
  ConvBn add_unit(const std::string& name, std::int64_t in, std::int64_t out, std::int64_t kernel,
                  std::int64_t stride, std::int64_t padding);

  BnInceptionOptions options_;
  ConvBn conv1_, conv2_reduce_, conv2_;
  std::vector<Block> blocks_;
  torch::nn::Linear projection_{nullptr};
  torch::nn::Linear last_linear_{nullptr};
};
TORCH_MODULE(BnInception);

}  // namespace wtp::models
