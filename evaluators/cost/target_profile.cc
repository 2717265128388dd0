#include "evaluators/cost/target_profile.h"

#include <cctype>
#include <filesystem>
#include <sstream>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/cost/builtin_targets.h"

namespace nasforge {

namespace {

// Each numeric key of a profile and its rule, written once: the reader checks through these.
const NumberKey kRate{"", Range::open(0, 1e9), "effective MAC rate, 1e9 MAC/s"};
const NumberKey kBandwidth{"bandwidth_gbs", Range::open(0, 1e9), "memory bandwidth a kernel sees, 1e9 bytes/s"};
const NumberKey kEfficiency{"efficiency", Range{0, true, 100, false},
                            "fraction of the data type's MAC rate this kernel type reaches"};
const NumberKey kOverhead{"overhead_us", Range::closed(0, 1e9), "fixed cost of one kernel, microseconds"};
const IntKey kThreads{"threads", Range::closed(1, 1024), "threads the runtime uses"};
const IntKey kBytes{"", Range::closed(1, 1e15), "bytes"};
const IntKey kExtraBytes{"", Range::closed(0, 1e15), "bytes"};
const IntKey kColumns{"im2col_columns", Range::closed(0, 1024),
                      "scratch of a k>1 conv: im2col columns of in_c/groups*k*k elements"};

const std::vector<std::string> kFuseNames = {"batch_norm", "activation", "squeeze_excite"};

NumberKey named(NumberKey k, const std::string& key) {
  k.key = key;
  return k;
}

IntKey named(IntKey k, const std::string& key) {
  k.key = key;
  return k;
}

std::string yaml_double(double v) { return format_double(v); }

bool has_suffix(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

bool is_valid_target_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return name.front() != '.';
}

double TargetProfile::gmacs(DataType type) const {
  switch (type) {
    case DataType::kFloat32: return fp32_gmacs;
    case DataType::kFloat16: return fp16_gmacs;
    case DataType::kInt8: return int8_gmacs;
  }
  return fp32_gmacs;
}

TargetProfile TargetProfile::from_config(const ConfigNode& root) {
  if (!root.is_map()) root.fail("a target profile must be a mapping of keys (name, device, compute, ...)");
  SectionReader r(root);
  TargetProfile p;
  p.source = root.file();
  p.name = r.text("name", std::nullopt, "identifier used in metric names, e.g. latency_ms@NAME");
  r.require(is_valid_target_name(p.name), "name",
            "must be 1-64 letters, digits, '.', '_' or '-' (not starting with '.'), got '" + p.name + "'");
  p.device = r.text("device", std::nullopt, "what the device is");
  p.runtime = r.text("runtime", std::nullopt, "the inference runtime the numbers assume");
  p.threads = r.integer(kThreads, 1);
  p.invoke_overhead_us = r.number(named(kOverhead, "invoke_overhead_us"), 0.0);

  ConfigNode fuse = r.child("fuse", "list", "what the runtime runs inside the producing kernel: " +
                                                 join(kFuseNames, ", ") + " (default: nothing, as eager PyTorch)");
  if (fuse.defined() && !fuse.is_null()) {
    if (!fuse.is_sequence()) fuse.fail("expected a list of " + join(kFuseNames, ", ") + ", got " + fuse.describe());
    for (const ConfigNode& item : fuse.elements()) {
      switch (lookup_name(item, item.as_string(), kFuseNames, "fusion rule")) {
        case 0: p.fuse.batch_norm = true; break;
        case 1: p.fuse.activation = true; break;
        default: p.fuse.squeeze_excite = true; break;
      }
    }
  }

  SectionReader compute(r.child("compute", "mapping", "effective MAC rates of a dense convolution"));
  if (!compute.node().defined()) root.fail("needs a compute: section {fp32_gmacs, int8_gmacs}");
  p.fp32_gmacs = compute.number(named(kRate, "fp32_gmacs"), std::nullopt);
  p.fp16_gmacs = compute.number(named(kRate, "fp16_gmacs"), p.fp32_gmacs);
  p.int8_gmacs = compute.number(named(kRate, "int8_gmacs"), std::nullopt);
  compute.finish();

  SectionReader memory(r.child("memory", "mapping", "bandwidth, memory limits and the runtime's memory rules"));
  if (!memory.node().defined()) root.fail("needs a memory: section {bandwidth_gbs, ...}");
  p.bandwidth_gbs = memory.number(kBandwidth, std::nullopt);
  if (memory.node().get("sram_bytes").defined()) p.sram_bytes = memory.integer(named(kBytes, "sram_bytes"), 0);
  if (memory.node().get("flash_bytes").defined()) p.flash_bytes = memory.integer(named(kBytes, "flash_bytes"), 0);
  p.runtime_flash_bytes = memory.integer(named(kExtraBytes, "runtime_flash_bytes"), 0);
  p.runtime_sram_bytes = memory.integer(named(kExtraBytes, "runtime_sram_bytes"), 0);
  p.in_place_depthwise = memory.flag("in_place_depthwise", false, "depthwise convs overwrite their input");
  p.im2col_columns = memory.integer(kColumns, 0);
  p.sparse_weights = memory.flag("sparse_weights", false, "the format stores sparse weights compressed");
  p.clustered_weights = memory.flag("clustered_weights", false, "the format stores clustered weights as indices");
  memory.finish();

  SectionReader kernels(r.child("kernels", "mapping", "per kernel type: {efficiency, overhead_us}"));
  for (KernelType t : kernel_types()) {
    SectionReader k(kernels.child(to_string(t), "mapping", "{efficiency, overhead_us} of this kernel type"));
    p.coefficients(t).efficiency = k.number(kEfficiency, 1.0);
    p.coefficients(t).overhead_us = k.number(kOverhead, 0.0);
    k.finish();
  }
  kernels.finish();

  ConfigNode fit_node = r.child("fit", "mapping", "how well the coefficients predict held-out networks");
  if (fit_node.defined() && !fit_node.is_null()) {
    SectionReader f(fit_node);
    FitQuality q;
    q.method = f.text("method", std::nullopt, "how the coefficients were obtained");
    q.networks = f.integer(IntKey{"networks", Range::closed(0, 1e9), "networks fitted on"}, 0);
    q.held_out = f.integer(IntKey{"held_out", Range::closed(0, 1e9), "networks the quality was measured on"}, 0);
    q.spearman = f.number(NumberKey{"spearman", Range::closed(-1, 1), "rank correlation on held-out networks"}, 0.0);
    q.mdape = f.number(NumberKey{"mdape", Range::closed(0, 1e9), "median absolute percentage error"}, 0.0);
    f.finish();
    p.fit = q;
  }
  r.finish();
  return p;
}

std::string TargetProfile::to_yaml(const std::vector<std::string>& header) const {
  std::ostringstream o;
  for (const std::string& line : header) o << "# " << line << "\n";
  auto quoted = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
    return q + "\"";
  };
  o << "name: " << name << "\n";
  o << "device: " << quoted(device) << "\n";
  o << "runtime: " << quoted(runtime) << "\n";
  o << "threads: " << threads << "\n";
  o << "invoke_overhead_us: " << yaml_double(invoke_overhead_us) << "\n";
  std::vector<std::string> f;
  if (fuse.batch_norm) f.push_back(kFuseNames[0]);
  if (fuse.activation) f.push_back(kFuseNames[1]);
  if (fuse.squeeze_excite) f.push_back(kFuseNames[2]);
  o << "fuse: [" << join(f, ", ") << "]\n";
  o << "compute:\n  fp32_gmacs: " << yaml_double(fp32_gmacs) << "\n  fp16_gmacs: " << yaml_double(fp16_gmacs)
    << "\n  int8_gmacs: " << yaml_double(int8_gmacs) << "\n";
  o << "memory:\n  bandwidth_gbs: " << yaml_double(bandwidth_gbs) << "\n";
  if (sram_bytes) o << "  sram_bytes: " << *sram_bytes << "\n";
  if (flash_bytes) o << "  flash_bytes: " << *flash_bytes << "\n";
  o << "  runtime_flash_bytes: " << runtime_flash_bytes << "\n  runtime_sram_bytes: " << runtime_sram_bytes
    << "\n  in_place_depthwise: " << (in_place_depthwise ? "true" : "false") << "\n  im2col_columns: " << im2col_columns
    << "\n  sparse_weights: " << (sparse_weights ? "true" : "false")
    << "\n  clustered_weights: " << (clustered_weights ? "true" : "false") << "\n";
  o << "kernels:\n";
  for (KernelType t : kernel_types()) {
    o << "  " << to_string(t) << ": {efficiency: " << yaml_double(coefficients(t).efficiency)
      << ", overhead_us: " << yaml_double(coefficients(t).overhead_us) << "}\n";
  }
  if (fit) {
    o << "fit:\n  method: " << quoted(fit->method) << "\n  networks: " << fit->networks
      << "\n  held_out: " << fit->held_out << "\n  spearman: " << yaml_double(fit->spearman)
      << "\n  mdape: " << yaml_double(fit->mdape) << "\n";
  }
  return o.str();
}

std::vector<std::string> builtin_target_names() {
  std::vector<std::string> names;
  for (const BuiltinTarget& t : builtin_targets()) names.emplace_back(t.name);
  return names;
}

TargetProfile load_target(const std::string& name_or_path, const std::string& base_dir) {
  for (const BuiltinTarget& t : builtin_targets()) {
    if (name_or_path == t.name) {
      TargetProfile p = TargetProfile::from_config(
          ConfigNode::parse_string(t.yaml, "configs/targets/" + std::string(t.name) + ".yaml (built in)"));
      p.source = "built-in " + std::string(t.name);
      return p;
    }
  }
  const bool is_path = name_or_path.find('/') != std::string::npos || has_suffix(name_or_path, ".yaml") ||
                       has_suffix(name_or_path, ".yml");
  if (!is_path) {
    const std::vector<std::string> names = builtin_target_names();
    throw NotFoundError("unknown target '" + name_or_path + "'" + did_you_mean(name_or_path, names) +
                        "; shipped targets: " + join(names, ", ") + "; or give a profile file (a path ending in .yaml)");
  }
  std::filesystem::path path(name_or_path);
  if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
  return TargetProfile::from_config(ConfigNode::parse_file(path.string()));
}

}  // namespace nasforge
