#include "data/dataset_registry.h"

#include "data/celeba.h"
#include "data/cew.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "data/lfw.h"

namespace wtp::data {
namespace {

void register_builtin_datasets(DatasetRegistry& registry) {
  registry.add<LfwOptions>("lfw", "Labeled Faces in the Wild image tree (deep-funneled)",
                           [](const LfwOptions& o) { return load_lfw(o); });
  registry.add<CelebaOptions>("celeba", "CelebA aligned images with identities and partition",
                              [](const CelebaOptions& o) { return load_celeba(o); });
  registry.add<CewOptions>("cew", "Closed Eyes in the Wild faces (label 1 = closed)",
                           [](const CewOptions& o) { return load_cew(o); });
  registry.add<ImageFolderOptions>(
      "image_folder", "root/<class>/*.jpg, as torchvision ImageFolder",
      [](const ImageFolderOptions& o) { return load_image_folder(o); });
  registry.add<FashionMnistOptions>(
      "fashion_mnist", "Fashion-MNIST's IDX files written once as an image folder, then loaded",
      [](const FashionMnistOptions& o) { return load_fashion_mnist(o); });
}

}  // namespace

const DatasetRegistry& dataset_registry() {
  static const DatasetRegistry registry("dataset", register_builtin_datasets);
  return registry;
}

}  // namespace wtp::data
