// The `chain` architecture space: the MobileNetV2 / MnasNet / ProxylessNAS family. A stem conv is followed by
// stages of blocks and a pooling classifier head. Each stage searches its depth; each block searches its op,
// kernel, width, MBConv expansion ratio and (with se: search) squeeze-excitation.
//
// Block semantics (`act` is the configured activation):
//   conv   : kxk conv (stride) + BN + act. No residual: it stands for a plain layer, as in the stem.
//   dwsep  : depthwise kxk (stride) + BN + act, [SE], pointwise 1x1 + BN + act.
//   mbconv : expand 1x1 + BN + act (left out for ratio 1), depthwise kxk (stride) + BN + act, [SE],
//            project 1x1 + BN (linear bottleneck, no act).
//   skip   : identity; the block is removed (ProxylessNAS's way of searching depth within a stage).
//   SE     : global_avg_pool -> 1x1 conv with bias to max(8, C/4) + ReLU -> 1x1 conv with bias to C + hsigmoid
//            -> multiply, where C is the channel count at the depthwise output.
// dwsep and mbconv blocks whose stride is 1 and whose width equals their input's channels add their input to
// their output (MobileNetV2's residual), block 0 of a stage included when its stage has stride 1 and keeps the
// width. Block 0 of each stage carries the stage's stride and can never be skip.
//
// Head: [1x1 conv head.channels + BN + act] -> global_avg_pool -> dropout -> linear(num_classes, bias).
//
// Genotype grammar (stages and blocks numbered as in the parameter names s<i>.b<j>, stages from 1, blocks from 0):
//   genotype := stage ("|" stage)*                 one stage per configured stage, in order
//   stage    := "s" <i> ":" block ("," block)*     the number of blocks is the stage's depth
//   block    := "skip" | op "_k" <kernel> "_w" <width> ["_se"]
//   op       := "conv" | "dw" | "mb" <expansion ratio>
// "_se" marks a dwsep/mbconv block with squeeze-excitation (always present with se: true, never with se: false).
// Example: "s1:mb6_k3_w24_se,dw_k5_w24|s2:conv_k3_w40,skip". The stem, head and activation are not part of the
// genotype; they come from the space's configuration (config_yaml()).

#include <algorithm>
#include <map>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "spaces/architecture.h"

namespace nasforge {

namespace {

enum class Op { kConv, kDwSep, kMbConv, kSkip };
const std::vector<std::string> kOpNames = {"conv", "dwsep", "mbconv", "skip"};
enum class SeMode { kOff, kOn, kSearch };
const std::vector<std::string> kActivations = {"relu", "relu6", "hswish"};

Op op_of(const std::string& name) {
  return static_cast<Op>(std::find(kOpNames.begin(), kOpNames.end(), name) - kOpNames.begin());
}

struct StageConfig {
  std::vector<std::int64_t> depths;  // depth choices as configured
  std::vector<std::int64_t> widths;  // width choices as configured
  int stride = 1;
  SourceLocation location;
};

struct ChainConfig {
  std::int64_t stem_channels = 16;
  int stem_kernel = 3;
  int stem_stride = 1;
  std::vector<StageConfig> stages;
  std::vector<std::string> ops;  // op names in configured order
  std::vector<std::int64_t> kernels;
  std::vector<std::int64_t> expand;
  SeMode se = SeMode::kOff;
  std::string activation = "relu";
  std::int64_t head_channels = 0;
  double head_dropout = 0;
};

// One decoded block; fields that do not apply to `op` stay 0 / false.
struct Block {
  Op op = Op::kSkip;
  std::int64_t kernel = 0;
  std::int64_t expand = 0;
  std::int64_t width = 0;
  bool se = false;
};
using Genome = std::vector<std::vector<Block>>;

std::string ints_text(const std::vector<std::int64_t>& v) {
  std::vector<std::string> s;
  for (auto x : v) s.push_back(std::to_string(x));
  return join(s, ", ");
}

bool contains(const std::vector<std::int64_t>& v, std::int64_t x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::vector<ParamValue> int_choices(const std::vector<std::int64_t>& v) {
  return {v.begin(), v.end()};
}

class ChainSpace : public ArchitectureSpace {
 public:
  explicit ChainSpace(ChainConfig config) : c_(std::move(config)) { make_params(); }

  std::string type() const override { return "chain"; }

  std::vector<ParamSpec> parameters() const override { return params_; }

  std::string genotype(const ParamMap& params) const override { return format(decode(params)); }

  ParamMap params(const std::string& genotype) const override { return encode(parse(genotype)); }

  NetGraph build(const std::string& genotype, const Shape& input, int num_classes) const override {
    Genome genome = parse(genotype);
    Activation act = parse_activation(c_.activation);
    NetGraph g(input, num_classes);
    auto check_stride = [&](int x, int stride, const std::string& layer) {
      const Shape& s = g.nodes()[static_cast<std::size_t>(x)].out;
      if (stride > 1 && (s.h < 2 || s.w < 2)) {
        throw InvalidArchitecture("input " + input.to_string() + " is too small for this network: '" + layer +
                                  "' (stride " + std::to_string(stride) + ") would downsample a " +
                                  std::to_string(s.h) + "x" + std::to_string(s.w) + " feature map");
      }
    };
    check_stride(0, c_.stem_stride, "stem");
    int x = g.conv(0, c_.stem_channels, c_.stem_kernel, c_.stem_stride, 1, true, act, "stem");
    for (std::size_t i = 0; i < genome.size(); ++i) {
      for (std::size_t b = 0; b < genome[i].size(); ++b) {
        const Block& blk = genome[i][b];
        if (blk.op == Op::kSkip) continue;
        std::string name = "s" + std::to_string(i + 1) + ".b" + std::to_string(b);
        int stride = b == 0 ? c_.stages[i].stride : 1;
        check_stride(x, stride, name);
        x = build_block(g, x, blk, stride, act, name);
      }
    }
    if (c_.head_channels > 0) x = g.conv(x, c_.head_channels, 1, 1, 1, true, act, "head.conv");
    x = g.global_avg_pool(x, "head.pool");
    x = g.dropout(x, c_.head_dropout, "head.dropout");
    x = g.linear(x, num_classes, true, Activation::kNone, "head.linear");
    g.set_output(x);
    return g;
  }

  std::string config_yaml() const override {
    std::ostringstream out;
    out << "type: chain\n";
    out << "stem: {channels: " << c_.stem_channels << ", kernel: " << c_.stem_kernel << ", stride: " << c_.stem_stride
        << "}\n";
    out << "stages:\n";
    for (const auto& s : c_.stages) {
      out << "  - {depth: [" << ints_text(s.depths) << "], widths: [" << ints_text(s.widths)
          << "], stride: " << s.stride << "}\n";
    }
    out << "ops: [" << join(c_.ops, ", ") << "]\n";
    out << "kernels: [" << ints_text(c_.kernels) << "]\n";
    out << "expand: [" << ints_text(c_.expand) << "]\n";
    out << "se: " << (c_.se == SeMode::kOff ? "false" : c_.se == SeMode::kOn ? "true" : "search") << "\n";
    out << "activation: " << c_.activation << "\n";
    out << "head: {channels: " << c_.head_channels << ", dropout: " << format_double(c_.head_dropout) << "}\n";
    return out.str();
  }

 private:
  bool searches(Op op) const {
    return std::find(c_.ops.begin(), c_.ops.end(), kOpNames[static_cast<std::size_t>(op)]) != c_.ops.end();
  }
  static bool se_capable(Op op) { return op == Op::kDwSep || op == Op::kMbConv; }
  // The op choices of block b: all searched ops, except that block 0 (stride, width change) cannot be skip.
  std::vector<std::string> op_choices(std::size_t b) const {
    std::vector<std::string> out;
    for (const auto& o : c_.ops) {
      if (!(b == 0 && o == "skip")) out.push_back(o);
    }
    return out;
  }

  void add_param(std::string name, std::vector<ParamValue> choices, std::vector<ConditionClause> when, std::string doc,
                 const SourceLocation& loc) {
    ParamSpec spec;
    spec.name = std::move(name);
    spec.distribution = Distribution::make_categorical(std::move(choices));
    spec.when = std::move(when);
    spec.doc = std::move(doc);
    spec.location = loc;
    index_[spec.name] = params_.size();
    params_.push_back(std::move(spec));
  }

  // Parameters in sampling order. A block's parameters carry the full condition: the depth clause (blocks past
  // the smallest depth) and, when the op choice matters, a clause on the block's op.
  void make_params() {
    for (std::size_t i = 0; i < c_.stages.size(); ++i) {
      const StageConfig& st = c_.stages[i];
      std::string stage = "s" + std::to_string(i + 1);
      std::string depth = stage + ".depth";
      add_param(depth, int_choices(st.depths), {}, "stage " + std::to_string(i + 1) + ": number of blocks",
                st.location);
      std::int64_t min_depth = *std::min_element(st.depths.begin(), st.depths.end());
      std::int64_t max_depth = *std::max_element(st.depths.begin(), st.depths.end());
      for (std::int64_t b = 0; b < max_depth; ++b) {
        std::string block = stage + ".b" + std::to_string(b);
        std::string what = "stage " + std::to_string(i + 1) + " block " + std::to_string(b) + ": ";
        std::vector<ConditionClause> when;
        if (b >= min_depth) {
          ConditionClause deeper{depth, {}};
          for (auto d : st.depths) {
            if (d > b) deeper.values.push_back(ParamValue(d));
          }
          when.push_back(std::move(deeper));
        }
        std::vector<std::string> ops = op_choices(static_cast<std::size_t>(b));
        add_param(block + ".op", {ops.begin(), ops.end()}, when, what + "operation (" + join(ops, ", ") + ")",
                  st.location);
        // `when` plus "op is one of `subset`" unless every op choice is in the subset.
        auto when_op = [&](const std::vector<std::string>& subset) {
          std::vector<ConditionClause> w = when;
          std::vector<ParamValue> values;
          for (const auto& o : ops) {
            if (std::find(subset.begin(), subset.end(), o) != subset.end()) values.push_back(ParamValue(o));
          }
          if (values.size() < ops.size()) w.push_back(ConditionClause{block + ".op", values});
          return w;
        };
        std::vector<std::string> with_layers = {"conv", "dwsep", "mbconv"};
        add_param(block + ".kernel", int_choices(c_.kernels), when_op(with_layers), what + "kernel size", st.location);
        if (std::find(ops.begin(), ops.end(), "mbconv") != ops.end()) {
          add_param(block + ".expand", int_choices(c_.expand), when_op({"mbconv"}), what + "MBConv expansion ratio",
                    st.location);
        }
        add_param(block + ".width", int_choices(st.widths), when_op(with_layers), what + "output channels",
                  st.location);
        bool any_se = std::find(ops.begin(), ops.end(), "mbconv") != ops.end() ||
                      std::find(ops.begin(), ops.end(), "dwsep") != ops.end();
        if (c_.se == SeMode::kSearch && any_se) {
          add_param(block + ".se", {ParamValue(false), ParamValue(true)}, when_op({"dwsep", "mbconv"}),
                    what + "squeeze-excitation", st.location);
        }
      }
    }
  }

  // The value of an active parameter, checked against its domain and normalised to the domain's choice.
  ParamValue get(const ParamMap& params, const std::string& name) const {
    auto it = params.find(name);
    if (it == params.end()) throw ValueError("chain parameter '" + name + "' is missing");
    const Distribution& d = params_[index_.at(name)].distribution;
    try {
      return d.to_external(d.to_internal(it->second));
    } catch (const ValueError& e) {
      throw ValueError("chain parameter '" + name + "': " + e.what());
    }
  }

  Genome decode(const ParamMap& params) const {
    Genome genome(c_.stages.size());
    for (std::size_t i = 0; i < c_.stages.size(); ++i) {
      std::string stage = "s" + std::to_string(i + 1);
      std::int64_t depth = get(params, stage + ".depth").as_int();
      for (std::int64_t b = 0; b < depth; ++b) {
        std::string block = stage + ".b" + std::to_string(b);
        Block blk;
        blk.op = op_of(get(params, block + ".op").as_string());
        if (blk.op != Op::kSkip) {
          blk.kernel = get(params, block + ".kernel").as_int();
          if (blk.op == Op::kMbConv) blk.expand = get(params, block + ".expand").as_int();
          blk.width = get(params, block + ".width").as_int();
          if (se_capable(blk.op)) {
            blk.se = c_.se == SeMode::kSearch ? get(params, block + ".se").as_bool() : c_.se == SeMode::kOn;
          }
        }
        genome[i].push_back(blk);
      }
    }
    return genome;
  }

  ParamMap encode(const Genome& genome) const {
    ParamMap out;
    for (std::size_t i = 0; i < genome.size(); ++i) {
      std::string stage = "s" + std::to_string(i + 1);
      out[stage + ".depth"] = static_cast<std::int64_t>(genome[i].size());
      for (std::size_t b = 0; b < genome[i].size(); ++b) {
        const Block& blk = genome[i][b];
        std::string block = stage + ".b" + std::to_string(b);
        out[block + ".op"] = kOpNames[static_cast<std::size_t>(blk.op)];
        if (blk.op == Op::kSkip) continue;
        out[block + ".kernel"] = blk.kernel;
        if (blk.op == Op::kMbConv) out[block + ".expand"] = blk.expand;
        out[block + ".width"] = blk.width;
        if (c_.se == SeMode::kSearch && se_capable(blk.op)) out[block + ".se"] = blk.se;
      }
    }
    return out;
  }

  static std::string format(const Genome& genome) {
    std::vector<std::string> stages;
    for (std::size_t i = 0; i < genome.size(); ++i) {
      std::vector<std::string> blocks;
      for (const Block& blk : genome[i]) {
        std::string t;
        switch (blk.op) {
          case Op::kSkip:
            blocks.push_back("skip");
            continue;
          case Op::kConv:
            t = "conv";
            break;
          case Op::kDwSep:
            t = "dw";
            break;
          case Op::kMbConv:
            t = "mb" + std::to_string(blk.expand);
            break;
        }
        t += "_k" + std::to_string(blk.kernel) + "_w" + std::to_string(blk.width);
        if (blk.se) t += "_se";
        blocks.push_back(t);
      }
      stages.push_back("s" + std::to_string(i + 1) + ":" + join(blocks, ","));
    }
    return join(stages, "|");
  }

  static std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
      std::size_t at = s.find(sep, start);
      out.push_back(s.substr(start, at == std::string::npos ? std::string::npos : at - start));
      if (at == std::string::npos) return out;
      start = at + 1;
    }
  }

  Block parse_block(const std::string& genotype, const std::string& token, std::size_t stage, std::size_t b) const {
    std::string where = "invalid chain genotype '" + genotype + "': block '" + token + "' (s" +
                        std::to_string(stage + 1) + ".b" + std::to_string(b) + "): ";
    auto bad = [&](const std::string& expected) -> Block { throw ValueError(where + expected); };
    std::vector<std::string> parts = split(token, '_');
    Block blk;
    const std::string& head = parts[0];
    if (head == "skip") {
      if (parts.size() != 1) return bad("expected just 'skip' (a skip block has no fields)");
      if (b == 0) return bad("block 0 of a stage cannot be skip (it sets the stage's stride and width)");
      if (!searches(Op::kSkip)) return bad("op skip is not searched by this space; ops: " + join(c_.ops, ", "));
      return blk;
    }
    if (head == "conv") {
      blk.op = Op::kConv;
    } else if (head == "dw") {
      blk.op = Op::kDwSep;
    } else if (head.rfind("mb", 0) == 0 && parse_int(head.substr(2))) {
      blk.op = Op::kMbConv;
      blk.expand = *parse_int(head.substr(2));
      if (!contains(c_.expand, blk.expand)) {
        return bad("expansion ratio " + std::to_string(blk.expand) + " is not one of " + ints_text(c_.expand));
      }
    } else {
      return bad("expected an op 'conv', 'dw', 'mb<expansion>' or 'skip' before the first '_', got '" + head + "'");
    }
    if (!searches(blk.op)) {
      return bad("op " + kOpNames[static_cast<std::size_t>(blk.op)] +
                 " is not searched by this space; ops: " + join(c_.ops, ", "));
    }
    auto field = [&](std::size_t i, char letter, const std::vector<std::int64_t>& choices, const std::string& what) {
      std::string expected =
          "expected '_" + std::string(1, letter) + "<" + what + ">' with " + what + " one of " + ints_text(choices);
      if (parts.size() <= i || parts[i].empty() || parts[i][0] != letter) {
        bad(expected + (parts.size() <= i ? "" : ", got '_" + parts[i] + "'"));
      }
      auto v = parse_int(parts[i].substr(1));
      if (!v || !contains(choices, *v)) bad(expected + ", got '_" + parts[i] + "'");
      return static_cast<std::int64_t>(*v);
    };
    blk.kernel = field(1, 'k', c_.kernels, "kernel");
    blk.width = field(2, 'w', c_.stages[stage].widths, "width");
    if (parts.size() > 4 || (parts.size() == 4 && parts[3] != "se")) {
      const std::string& extra = parts[3] == "se" ? parts[4] : parts[3];
      return bad("unexpected '_" + extra + "' after the width; only '_se' may follow");
    }
    blk.se = parts.size() == 4;
    if (blk.se && !se_capable(blk.op)) return bad("'_se' applies only to dw and mb blocks");
    if (blk.se && c_.se == SeMode::kOff) return bad("'_se' is not allowed: this space has se: false");
    if (!blk.se && se_capable(blk.op) && c_.se == SeMode::kOn) {
      return bad("expected '_se' at the end: this space has se: true");
    }
    return blk;
  }

  Genome parse(const std::string& genotype) const {
    std::vector<std::string> stage_tokens = split(genotype, '|');
    if (stage_tokens.size() != c_.stages.size()) {
      throw ValueError("invalid chain genotype '" + genotype + "': expected " + std::to_string(c_.stages.size()) +
                       " stage(s) separated by '|', got " + std::to_string(stage_tokens.size()));
    }
    Genome genome;
    for (std::size_t i = 0; i < stage_tokens.size(); ++i) {
      const std::string& token = stage_tokens[i];
      std::string prefix = "s" + std::to_string(i + 1) + ":";
      if (token.rfind(prefix, 0) != 0) {
        throw ValueError("invalid chain genotype '" + genotype + "': stage '" + token + "' should start with '" +
                         prefix + "'");
      }
      std::vector<std::string> blocks = split(token.substr(prefix.size()), ',');
      const StageConfig& st = c_.stages[i];
      if (!contains(st.depths, static_cast<std::int64_t>(blocks.size()))) {
        throw ValueError("invalid chain genotype '" + genotype + "': stage '" + token + "' has " +
                         std::to_string(blocks.size()) + " block(s); its depth must be one of " + ints_text(st.depths));
      }
      std::vector<Block> stage;
      for (std::size_t b = 0; b < blocks.size(); ++b) stage.push_back(parse_block(genotype, blocks[b], i, b));
      genome.push_back(std::move(stage));
    }
    // The grammar admits spellings such as "k03"; only the canonical text names a trial.
    std::string canonical = format(genome);
    if (canonical != genotype) {
      throw ValueError("chain genotype '" + genotype + "' is not in canonical form; expected '" + canonical + "'");
    }
    return genome;
  }

  static int squeeze(NetGraph& g, int x, const std::string& name) {
    std::int64_t c = g.nodes()[static_cast<std::size_t>(x)].out.c;
    int s = g.global_avg_pool(x, name + ".pool");
    s = g.conv(s, std::max<std::int64_t>(8, c / 4), 1, 1, 1, false, Activation::kReLU, name + ".reduce", true);
    s = g.conv(s, c, 1, 1, 1, false, Activation::kHardSigmoid, name + ".expand", true);
    return g.mul(x, s, name + ".mul");
  }

  static int build_block(NetGraph& g, int x, const Block& blk, int stride, Activation act, const std::string& name) {
    const std::int64_t in = g.nodes()[static_cast<std::size_t>(x)].out.c;
    const int k = static_cast<int>(blk.kernel);
    int y = x;
    switch (blk.op) {
      case Op::kConv:
        return g.conv(x, blk.width, k, stride, 1, true, act, name + ".conv");
      case Op::kDwSep:
        y = g.conv(x, in, k, stride, static_cast<int>(in), true, act, name + ".dw");
        if (blk.se) y = squeeze(g, y, name + ".se");
        y = g.conv(y, blk.width, 1, 1, 1, true, act, name + ".pw");
        break;
      case Op::kMbConv: {
        const std::int64_t mid = in * blk.expand;
        if (blk.expand != 1) y = g.conv(y, mid, 1, 1, 1, true, act, name + ".expand");
        y = g.conv(y, mid, k, stride, static_cast<int>(mid), true, act, name + ".dw");
        if (blk.se) y = squeeze(g, y, name + ".se");
        y = g.conv(y, blk.width, 1, 1, 1, true, Activation::kNone, name + ".project");
        break;
      }
      case Op::kSkip:
        return x;
    }
    if (stride == 1 && blk.width == in) y = g.add({x, y}, name + ".add");
    return y;
  }

  ChainConfig c_;
  std::vector<ParamSpec> params_;
  std::map<std::string, std::size_t> index_;
};

// A list of distinct integers >= `min` (a single integer is a one-element list); `def` when absent.
std::vector<std::int64_t> read_ints(const ConfigNode& node, const std::vector<std::int64_t>& def, std::int64_t min,
                                    bool odd = false) {
  if (!node.defined() || node.is_null()) {
    if (def.empty()) node.fail("is required: give a list of integers");
    return def;
  }
  std::vector<ConfigNode> items;
  if (node.is_scalar()) {
    items.push_back(node);
  } else if (node.is_sequence() && !node.elements().empty()) {
    items = node.elements();
  } else {
    node.fail("expected a non-empty list of integers, got " + node.describe());
  }
  std::vector<std::int64_t> out;
  for (const auto& item : items) {
    std::int64_t v = item.as_int();
    if (v < min) item.fail("must be >= " + std::to_string(min) + ", got " + std::to_string(v));
    if (odd && v % 2 == 0)
      item.fail("must be odd (\"same\" padding keeps the size only for odd kernels), got " + std::to_string(v));
    if (contains(out, v)) item.fail("value " + std::to_string(v) + " is listed twice");
    out.push_back(v);
  }
  return out;
}

}  // namespace

std::shared_ptr<const ArchitectureSpace> make_chain_architecture(SectionReader& options) {
  ChainConfig c;
  {
    SectionReader stem(options.child("stem", "mapping", "{channels: 16, kernel: 3, stride: 1}: the first conv"));
    c.stem_channels = stem.integer("channels", 16, "output channels of the stem conv");
    c.stem_kernel = static_cast<int>(stem.integer("kernel", 3, "kernel size of the stem conv (odd)"));
    c.stem_stride = static_cast<int>(stem.integer("stride", 1, "stride of the stem conv (1 or 2)"));
    stem.require(c.stem_channels >= 1, "channels", "must be >= 1, got " + std::to_string(c.stem_channels));
    stem.require(c.stem_kernel >= 1 && c.stem_kernel % 2 == 1, "kernel",
                 "must be odd and >= 1, got " + std::to_string(c.stem_kernel));
    stem.require(c.stem_stride == 1 || c.stem_stride == 2, "stride",
                 "must be 1 or 2, got " + std::to_string(c.stem_stride));
    stem.finish();
  }
  ConfigNode stages = options.child("stages", "list of mappings",
                                    "the stages in order, each {depth: [choices], widths: [choices], stride: 1|2}");
  if (!stages.defined() || stages.is_null()) stages.fail("is required: give a list of {depth, widths, stride}");
  if (!stages.is_sequence() || stages.elements().empty()) {
    stages.fail("expected a non-empty list of {depth, widths, stride}, got " + stages.describe());
  }
  for (const auto& item : stages.elements()) {
    if (!item.is_map()) item.fail("expected a mapping {depth, widths, stride}, got " + item.describe());
    SectionReader st(item);
    StageConfig s;
    s.depths = read_ints(st.child("depth", "list of ints", "choices for the number of blocks (>= 1)"), {}, 1);
    s.widths = read_ints(st.child("widths", "list of ints", "choices for each block's output channels"), {}, 1);
    std::int64_t stride = st.integer("stride", 1, "stride of the stage's first block (1 or 2)");
    st.require(stride == 1 || stride == 2, "stride", "must be 1 or 2, got " + std::to_string(stride));
    st.finish();
    s.stride = static_cast<int>(stride);
    s.location = item.location();
    c.stages.push_back(std::move(s));
  }
  ConfigNode ops =
      options.child("ops", "list of strings", "block ops to search: conv, dwsep, mbconv, skip (default all)");
  if (ops.defined() && !ops.is_null()) {
    if (!ops.is_sequence() || ops.elements().empty()) {
      ops.fail("expected a non-empty list of ops (" + join(kOpNames, ", ") + "), got " + ops.describe());
    }
    for (const auto& item : ops.elements()) {
      std::string op = item.as_string();
      lookup_name(item, op, kOpNames, "chain op");
      if (std::find(c.ops.begin(), c.ops.end(), op) != c.ops.end()) item.fail("op '" + op + "' is listed twice");
      c.ops.push_back(op);
    }
    if (c.ops == std::vector<std::string>{"skip"}) {
      ops.fail("needs an op other than skip: the first block of each stage cannot be skip");
    }
  } else {
    c.ops = kOpNames;
  }
  c.kernels = read_ints(options.child("kernels", "list of ints", "kernel size choices (odd; default [3, 5, 7])"),
                        {3, 5, 7}, 1, true);
  c.expand =
      read_ints(options.child("expand", "list of ints", "MBConv expansion ratio choices (default [3, 6])"), {3, 6}, 1);
  ConfigNode se = options.child("se", "true|false|search",
                                "squeeze-excitation in dwsep/mbconv blocks: always, never, or searched per block "
                                "(default false)");
  if (se.defined() && !se.is_null()) {
    ParamValue v = se.is_scalar() ? se.as_param_value() : ParamValue();
    if (v.is_bool()) {
      c.se = v.as_bool() ? SeMode::kOn : SeMode::kOff;
    } else if (v.is_string() && v.as_string() == "search") {
      c.se = SeMode::kSearch;
    } else {
      se.fail("expected true, false or search, got " + se.describe());
    }
  }
  c.activation =
      options.text("activation", "relu", "activation after conv/BN layers: relu, relu6 or hswish", kActivations);
  {
    SectionReader head(options.child("head", "mapping", "{channels: 0, dropout: 0.0}: the classifier head"));
    c.head_channels =
        head.integer("channels", 0, "channels of a 1x1 conv before pooling (0: no conv, pool the last stage)");
    c.head_dropout = head.number("dropout", 0.0, "dropout probability before the final linear layer");
    head.require(c.head_channels >= 0, "channels", "must be >= 0, got " + std::to_string(c.head_channels));
    head.require(c.head_dropout >= 0 && c.head_dropout < 1, "dropout",
                 "must be in [0, 1), got " + format_double(c.head_dropout));
    head.finish();
  }
  return std::make_shared<ChainSpace>(std::move(c));
}

}  // namespace nasforge
