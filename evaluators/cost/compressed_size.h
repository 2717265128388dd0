#pragma once

#include <cstdint>
#include <vector>

namespace nasforge {

/// How one layer's weights are stored on the device.
struct LayerStorage {
  std::int64_t numel = 0;         ///< Weight elements.
  std::int64_t nonzeros = 0;      ///< Weight elements that are not zero (after pruning).
  std::int64_t out_channels = 1;  ///< Output channels (per-channel quantization stores one scale and zero point each).
  std::int64_t bias = 0;          ///< Bias elements (fp32 or int32: 4 bytes each).
  int weight_bits = 32;           ///< Bits per stored weight (or per centroid when clustered): 32, 16, or 2..8.
  bool quantized = false;         ///< Integer weights with scale and zero point (fp32 + int32 per scale).
  bool per_channel = false;       ///< One scale per output channel (else one per tensor).
  std::int64_t clusters = 0;      ///< Weight-sharing centroids (0 = not clustered).
};

/// Bits to store one layer: dense weights, or (when it is smaller) nonzeros plus a one-bit-per-weight mask;
/// clustered layers store a centroid table plus ceil(log2(k)) bits per weight (k + 1 entries with a reserved
/// zero when pruned); plus quantization parameters and biases.
std::int64_t layer_storage_bits(const LayerStorage& layer);

/// Bytes of a model: every layer, plus `extra_float_params` fp32 values (e.g. BatchNorm that could not be
/// folded), rounded up to whole bytes.
std::int64_t storage_bytes(const std::vector<LayerStorage>& layers, std::int64_t extra_float_params = 0);

}  // namespace nasforge
