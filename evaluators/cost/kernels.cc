// Kernel detection: which NetGraph nodes a runtime runs as one kernel. The rules follow nn-Meter's observation
// (Zhang et al., MobiSys 2021) that latency is additive over *kernels*, not over layers: a runtime that fuses a
// convolution with its BatchNorm and activation pays one launch and one pass over memory for all three, while eager
// PyTorch pays three.

#include "evaluators/cost/kernels.h"

#include "core/error.h"

namespace nasforge {

namespace {

constexpr const char* kTypeNames[kKernelTypeCount] = {"conv", "depthwise",      "linear", "pool", "global_pool",
                                                      "add",  "se", "elementwise"};

bool is_depthwise(const NetNode& n, const Shape& in) {
  return n.kind == OpKind::kConv && n.groups > 1 && n.groups == in.c;
}

std::int64_t weight_elements(const NetNode& n, const Shape& in) {
  if (n.kind == OpKind::kConv) {
    return n.out_channels * (in.c / n.groups) * n.kernel * n.kernel + (n.bias || n.batch_norm ? n.out_channels : 0);
  }
  if (n.kind == OpKind::kLinear) return in.numel() * n.out_channels + (n.bias ? n.out_channels : 0);
  return 0;
}

Kernel elementwise(const std::string& name, const Shape& s, int tensors) {
  Kernel k;
  k.type = KernelType::kElementwise;
  k.name = name;
  k.macs = s.numel();
  k.elements = (tensors + 1) * s.numel();
  k.out_channels = s.c;
  k.out_pixels = s.h * s.w;
  return k;
}

}  // namespace

const std::array<KernelType, kKernelTypeCount>& kernel_types() {
  static const std::array<KernelType, kKernelTypeCount> kAll = {
      KernelType::kConv, KernelType::kDepthwise, KernelType::kLinear,        KernelType::kPool,
      KernelType::kGlobalPool, KernelType::kAdd, KernelType::kSqueezeExcite, KernelType::kElementwise};
  return kAll;
}

const char* to_string(KernelType type) { return kTypeNames[static_cast<std::size_t>(type)]; }

const char* to_string(DataType type) {
  switch (type) {
    case DataType::kFloat32: return "fp32";
    case DataType::kFloat16: return "fp16";
    case DataType::kInt8: return "int8";
  }
  return "?";
}

int element_bytes(DataType type) {
  switch (type) {
    case DataType::kFloat32: return 4;
    case DataType::kFloat16: return 2;
    case DataType::kInt8: return 1;
  }
  return 4;
}

DataType data_type_for_bits(int weight_bits) {
  check(weight_bits >= 1 && weight_bits <= 32, "weight bits must be in [1, 32], got " + std::to_string(weight_bits));
  if (weight_bits > 16) return DataType::kFloat32;
  if (weight_bits > 8) return DataType::kFloat16;
  return DataType::kInt8;
}

std::vector<Kernel> detect_kernels(const NetGraph& graph, const FusionRules& rules) {
  const std::vector<NetNode>& nodes = graph.nodes();
  const std::size_t n = nodes.size();
  std::vector<int> readers(n, 0);
  for (const NetNode& node : nodes) {
    for (int i : node.inputs) ++readers[static_cast<std::size_t>(i)];
  }
  ++readers[static_cast<std::size_t>(graph.output())];
  auto input_shape = [&](const NetNode& node) -> const Shape& {
    return nodes[static_cast<std::size_t>(node.inputs.at(0))].out;
  };

  // Nodes that run inside another node's kernel; se_pool[m] = the pool that starts the SE block gated at m.
  std::vector<bool> absorbed(n, false);
  std::vector<int> se_pool(n, -1);
  for (std::size_t i = 0; i < n; ++i) {
    const NetNode& node = nodes[i];
    if (node.inputs.empty()) continue;
    const auto p = static_cast<std::size_t>(node.inputs[0]);
    const NetNode& producer = nodes[p];
    const bool sole_reader = readers[p] == 1;
    if (node.kind == OpKind::kActivation && rules.activation && sole_reader &&
        (producer.kind == OpKind::kConv || producer.kind == OpKind::kLinear || producer.kind == OpKind::kAdd)) {
      absorbed[i] = true;
    } else if (node.kind == OpKind::kBatchNorm && rules.batch_norm && sole_reader && producer.kind == OpKind::kConv &&
               producer.act == Activation::kNone) {
      absorbed[i] = true;
    } else if (node.kind == OpKind::kMul && rules.squeeze_excite) {
      // The gate branch: 1x1 layers and activations back to a global pool of the gated tensor itself.
      std::vector<std::size_t> chain;
      auto cur = static_cast<std::size_t>(node.inputs[1]);
      while (readers[cur] == 1 && (nodes[cur].kind == OpKind::kConv || nodes[cur].kind == OpKind::kLinear ||
                                   nodes[cur].kind == OpKind::kActivation) &&
             nodes[cur].out.h == 1 && nodes[cur].out.w == 1) {
        chain.push_back(cur);
        cur = static_cast<std::size_t>(nodes[cur].inputs[0]);
      }
      if (!chain.empty() && nodes[cur].kind == OpKind::kGlobalAvgPool && readers[cur] == 1 &&
          nodes[cur].inputs[0] == node.inputs[0]) {
        for (std::size_t c : chain) absorbed[c] = true;
        absorbed[cur] = true;
        se_pool[i] = static_cast<int>(cur);
      }
    }
  }

  std::vector<Kernel> kernels;
  for (std::size_t i = 0; i < n; ++i) {
    const NetNode& node = nodes[i];
    if (node.inputs.empty() || absorbed[i] || node.kind == OpKind::kDropout) continue;
    const Shape& in = input_shape(node);
    Kernel k;
    k.name = node.name;
    k.out_channels = node.out.c;
    k.out_pixels = node.out.h * node.out.w;
    k.kernel = node.kernel;
    k.stride = node.stride;
    switch (node.kind) {
      case OpKind::kConv:
        k.type = is_depthwise(node, in) ? KernelType::kDepthwise : KernelType::kConv;
        k.macs = node.out.numel() * (in.c / node.groups) * node.kernel * node.kernel;
        k.weights = weight_elements(node, in);
        k.elements = in.numel() + node.out.numel() + k.weights;
        break;
      case OpKind::kLinear:
        k.type = KernelType::kLinear;
        k.macs = in.numel() * node.out_channels;
        k.weights = weight_elements(node, in);
        k.elements = in.numel() + node.out.numel() + k.weights;
        break;
      case OpKind::kAvgPool:
      case OpKind::kMaxPool:
        k.type = KernelType::kPool;
        k.macs = node.out.numel() * node.kernel * node.kernel;
        k.elements = in.numel() + node.out.numel();
        break;
      case OpKind::kGlobalAvgPool:
        k.type = KernelType::kGlobalPool;
        k.macs = in.numel();
        k.elements = in.numel() + node.out.numel();
        break;
      case OpKind::kAdd:
        k.type = KernelType::kAdd;
        k.macs = static_cast<std::int64_t>(node.inputs.size() - 1) * node.out.numel();
        k.elements = static_cast<std::int64_t>(node.inputs.size() + 1) * node.out.numel();
        break;
      case OpKind::kMul:
        if (se_pool[i] >= 0) {
          // Pool, the gate's layers and the product: the gated tensor is read twice and written once.
          k.type = KernelType::kSqueezeExcite;
          k.macs = 2 * in.numel();
          k.elements = 3 * in.numel();
          for (std::size_t j = static_cast<std::size_t>(se_pool[i]) + 1; j < i; ++j) {
            if (!absorbed[j]) continue;
            const Shape& jin = input_shape(nodes[j]);
            if (nodes[j].kind == OpKind::kConv || nodes[j].kind == OpKind::kLinear) {
              k.macs += jin.numel() * nodes[j].out_channels;
              k.weights += weight_elements(nodes[j], jin);
              k.elements += weight_elements(nodes[j], jin);
            }
          }
        } else {
          k = elementwise(node.name, node.out, 2);
        }
        break;
      case OpKind::kActivation:
      case OpKind::kBatchNorm:
        k = elementwise(node.name, node.out, 1);
        break;
      default:
        throw StateError(std::string("detect_kernels: no kernel for node kind ") + nasforge::to_string(node.kind));
    }
    kernels.push_back(k);
    // What the runtime does not fuse into a conv or linear layer runs as passes of their own.
    if (node.kind == OpKind::kConv && node.batch_norm && !rules.batch_norm) {
      kernels.push_back(elementwise(node.name + ".bn", node.out, 1));
    }
    if ((node.kind == OpKind::kConv || node.kind == OpKind::kLinear) && node.act != Activation::kNone &&
        !rules.activation) {
      kernels.push_back(elementwise(node.name + ".act", node.out, 1));
    }
  }
  return kernels;
}

}  // namespace nasforge
