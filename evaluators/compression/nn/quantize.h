#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/compression/quantize_step.h"
#include "evaluators/nn/trainer.h"

namespace nasforge {

/// Fake quantization of a tensor, numerically identical to libtorch's quantize_per_tensor(...).dequantize() for
/// values inside the integer range (and clamped like it outside); the gradient is the straight-through
/// estimator (1 inside the range, 0 where clamped).
torch::Tensor fake_quantize_tensor(const torch::Tensor& x, const QParams& q, const QuantRange& range);

/// Per-channel fake quantization along `axis` with one scale and zero point per channel; identical to
/// quantize_per_channel(...).dequantize() inside the range; straight-through gradient.
torch::Tensor fake_quantize_channels(const torch::Tensor& x, const torch::Tensor& scales,
                                     const torch::Tensor& zero_points, std::int64_t axis, const QuantRange& range);

/// Post-training quantization of `c` (BatchNorm folded first): installs a NodeTransform on c.net that
/// fake-quantizes weights (and, in static mode, the activation after every node, calibrated on the first
/// o.calibration_samples training samples without augmentation, `batch_size` at a time) and sets c's storage
/// fields. The network then computes what the integer model computes.
void quantize_post_training(CompressedNet& c, const QuantizeOptions& o, const TrainData& data, std::int64_t batch_size);

/// Quantization-aware training: folds BatchNorm, calibrates initial ranges, fine-tunes o.epochs with fake
/// quantization in the forward pass (straight-through gradients; weight ranges recomputed every step, activation
/// ranges tracked by a moving average while training) and freezes the ranges for evaluation. Returns the
/// fine-tuning result.
TrainResult quantize_aware_training(CompressedNet& c, const QatOptions& o, const StepContext& ctx);

}  // namespace nasforge
