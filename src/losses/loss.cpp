#include "losses/loss.h"

#include <type_traits>

#include "losses/bce_pair.h"
#include "losses/contrastive.h"
#include "losses/cross_entropy.h"
#include "losses/group_loss.h"
#include "losses/margin_softmax.h"
#include "losses/multi_similarity.h"
#include "losses/proxy_anchor.h"
#include "losses/triplet.h"

namespace wtp::losses {
namespace {

void require_input(const torch::Tensor& t, const std::string& loss, const std::string& field) {
  require(t.defined(),
          loss + ": input '" + field + "' is missing (the model must produce it for this loss)");
}

void require_scalar_reduction(Reduction reduction, const std::string& loss) {
  require(
      reduction != Reduction::kNone,
      loss +
          ": reduction 'none' cannot be trained on (the loss must be a scalar); use mean or sum");
}

class ContrastiveLoss : public Loss {
 public:
  explicit ContrastiveLoss(const ContrastiveOptions& options) : module_(options) {}
  LossOutput forward(const LossInputs& in) override {
    require_input(in.embeddings, name(), "embeddings");
    require_input(in.embeddings2, name(), "embeddings2");
    return {module_(in.embeddings, in.embeddings2, in.labels), {}};
  }
  LossRequirements requirements() const override {
    LossRequirements r;
    r.pairs = true;
    return r;
  }
  std::string name() const override { return "contrastive"; }

 private:
  Contrastive module_;
};

/// Binary cross-entropy with logits, on pairs (bce_pair: y = 1 different) or on single
/// items (bce: a binary label per image, e.g. 1 = eyes closed).
class BceLoss : public Loss {
 public:
  BceLoss(const BcePairOptions& options, bool pairs) : module_(options), pairs_(pairs) {}
  LossOutput forward(const LossInputs& in) override {
    require_input(in.logits, name(), "logits");
    return {module_(in.logits, in.labels), {}};
  }
  LossRequirements requirements() const override {
    LossRequirements r;
    r.logits = true;
    r.pairs = pairs_;
    return r;
  }
  std::string name() const override { return pairs_ ? "bce_pair" : "bce"; }

 private:
  BcePair module_;
  bool pairs_;
};

class CrossEntropyLoss : public Loss {
 public:
  explicit CrossEntropyLoss(const CrossEntropyOptions& options) : module_(options) {}
  LossOutput forward(const LossInputs& in) override {
    require_input(in.logits, name(), "logits");
    return {module_(in.logits, in.labels), {}};
  }
  LossRequirements requirements() const override {
    LossRequirements r;
    r.logits = true;
    return r;
  }
  std::string name() const override { return "cross_entropy"; }

 private:
  CrossEntropy module_;
};

class GroupLossAdapter : public Loss {
 public:
  explicit GroupLossAdapter(const GroupLossOptions& options) : module_(options) {}
  LossOutput forward(const LossInputs& in) override {
    require_input(in.embeddings, name(), "embeddings");
    require_input(in.logits, name(), "logits");
    GroupLossTerms terms = module_->terms(in.embeddings, in.logits, in.labels);
    return {terms.loss, {{"group", terms.group.detach()}, {"ce", terms.ce.detach()}}};
  }
  LossRequirements requirements() const override {
    LossRequirements r;
    r.logits = true;
    return r;
  }
  std::string name() const override { return "group_loss"; }

 private:
  GroupLoss module_;
};

/// Which model output a FunctionLoss passes to its function.
enum class Reads { kLogits, kEmbeddings };

/// A loss computed by one function of (the model's logits or embeddings, the labels) with
/// fixed options: the margin softmax, triplet, multi-similarity and proxy losses.
template <class Options>
class FunctionLoss : public Loss {
 public:
  using Function = torch::Tensor (*)(const torch::Tensor&, const torch::Tensor&, const Options&);
  FunctionLoss(std::string name, Function function, const Options& options, Reads reads)
      : name_(std::move(name)), function_(function), options_(options), reads_(reads) {}
  LossOutput forward(const LossInputs& in) override {
    const bool logits = reads_ == Reads::kLogits;
    const torch::Tensor& x = logits ? in.logits : in.embeddings;
    require_input(x, name_, logits ? "logits" : "embeddings");
    return {function_(x, in.labels, options_), {}};
  }
  LossRequirements requirements() const override {
    LossRequirements r;
    r.logits = reads_ == Reads::kLogits;
    return r;
  }
  std::string name() const override { return name_; }

 private:
  std::string name_;
  Function function_;
  Options options_;
  Reads reads_;
};

template <class Options, class = void>
struct HasReduction : std::false_type {};
template <class Options>
struct HasReduction<Options, std::void_t<decltype(Options::reduction)>> : std::true_type {};

template <class Options>
void add_function_loss(LossRegistry& registry, const std::string& name,
                       const std::string& description,
                       typename FunctionLoss<Options>::Function function, Reads reads) {
  registry.add<Options>(name, description,
                        [name, function, reads](const Options& o) -> std::shared_ptr<Loss> {
                          if constexpr (HasReduction<Options>::value)
                            require_scalar_reduction(o.reduction, name);
                          return std::make_shared<FunctionLoss<Options>>(name, function, o, reads);
                        });
}

void register_builtin_losses(LossRegistry& registry) {
  registry.add<ContrastiveOptions>(
      "contrastive", "contrastive loss on embedding pairs (Hadsell et al. 2006), y = 1 different",
      [](const ContrastiveOptions& o) -> std::shared_ptr<Loss> {
        require_scalar_reduction(o.reduction, "contrastive");
        return std::make_shared<ContrastiveLoss>(o);
      });
  registry.add<BcePairOptions>("bce_pair",
                               "binary cross-entropy with logits on a pair head, y = 1 different",
                               [](const BcePairOptions& o) -> std::shared_ptr<Loss> {
                                 require_scalar_reduction(o.reduction, "bce_pair");
                                 return std::make_shared<BceLoss>(o, /*pairs=*/true);
                               });
  registry.add<BcePairOptions>("bce",
                               "binary cross-entropy with logits on single images (e.g. 1 = "
                               "eyes closed)",
                               [](const BcePairOptions& o) -> std::shared_ptr<Loss> {
                                 require_scalar_reduction(o.reduction, "bce");
                                 return std::make_shared<BceLoss>(o, /*pairs=*/false);
                               });
  registry.add<CrossEntropyOptions>("cross_entropy", "softmax cross-entropy with label smoothing",
                                    [](const CrossEntropyOptions& o) -> std::shared_ptr<Loss> {
                                      require_scalar_reduction(o.reduction, "cross_entropy");
                                      return std::make_shared<CrossEntropyLoss>(o);
                                    });
  registry.add<GroupLossOptions>(
      "group_loss", "Group Loss (Elezi et al. 2020): replicator dynamics + cross-entropy",
      [](const GroupLossOptions& o) -> std::shared_ptr<Loss> {
        require_scalar_reduction(o.reduction, "group_loss");
        return std::make_shared<GroupLossAdapter>(o);
      });
  add_function_loss<ArcFaceOptions>(
      registry, "arcface",
      "ArcFace (Deng et al. 2019): additive angular margin on a cosine head's logits", arcface,
      Reads::kLogits);
  add_function_loss<CosFaceOptions>(
      registry, "cosface",
      "CosFace (Wang et al. 2018): additive cosine margin on a cosine head's logits", cosface,
      Reads::kLogits);
  add_function_loss<ProxyAnchorOptions>(
      registry, "proxy_anchor",
      "Proxy-Anchor (Kim et al. 2020): the cosine head's class centres as proxies",
      proxy_anchor_loss, Reads::kLogits);
  add_function_loss<TripletOptions>(
      registry, "triplet",
      "triplet margin loss with batch-hard, semihard or all-violator mining in the batch",
      triplet_loss, Reads::kEmbeddings);
  add_function_loss<MultiSimilarityOptions>(
      registry, "multi_similarity",
      "multi-similarity loss (Wang et al. 2019) with its pair miner, on the embeddings",
      multi_similarity_loss, Reads::kEmbeddings);
}

}  // namespace

const LossRegistry& loss_registry() {
  static const LossRegistry registry("loss", register_builtin_losses);
  return registry;
}

}  // namespace wtp::losses
