#pragma once
/// Datasets chosen by name from a config:
///
///     data:
///       dataset: {name: lfw, root: data/lfw, min_images: 2}
///
/// Names: lfw, celeba, cew, image_folder, fashion_mnist (options: LfwOptions, CelebaOptions,
/// CewOptions, ImageFolderOptions, FashionMnistOptions).
#include "core/config.h"
#include "core/registry.h"
#include "data/dataset.h"

namespace wtp::data {

using DatasetRegistry = Registry<Dataset>;

/// Adds lfw, celeba, cew, image_folder and fashion_mnist.
void register_builtin_datasets(DatasetRegistry& registry);

/// Loads the dataset a config component names (a registry filled with the built-ins).
Dataset load_dataset(const config::Component& component);

}  // namespace wtp::data
