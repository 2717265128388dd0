#include "search/cli/target_commands.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include <sys/utsname.h>

#include "core/blas_check.h"
#include "core/error.h"
#include "core/strings.h"
#include "evaluators/cost/calibration.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/cost/target_costs.h"
#include "evaluators/data/csv_table.h"
#include "evaluators/data/dataset.h"
#include "evaluators/export/model_bundle.h"
#include "evaluators/nn_api.h"
#include "search/cli/printing.h"
#include "search/cli/study_loader.h"
#include "search/report.h"
#include "search/study_config.h"
#include "spaces/architecture.h"
#include "strategies/random_sampler.h"

namespace nasforge {

namespace {

// The networks of a study file: its architecture space and the sample shape and classes they are built for.
struct Networks {
  StudyConfig config;
  std::shared_ptr<const ArchitectureSpace> arch;
  Shape input;
  int classes = 0;
};

Shape parse_shape(const std::string& text) {
  std::vector<std::int64_t> dims;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, 'x')) {
    std::optional<long long> v = parse_int(trim(part));
    if (!v || *v < 1 || *v > (1 << 20)) {
      dims.clear();
      break;
    }
    dims.push_back(*v);
  }
  if (dims.size() != 3) {
    throw UsageError("--input: expected CxHxW with sizes in [1, 1048576], e.g. 3x32x32, got '" + text + "'");
  }
  return Shape{dims[0], dims[1], dims[2]};
}

Networks load_networks(const TargetArgs& t) {
  if (t.study_file.empty()) throw UsageError("--study-file is required: the study whose architecture space to use");
  Networks n{load_study_config(t.study_file), nullptr, {}, 0};
  n.arch = n.config.space.architecture();
  if (!n.arch) {
    throw UsageError("study file " + t.study_file + " has no architecture: section, so it describes no networks");
  }
  if (!t.input.empty()) n.input = parse_shape(t.input);
  if (t.classes) n.classes = *t.classes;
  if (t.input.empty() || !t.classes) {
    // The train objective's dataset says what the networks see; read it only when the flags do not.
    ConfigNode dataset = n.config.root.get("objective").get("dataset");
    if (!dataset.defined()) {
      throw UsageError("study file " + t.study_file +
                       " trains no network (no objective.dataset), so give the sample shape and classes: "
                       "--input CxHxW --classes N (e.g. --input 3x32x32 --classes 10 for NAS-Bench-201)");
    }
    DatasetSplits data = load_dataset(DatasetOptions::from_config(dataset, n.config.base_dir));
    if (t.input.empty()) n.input = data.train.sample_shape;
    if (!t.classes) n.classes = data.train.num_classes;
  }
  if (n.classes < 1) throw UsageError("--classes must be >= 1, got " + std::to_string(n.classes));
  return n;
}

std::vector<std::string> random_genotypes(const Networks& n, int count, std::uint64_t seed) {
  RandomSampler sampler(seed);
  std::vector<FrozenTrial> none;
  std::vector<StudyDirection> directions = n.config.directions;
  std::vector<std::string> out;
  for (int tries = 0; static_cast<int>(out.size()) < count && tries < 100 * count + 100; ++tries) {
    SampleContext ctx{n.config.space, none, directions, {}, [](const std::string&) { return true; }, {}};
    try {
      std::string g = n.arch->genotype(sampler.sample(ctx));
      n.arch->build(g, n.input, n.classes);
      if (std::find(out.begin(), out.end(), g) == out.end()) out.push_back(g);
    } catch (const InvalidArchitecture&) {
      // e.g. a disconnected cell: not a network; draw again
    }
  }
  return out;
}

std::vector<std::string> read_genotype_lines(const std::string& path) {
  std::ifstream file;
  std::istream* in = &std::cin;
  if (path != "-") {
    file.open(path);
    if (!file) throw NotFoundError("--genotypes: cannot open '" + path + "'");
    in = &file;
  }
  std::vector<std::string> out;
  std::string line;
  while (std::getline(*in, line)) {
    line = trim(line);
    if (!line.empty() && line[0] != '#') out.push_back(line);
  }
  return out;
}

// The shared listing writer, on stdout.
void write_rows(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows,
                const std::string& format) {
  write_rows(std::cout, header, rows, parse_format(format));
}

std::string limit_text(const std::optional<std::int64_t>& bytes) {
  return bytes ? std::to_string(*bytes / 1024) + " KB" : "-";
}

// The new profile's target name: --name, or the --out file's stem; UsageError when it cannot name a target.
std::string profile_name(const TargetArgs& t) {
  std::string name = t.name.empty() ? std::filesystem::path(t.out).stem().string() : t.name;
  if (!is_valid_target_name(name)) {
    throw UsageError((t.name.empty() ? "the --out file name gives the target name '" + name + "', which"
                                     : "--name '" + name + "'") +
                     " must be 1-64 letters, digits, '.', '_' or '-' (not starting with '.'); pass --name NAME");
  }
  return name;
}

void check_out(const TargetArgs& t) {
  if (t.out.empty()) throw UsageError("--out is required: the profile file to write");
  if (std::filesystem::exists(t.out) && !t.force) {
    throw UsageError("--out " + t.out + " exists; pass --force to overwrite it");
  }
  profile_name(t);  // before any work, not after minutes of timing
}


// Writes through a temporary file and a rename, so an interrupted write never leaves half a profile.
void write_profile(const TargetProfile& p, const std::string& path, const std::vector<std::string>& header) {
  const std::string text = p.to_yaml(header);
  TargetProfile::from_config(ConfigNode::parse_string(text, path));  // what we write must read back
  write_file_atomically(path, text);
}

// "x86_64, 2 CPUs: Intel(R) Xeon(R) Processor": what `nasforge profile` measured, for the profile's device line.
std::string host_description() {
  utsname u{};
  std::string machine = uname(&u) == 0 ? u.machine : "unknown machine";
  std::string model;
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; model.empty() && std::getline(cpuinfo, line);) {
    // x86 names the CPU in "model name"; arm64 kernels often only give "Model" (the board) or nothing.
    for (const char* key : {"model name", "Model"}) {
      if (line.rfind(key, 0) == 0 && line.find(':') != std::string::npos) model = trim(line.substr(line.find(':') + 1));
    }
  }
  const unsigned cpus = std::thread::hardware_concurrency();
  return machine + ", " + std::to_string(cpus) + " CPUs" + (model.empty() ? "" : ": " + model);
}

// One network per distinct conv, linear or pooling layer of `graphs` (its kind, input shape and settings), holding
// that layer alone on its input shape: the kernels `nasforge profile` times on their own, at the shapes the space
// actually produces, so that per-kernel-type coefficients are not only seen summed inside whole networks.
std::vector<NetGraph> single_layer_graphs(const std::vector<NetGraph>& graphs, std::size_t most) {
  std::vector<NetGraph> out;
  std::set<std::string> seen;
  for (const NetGraph& g : graphs) {
    const std::vector<NetNode>& nodes = g.nodes();
    for (const NetNode& n : nodes) {
      if (out.size() >= most) return out;
      const bool priced = n.kind == OpKind::kConv || n.kind == OpKind::kLinear || n.kind == OpKind::kAvgPool ||
                          n.kind == OpKind::kMaxPool || n.kind == OpKind::kGlobalAvgPool;
      if (!priced || n.inputs.empty()) continue;
      const Shape& in = nodes[static_cast<std::size_t>(n.inputs[0])].out;
      const std::string key = std::string(to_string(n.kind)) + " " + in.to_string() + " " +
                              std::to_string(n.out_channels) + " " + std::to_string(n.kernel) + " " +
                              std::to_string(n.stride) + " " + std::to_string(n.padding) + " " +
                              std::to_string(n.groups) + " " + std::to_string(n.bias) + " " +
                              std::to_string(n.batch_norm) + " " + to_string(n.act);
      if (!seen.insert(key).second) continue;
      NetGraph one(in, g.num_classes());
      switch (n.kind) {
        case OpKind::kConv:
          one.set_output(one.conv(0, n.out_channels, n.kernel, n.stride, n.groups, n.batch_norm, n.act, n.name, n.bias));
          break;
        case OpKind::kLinear: one.set_output(one.linear(0, n.out_channels, n.bias, n.act, n.name)); break;
        case OpKind::kAvgPool: one.set_output(one.avg_pool(0, n.kernel, n.stride, n.padding, n.name)); break;
        case OpKind::kMaxPool: one.set_output(one.max_pool(0, n.kernel, n.stride, n.padding, n.name)); break;
        default: one.set_output(one.global_avg_pool(0, n.name)); break;
      }
      out.push_back(std::move(one));
    }
  }
  return out;
}

LatencySample sample_of(const NetGraph& g, DataType dtype, double ms, const TargetProfile& base) {
  return LatencySample{detect_kernels(g, base.fuse), dtype, ms};
}

void print_quality(const std::string& what, double rho, double mdape, std::size_t n) {
  std::printf("%s over %zu networks: Spearman %.3f, median absolute error %.1f%%\n", what.c_str(), n, rho,
              100 * mdape);
}

}  // namespace

int cmd_targets(const CommonArgs& args) {
  std::vector<std::vector<std::string>> rows;
  for (const std::string& name : builtin_target_names()) {
    TargetProfile p = load_target(name);
    rows.push_back({p.name, p.device, p.runtime, format_double(p.fp32_gmacs), format_double(p.int8_gmacs),
                    limit_text(p.sram_bytes), limit_text(p.flash_bytes), p.fit ? "yes" : "no"});
  }
  write_rows({"name", "device", "runtime", "fp32_gmacs", "int8_gmacs", "sram", "flash", "fitted"}, rows, args.format);
  return 0;
}

int cmd_target_predict(const CommonArgs& args, const TargetArgs& t) {
  const TargetProfile target = load_target(t.target);
  const Networks n = load_networks(t);
  const std::vector<std::string> genotypes =
      t.genotypes.empty() ? random_genotypes(n, t.random, t.seed) : read_genotype_lines(t.genotypes);
  std::vector<std::vector<std::string>> rows;
  for (const std::string& g : genotypes) {
    NetGraph graph{Shape{1, 1, 1}, 1};
    try {
      graph = n.arch->build(g, n.input, n.classes);
    } catch (const Error& e) {
      throw DataError("genotype '" + g + "' is not a network of " + t.study_file + "'s architecture space: " + e.what());
    }
    const TargetCosts fp32 = predict_costs(Deployment::of(graph), target);
    const TargetCosts int8 = predict_costs(Deployment::of(graph, 8), target);
    // fp16 is what a GPU runtime such as TensorRT ships by default.
    const TargetCosts fp16 = predict_costs(Deployment::of(graph, 16), target);
    const CostMetrics size = analyze_costs(graph);
    rows.push_back({g, fmt_ms(fp32.latency_ms), fmt_ms(int8.latency_ms), std::to_string(fp32.flash_bytes),
                    std::to_string(fp32.sram_bytes), fp32.fits ? "true" : "false", std::to_string(int8.flash_bytes),
                    std::to_string(int8.sram_bytes), int8.fits ? "true" : "false", fmt_ms(fp16.latency_ms),
                    std::to_string(size.macs), std::to_string(size.params)});
  }
  write_rows({"genotype", "latency_ms", "latency_ms_int8", "flash_bytes", "sram_bytes", "fits", "flash_bytes_int8",
              "sram_bytes_int8", "fits_int8", "latency_ms_fp16", "macs", "params"},
             rows, args.format);
  return 0;
}

int cmd_target_calibrate(const CommonArgs& args, const TargetArgs& t) {
  (void)args;
  check_out(t);
  const TargetProfile base = load_target(t.target);
  const Networks n = load_networks(t);
  if (t.measured.empty()) throw UsageError("--measured is required: a CSV with columns genotype,latency_ms");
  const CsvTable csv = CsvTable::read(t.measured);
  const std::optional<std::size_t> gcol = csv.column("genotype"), lcol = csv.column("latency_ms");
  if (!gcol || !lcol) {
    throw DataError(csv.name() + ":1: needs columns 'genotype' and 'latency_ms' (optional 'latency_ms_int8'), has " +
                    join(csv.header(), ", "));
  }
  const std::optional<std::size_t> icol = csv.column("latency_ms_int8");
  std::vector<LatencySample> samples;
  for (std::size_t r = 0; r < csv.rows(); ++r) {
    const std::string where = csv.name() + ":" + std::to_string(csv.line(r)) + ": ";
    const std::string g(csv.cell(r, *gcol));
    NetGraph graph{Shape{1, 1, 1}, 1};
    try {
      graph = n.arch->build(g, n.input, n.classes);
    } catch (const Error& e) {
      throw DataError(where + "genotype '" + g + "' is not a network of the study's architecture space: " + e.what());
    }
    auto latency = [&](std::size_t col, const char* name) -> std::optional<double> {
      const std::string text(csv.cell(r, col));
      if (text.empty() && col != *lcol) return std::nullopt;
      std::optional<double> v = parse_double(text);
      if (!v || !(*v > 0) || !std::isfinite(*v)) {
        throw DataError(where + name + " must be a positive number of milliseconds, got '" + text + "'");
      }
      return v;
    };
    samples.push_back(sample_of(graph, DataType::kFloat32, *latency(*lcol, "latency_ms"), base));
    if (icol) {
      if (std::optional<double> v = latency(*icol, "latency_ms_int8")) {
        samples.push_back(sample_of(graph, DataType::kInt8, *v, base));
      }
    }
  }
  if (samples.size() < 3) {
    throw DataError(csv.name() + ": needs at least 3 measured networks to calibrate and check the fit, got " +
                    std::to_string(samples.size()));
  }
  Calibration c = calibrate(base, samples);
  TargetProfile p = c.profile;
  p.name = profile_name(t);
  p.fit = FitQuality{"target calibrate from " + std::filesystem::path(t.measured).filename().string() + " on base " +
                         base.name + " (leave-one-out)",
                     static_cast<std::int64_t>(samples.size()), static_cast<std::int64_t>(samples.size()),
                     c.loo_spearman, c.loo_mdape};
  write_profile(p, t.out,
                {"Calibrated by `nasforge target calibrate --target " + t.target + " --measured " + t.measured + "`.",
                 "Coefficients fitted to " + std::to_string(samples.size()) + " measured networks; fit: is leave-one-out."});
  print_quality("leave-one-out", c.loo_spearman, c.loo_mdape, samples.size());
  std::printf("wrote %s (target name '%s')\n", t.out.c_str(), p.name.c_str());
  return 0;
}

int cmd_profile(const CommonArgs& args, const TargetArgs& t) {
  check_out(t);
  TargetProfile base = load_target(t.target.empty() ? "generic" : t.target);
  // What is timed here is libtorch's eager execution, which runs every node as its own op whatever the base fuses.
  base.fuse = FusionRules{};
  base.device = host_description();
  base.runtime = "libtorch eager (nasforge profile), " + std::to_string(t.threads) + " thread(s)";
  const Networks n = load_networks(t);
  if (t.networks < 10) throw UsageError("--networks must be >= 10 (half fit, half check), got " + std::to_string(t.networks));
  const EvaluatorNnApi& nn = evaluator_nn_api("nasforge profile");
  // The nn module has loaded libtorch and with it libblas.so.3, so the loaded BLAS is now known.
  warn_if_reference_blas("nasforge profile");
  const std::vector<std::string> genotypes = random_genotypes(n, t.networks, t.seed);
  std::vector<NetGraph> graphs;
  for (const std::string& g : genotypes) graphs.push_back(n.arch->build(g, n.input, n.classes));
  // Single layers are drawn from the fitting half only, so that nothing of a checking network is seen in the fit.
  std::vector<NetGraph> fit_networks;
  for (std::size_t i = 0; i < graphs.size(); i += 2) fit_networks.push_back(graphs[i]);
  const std::vector<NetGraph> layers = single_layer_graphs(fit_networks, static_cast<std::size_t>(t.networks));
  std::vector<NetGraph> timed = graphs;
  timed.insert(timed.end(), layers.begin(), layers.end());
  if (!args.quiet) {
    std::fprintf(stderr, "profile: timing %zu random networks and %zu single layers of %s (%d rounds, %d thread(s))\n",
                 graphs.size(), layers.size(), t.study_file.c_str(), t.runs, t.threads);
  }
  const std::vector<double> ms = nn.measure_latencies(timed, t.runs, std::max(3, t.runs / 4), t.threads, !args.quiet);
  // The single layers give each kernel type's coefficients a first estimate; the even-numbered networks then fit
  // them, pulled towards that estimate as far as leave-one-out finds it helps; the odd-numbered networks check the
  // result: the quality a user can trust.
  std::vector<LatencySample> single, fit, check;
  for (std::size_t i = 0; i < timed.size(); ++i) {
    (i >= graphs.size() ? single : i % 2 == 0 ? fit : check)
        .push_back(sample_of(timed[i], DataType::kFloat32, ms[i], base));
  }
  const TargetProfile prior = single.size() >= 3 ? calibrate(base, single).profile : base;
  Calibration c = calibrate(prior, fit);
  std::vector<double> predicted, measured;
  for (const LatencySample& s : check) {
    predicted.push_back(predict_latency_ms(s.kernels, s.dtype, c.profile));
    measured.push_back(s.latency_ms);
  }
  TargetProfile p = c.profile;
  p.name = profile_name(t);
  p.threads = t.threads;
  p.fit = FitQuality{"nasforge profile: " + std::to_string(fit_networks.size()) + " random networks of " +
                         std::filesystem::path(t.study_file).filename().string() + " and " +
                         std::to_string(layers.size()) + " of their layers alone fitted, " +
                         std::to_string(check.size()) + " networks held out",
                     static_cast<std::int64_t>(fit_networks.size()), static_cast<std::int64_t>(check.size()),
                     spearman(predicted, measured), median_ape(predicted, measured)};
  write_profile(p, t.out,
                {"Measured on this machine by `nasforge profile --study-file " + t.study_file + "` (fp32, libtorch " +
                     "eager, batch 1, " + std::to_string(t.threads) + " thread(s)).",
                 "int8 rate kept from the base profile '" + base.name + "' until int8 kernels are timed."});
  print_quality("held-out", p.fit->spearman, p.fit->mdape, check.size());
  std::printf("wrote %s (target name '%s')\n", t.out.c_str(), p.name.c_str());
  return 0;
}

}  // namespace nasforge
