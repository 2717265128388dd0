// The `cell` architecture space: NAS-Bench-201 (Dong & Yang, ICLR 2020).
//
// A cell is a DAG of 4 nodes; node 0 is the cell input and node j (j = 1..3) is the sum over i < j of
// op_{j,i}(node i), where each of the 6 edges picks one of none, skip_connect, nor_conv_1x1, nor_conv_3x3 and
// avg_pool_3x3; node 3 is the cell output. The macro skeleton is fixed:
//
//   stem conv3x3 (C, BN) -> [cells_per_stage cells -> ResNet reduction block (2C, stride 2)] x (stages - 1)
//   -> cells_per_stage cells -> BN -> ReLU -> global average pool -> linear
//
// By default (`edges: live`) only the edges that can change the output are built: an edge i -> j is kept when
// node i is reachable from node 0 (otherwise node i is identically zero) and node j reaches node 3 (otherwise its
// value is never read). The ReLU in front of every nor_conv edge leaving a node is computed once per node and
// shared, which is equivalent to NAS-Bench-201's separate non-inplace ReLUs. The network function is NAS-Bench-201's,
// at the least cost.
//
// NAS-Bench-201's reference code computes every edge: dead ends, edges out of all-zero nodes, `none` as x * 0, and
// a ReLU per edge. Latencies measured with that code (HW-NAS-Bench, HELP) depend on all six edges, so a latency
// model can only rank them if it sees the same work: `edges: all` builds exactly that graph (parameter counts then
// match NAS-Bench-201's tables too), and also builds cells whose output is disconnected from the input, which the
// reference code runs as well; the search still never proposes those.

#include <algorithm>
#include <array>

#include "core/error.h"
#include "core/strings.h"
#include "spaces/architecture.h"
#include "spaces/nasbench201.h"

namespace nasforge {

const std::vector<std::string>& nasbench201_ops() {
  static const std::vector<std::string> kOps = {"none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3"};
  return kOps;
}

const std::vector<std::string>& nasbench201_edges() {
  static const std::vector<std::string> kEdges = {"edge_1_0", "edge_2_0", "edge_2_1",
                                                  "edge_3_0", "edge_3_1", "edge_3_2"};
  return kEdges;
}

std::string nasbench201_arch(const std::vector<std::string>& ops) {
  check(ops.size() == 6, "a NAS-Bench-201 cell has 6 edges, got " + std::to_string(ops.size()) + " ops");
  return "|" + ops[0] + "~0|+|" + ops[1] + "~0|" + ops[2] + "~1|+|" + ops[3] + "~0|" + ops[4] + "~1|" + ops[5] + "~2|";
}

std::vector<std::string> parse_nasbench201_arch(const std::string& arch) {
  const std::string what = "invalid NAS-Bench-201 arch string '" + arch + "': ";
  const std::string format = "expected the form |op~0|+|op~0|op~1|+|op~0|op~1|op~2|";
  // Split on '+' into the three node groups; each group must be wrapped in '|'.
  std::vector<std::string> groups;
  std::size_t start = 0;
  while (true) {
    std::size_t plus = arch.find('+', start);
    groups.push_back(arch.substr(start, plus == std::string::npos ? std::string::npos : plus - start));
    if (plus == std::string::npos) break;
    start = plus + 1;
  }
  if (groups.size() != 3) {
    throw ValueError(what + "found " + std::to_string(groups.size()) + " node group(s) separated by '+'; " + format);
  }
  std::vector<std::string> ops;
  for (std::size_t g = 0; g < 3; ++g) {
    const std::string& group = groups[g];
    const std::size_t node = g + 1;
    if (group.size() < 2 || group.front() != '|' || group.back() != '|') {
      throw ValueError(what + "node " + std::to_string(node) + " group '" + group + "' must start and end with '|'; " +
                       format);
    }
    std::vector<std::string> tokens;
    std::string inner = group.substr(1, group.size() - 2);
    std::size_t from = 0;
    while (true) {
      std::size_t bar = inner.find('|', from);
      tokens.push_back(inner.substr(from, bar == std::string::npos ? std::string::npos : bar - from));
      if (bar == std::string::npos) break;
      from = bar + 1;
    }
    if (tokens.size() != node) {
      throw ValueError(what + "node " + std::to_string(node) + " group '" + group + "' has " +
                       std::to_string(tokens.size()) + " edge(s), expected " + std::to_string(node) + "; " + format);
    }
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const std::string& token = tokens[i];
      std::size_t tilde = token.find('~');
      std::string expected_source = std::to_string(i);
      if (tilde == std::string::npos || token.substr(tilde + 1) != expected_source) {
        throw ValueError(what + "edge token '" + token + "' of node " + std::to_string(node) + " should read 'op~" +
                         expected_source + "'");
      }
      std::string op = token.substr(0, tilde);
      const auto& valid = nasbench201_ops();
      if (std::find(valid.begin(), valid.end(), op) == valid.end()) {
        throw ValueError(what + "edge token '" + token + "' names unknown op '" + op + "'" + did_you_mean(op, valid) +
                         "; ops: " + join(valid, ", "));
      }
      ops.push_back(op);
    }
  }
  return ops;
}

std::array<bool, 4> nasbench201_reachable(const std::vector<std::string>& ops) {
  check(ops.size() == 6, "a NAS-Bench-201 cell has 6 edges, got " + std::to_string(ops.size()) + " ops");
  std::array<bool, 4> reach = {true, false, false, false};
  for (int j = 1; j < 4; ++j) {
    for (int i = 0; i < j; ++i) {
      if (reach[static_cast<std::size_t>(i)] && ops[nasbench201_edge_index(j, i)] != "none") {
        reach[static_cast<std::size_t>(j)] = true;
      }
    }
  }
  return reach;
}

namespace {

// Which edges can affect the cell output (see the file comment); InvalidArchitecture when none reaches it.
std::array<bool, 6> live_edges(const std::vector<std::string>& ops, const std::string& arch) {
  const std::array<bool, 4> from_input = nasbench201_reachable(ops);
  if (!from_input[3]) throw InvalidArchitecture("cell output is disconnected from its input: " + arch);
  std::array<bool, 4> to_output = {false, false, false, true};
  for (int i = 2; i >= 0; --i) {
    for (int j = i + 1; j < 4; ++j) {
      if (to_output[static_cast<std::size_t>(j)] && ops[nasbench201_edge_index(j, i)] != "none") {
        to_output[static_cast<std::size_t>(i)] = true;
      }
    }
  }
  std::array<bool, 6> live{};
  for (int j = 1; j < 4; ++j) {
    for (int i = 0; i < j; ++i) {
      live[nasbench201_edge_index(j, i)] = from_input[static_cast<std::size_t>(i)] &&
                                           to_output[static_cast<std::size_t>(j)] &&
                                           ops[nasbench201_edge_index(j, i)] != "none";
    }
  }
  return live;
}

class CellSpace : public ArchitectureSpace {
 public:
  CellSpace(std::int64_t channels, std::int64_t cells_per_stage, std::int64_t stages, std::vector<std::string> ops,
            bool all_edges, SourceLocation location)
      : channels_(channels),
        cells_per_stage_(cells_per_stage),
        stages_(stages),
        ops_(std::move(ops)),
        all_edges_(all_edges) {
    std::vector<ParamValue> choices(ops_.begin(), ops_.end());
    const auto& edges = nasbench201_edges();
    for (std::size_t e = 0; e < edges.size(); ++e) {
      ParamSpec spec;
      spec.name = edges[e];
      spec.distribution = Distribution::make_categorical(choices);
      spec.doc =
          "NAS-Bench-201 op on the cell edge from node " + edges[e].substr(7, 1) + " to node " + edges[e].substr(5, 1);
      spec.location = location;
      params_.push_back(std::move(spec));
    }
  }

  std::string type() const override { return "cell"; }

  std::vector<ParamSpec> parameters() const override { return params_; }

  std::string genotype(const ParamMap& params) const override {
    std::vector<std::string> ops;
    for (const auto& edge : nasbench201_edges()) {
      auto it = params.find(edge);
      if (it == params.end()) throw ValueError("cell parameter '" + edge + "' is missing");
      if (!it->second.is_string() || !in_space(it->second.as_string())) {
        throw ValueError("cell parameter '" + edge + "' is '" + it->second.to_string() + "'; expected one of " +
                         join(ops_, ", "));
      }
      ops.push_back(it->second.as_string());
    }
    std::string arch = nasbench201_arch(ops);
    live_edges(ops, arch);
    return arch;
  }

  ParamMap params(const std::string& genotype) const override {
    std::vector<std::string> ops = parse_checked(genotype);
    ParamMap out;
    for (std::size_t e = 0; e < ops.size(); ++e) out[nasbench201_edges()[e]] = ops[e];
    return out;
  }

  NetGraph build(const std::string& genotype, const Shape& input, int num_classes) const override {
    std::vector<std::string> ops = parse_checked(genotype);
    // Every edge is built in `edges: all` mode, `none` as x * 0; otherwise only the live ones.
    std::array<bool, 6> live{};
    if (all_edges_) {
      live.fill(true);
    } else {
      live = live_edges(ops, genotype);
    }
    NetGraph g(input, num_classes);
    std::int64_t channels = channels_;
    int x = g.conv(0, channels, 3, 1, 1, true, Activation::kNone, "stem");
    for (std::int64_t s = 1; s <= stages_; ++s) {
      std::string stage = "s" + std::to_string(s);
      if (s > 1) {
        const Shape& in = g.nodes()[static_cast<std::size_t>(x)].out;
        // The shortcut's 2x2 pooling and the 3x3 stride-2 conv only agree on even sizes.
        if (in.h < 2 || in.w < 2 || in.h % 2 != 0 || in.w % 2 != 0) {
          throw InvalidArchitecture("input " + input.to_string() + " is too small for " + std::to_string(stages_) +
                                    " stages: the reduction before stage " + std::to_string(s) +
                                    " needs an even feature map of at least 2x2, got " + std::to_string(in.h) + "x" +
                                    std::to_string(in.w));
        }
        channels *= 2;
        x = reduction(g, x, channels, stage + ".reduce");
      }
      for (std::int64_t c = 0; c < cells_per_stage_; ++c) {
        x = all_edges_ ? reference_cell(g, x, ops, stage + ".c" + std::to_string(c))
                       : cell(g, x, ops, live, stage + ".c" + std::to_string(c));
      }
    }
    x = g.batch_norm(x, "head.bn");
    x = g.activation(x, Activation::kReLU, "head.relu");
    x = g.global_avg_pool(x, "head.pool");
    x = g.linear(x, num_classes, true, Activation::kNone, "head.linear");
    g.set_output(x);
    return g;
  }

  std::string config_yaml() const override {
    return "type: cell\nchannels: " + std::to_string(channels_) +
           "\ncells_per_stage: " + std::to_string(cells_per_stage_) + "\nstages: " + std::to_string(stages_) +
           "\nops: [" + join(ops_, ", ") + "]\n" + (all_edges_ ? "edges: all\n" : "");
  }

 private:
  bool in_space(const std::string& op) const { return std::find(ops_.begin(), ops_.end(), op) != ops_.end(); }

  // parse_nasbench201_arch, plus the check that every op is one this space searches.
  std::vector<std::string> parse_checked(const std::string& genotype) const {
    std::vector<std::string> ops = parse_nasbench201_arch(genotype);
    for (std::size_t e = 0; e < ops.size(); ++e) {
      if (!in_space(ops[e])) {
        throw ValueError("NAS-Bench-201 arch string '" + genotype + "': op '" + ops[e] + "' on " +
                         nasbench201_edges()[e] + " is not searched by this space; its ops: " + join(ops_, ", "));
      }
    }
    return ops;
  }

  // NAS-Bench-201's ResNetBasicblock: ReLU-Conv3x3(s2)-BN, ReLU-Conv3x3-BN, plus AvgPool2x2-Conv1x1 shortcut.
  static int reduction(NetGraph& g, int x, std::int64_t channels, const std::string& name) {
    int a = g.activation(x, Activation::kReLU, name + ".relu");
    a = g.conv(a, channels, 3, 2, 1, true, Activation::kReLU, name + ".conv_a");
    a = g.conv(a, channels, 3, 1, 1, true, Activation::kNone, name + ".conv_b");
    int s = g.avg_pool(x, 2, 2, 0, name + ".pool");
    s = g.conv(s, channels, 1, 1, 1, false, Activation::kNone, name + ".shortcut");
    return g.add({a, s}, name + ".add");
  }

  static int cell(NetGraph& g, int x, const std::vector<std::string>& ops, const std::array<bool, 6>& live,
                  const std::string& name) {
    const std::int64_t channels = g.nodes()[static_cast<std::size_t>(x)].out.c;
    std::array<int, 4> node = {x, -1, -1, -1};
    std::array<int, 4> relu = {-1, -1, -1, -1};  // shared ReLU of node i, built on first use
    for (int j = 1; j < 4; ++j) {
      std::vector<int> terms;
      for (int i = 0; i < j; ++i) {
        std::size_t e = nasbench201_edge_index(j, i);
        if (!live[e]) continue;
        const std::string& op = ops[e];
        std::size_t si = static_cast<std::size_t>(i);
        std::string edge = name + ".e" + std::to_string(j) + "_" + std::to_string(i);
        if (op == "skip_connect") {
          terms.push_back(node[si]);
        } else if (op == "avg_pool_3x3") {
          terms.push_back(g.avg_pool(node[si], 3, 1, 1, edge));
        } else {
          if (relu[si] < 0) relu[si] = g.activation(node[si], Activation::kReLU, name + ".relu" + std::to_string(i));
          int kernel = op == "nor_conv_1x1" ? 1 : 3;
          terms.push_back(g.conv(relu[si], channels, kernel, 1, 1, true, Activation::kNone, edge));
        }
      }
      if (!terms.empty()) node[static_cast<std::size_t>(j)] = g.add(terms, name + ".n" + std::to_string(j));
    }
    return node[3];
  }

  // NAS-Bench-201's InferCell as its reference code runs it: node j is the sum over every i < j of its edge's op,
  // each nor_conv edge with its own ReLU, `none` as x * 0, nothing skipped.
  static int reference_cell(NetGraph& g, int x, const std::vector<std::string>& ops, const std::string& name) {
    const std::int64_t channels = g.nodes()[static_cast<std::size_t>(x)].out.c;
    std::array<int, 4> node = {x, -1, -1, -1};
    for (int j = 1; j < 4; ++j) {
      std::vector<int> terms;
      for (int i = 0; i < j; ++i) {
        const std::string& op = ops[nasbench201_edge_index(j, i)];
        const int from = node[static_cast<std::size_t>(i)];
        const std::string edge = name + ".e" + std::to_string(j) + "_" + std::to_string(i);
        if (op == "skip_connect") {
          terms.push_back(from);
        } else if (op == "none") {
          terms.push_back(g.activation(from, Activation::kZero, edge));
        } else if (op == "avg_pool_3x3") {
          terms.push_back(g.avg_pool(from, 3, 1, 1, edge));
        } else {
          const int relu = g.activation(from, Activation::kReLU, edge + ".relu");
          terms.push_back(g.conv(relu, channels, op == "nor_conv_1x1" ? 1 : 3, 1, 1, true, Activation::kNone, edge));
        }
      }
      node[static_cast<std::size_t>(j)] = terms.size() == 1 ? terms[0] : g.add(terms, name + ".n" + std::to_string(j));
    }
    return node[3];
  }

  std::int64_t channels_, cells_per_stage_, stages_;
  std::vector<std::string> ops_;
  bool all_edges_;
  std::vector<ParamSpec> params_;
};

}  // namespace

std::shared_ptr<const ArchitectureSpace> make_cell_architecture(SectionReader& options) {
  std::int64_t channels = options.integer("channels", 16, "channels of the first stage (doubled at each reduction)");
  std::int64_t cells = options.integer("cells_per_stage", 5, "cells stacked in each stage");
  std::int64_t stages = options.integer("stages", 3, "stages, separated by stride-2 ResNet reduction blocks");
  const std::string edges = options.text("edges", std::string("live"),
                                         "live (only edges that change the output) or all (every edge, as "
                                         "NAS-Bench-201's reference code computes them)",
                                         {"live", "all"});
  ConfigNode ops_node =
      options.child("ops", "list of strings", "ops an edge may take (default: all five NAS-Bench-201 ops)");
  options.require(channels >= 1, "channels", "must be >= 1, got " + std::to_string(channels));
  options.require(cells >= 1, "cells_per_stage", "must be >= 1, got " + std::to_string(cells));
  options.require(stages >= 1, "stages", "must be >= 1, got " + std::to_string(stages));
  std::vector<std::string> ops;
  if (ops_node.defined() && !ops_node.is_null()) {
    if (!ops_node.is_sequence() || ops_node.elements().empty()) {
      ops_node.fail("expected a non-empty list of ops (" + join(nasbench201_ops(), ", ") + "), got " +
                    ops_node.describe());
    }
    for (const auto& item : ops_node.elements()) {
      std::string op = item.as_string();
      lookup_name(item, op, nasbench201_ops(), "NAS-Bench-201 op");
      if (std::find(ops.begin(), ops.end(), op) != ops.end()) item.fail("op '" + op + "' is listed twice");
      ops.push_back(op);
    }
    if (ops == std::vector<std::string>{"none"}) {
      ops_node.fail("with only 'none' every cell is disconnected; add at least one other op");
    }
  } else {
    ops = nasbench201_ops();
  }
  return std::make_shared<CellSpace>(channels, cells, stages, std::move(ops), edges == "all",
                                     options.node().location());
}

}  // namespace nasforge
