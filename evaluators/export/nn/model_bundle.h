#pragma once

#include <string>

#include <torch/torch.h>

#include "core/json.h"
#include "evaluators/export/model_bundle.h"
#include "spaces/nn/graph_module.h"

namespace nasforge {

/// Writes `net`'s weights (kBundleWeightsFile) and `model` (kBundleModelFile) into `dir`, creating it; each file
/// is written under a temporary name and renamed, so readers never see a partial file.
void save_bundle(const std::string& dir, GraphNet& net, const Json& model);

/// A bundle read back: its model.json and the network with the saved weights, in eval mode.
struct LoadedBundle {
  Json model;             ///< Contents of model.json.
  GraphNet net{nullptr};  ///< The network built from model.json's graph, weights loaded.
};

/// Reads model.json and weights.pt from `dir` onto `device`. When model.json names an architecture and genotype,
/// checks that they still build the stored graph. DataError naming the file and problem otherwise.
LoadedBundle load_bundle(const std::string& dir, torch::Device device);

}  // namespace nasforge
