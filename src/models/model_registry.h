#pragma once
/// Models chosen by name from config:
///
///     model: {name: liveness, backbone: {name: bn_inception}, freeze_backbone: true}
///
///     auto model = wtp::models::model_registry().create(config::decode_component(node, "model"));
///     model->to(device);
///     ModelOutput out = model->forward(preprocess(images, model->input_spec().normalization));
#include <string>
#include <vector>

#include "core/registry.h"
#include "models/embedding_model.h"

namespace wtp::models {

using ModelRegistry = Registry<EmbeddingModel>;

/// The models: siamese_cnn, inception_resnet_v1, bn_inception, resnet, iresnet,
/// mobilefacenet (backbones) and siamese_bce, embedding_head, liveness (heads around a
/// `backbone` component, which can be any model of this registry; resolving a head resolves
/// its backbone, so the resolved config lists every default of both).
const ModelRegistry& model_registry();

}  // namespace wtp::models
