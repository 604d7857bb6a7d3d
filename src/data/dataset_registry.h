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

/// The datasets: lfw, celeba, cew, image_folder and fashion_mnist
/// (`dataset_registry().create(component)` loads one).
const DatasetRegistry& dataset_registry();

}  // namespace wtp::data
