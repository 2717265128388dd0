#include "spaces/net_graph.h"

#include <algorithm>
#include <iterator>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

constexpr const char* kOpNames[] = {"input",  "conv",     "linear",          "activation", "batch_norm", "avg_pool",
                                    "max_pool", "global_avg_pool", "add", "mul",        "dropout"};
constexpr const char* kActivationNames[] = {"none", "relu", "relu6", "hswish", "sigmoid", "hsigmoid", "zero"};

std::int64_t pooled(std::int64_t size, int kernel, int stride, int padding) {
  return (size + 2 * padding - kernel) / stride + 1;
}

// A node of `kind` reading `from`; the caller fills in the kind's own fields.
NetNode node_of(OpKind kind, int from, const std::string& name) {
  NetNode n;
  n.kind = kind;
  n.inputs = {from};
  n.name = name;
  return n;
}

}  // namespace

std::string Shape::to_string() const {
  return std::to_string(c) + "x" + std::to_string(h) + "x" + std::to_string(w);
}

const char* to_string(OpKind kind) { return kOpNames[static_cast<int>(kind)]; }

const char* to_string(Activation act) { return kActivationNames[static_cast<int>(act)]; }

Activation parse_activation(const std::string& name) {
  std::vector<std::string> names(std::begin(kActivationNames), std::end(kActivationNames));
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<Activation>(i);
  }
  throw ValueError("unknown activation '" + name + "'; valid: " + join(names, ", "));
}

NetGraph::NetGraph(Shape input, int num_classes) : num_classes_(num_classes) {
  check(input.c > 0 && input.h > 0 && input.w > 0, "network input shape must be positive, got " + input.to_string());
  check(num_classes >= 1, "num_classes must be >= 1, got " + std::to_string(num_classes));
  NetNode in;
  in.kind = OpKind::kInput;
  in.out = input;
  in.name = "input";
  nodes_.push_back(in);
}

Shape NetGraph::infer(const NetNode& n) const {
  auto fail = [&](const std::string& what) -> Shape {
    throw InvalidArchitecture("layer '" + n.name + "' (" + to_string(n.kind) + "): " + what);
  };
  if (n.kind == OpKind::kInput) return n.out;
  if (n.inputs.empty()) return fail("has no inputs");
  for (int i : n.inputs) {
    if (i < 0 || i >= static_cast<int>(nodes_.size())) return fail("input index " + std::to_string(i) + " is not an earlier node");
  }
  const Shape& x = nodes_[static_cast<std::size_t>(n.inputs[0])].out;
  switch (n.kind) {
    case OpKind::kConv: {
      if (n.out_channels < 1 || n.kernel < 1 || n.stride < 1 || n.groups < 1) return fail("sizes must be >= 1");
      if (x.c % n.groups != 0 || n.out_channels % n.groups != 0) {
        return fail("groups " + std::to_string(n.groups) + " must divide input channels " + std::to_string(x.c) +
                    " and output channels " + std::to_string(n.out_channels));
      }
      Shape s{n.out_channels, pooled(x.h, n.kernel, n.stride, n.padding), pooled(x.w, n.kernel, n.stride, n.padding)};
      if (s.h < 1 || s.w < 1) return fail("input " + x.to_string() + " is too small for kernel " + std::to_string(n.kernel) + " stride " + std::to_string(n.stride));
      return s;
    }
    case OpKind::kLinear:
      if (n.out_channels < 1) return fail("out_features must be >= 1");
      return Shape{n.out_channels, 1, 1};
    case OpKind::kActivation:
    case OpKind::kBatchNorm:
    case OpKind::kDropout:
      return x;
    case OpKind::kAvgPool:
    case OpKind::kMaxPool: {
      Shape s{x.c, pooled(x.h, n.kernel, n.stride, n.padding), pooled(x.w, n.kernel, n.stride, n.padding)};
      if (s.h < 1 || s.w < 1 || 2 * n.padding > n.kernel) {
        return fail("input " + x.to_string() + " does not fit kernel " + std::to_string(n.kernel) + " stride " +
                    std::to_string(n.stride) + " padding " + std::to_string(n.padding));
      }
      return s;
    }
    case OpKind::kGlobalAvgPool:
      return Shape{x.c, 1, 1};
    case OpKind::kAdd:
      for (int i : n.inputs) {
        const Shape& y = nodes_[static_cast<std::size_t>(i)].out;
        if (y != x) return fail("adds shapes " + x.to_string() + " and " + y.to_string());
      }
      return x;
    case OpKind::kMul: {
      if (n.inputs.size() != 2) return fail("needs exactly 2 inputs");
      const Shape& g = nodes_[static_cast<std::size_t>(n.inputs[1])].out;
      if (g.c != x.c || g.h != 1 || g.w != 1) return fail("gate " + g.to_string() + " does not match " + x.to_string());
      return x;
    }
    case OpKind::kInput:
      break;
  }
  return fail("unknown kind");
}

int NetGraph::push(NetNode node) {
  for (const auto& n : nodes_) {
    if (n.name == node.name) throw InvalidArchitecture("duplicate layer name '" + node.name + "'");
  }
  node.out = infer(node);
  nodes_.push_back(std::move(node));
  return static_cast<int>(nodes_.size()) - 1;
}

int NetGraph::conv(int from, std::int64_t out_channels, int kernel, int stride, int groups, bool batch_norm,
                   Activation act, const std::string& name, bool bias) {
  NetNode n = node_of(OpKind::kConv, from, name);
  n.out_channels = out_channels;
  n.kernel = kernel;
  n.stride = stride;
  n.padding = (kernel - 1) / 2;
  n.groups = groups;
  n.batch_norm = batch_norm;
  n.act = act;
  n.bias = bias;
  return push(std::move(n));
}

int NetGraph::linear(int from, std::int64_t out_features, bool bias, Activation act, const std::string& name) {
  NetNode n = node_of(OpKind::kLinear, from, name);
  n.out_channels = out_features;
  n.bias = bias;
  n.act = act;
  return push(std::move(n));
}

int NetGraph::activation(int from, Activation act, const std::string& name) {
  NetNode n = node_of(OpKind::kActivation, from, name);
  n.act = act;
  return push(std::move(n));
}

int NetGraph::batch_norm(int from, const std::string& name) {
  return push(node_of(OpKind::kBatchNorm, from, name));
}

int NetGraph::pool(OpKind kind, int from, int kernel, int stride, int padding, const std::string& name) {
  NetNode n = node_of(kind, from, name);
  n.kernel = kernel;
  n.stride = stride;
  n.padding = padding;
  return push(std::move(n));
}

int NetGraph::avg_pool(int from, int kernel, int stride, int padding, const std::string& name) {
  return pool(OpKind::kAvgPool, from, kernel, stride, padding, name);
}

int NetGraph::max_pool(int from, int kernel, int stride, int padding, const std::string& name) {
  return pool(OpKind::kMaxPool, from, kernel, stride, padding, name);
}

int NetGraph::global_avg_pool(int from, const std::string& name) {
  return push(node_of(OpKind::kGlobalAvgPool, from, name));
}

int NetGraph::add(const std::vector<int>& from, const std::string& name) {
  check(!from.empty(), "add '" + name + "' needs at least one input");
  if (from.size() == 1) return from[0];
  NetNode n = node_of(OpKind::kAdd, from[0], name);
  n.inputs = from;
  return push(std::move(n));
}

int NetGraph::mul(int x, int gate, const std::string& name) {
  NetNode n = node_of(OpKind::kMul, x, name);
  n.inputs.push_back(gate);
  return push(std::move(n));
}

int NetGraph::dropout(int from, double p, const std::string& name) {
  check(p >= 0 && p < 1, "dropout '" + name + "' must be in [0, 1), got " + format_double(p));
  if (p == 0) return from;
  NetNode n = node_of(OpKind::kDropout, from, name);
  n.dropout = p;
  return push(std::move(n));
}

void NetGraph::set_output(int node) {
  check(node >= 0 && node < static_cast<int>(nodes_.size()), "output node " + std::to_string(node) + " does not exist");
  output_ = node;
}

int NetGraph::output() const { return output_ >= 0 ? output_ : static_cast<int>(nodes_.size()) - 1; }

void NetGraph::recompute_shapes() {
  for (std::size_t i = 1; i < nodes_.size(); ++i) nodes_[i].out = infer(nodes_[i]);
}

std::vector<int> NetGraph::last_use() const {
  std::vector<int> last(nodes_.size(), -1);
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (int in : nodes_[i].inputs) last[static_cast<std::size_t>(in)] = static_cast<int>(i);
  }
  last[static_cast<std::size_t>(output())] = static_cast<int>(nodes_.size());
  return last;
}

Json NetGraph::to_json() const {
  Json nodes = Json::array();
  for (const auto& n : nodes_) {
    Json j = {{"kind", to_string(n.kind)}, {"name", n.name}, {"inputs", n.inputs}};
    if (n.kind == OpKind::kInput) j["shape"] = {n.out.c, n.out.h, n.out.w};
    if (n.kind == OpKind::kConv || n.kind == OpKind::kLinear) {
      j["out_channels"] = n.out_channels;
      j["bias"] = n.bias;
    }
    if (n.kind == OpKind::kConv || n.kind == OpKind::kAvgPool || n.kind == OpKind::kMaxPool) {
      j["kernel"] = n.kernel;
      j["stride"] = n.stride;
      j["padding"] = n.padding;
    }
    if (n.kind == OpKind::kConv) {
      j["groups"] = n.groups;
      j["batch_norm"] = n.batch_norm;
    }
    if (n.kind == OpKind::kConv || n.kind == OpKind::kLinear || n.kind == OpKind::kActivation) j["act"] = to_string(n.act);
    if (n.kind == OpKind::kDropout) j["p"] = n.dropout;
    nodes.push_back(std::move(j));
  }
  return Json{{"num_classes", num_classes_}, {"output", output()}, {"nodes", std::move(nodes)}};
}

NetGraph NetGraph::from_json(const Json& j) {
  try {
    const Json& nodes = j.at("nodes");
    if (!nodes.is_array() || nodes.empty() || nodes[0].at("kind") != "input") {
      throw DataError("network JSON: 'nodes' must start with the input node");
    }
    const Json& shape = nodes[0].at("shape");
    NetGraph g(Shape{shape.at(0).get<std::int64_t>(), shape.at(1).get<std::int64_t>(), shape.at(2).get<std::int64_t>()},
               j.at("num_classes").get<int>());
    std::vector<std::string> kinds(std::begin(kOpNames), std::end(kOpNames));
    for (std::size_t i = 1; i < nodes.size(); ++i) {
      const Json& jn = nodes[i];
      NetNode n;
      std::string kind = jn.at("kind").get<std::string>();
      auto it = std::find(kinds.begin(), kinds.end(), kind);
      if (it == kinds.end() || it == kinds.begin()) {
        throw DataError("network JSON: node " + std::to_string(i) + " has unknown kind '" + kind + "'; valid: " +
                        join(std::vector<std::string>(kinds.begin() + 1, kinds.end()), ", "));
      }
      n.kind = static_cast<OpKind>(it - kinds.begin());
      n.name = jn.at("name").get<std::string>();
      n.inputs = jn.at("inputs").get<std::vector<int>>();
      n.out_channels = jn.value("out_channels", std::int64_t{0});
      n.bias = jn.value("bias", false);
      n.kernel = jn.value("kernel", 1);
      n.stride = jn.value("stride", 1);
      n.padding = jn.value("padding", 0);
      n.groups = jn.value("groups", 1);
      n.batch_norm = jn.value("batch_norm", false);
      n.act = parse_activation(jn.value("act", std::string("none")));
      n.dropout = jn.value("p", 0.0);
      for (int in : n.inputs) {
        if (in < 0 || in >= static_cast<int>(i)) {
          throw DataError("network JSON: node '" + n.name + "' reads node " + std::to_string(in) + ", which is not earlier");
        }
      }
      g.push(std::move(n));
    }
    g.set_output(j.at("output").get<int>());
    return g;
  } catch (const Json::exception& e) {
    throw DataError(std::string("network JSON is malformed: ") + e.what());
  } catch (const InvalidArchitecture& e) {
    throw DataError(std::string("network JSON describes an invalid network: ") + e.what());
  }
}

}  // namespace nasforge
