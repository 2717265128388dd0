#include "evaluators/train_config.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

// One training hyperparameter: its SettingSpec (type, range, default, doc) and where it goes in TrainHyperparams.
struct HyperKey {
  SettingSpec spec;
  void (*set)(TrainHyperparams&, const ParamValue&);
};

const std::vector<HyperKey>& hyper_keys() {
  using H = TrainHyperparams;
  using V = ParamValue;
  using S = SettingSpec;
  // The defaults are TrainHyperparams' own, so they are declared once.
  static const H defaults{};
  // One row per key reads better than one line per field.
  // clang-format off
  static const std::vector<HyperKey> kKeys = {
      // The trainer counts epochs in an int and epochs x batches in an int64: a bound keeps both from overflowing.
      {S::integer("epochs", Range::closed(1, 1e6), defaults.epochs, "passes over the training split"),
       [](H& h, const V& v) { h.epochs = v.as_int(); }},
      {S::integer("batch_size", Range::closed(1), defaults.batch_size, "training mini-batch size"),
       [](H& h, const V& v) { h.batch_size = v.as_int(); }},
      {S::choice("optimizer", {"sgd", "adam", "adamw"}, defaults.optimizer,
                 "sgd (momentum, nesterov), adam, or adamw (decoupled weight decay)"),
       [](H& h, const V& v) { h.optimizer = v.as_string(); }},
      {S::number("lr", Range::open(0), defaults.lr, "peak learning rate (reached after warm-up)"),
       [](H& h, const V& v) { h.lr = v.as_double(); }},
      {S::number("momentum", {0, false, 1, true}, defaults.momentum, "SGD momentum"),
       [](H& h, const V& v) { h.momentum = v.as_double(); }},
      {S::flag("nesterov", defaults.nesterov, "SGD Nesterov momentum (needs momentum > 0)"),
       [](H& h, const V& v) { h.nesterov = v.as_bool(); }},
      {S::number("weight_decay", Range::closed(0), defaults.weight_decay,
                 "L2 penalty for sgd and adam, decoupled weight decay for adamw"),
       [](H& h, const V& v) { h.weight_decay = v.as_double(); }},
      {S::choice("schedule", {"cosine", "step", "constant"}, defaults.schedule,
                 "learning-rate schedule after warm-up, applied per iteration: cosine to 0, step decay, or constant"),
       [](H& h, const V& v) { h.schedule = v.as_string(); }},
      {S::number("warmup_epochs", Range::closed(0), defaults.warmup_epochs,
                 "linear learning-rate warm-up from 0, in epochs (fractions allowed)"),
       [](H& h, const V& v) { h.warmup_epochs = v.as_double(); }},
      {S::number("step_epochs", Range::open(0), defaults.step_epochs, "schedule step: epochs between two decays"),
       [](H& h, const V& v) { h.step_epochs = v.as_double(); }},
      {S::number("gamma", {0, true, 1, false}, defaults.gamma, "schedule step: factor applied at each decay"),
       [](H& h, const V& v) { h.gamma = v.as_double(); }},
      {S::number("label_smoothing", {0, false, 1, true}, defaults.label_smoothing,
                 "cross-entropy label smoothing of the training loss"),
       [](H& h, const V& v) { h.label_smoothing = v.as_double(); }},
      {S::integer("early_stopping.patience", Range::closed(0), defaults.patience,
                  "epochs without improvement of the first objective metric before training stops (0 = never)"),
       [](H& h, const V& v) { h.patience = v.as_int(); }},
      {S::number("early_stopping.min_delta", Range::closed(0), defaults.min_delta,
                 "smallest change of that metric that counts as an improvement"),
       [](H& h, const V& v) { h.min_delta = v.as_double(); }},
  };
  // clang-format on
  return kKeys;
}

const HyperKey& hyper_key(const std::string& key) {
  for (const auto& k : hyper_keys()) {
    if (key == k.spec.key) return k;
  }
  throw StateError("unknown training hyperparameter '" + key + "'");
}

}  // namespace

const std::vector<std::string>& train_metric_names() {
  static const std::vector<std::string> kNames = {"val_accuracy", "val_loss",       "train_loss", "params",      "macs",
                                                  "size_bytes",   "peak_mem_bytes", "latency_ms", "train_time_s"};
  return kNames;
}

Json TrainHyperparams::to_json() const {
  Json j;
  j["epochs"] = epochs;
  j["batch_size"] = batch_size;
  j["optimizer"] = optimizer;
  j["lr"] = lr;
  j["momentum"] = momentum;
  j["nesterov"] = nesterov;
  j["weight_decay"] = weight_decay;
  j["schedule"] = schedule;
  j["warmup_epochs"] = warmup_epochs;
  j["step_epochs"] = step_epochs;
  j["gamma"] = gamma;
  j["label_smoothing"] = label_smoothing;
  j["early_stopping"] = {{"patience", patience}, {"min_delta", min_delta}};
  return j;
}

TrainConfig TrainConfig::from_config(SectionReader& options, const SearchSpace& space, std::size_t n_objectives,
                                     const std::string& base_dir) {
  TrainConfig c;
  c.base_dir = base_dir;
  if (!space.architecture()) {
    options.node().fail(
        "kind train needs an architecture: section (type chain or cell) that describes the "
        "networks to train");
  }

  ConfigNode dataset = options.child("dataset", "mapping", "the data to train and validate on (see datasets)");
  if (!dataset.defined() || dataset.is_null()) {
    dataset.fail("is required: the data to train on, e.g. {name: fashion_mnist} or {format: csv, path: data.csv}");
  }
  c.dataset = DatasetOptions::from_config(dataset, base_dir);
  try {
    dataset_files(c.dataset);  // missing data stops the study here rather than failing every trial
  } catch (const NotFoundError& e) {
    dataset.fail(e.what());
  }
  c.dataset_yaml = dataset.dump();
  c.compression = CompressionConfig::from_config(options, space, base_dir);
  ConfigNode targets = options.child("targets", "list",
                                     "device profiles (nasforge targets, or .yaml files) whose latency_ms@T, "
                                     "flash_bytes@T, sram_bytes@T and fits@T each trial stores");
  if (targets.defined() && !targets.is_null()) {
    if (!targets.is_sequence()) targets.fail("expected a list of target names or profile files, got " + targets.describe());
    for (const ConfigNode& item : targets.elements()) {
      try {
        c.targets.push_back(load_target(item.as_string(), base_dir));
      } catch (const ConfigError&) {
        throw;  // a bad profile file reports its own file:line
      } catch (const ValueError& e) {
        item.fail(e.what());
      }
      for (std::size_t i = 0; i + 1 < c.targets.size(); ++i) {
        if (c.targets[i].name == c.targets.back().name) item.fail("target '" + c.targets.back().name + "' is listed twice");
      }
    }
  }
  std::vector<std::string> variant_names;
  for (const auto& v : c.compression.variants) variant_names.push_back(v.name);
  c.budget = CostBudget::from_config(
      options.child("budget", "mapping",
                    "hard limits {params, macs, size_bytes, peak_mem_bytes, METRIC@TARGET}: over-budget candidates "
                    "are not trained"),
      c.targets, variant_names);
  std::vector<std::string> metrics = train_metric_names();
  for (const auto& m : c.compression.metric_names()) metrics.push_back(m);
  for (const TargetProfile& t : c.targets) {
    for (TargetMetric m : target_metrics()) {
      metrics.push_back(target_metric_name(m, "", t.name));
      for (const std::string& v : variant_names) metrics.push_back(target_metric_name(m, v, t.name));
    }
  }

  ConfigNode objectives =
      options.child("objectives", "list of metric names",
                    "metrics to return, one per study direction: " + join(metrics, ", ") + " (default [val_accuracy])");
  if (!objectives.defined() || objectives.is_null()) {
    c.objectives = {"val_accuracy"};
  } else {
    std::vector<ConfigNode> items = objectives.is_sequence() ? objectives.elements()
                                    : objectives.is_scalar() ? std::vector<ConfigNode>{objectives}
                                                             : std::vector<ConfigNode>{};
    if (items.empty()) {
      objectives.fail("expected a list of metric names (" + join(metrics, ", ") + "), got " + objectives.describe());
    }
    for (const auto& item : items) {
      std::string name = metrics[lookup_name(item, item.as_string(), metrics, "metric")];
      if (std::find(c.objectives.begin(), c.objectives.end(), name) != c.objectives.end()) {
        item.fail("metric '" + name + "' is listed twice");
      }
      c.objectives.push_back(name);
    }
  }
  if (c.objectives.size() != n_objectives) {
    options.require(false, "objectives",
                    "lists " + std::to_string(c.objectives.size()) + " metric(s) (" + join(c.objectives, ", ") +
                        ") but the study has " + std::to_string(n_objectives) +
                        " direction(s); give one metric per direction");
  }

  for (const auto& k : hyper_keys()) {
    if (k.spec.key.find('.') == std::string::npos) c.settings.push_back(read_setting(options, k.spec, space));
  }
  {
    SectionReader es(options.child("early_stopping", "mapping",
                                   "{patience: 0, min_delta: 0.0}: stop when the first objective metric stalls"));
    for (const auto& k : hyper_keys()) {
      if (k.spec.key.rfind("early_stopping.", 0) == 0) c.settings.push_back(read_setting(es, k.spec, space));
    }
    es.finish();
  }
  // Checks that span keys, when both are constants (otherwise resolve() checks them per trial).
  auto constant = [&](const std::string& key) -> const HyperSetting* {
    for (const auto& s : c.settings) {
      if (s.key == key && s.param.empty()) return &s;
    }
    return nullptr;
  };
  const HyperSetting* nesterov = constant("nesterov");
  const HyperSetting* momentum = constant("momentum");
  const HyperSetting* optimizer = constant("optimizer");
  bool sgd = !optimizer || optimizer->constant.as_string() == "sgd";
  if (sgd && nesterov && momentum && nesterov->constant.as_bool() && momentum->constant.as_double() <= 0) {
    options.require(false, "nesterov", "needs momentum > 0, but momentum is " + momentum->constant.to_string());
  }

  c.eval_batch_size = options.integer("eval_batch_size", 1024, "batch size of validation passes");
  options.require(c.eval_batch_size >= 1, "eval_batch_size", "must be >= 1, got " + std::to_string(c.eval_batch_size));
  c.device = options.text("device", "auto", "where to train: auto (cuda when available), cpu or cuda",
                          {"auto", "cpu", "cuda"});
  c.threads = options.integer("threads", 0,
                              "torch intra-op threads on the CPU (0 = libtorch's default: one per physical core)");
  // torch takes an int; 1024 is far beyond any machine's cores yet keeps the cast exact.
  options.require(c.threads >= 0 && c.threads <= 1024, "threads",
                  "must be in [0, 1024] (0 = libtorch's default), got " + std::to_string(c.threads));
  {
    SectionReader lat(options.child("latency", "mapping", "{runs: 30, warmup: 5}: batch-1 latency measurement"));
    c.latency_runs = lat.integer("runs", 30, "timed batch-1 forward passes; latency_ms is their median (0 = skip)");
    c.latency_warmup = lat.integer("warmup", 5, "untimed forward passes before the timed ones");
    lat.require(c.latency_runs >= 0, "runs",
                "must be >= 0 (0 skips the measurement), got " + std::to_string(c.latency_runs));
    lat.require(c.latency_warmup >= 0, "warmup", "must be >= 0, got " + std::to_string(c.latency_warmup));
    lat.finish();
  }
  for (const auto& name : c.objectives) {
    if (c.latency_runs == 0 && name.rfind("latency_ms", 0) == 0) {
      options.require(false, "objectives", "asks for " + name + ", but latency: {runs: 0} skips the measurement");
    }
  }

  c.save_weights =
      options.flag("save_weights", true, "write the best weights and model.json into the trial's artifact folder");
  return c;
}

TrainHyperparams TrainConfig::resolve(const ParamMap& params) const {
  TrainHyperparams h;
  for (const auto& s : settings) {
    const HyperKey& k = hyper_key(s.key);
    k.set(h, resolve_setting(s, k.spec, params));
  }
  if (h.optimizer == "sgd" && h.nesterov && h.momentum <= 0) {
    throw ObjectiveError("nesterov: true needs momentum > 0, but momentum is " + format_double(h.momentum));
  }
  return h;
}

}  // namespace nasforge
