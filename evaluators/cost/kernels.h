#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "spaces/net_graph.h"

namespace nasforge {

/// What a runtime executes as one kernel; a latency model has one set of coefficients per type.
enum class KernelType {
  kConv,           ///< Dense or grouped convolution (with whatever BatchNorm and activation the runtime fuses in).
  kDepthwise,      ///< Depthwise convolution (groups == input channels).
  kLinear,         ///< Fully connected layer.
  kPool,           ///< Average or max pooling with a window.
  kGlobalPool,     ///< Global average pooling.
  kAdd,            ///< Elementwise sum of two or more tensors (residuals, cell nodes).
  kSqueezeExcite,  ///< A whole squeeze-excitation block (pool, two 1x1 layers, gating) fused into one kernel.
  kElementwise,    ///< An unfused activation, BatchNorm or product: one pass over a tensor.
};

/// Number of kernel types (the size of per-type coefficient tables).
inline constexpr std::size_t kKernelTypeCount = 8;

/// Every kernel type in declaration order (index = static_cast<std::size_t>(type)).
const std::array<KernelType, kKernelTypeCount>& kernel_types();
/// The YAML name of a kernel type: conv, depthwise, linear, pool, global_pool, add, se, elementwise.
const char* to_string(KernelType type);

/// The number format a deployed network computes in.
enum class DataType { kFloat32, kFloat16, kInt8 };

/// "fp32", "fp16", "int8".
const char* to_string(DataType type);
/// Bytes of one activation or weight element.
int element_bytes(DataType type);
/// The data type a network runs in when its weights are quantized to `weight_bits` (32 = float, 16 = fp16, 2..8 =
/// int8 kernels: sub-byte weights are unpacked to int8 at run time on every runtime nasforge models).
DataType data_type_for_bits(int weight_bits);

/// Which neighbouring nodes a runtime executes as one kernel (nn-Meter's fusion rules). Eager PyTorch fuses
/// nothing; TFLite, ONNX Runtime, TensorRT and CMSIS-NN fold BatchNorm and run activations inside the producing
/// kernel.
struct FusionRules {
  bool batch_norm = false;      ///< BatchNorm folded into the convolution before it.
  bool activation = false;      ///< An activation runs inside the conv, linear or add that produces its input.
  bool squeeze_excite = false;  ///< A squeeze-excitation block runs as one kernel.
};

/// One kernel of a network with the shape facts a latency model reads.
struct Kernel {
  KernelType type = KernelType::kElementwise;  ///< What runs.
  std::string name;                            ///< The first NetGraph node it covers, e.g. "s1.b0.dw".
  std::int64_t macs = 0;       ///< Multiply-accumulates (pools and elementwise: one per input element read).
  std::int64_t elements = 0;   ///< Activation elements read plus written, weights included (times the element
                               ///< size gives the bytes it moves).
  std::int64_t weights = 0;    ///< The weight elements among `elements` (what a compressed format can shrink).
  std::int64_t out_channels = 0;  ///< Output channels (features for linear).
  std::int64_t out_pixels = 1;    ///< Output height x width.
  int kernel = 1;                 ///< Window size (conv, depthwise, pool).
  int stride = 1;                 ///< Stride (conv, depthwise, pool).
};

/// Groups `graph`'s nodes into the kernels a runtime with `rules` executes, in execution order. Dropout is no
/// kernel at inference; any architecture space's graph works (nothing here knows chains or cells).
std::vector<Kernel> detect_kernels(const NetGraph& graph, const FusionRules& rules);

}  // namespace nasforge
