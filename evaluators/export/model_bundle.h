#pragma once

#include <string>

#include "core/json.h"

namespace nasforge {

/// File a trained trial's weights are saved to (torch::save of its network), inside its artifact folder.
inline constexpr const char* kBundleWeightsFile = "weights.pt";
/// File describing a saved network (genotype, graph, normalization, dataset, hyperparameters, metrics).
inline constexpr const char* kBundleModelFile = "model.json";

/// Writes `text` to `path` through a temporary file in the same folder and a rename, so that a reader sees the
/// old file or the whole new one; StorageError naming the path when it cannot be written.
void write_file_atomically(const std::string& path, const std::string& text);

/// Copies a trial's weights.pt and model.json from `artifact_dir` into `out_dir` (created if needed), adding the
/// trial's number, state, values, params and user_attrs (from `trial_json`, FrozenTrial::to_json()) to model.json
/// under "trial". DataError naming what is missing when the trial saved no model (pruned, failed, or
/// save_weights: false).
void export_bundle(const std::string& artifact_dir, const Json& trial_json, const std::string& out_dir);

/// Rebuilds the network of a bundle folder (a trial's artifact folder or an exported one), loads its weights and
/// evaluates it on the validation split of the dataset stored in model.json, with the stored normalization and
/// evaluation batch size. `device` is auto, cpu or cuda; `threads` > 0 sets torch's intra-op threads. Returns
/// {"val_accuracy" (fraction 0..1), "val_loss", "n"}. DataError for a bundle that is incomplete or inconsistent
/// (e.g. its architecture and genotype no longer build the stored graph); ConfigError when this nasforge was
/// built without libtorch.
Json evaluate_bundle(const std::string& dir, const std::string& device = "auto", int threads = 0);

}  // namespace nasforge
