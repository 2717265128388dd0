#include "evaluators/train_config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// One training hyperparameter: its SettingSpec (type, range, doc) and how it maps onto TrainHyperparams.
struct HyperKey {
  SettingSpec spec;
  ParamValue (*get)(const TrainHyperparams&);
  void (*set)(TrainHyperparams&, const ParamValue&);
};

// The defaults are TrainHyperparams' own, so they are declared once.
std::vector<HyperKey> with_defaults(std::vector<HyperKey> keys) {
  for (auto& k : keys) k.spec.default_value = k.get(TrainHyperparams{});
  return keys;
}

const std::vector<HyperKey>& hyper_keys() {
  using H = TrainHyperparams;
  using V = ParamValue;
  // One row per key reads better than one line per field.
  // clang-format off
  static const std::vector<HyperKey> kKeys = with_defaults({
      // The trainer counts epochs in an int and epochs x batches in an int64: a bound keeps both from overflowing.
      {{"epochs", "epochs", SettingType::kInt, 1, false, 1e6, false, {}, "passes over the training split", {}},
       [](const H& h) { return V(h.epochs); }, [](H& h, const V& v) { h.epochs = v.as_int(); }},
      {{"batch_size", "batch_size", SettingType::kInt, 1, false, kInf, true, {}, "training mini-batch size", {}},
       [](const H& h) { return V(h.batch_size); }, [](H& h, const V& v) { h.batch_size = v.as_int(); }},
      {{"optimizer", "optimizer", SettingType::kChoice, 0, false, 0, false, {"sgd", "adam", "adamw"},
       "sgd (momentum, nesterov), adam, or adamw (decoupled weight decay)", {}},
       [](const H& h) { return V(h.optimizer); }, [](H& h, const V& v) { h.optimizer = v.as_string(); }},
      {{"lr", "lr", SettingType::kFloat, 0, true, kInf, true, {}, "peak learning rate (reached after warm-up)", {}},
       [](const H& h) { return V(h.lr); }, [](H& h, const V& v) { h.lr = v.as_double(); }},
      {{"momentum", "momentum", SettingType::kFloat, 0, false, 1, true, {}, "SGD momentum", {}},
       [](const H& h) { return V(h.momentum); }, [](H& h, const V& v) { h.momentum = v.as_double(); }},
      {{"nesterov", "nesterov", SettingType::kBool, 0, false, 0, false, {}, "SGD Nesterov momentum (needs momentum > 0)", {}},
       [](const H& h) { return V(h.nesterov); }, [](H& h, const V& v) { h.nesterov = v.as_bool(); }},
      {{"weight_decay", "weight_decay", SettingType::kFloat, 0, false, kInf, true, {},
       "L2 penalty for sgd and adam, decoupled weight decay for adamw", {}},
       [](const H& h) { return V(h.weight_decay); }, [](H& h, const V& v) { h.weight_decay = v.as_double(); }},
      {{"schedule", "schedule", SettingType::kChoice, 0, false, 0, false, {"cosine", "step", "constant"},
       "learning-rate schedule after warm-up, applied per iteration: cosine to 0, step decay, or constant", {}},
       [](const H& h) { return V(h.schedule); }, [](H& h, const V& v) { h.schedule = v.as_string(); }},
      {{"warmup_epochs", "warmup_epochs", SettingType::kFloat, 0, false, kInf, true, {},
       "linear learning-rate warm-up from 0, in epochs (fractions allowed)", {}},
       [](const H& h) { return V(h.warmup_epochs); }, [](H& h, const V& v) { h.warmup_epochs = v.as_double(); }},
      {{"step_epochs", "step_epochs", SettingType::kFloat, 0, true, kInf, true, {},
       "schedule step: epochs between two decays", {}},
       [](const H& h) { return V(h.step_epochs); }, [](H& h, const V& v) { h.step_epochs = v.as_double(); }},
      {{"gamma", "gamma", SettingType::kFloat, 0, true, 1, false, {}, "schedule step: factor applied at each decay", {}},
       [](const H& h) { return V(h.gamma); }, [](H& h, const V& v) { h.gamma = v.as_double(); }},
      {{"label_smoothing", "label_smoothing", SettingType::kFloat, 0, false, 1, true, {},
       "cross-entropy label smoothing of the training loss", {}},
       [](const H& h) { return V(h.label_smoothing); }, [](H& h, const V& v) { h.label_smoothing = v.as_double(); }},
      {{"early_stopping.patience", "patience", SettingType::kInt, 0, false, kInf, true, {},
       "epochs without improvement of the first objective metric before training stops (0 = never)", {}},
       [](const H& h) { return V(h.patience); }, [](H& h, const V& v) { h.patience = v.as_int(); }},
      {{"early_stopping.min_delta", "min_delta", SettingType::kFloat, 0, false, kInf, true, {},
       "smallest change of that metric that counts as an improvement", {}},
       [](const H& h) { return V(h.min_delta); }, [](H& h, const V& v) { h.min_delta = v.as_double(); }},
  });
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
  c.budget = CostBudget::from_config(
      options.child("budget", "mapping",
                    "hard limits {params, macs, size_bytes, peak_mem_bytes}: over-budget candidates are not trained"));
  std::vector<std::string> metrics = train_metric_names();
  for (const auto& m : c.compression.metric_names()) metrics.push_back(m);

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
