#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "evaluators/cost/compressed_size.h"
#include "evaluators/cost/kernels.h"
#include "evaluators/cost/target_profile.h"
#include "spaces/net_graph.h"

namespace nasforge {

/// A network as it would ship: its graph (a channel-pruned variant's smaller one), the data type it computes in
/// and how each conv/linear layer's weights are stored. Everything a target's cost model needs, torch-free, so it
/// is stored with each trial and `best --target` can price a target the study never named.
struct Deployment {
  NetGraph graph{Shape{1, 1, 1}, 1};         ///< The deployed network.
  DataType dtype = DataType::kFloat32;       ///< What its kernels compute in.
  std::vector<LayerStorage> layers;          ///< One per conv and linear node, in graph order.
  std::int64_t extra_float_params = 0;       ///< fp32 values outside those layers (standalone BatchNorm).

  /// `graph` with every BatchNorm folded into its conv and weights stored at `weight_bits` (32 float, 16 fp16,
  /// 2..8 integer with per-channel scales), clustered to `clusters` shared values when > 0: what a trained
  /// network becomes before compression says more (the prediction used ahead of training).
  static Deployment of(NetGraph graph, int weight_bits = 32, std::int64_t clusters = 0);
  /// {"dtype", "layers": [[numel, nonzeros, out_channels, bias, bits, quantized, per_channel, clusters]...],
  /// "extra_float_params", "graph"} (graph omitted when `with_graph` is false).
  Json to_json(bool with_graph = true) const;
  /// Inverse of to_json; `graph` is used when the JSON holds none. DataError naming the bad field.
  static Deployment from_json(const Json& j, const NetGraph* graph = nullptr);
};

/// One kernel's predicted time on a target.
struct KernelTime {
  Kernel kernel;           ///< What runs.
  double compute_us = 0;   ///< MACs / (rate * efficiency).
  double memory_us = 0;    ///< Bytes moved / bandwidth.
  double overhead_us = 0;  ///< The kernel type's fixed cost.
  /// compute + memory + overhead.
  double total_us() const { return compute_us + memory_us + overhead_us; }
};

/// What a deployment costs on one target.
struct TargetCosts {
  double latency_ms = 0;          ///< Predicted batch-1 latency: the sum over kernels.
  std::int64_t flash_bytes = 0;   ///< Weights as the runtime stores them plus the runtime's own flash.
  std::int64_t sram_bytes = 0;    ///< Peak live activations + scratch + the runtime's own SRAM.
  bool fits = true;               ///< Under the target's flash and SRAM limits where it has them.
  std::vector<KernelTime> kernels;  ///< Per kernel, in execution order.
  /// "sram_bytes 412000 > 327680 (by 84320)" for every limit exceeded; empty when it fits.
  std::string misses;
};

/// Per-kernel times of `kernels` computing in `dtype` on `target`; weights move `weight_bytes_ratio` times their
/// dense bytes (below 1 for sparse or clustered weights a target's format stores compressed).
std::vector<KernelTime> kernel_times(const std::vector<Kernel>& kernels, DataType dtype, const TargetProfile& target,
                                     double weight_bytes_ratio = 1.0);

/// Flash bytes: every layer at its deployed precision, sparse or clustered encodings only where the target's
/// format supports them (otherwise dense), quantization parameters, biases, plus runtime_flash_bytes.
std::int64_t flash_bytes(const Deployment& d, const TargetProfile& target);

/// SRAM bytes: the largest live set of activations at `dtype` over the execution order (MCUNet's rule; in-place
/// activations, and depthwise convs in place with a one-channel buffer where the target does it), plus the running
/// kernel's im2col scratch, plus runtime_sram_bytes.
std::int64_t sram_bytes(const NetGraph& graph, DataType dtype, const TargetProfile& target);

/// Latency, flash, SRAM and fit of `d` on `target`.
TargetCosts predict_costs(const Deployment& d, const TargetProfile& target);

}  // namespace nasforge
