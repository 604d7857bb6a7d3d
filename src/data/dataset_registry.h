#pragma once
/// Datasets chosen by name from a config:
///
///     data:
///       dataset: {name: lfw, root: data/lfw, min_images: 2}
///
/// Names: lfw, celeba, cew, image_folder (options: LfwOptions, CelebaOptions, CewOptions,
/// ImageFolderOptions).
#include "core/config.h"
#include "core/registry.h"
#include "data/dataset.h"

namespace wtp::data {

using DatasetRegistry = Registry<Dataset>;

/// Adds lfw, celeba, cew and image_folder.
void register_builtin_datasets(DatasetRegistry& registry);

/// Loads the dataset a config component names (a registry filled with the built-ins).
Dataset load_dataset(const config::Component& component);

}  // namespace wtp::data
