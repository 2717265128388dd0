#include "evaluators/cost/compressed_size.h"

#include <algorithm>

#include "core/error.h"

namespace nasforge {

namespace {

// Bits of an index able to name `slots` entries (at least one bit).
std::int64_t index_bits(std::int64_t slots) {
  std::int64_t bits = 1;
  while ((std::int64_t{1} << bits) < slots) ++bits;
  return bits;
}

}  // namespace

std::int64_t layer_storage_bits(const LayerStorage& l) {
  check(l.numel >= 0 && l.nonzeros >= 0 && l.nonzeros <= l.numel,
        "layer storage: nonzeros " + std::to_string(l.nonzeros) + " must lie in [0, numel " + std::to_string(l.numel) +
            "]");
  check(l.weight_bits >= 1 && l.weight_bits <= 32,
        "layer storage: weight_bits must be in [1, 32], got " + std::to_string(l.weight_bits));
  std::int64_t bits = 0;
  if (l.clusters > 0) {
    // Pruned weights point at a reserved zero entry that needs no table slot of its own.
    const bool pruned = l.nonzeros < l.numel;
    bits += l.clusters * l.weight_bits + l.numel * index_bits(l.clusters + (pruned ? 1 : 0));
  } else {
    const std::int64_t dense = l.numel * l.weight_bits;
    // Sparse: the nonzero values plus one presence bit per weight, used when it is smaller.
    const std::int64_t sparse = l.nonzeros * l.weight_bits + l.numel;
    bits += std::min(dense, sparse);
  }
  // An fp32 scale and an int32 zero point per tensor or per output channel.
  if (l.quantized) bits += (l.per_channel ? l.out_channels : 1) * 64;
  bits += l.bias * 32;
  return bits;
}

std::int64_t storage_bytes(const std::vector<LayerStorage>& layers, std::int64_t extra_float_params) {
  std::int64_t bits = extra_float_params * 32;
  for (const auto& l : layers) bits += layer_storage_bits(l);
  return (bits + 7) / 8;
}

}  // namespace nasforge
