#pragma once
/// Models chosen by name from config:
///
///     model: {name: liveness, backbone: {name: bn_inception}, freeze_backbone: true}
///
///     auto model = wtp::models::create_model(config::decode_component(node, "model"));
///     model->to(device);
///     ModelOutput out = model->forward(preprocess(images, model->input_spec().normalization));
#include <string>
#include <vector>

#include "core/registry.h"
#include "models/embedding_model.h"

namespace wtp::models {

using ModelRegistry = Registry<EmbeddingModel>;

/// Registers the built-in models: siamese_cnn, inception_resnet_v1, bn_inception
/// (backbones) and siamese_bce, embedding_head, liveness (heads around a `backbone`
/// component). The heads build their backbone through `registry` itself, so a backbone can
/// be any model registered there; `registry` must outlive its create() calls.
void register_builtin_models(ModelRegistry& registry);

/// Builds a built-in model from its component (name + options, decoded strictly).
/// Throws UsageError for an unknown name (listing the known ones) or bad options.
EmbeddingModel create_model(const config::Component& component);

/// The component with every default filled in, a head's backbone included (for the
/// resolved config written beside a run).
config::Component resolve_model(const config::Component& component);

/// Names of the built-in models, sorted.
std::vector<std::string> model_names();

/// One line per built-in model: "name  description".
std::string describe_models();

}  // namespace wtp::models
