// Analytical deployment costs of a NetGraph (batch 1, fp32). The conventions:
//
// params       conv: out * (in / groups) * k * k, + out for a bias, + 2 * out for BatchNorm's affine weight and
//              bias (running statistics are buffers, not parameters); linear: in_features * out (+ out for a
//              bias); standalone BatchNorm: 2 * C. This is what libtorch's parameters() counts for the module
//              built from the same graph.
// macs         conv: out_c * out_h * out_w * (in_c / groups) * k * k; linear: in_features * out. Pooling, adds,
//              activations and BatchNorm are not counted (they are cheap next to the conv/linear layers, and
//              BatchNorm folds into its conv for deployment).
// size_bytes   4 * deployed weights: every conv's BatchNorm folded into the conv, so a conv carries its weights
//              plus one bias per output channel when it has a bias or a BatchNorm; linear as for params;
//              standalone BatchNorm keeps 2 * C (a scale and a shift).
// peak memory  MCUNet-style: nodes run in the graph's order; while node i runs, the live tensors are every
//              earlier output still read by node i or a later node (NetGraph::last_use() >= i), plus node i's
//              output. An activation, BatchNorm or dropout node whose input is last read by that node writes
//              into its input's buffer, so its output costs nothing extra. The peak is the largest live sum of
//              fp32 bytes; the network input counts.

#include "evaluators/cost/cost_model.h"

#include <algorithm>

#include "core/error.h"
#include "evaluators/cost/target_costs.h"

namespace nasforge {

namespace {

constexpr std::int64_t kFloatBytes = 4;

}  // namespace

Json CostMetrics::to_json() const {
  return Json{
      {"params", params}, {"macs", macs}, {"size_bytes", size_bytes}, {"peak_mem_bytes", peak_activation_bytes}};
}

CostBudget CostBudget::from_config(const ConfigNode& section, const std::vector<TargetProfile>& targets,
                                   const std::vector<std::string>& variants) {
  SectionReader r(section);
  CostBudget b;
  auto limit = [&r](const std::string& key, const std::string& doc) {
    std::optional<std::int64_t> v = r.optional_integer(key, doc);
    if (v) r.require(*v > 0, key, "must be a positive limit, got " + std::to_string(*v));
    return v;
  };
  b.params = limit("params", "most trainable parameters a candidate may have");
  b.macs = limit("macs", "most multiply-accumulates of one inference (batch 1)");
  b.size_bytes = limit("size_bytes", "most fp32 weight bytes");
  b.peak_mem_bytes = limit("peak_mem_bytes", "most peak activation memory in bytes");
  if (section.is_map()) {
    for (const std::string& key : section.keys()) {
      if (key.find('@') == std::string::npos) continue;
      ConfigNode value = r.child(key, "number or true", "a limit on a device target's metric");
      b.on_targets.push_back(TargetLimit::read(key, value, targets, variants));
    }
  }
  r.finish();
  return b;
}

std::optional<std::string> CostBudget::violation(
    const CostMetrics& costs, const std::function<TargetCosts(std::size_t, const std::string&)>& price) const {
  std::string why;
  auto over = [&why](const char* name, std::int64_t value, const std::optional<std::int64_t>& limit) {
    if (!limit || value <= *limit) return;
    why += (why.empty() ? "" : ", ") + std::string(name) + " " + std::to_string(value) + " > budget " +
           std::to_string(*limit);
  };
  over("params", costs.params, params);
  over("macs", costs.macs, macs);
  over("size_bytes", costs.size_bytes, size_bytes);
  over("peak_mem_bytes", costs.peak_activation_bytes, peak_mem_bytes);
  for (const TargetLimit& t : on_targets) {
    check(static_cast<bool>(price), "CostBudget::violation: target limits need a price function");
    const std::string miss = t.violation(price(t.target, t.variant));
    if (!miss.empty()) why += (why.empty() ? "" : ", ") + miss;
  }
  if (why.empty()) return std::nullopt;
  return why;
}

CostMetrics analyze_costs(const NetGraph& graph) {
  CostMetrics m;
  const std::vector<NetNode>& nodes = graph.nodes();
  std::int64_t deployed = 0;  // weights after BatchNorm folding
  for (const NetNode& n : nodes) {
    if (n.inputs.empty()) continue;
    const Shape& in = nodes[static_cast<std::size_t>(n.inputs[0])].out;
    switch (n.kind) {
      case OpKind::kConv: {
        std::int64_t weights = n.out_channels * (in.c / n.groups) * n.kernel * n.kernel;
        m.params += weights + (n.bias ? n.out_channels : 0) + (n.batch_norm ? 2 * n.out_channels : 0);
        deployed += weights + (n.bias || n.batch_norm ? n.out_channels : 0);
        m.macs += n.out.c * n.out.h * n.out.w * (in.c / n.groups) * n.kernel * n.kernel;
        break;
      }
      case OpKind::kLinear: {
        std::int64_t p = in.numel() * n.out_channels + (n.bias ? n.out_channels : 0);
        m.params += p;
        deployed += p;
        m.macs += in.numel() * n.out_channels;
        break;
      }
      case OpKind::kBatchNorm:
        m.params += 2 * in.c;
        deployed += 2 * in.c;
        break;
      default:
        break;
    }
  }
  m.size_bytes = kFloatBytes * deployed;

  // MCUNet's live-set rule, written once in target_costs.cc: a target with no runtime costs and no in-place or
  // scratch rules of its own gives the plain fp32 peak.
  m.peak_activation_bytes = sram_bytes(graph, DataType::kFloat32, TargetProfile{});
  return m;
}

}  // namespace nasforge
