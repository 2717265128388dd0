#include "evaluators/compression/compression_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

SettingSpec int_key(const char* name, double min, double max, std::int64_t def, const char* doc) {
  return {name, name, SettingType::kInt, min, false, max, false, {}, doc, ParamValue(def)};
}
SettingSpec float_key(const char* name, double min, bool min_open, double max, bool max_open, double def,
                      const char* doc) {
  return {name, name, SettingType::kFloat, min, min_open, max, max_open, {}, doc, ParamValue(def)};
}
SettingSpec bool_key(const char* name, bool def, const char* doc) {
  return {name, name, SettingType::kBool, 0, false, 0, false, {}, doc, ParamValue(def)};
}
SettingSpec choice_key(const char* name, std::vector<std::string> choices, const char* def, const char* doc) {
  return {name, name, SettingType::kChoice, 0, false, 0, false, std::move(choices), doc, ParamValue(std::string(def))};
}

// The observers and k-means initializations by their to_string() names, which are also their YAML names.
const std::vector<ObserverKind> kObservers = {ObserverKind::kMinMax, ObserverKind::kMovingAverage,
                                              ObserverKind::kPercentile, ObserverKind::kEntropy};
const std::vector<ClusterInit> kClusterInits = {ClusterInit::kLinear, ClusterInit::kRandom, ClusterInit::kDensity};

std::vector<std::string> observer_names() {
  std::vector<std::string> names;
  for (ObserverKind k : kObservers) names.emplace_back(to_string(k));
  return names;
}
std::vector<std::string> cluster_init_names() {
  std::vector<std::string> names;
  for (ClusterInit k : kClusterInits) names.emplace_back(to_string(k));
  return names;
}

// Keys shared by the steps that quantize.
std::vector<SettingSpec> quant_keys(bool qat) {
  std::vector<SettingSpec> k;
  if (!qat) {
    k.push_back(choice_key("mode", {"static", "dynamic", "float16"}, "static",
                           "static: weights and activations (calibrated); dynamic: weights, activations per batch; "
                           "float16: weights in half precision"));
  }
  k.push_back(int_key("bits", 2, qat ? 8 : 16, 8,
                      qat ? "weight and activation bit width" : "integer bit width: 2..8 (static), 2..16 (dynamic)"));
  k.push_back(bool_key("per_channel", true, "one weight scale and zero point per output channel (else per tensor)"));
  k.push_back(bool_key("weight_symmetric", true, "symmetric weight quantization (zero point 0)"));
  k.push_back(bool_key("activation_symmetric", false, "symmetric activation quantization (else affine)"));
  if (!qat) {
    k.push_back(choice_key("observer", observer_names(), "minmax",
                           "activation range calibration: minmax, moving_average, percentile, or entropy (KL)"));
    k.push_back(float_key("percentile", 50, true, 100, false, 99.99, "percentile observer: upper percentile kept"));
  } else {
    k.push_back(int_key("epochs", 1, kInf, 1, "fine-tuning epochs with fake quantization"));
    k.push_back(float_key("lr", 0, true, kInf, true, 0.01, "peak learning rate of the fine-tuning (cosine)"));
  }
  k.push_back(int_key("calibration_samples", 1, kInf, 1024, "training samples that calibrate activation ranges"));
  return k;
}

const std::vector<SettingSpec>& step_keys(StepKind kind) {
  static const std::vector<SettingSpec> kQuantize = quant_keys(false);
  static const std::vector<SettingSpec> kQat = quant_keys(true);
  static const std::vector<SettingSpec> kPrune = {
      choice_key("structure", {"unstructured", "channel"}, "unstructured",
                 "unstructured: individual weights; channel: whole filters, physically removed"),
      choice_key("scope", {"global", "layer"}, "global",
                 "unstructured: one magnitude ranking over all layers, or each layer to the same sparsity"),
      choice_key("norm", {"l1", "l2"}, "l1", "channel: filter norm that ranks channels"),
      choice_key("target", {"channels", "macs"}, "channels",
                 "channel: sparsity is the fraction of channels removed, or of MACs (the channel fraction that "
                 "removes it is found by bisection)"),
      float_key("sparsity", 0, false, 1, true, 0.5,
                "final fraction of weights (unstructured) or of each prunable layer's channels (channel) removed"),
      choice_key("schedule", {"one_shot", "iterative", "agp"}, "one_shot",
                 "one_shot; iterative (linear growth over steps); agp (cubic, Zhu & Gupta)"),
      int_key("steps", 1, kInf, 1, "pruning rounds, each followed by finetune_epochs (iterative, agp)"),
      float_key("initial_sparsity", 0, false, 1, true, 0, "sparsity target at the schedule's start"),
      int_key("finetune_epochs", 0, kInf, 1, "fine-tuning epochs after each round"),
      float_key("lr", 0, true, kInf, true, 0.01, "peak learning rate of the fine-tuning (cosine)"),
  };
  static const std::vector<SettingSpec> kCluster = {
      int_key("clusters", 2, 65536, 16, "shared values (centroids) per layer"),
      choice_key("init", cluster_init_names(), "linear", "initial centroids: linear, random, or density"),
      int_key("finetune_epochs", 0, kInf, 0, "epochs fine-tuning the centroids"),
      float_key("lr", 0, true, kInf, true, 0.01, "peak learning rate of the fine-tuning (cosine)"),
  };
  switch (kind) {
    case StepKind::kQuantize:
      return kQuantize;
    case StepKind::kQat:
      return kQat;
    case StepKind::kPrune:
      return kPrune;
    case StepKind::kCluster:
      return kCluster;
  }
  return kQuantize;
}

const std::vector<SettingSpec>& distill_keys() {
  static const std::vector<SettingSpec> kKeys = {
      bool_key("enabled", true, "train with the teacher (a $param makes distillation a search choice)"),
      float_key("alpha", 0, false, 1, false, 0.5, "weight of the hard-label cross-entropy; 1 - alpha weighs the KL"),
      float_key("temperature", 0, true, kInf, true, 4, "softmax temperature T (the KL term is scaled by T^2)"),
  };
  return kKeys;
}

// The resolved values of step `i` of `v`, by key; StateError unless the step is of kind `kind`.
class Values {
 public:
  Values(const CompressionVariant& v, std::size_t i, StepKind kind, const ParamMap& params) {
    const CompressionStep& step = v.steps.at(i);
    check(step.kind == kind, "step " + std::to_string(i) + " of compress." + v.name + " is a " + to_string(step.kind) +
                                 " step, not " + to_string(kind));
    const auto& keys = step_keys(step.kind);
    for (const auto& s : step.settings) {
      auto spec = std::find_if(keys.begin(), keys.end(), [&](const SettingSpec& k) { return k.key == s.key; });
      values_.emplace_back(s.key, resolve_setting(s, *spec, params));
    }
  }
  // The keys every quantizing step has.
  QuantScheme scheme() const {
    QuantScheme q;
    q.bits = static_cast<int>((*this)["bits"].as_int());
    q.per_channel = (*this)["per_channel"].as_bool();
    q.weight_symmetric = (*this)["weight_symmetric"].as_bool();
    q.activation_symmetric = (*this)["activation_symmetric"].as_bool();
    return q;
  }
  const ParamValue& operator[](const std::string& key) const {
    for (const auto& [k, v] : values_) {
      if (k == key) return v;
    }
    throw StateError("compression step has no key '" + key + "'");
  }

 private:
  std::vector<std::pair<std::string, ParamValue>> values_;
};

const std::vector<std::string>& step_names() {
  static const std::vector<std::string> kNames = {"quantize", "qat", "prune", "cluster"};
  return kNames;
}

CompressionStep read_step(const ConfigNode& node, const SearchSpace& space) {
  if (!node.is_map() || node.keys().size() != 1) {
    node.fail("expected one step as a mapping with a single key (" + join(step_names(), ", ") +
              "), e.g. {quantize: {bits: 8}}, got " + node.describe());
  }
  auto [name, body] = node.entries().front();
  CompressionStep step;
  step.kind = static_cast<StepKind>(lookup_name(body, name, step_names(), "compression step"));
  if (!body.is_null() && !body.is_map())
    body.fail("expected a mapping of " + name + " settings, got " + body.describe());
  SectionReader r(body);
  for (const auto& spec : step_keys(step.kind)) step.settings.push_back(read_setting(r, spec, space));
  r.finish();
  // Checks that span keys, when both are constants (resolve checks them per trial otherwise).
  if (step.kind == StepKind::kQuantize) {
    const HyperSetting& mode = step.settings[0];
    const HyperSetting& bits = step.settings[1];
    if (mode.param.empty() && bits.param.empty() && mode.constant.as_string() == "static" &&
        bits.constant.as_int() > 8) {
      r.require(false, "bits",
                "is " + bits.constant.to_string() +
                    ", but static quantization supports 2..8 bits (use mode: dynamic "
                    "for wider integer weights)");
    }
  }
  return step;
}

bool valid_variant_name(const std::string& name) {
  if (name.empty() || name.size() > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

const char* to_string(StepKind kind) {
  return step_names()[static_cast<std::size_t>(kind)].c_str();
}

double PruneOptions::target(std::int64_t k) const {
  if (schedule == PruneSchedule::kOneShot || steps <= 1) return sparsity;
  const double f = std::clamp(static_cast<double>(k) / static_cast<double>(steps), 0.0, 1.0);
  if (schedule == PruneSchedule::kIterative) return initial_sparsity + (sparsity - initial_sparsity) * f;
  return sparsity + (initial_sparsity - sparsity) * std::pow(1.0 - f, 3);
}

bool CompressionVariant::quantizes() const {
  return std::any_of(steps.begin(), steps.end(), [](const CompressionStep& s) {
    return s.kind == StepKind::kQuantize || s.kind == StepKind::kQat;
  });
}

QuantizeOptions CompressionVariant::quantize_options(std::size_t i, const ParamMap& params) const {
  Values v(*this, i, StepKind::kQuantize, params);
  QuantizeOptions o;
  static_cast<QuantScheme&>(o) = v.scheme();
  const std::string mode = v["mode"].as_string();
  o.mode = mode == "dynamic" ? QuantMode::kDynamic : mode == "float16" ? QuantMode::kFloat16 : QuantMode::kStatic;
  if (o.mode == QuantMode::kStatic && o.bits > 8) {
    throw ObjectiveError("compress." + name + ": static quantization supports 2..8 bits, got bits " +
                         std::to_string(o.bits));
  }
  // Resolved values were checked against observer_names(), so one of them matches.
  for (ObserverKind k : kObservers) {
    if (v["observer"].as_string() == to_string(k)) o.observer = k;
  }
  o.percentile = v["percentile"].as_double();
  o.calibration_samples = v["calibration_samples"].as_int();
  return o;
}

QatOptions CompressionVariant::qat_options(std::size_t i, const ParamMap& params) const {
  Values v(*this, i, StepKind::kQat, params);
  QatOptions o;
  static_cast<QuantScheme&>(o) = v.scheme();
  o.epochs = v["epochs"].as_int();
  o.lr = v["lr"].as_double();
  o.calibration_samples = v["calibration_samples"].as_int();
  return o;
}

PruneOptions CompressionVariant::prune_options(std::size_t i, const ParamMap& params) const {
  Values v(*this, i, StepKind::kPrune, params);
  PruneOptions o;
  o.structure = v["structure"].as_string() == "channel" ? PruneStructure::kChannel : PruneStructure::kUnstructured;
  o.global = v["scope"].as_string() == "global";
  o.norm = v["norm"].as_string() == "l2" ? 2 : 1;
  o.target_macs = v["target"].as_string() == "macs";
  o.sparsity = v["sparsity"].as_double();
  const std::string schedule = v["schedule"].as_string();
  o.schedule = schedule == "iterative" ? PruneSchedule::kIterative
               : schedule == "agp"     ? PruneSchedule::kAgp
                                       : PruneSchedule::kOneShot;
  o.steps = o.schedule == PruneSchedule::kOneShot ? 1 : v["steps"].as_int();
  o.initial_sparsity = v["initial_sparsity"].as_double();
  o.finetune_epochs = v["finetune_epochs"].as_int();
  o.lr = v["lr"].as_double();
  return o;
}

ClusterOptions CompressionVariant::cluster_options(std::size_t i, const ParamMap& params) const {
  Values v(*this, i, StepKind::kCluster, params);
  ClusterOptions o;
  o.clusters = v["clusters"].as_int();
  for (ClusterInit k : kClusterInits) {
    if (v["init"].as_string() == to_string(k)) o.init = k;
  }
  o.finetune_epochs = v["finetune_epochs"].as_int();
  o.lr = v["lr"].as_double();
  return o;
}

CompressionConfig CompressionConfig::from_config(SectionReader& options, const SearchSpace& space,
                                                 const std::string& base_dir) {
  CompressionConfig c;
  ConfigNode compress = options.child(
      "compress", "mapping",
      "named variants of the trained network, each a list of steps (quantize, qat, prune, cluster); metrics of "
      "variant V are stored as val_accuracy_V, size_bytes_V, ...");
  if (compress.defined() && !compress.is_null()) {
    if (!compress.is_map()) {
      compress.fail("expected a mapping of variant names to steps, e.g. {int8: {quantize: {bits: 8}}}, got " +
                    compress.describe());
    }
    for (const auto& [name, body] : compress.entries()) {
      if (!valid_variant_name(name)) {
        body.fail("variant name '" + name +
                  "' must start with a lowercase letter and use only a-z, 0-9 and _ (at most 32 characters): it "
                  "becomes a metric suffix such as val_accuracy_" +
                  name);
      }
      CompressionVariant v;
      v.name = name;
      std::vector<ConfigNode> items = body.is_sequence() ? body.elements() : std::vector<ConfigNode>{body};
      if (items.empty()) body.fail("expected at least one step, e.g. {quantize: {bits: 8}}");
      for (std::size_t i = 0; i < items.size(); ++i) {
        v.steps.push_back(read_step(items[i], space));
        if (v.steps.back().kind == StepKind::kPrune && i > 0 && v.steps[i - 1].kind == StepKind::kCluster) {
          items[i].fail("comes after a cluster step, but pruning must come first (it would break shared values)");
        }
        const bool quantizes = v.steps.back().kind == StepKind::kQuantize || v.steps.back().kind == StepKind::kQat;
        if (quantizes && i + 1 != items.size()) {
          items[i + 1].fail(std::string("comes after a ") + to_string(v.steps.back().kind) +
                            " step, but quantization must be the variant's last step (prune and cluster first)");
        }
      }
      c.variants.push_back(std::move(v));
    }
  }

  ConfigNode distill = options.child("distill", "mapping",
                                     "{teacher: best, alpha: 0.5, temperature: 4}: train each network against a "
                                     "teacher's softened outputs (knowledge distillation)");
  if (distill.defined() && !distill.is_null()) {
    SectionReader r(distill);
    std::string teacher = r.text("teacher", std::nullopt,
                                 "best (this study's most accurate saved trial), a trial number, or the folder of an "
                                 "exported model (nasforge export)");
    for (const auto& spec : distill_keys()) c.distill.push_back(read_setting(r, spec, space));
    r.finish();
    const bool number = !teacher.empty() && std::all_of(teacher.begin(), teacher.end(), ::isdigit);
    if (teacher == "best" || number) {
      c.teacher = teacher;
    } else {
      std::filesystem::path dir = teacher;
      if (dir.is_relative()) dir = std::filesystem::path(base_dir) / dir;
      if (!std::filesystem::exists(dir / "model.json")) {
        distill.get("teacher").fail("'" + teacher + "' is neither best, a trial number, nor a folder holding " +
                                    "model.json and weights.pt (looked for " + (dir / "model.json").string() +
                                    "); export one with: nasforge export --study S --trial N --out DIR");
      }
      c.teacher = std::filesystem::absolute(dir).lexically_normal().string();
    }
  }
  return c;
}

std::vector<std::string> CompressionConfig::metric_names() const {
  std::vector<std::string> names;
  for (const auto& v : variants) {
    for (const char* m : {"val_accuracy", "val_loss", "size_bytes", "macs", "params", "sparsity"}) {
      names.push_back(std::string(m) + "_" + v.name);
    }
    if (!v.quantizes()) names.push_back("latency_ms_" + v.name);
  }
  return names;
}

DistillOptions CompressionConfig::distill_options(const ParamMap& params) const {
  DistillOptions o;
  if (distill.empty()) return o;
  const auto& keys = distill_keys();
  o.enabled = resolve_setting(distill[0], keys[0], params).as_bool();
  o.alpha = resolve_setting(distill[1], keys[1], params).as_double();
  o.temperature = resolve_setting(distill[2], keys[2], params).as_double();
  o.teacher = teacher;
  return o;
}

}  // namespace nasforge
