// What a deployed network costs on a target. Latency: the sum of per-kernel times (nn-Meter's additivity over
// kernels; HELP and BRP-NAS show that per-device calibration matters more than model capacity), each from the
// kernel's MACs, the bytes it moves and a fixed per-kernel overhead, so a profile needs only a dozen coefficients
// and calibrates from a handful of measured networks. Memory: MCUNet's rules (Lin et al., NeurIPS 2020).

#include "evaluators/cost/target_costs.h"

#include <algorithm>

#include "core/error.h"

namespace nasforge {

namespace {

Json layer_json(const LayerStorage& l) {
  return Json::array({l.numel, l.nonzeros, l.out_channels, l.bias, l.weight_bits, l.quantized, l.per_channel,
                      l.clusters});
}

LayerStorage layer_from_json(const Json& j) {
  if (!j.is_array() || j.size() != 8) throw DataError("deployment: a layer must be an array of 8 fields, got " + j.dump());
  LayerStorage l;
  try {
    l.numel = j[0].get<std::int64_t>();
    l.nonzeros = j[1].get<std::int64_t>();
    l.out_channels = j[2].get<std::int64_t>();
    l.bias = j[3].get<std::int64_t>();
    l.weight_bits = j[4].get<int>();
    l.quantized = j[5].get<bool>();
    l.per_channel = j[6].get<bool>();
    l.clusters = j[7].get<std::int64_t>();
  } catch (const Json::exception& e) {
    throw DataError("deployment: bad layer " + j.dump() + ": " + e.what());
  }
  return l;
}

DataType parse_dtype(const std::string& s) {
  for (DataType t : {DataType::kFloat32, DataType::kFloat16, DataType::kInt8}) {
    if (s == to_string(t)) return t;
  }
  throw DataError("deployment: dtype must be fp32, fp16 or int8, got '" + s + "'");
}

bool runs_in_place(OpKind kind) {
  return kind == OpKind::kActivation || kind == OpKind::kBatchNorm || kind == OpKind::kDropout;
}

}  // namespace

Deployment Deployment::of(NetGraph graph, int weight_bits, std::int64_t clusters) {
  Deployment d;
  d.dtype = data_type_for_bits(weight_bits);
  const std::vector<NetNode>& nodes = graph.nodes();
  for (const NetNode& n : nodes) {
    if (n.inputs.empty()) continue;
    const Shape& in = nodes[static_cast<std::size_t>(n.inputs[0])].out;
    if (n.kind == OpKind::kBatchNorm) d.extra_float_params += 2 * in.c;
    if (n.kind != OpKind::kConv && n.kind != OpKind::kLinear) continue;
    LayerStorage l;
    l.numel = n.kind == OpKind::kConv ? n.out_channels * (in.c / n.groups) * n.kernel * n.kernel
                                      : in.numel() * n.out_channels;
    l.nonzeros = l.numel;
    l.out_channels = n.out_channels;
    l.bias = n.bias || (n.kind == OpKind::kConv && n.batch_norm) ? n.out_channels : 0;
    l.weight_bits = weight_bits;
    l.quantized = weight_bits <= 8;
    l.per_channel = l.quantized;
    l.clusters = clusters;
    d.layers.push_back(l);
  }
  d.graph = std::move(graph);
  return d;
}

Json Deployment::to_json(bool with_graph) const {
  Json layers_json = Json::array();
  for (const LayerStorage& l : layers) layers_json.push_back(layer_json(l));
  Json j{{"dtype", to_string(dtype)}, {"layers", layers_json}, {"extra_float_params", extra_float_params}};
  if (with_graph) j["graph"] = graph.to_json();
  return j;
}

Deployment Deployment::from_json(const Json& j, const NetGraph* graph) {
  if (!j.is_object()) throw DataError("deployment: expected a JSON object, got " + j.dump());
  Deployment d;
  if (j.contains("graph")) {
    d.graph = NetGraph::from_json(j["graph"]);
  } else if (graph) {
    d.graph = *graph;
  } else {
    throw DataError("deployment: no graph stored and none given");
  }
  if (!j.contains("dtype") || !j["dtype"].is_string()) throw DataError("deployment: missing string field 'dtype'");
  d.dtype = parse_dtype(j["dtype"].get<std::string>());
  if (!j.contains("layers") || !j["layers"].is_array()) throw DataError("deployment: missing array field 'layers'");
  for (const Json& l : j["layers"]) d.layers.push_back(layer_from_json(l));
  if (j.contains("extra_float_params")) {
    if (!j["extra_float_params"].is_number_integer()) throw DataError("deployment: extra_float_params must be an integer");
    d.extra_float_params = j["extra_float_params"].get<std::int64_t>();
  }
  return d;
}

std::vector<KernelTime> kernel_times(const std::vector<Kernel>& kernels, DataType dtype, const TargetProfile& target,
                                     double weight_bytes_ratio) {
  std::vector<KernelTime> out;
  out.reserve(kernels.size());
  // 1e9 MAC/s is 1e3 MAC/us; 1e9 bytes/s is 1e3 bytes/us.
  const double macs_per_us = target.gmacs(dtype) * 1e3;
  const double bytes_per_us = target.bandwidth_gbs * 1e3;
  const int bytes = element_bytes(dtype);
  for (const Kernel& k : kernels) {
    const KernelCoefficients& c = target.coefficients(k.type);
    KernelTime t;
    t.kernel = k;
    t.compute_us = static_cast<double>(k.macs) / (macs_per_us * c.efficiency);
    const double moved = static_cast<double>(k.elements - k.weights) + static_cast<double>(k.weights) * weight_bytes_ratio;
    t.memory_us = moved * bytes / bytes_per_us;
    t.overhead_us = c.overhead_us;
    out.push_back(t);
  }
  return out;
}

std::int64_t flash_bytes(const Deployment& d, const TargetProfile& target) {
  std::vector<LayerStorage> stored = d.layers;
  for (LayerStorage& l : stored) {
    if (!target.sparse_weights) l.nonzeros = l.numel;
    if (!target.clustered_weights) l.clusters = 0;
  }
  return storage_bytes(stored, d.extra_float_params) + target.runtime_flash_bytes;
}

std::int64_t sram_bytes(const NetGraph& graph, DataType dtype, const TargetProfile& target) {
  const std::vector<NetNode>& nodes = graph.nodes();
  const std::vector<int> last = graph.last_use();
  const std::int64_t bytes = element_bytes(dtype);
  std::int64_t peak = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::int64_t live = 0;
    for (std::size_t j = 0; j < i; ++j) {
      if (last[j] >= static_cast<int>(i)) live += nodes[j].out.numel();
    }
    const NetNode& n = nodes[i];
    std::int64_t scratch = 0;
    if (!n.inputs.empty()) {
      const Shape& in = nodes[static_cast<std::size_t>(n.inputs[0])].out;
      const bool input_dies = last[static_cast<std::size_t>(n.inputs[0])] == static_cast<int>(i);
      const bool depthwise = n.kind == OpKind::kConv && n.groups > 1 && n.groups == in.c;
      if (runs_in_place(n.kind) && input_dies) {
        // Writes into its input's buffer.
      } else if (depthwise && target.in_place_depthwise && input_dies && n.out.c == in.c &&
                 n.out.numel() <= in.numel()) {
        live += n.out.h * n.out.w;  // one channel's buffer; each finished channel overwrites its input channel
      } else {
        live += n.out.numel();
      }
      if (n.kind == OpKind::kConv && n.kernel > 1) {
        scratch = target.im2col_columns * (in.c / n.groups) * n.kernel * n.kernel;
      }
    } else {
      live += n.out.numel();
    }
    peak = std::max(peak, bytes * (live + scratch));
  }
  return peak + target.runtime_sram_bytes;
}

TargetCosts predict_costs(const Deployment& d, const TargetProfile& target) {
  TargetCosts c;
  // Where the target's format stores sparse or clustered weights compressed, its kernels also read fewer weight
  // bytes: the variant's stored weights over the same weights stored dense.
  double ratio = 1.0;
  if (target.sparse_weights || target.clustered_weights) {
    std::vector<LayerStorage> dense = d.layers;
    for (LayerStorage& l : dense) {
      l.nonzeros = l.numel;
      l.clusters = 0;
    }
    const std::int64_t dense_bytes = storage_bytes(dense, d.extra_float_params);
    if (dense_bytes > 0) {
      ratio = static_cast<double>(flash_bytes(d, target) - target.runtime_flash_bytes) / static_cast<double>(dense_bytes);
    }
  }
  c.kernels = kernel_times(detect_kernels(d.graph, target.fuse), d.dtype, target, ratio);
  double us = target.invoke_overhead_us;
  for (const KernelTime& k : c.kernels) us += k.total_us();
  c.latency_ms = us / 1e3;
  c.flash_bytes = flash_bytes(d, target);
  c.sram_bytes = sram_bytes(d.graph, d.dtype, target);
  auto over = [&c](const char* what, std::int64_t value, const std::optional<std::int64_t>& limit) {
    if (!limit || value <= *limit) return;
    c.fits = false;
    c.misses += (c.misses.empty() ? "" : ", ") + std::string(what) + " " + std::to_string(value) + " > " +
                std::to_string(*limit) + " (by " + std::to_string(value - *limit) + ")";
  };
  over("flash_bytes", c.flash_bytes, target.flash_bytes);
  over("sram_bytes", c.sram_bytes, target.sram_bytes);
  return c;
}

}  // namespace nasforge
