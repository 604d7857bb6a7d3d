#include "models/model_registry.h"

#include "models/bn_inception.h"
#include "models/heads.h"
#include "models/inception_resnet_v1.h"
#include "models/iresnet.h"
#include "models/mobilefacenet.h"
#include "models/resnet.h"
#include "models/siamese_cnn.h"

namespace wtp::models {
namespace {

void register_builtin_models(ModelRegistry& registry) {
  registry.add<SiameseCnnOptions>(
      "siamese_cnn", "the old small Siamese CNN (128x128, contrastive loss)",
      [](const SiameseCnnOptions& o) { return as_embedding_model(SiameseCnn(o)); });
  registry.add<InceptionResnetV1Options>(
      "inception_resnet_v1", "facenet-pytorch InceptionResnetV1 (160x160, 512-d)",
      [](const InceptionResnetV1Options& o) { return as_embedding_model(InceptionResnetV1(o)); });
  registry.add<BnInceptionOptions>(
      "bn_inception", "Caffe-port BN-Inception (224x224, 1024-d, optional classifier)",
      [](const BnInceptionOptions& o) { return as_embedding_model(BnInception(o)); });
  registry.add<ResNetOptions>(
      "resnet", "torchvision's ResNet-18/34/50/101/152 (its names; pooled features, optional fc)",
      [](const ResNetOptions& o) { return as_embedding_model(ResNet(o)); });
  registry.add<IResNetOptions>(
      "iresnet", "insightface's IResNet-18/34/50/100 (112x112, 512-d; the ArcFace backbone)",
      [](const IResNetOptions& o) { return as_embedding_model(IResNet(o)); });
  registry.add<MobileFaceNetOptions>(
      "mobilefacenet", "insightface's MobileFaceNet (112x112, 512-d, 2 M parameters)",
      [](const MobileFaceNetOptions& o) { return as_embedding_model(MobileFaceNet(o)); });
  // The heads build their backbone through the registry itself (any registered model can
  // be a backbone); resolving a head resolves its backbone.
  registry.add<SiameseBceOptions>(
      "siamese_bce", "Siamese pair head on |e1 - e2| around a backbone (BCE, 1 = different)",
      [](const SiameseBceOptions& o) {
        return as_embedding_model(SiameseBce(o, model_registry().create(o.backbone)));
      },
      [](SiameseBceOptions& o) { o.backbone = model_registry().resolve(o.backbone); });
  registry.add<EmbeddingHeadOptions>(
      "embedding_head", "backbone + optional projection, L2 normalisation and classifier",
      [](const EmbeddingHeadOptions& o) {
        return as_embedding_model(EmbeddingHead(o, model_registry().create(o.backbone)));
      },
      [](EmbeddingHeadOptions& o) { o.backbone = model_registry().resolve(o.backbone); });
  registry.add<LivenessOptions>(
      "liveness", "eyes-closed classifier: backbone -> Linear(D -> 1) logit",
      [](const LivenessOptions& o) {
        return as_embedding_model(Liveness(o, model_registry().create(o.backbone)));
      },
      [](LivenessOptions& o) { o.backbone = model_registry().resolve(o.backbone); });
}

}  // namespace

const ModelRegistry& model_registry() {
  static const ModelRegistry registry("model", register_builtin_models);
  return registry;
}

}  // namespace wtp::models
