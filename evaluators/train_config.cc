#include "evaluators/train_config.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

enum class HyperType { kInt, kFloat, kBool, kChoice };

constexpr double kInf = std::numeric_limits<double>::infinity();

// One training hyperparameter: its type and admissible range, and how it maps onto TrainHyperparams. The same
// rule checks YAML constants, every value of a referenced parameter's domain, and resolved trial values.
struct HyperKey {
  const char* key;   // full key, dotted when nested
  const char* name;  // key inside its YAML mapping
  HyperType type;
  double min;
  bool min_open;
  double max;
  bool max_open;
  std::vector<std::string> choices;
  const char* doc;
  ParamValue (*get)(const TrainHyperparams&);
  void (*set)(TrainHyperparams&, const ParamValue&);
};

const std::vector<HyperKey>& hyper_keys() {
  using H = TrainHyperparams;
  using V = ParamValue;
  // One row per key reads better than one line per field.
  // clang-format off
  static const std::vector<HyperKey> kKeys = {
      {"epochs", "epochs", HyperType::kInt, 1, false, kInf, true, {}, "passes over the training split",
       [](const H& h) { return V(h.epochs); }, [](H& h, const V& v) { h.epochs = v.as_int(); }},
      {"batch_size", "batch_size", HyperType::kInt, 1, false, kInf, true, {}, "training mini-batch size",
       [](const H& h) { return V(h.batch_size); }, [](H& h, const V& v) { h.batch_size = v.as_int(); }},
      {"optimizer", "optimizer", HyperType::kChoice, 0, false, 0, false, {"sgd", "adam", "adamw"},
       "sgd (momentum, nesterov), adam, or adamw (decoupled weight decay)",
       [](const H& h) { return V(h.optimizer); }, [](H& h, const V& v) { h.optimizer = v.as_string(); }},
      {"lr", "lr", HyperType::kFloat, 0, true, kInf, true, {}, "peak learning rate (reached after warm-up)",
       [](const H& h) { return V(h.lr); }, [](H& h, const V& v) { h.lr = v.as_double(); }},
      {"momentum", "momentum", HyperType::kFloat, 0, false, 1, true, {}, "SGD momentum",
       [](const H& h) { return V(h.momentum); }, [](H& h, const V& v) { h.momentum = v.as_double(); }},
      {"nesterov", "nesterov", HyperType::kBool, 0, false, 0, false, {}, "SGD Nesterov momentum (needs momentum > 0)",
       [](const H& h) { return V(h.nesterov); }, [](H& h, const V& v) { h.nesterov = v.as_bool(); }},
      {"weight_decay", "weight_decay", HyperType::kFloat, 0, false, kInf, true, {},
       "L2 penalty for sgd and adam, decoupled weight decay for adamw",
       [](const H& h) { return V(h.weight_decay); }, [](H& h, const V& v) { h.weight_decay = v.as_double(); }},
      {"schedule", "schedule", HyperType::kChoice, 0, false, 0, false, {"cosine", "step", "constant"},
       "learning-rate schedule after warm-up, applied per iteration: cosine to 0, step decay, or constant",
       [](const H& h) { return V(h.schedule); }, [](H& h, const V& v) { h.schedule = v.as_string(); }},
      {"warmup_epochs", "warmup_epochs", HyperType::kFloat, 0, false, kInf, true, {},
       "linear learning-rate warm-up from 0, in epochs (fractions allowed)",
       [](const H& h) { return V(h.warmup_epochs); }, [](H& h, const V& v) { h.warmup_epochs = v.as_double(); }},
      {"step_epochs", "step_epochs", HyperType::kFloat, 0, true, kInf, true, {},
       "schedule step: epochs between two decays",
       [](const H& h) { return V(h.step_epochs); }, [](H& h, const V& v) { h.step_epochs = v.as_double(); }},
      {"gamma", "gamma", HyperType::kFloat, 0, true, 1, false, {}, "schedule step: factor applied at each decay",
       [](const H& h) { return V(h.gamma); }, [](H& h, const V& v) { h.gamma = v.as_double(); }},
      {"label_smoothing", "label_smoothing", HyperType::kFloat, 0, false, 1, true, {},
       "cross-entropy label smoothing of the training loss",
       [](const H& h) { return V(h.label_smoothing); }, [](H& h, const V& v) { h.label_smoothing = v.as_double(); }},
      {"early_stopping.patience", "patience", HyperType::kInt, 0, false, kInf, true, {},
       "epochs without improvement of the first objective metric before training stops (0 = never)",
       [](const H& h) { return V(h.patience); }, [](H& h, const V& v) { h.patience = v.as_int(); }},
      {"early_stopping.min_delta", "min_delta", HyperType::kFloat, 0, false, kInf, true, {},
       "smallest change of that metric that counts as an improvement",
       [](const H& h) { return V(h.min_delta); }, [](H& h, const V& v) { h.min_delta = v.as_double(); }},
  };
  // clang-format on
  return kKeys;
}

const HyperKey& hyper_key(const std::string& key) {
  for (const auto& k : hyper_keys()) {
    if (key == k.key) return k;
  }
  throw StateError("unknown training hyperparameter '" + key + "'");
}

std::string bound(double v) {
  return format_double(v);
}

// "an integer >= 1", "a number in [0, 1)", "one of sgd, adam, adamw", "true or false".
std::string describe(const HyperKey& k) {
  switch (k.type) {
    case HyperType::kBool:
      return "true or false";
    case HyperType::kChoice:
      return "one of " + join(k.choices, ", ");
    case HyperType::kInt:
    case HyperType::kFloat:
      break;
  }
  std::string what = k.type == HyperType::kInt ? "an integer" : "a number";
  if (std::isinf(k.max)) return what + (k.min_open ? " > " : " >= ") + bound(k.min);
  return what + " in " + (k.min_open ? "(" : "[") + bound(k.min) + ", " + bound(k.max) + (k.max_open ? ")" : "]");
}

// Why `v` is not admissible for `k`, or "" when it is.
std::string check_value(const HyperKey& k, const ParamValue& v) {
  const std::string bad = "got " + (v.is_string() ? "'" + v.to_string() + "'" : v.to_string()) + " (" + v.type_name() +
                          "); " + k.key + " must be " + describe(k);
  switch (k.type) {
    case HyperType::kBool:
      return v.is_bool() ? "" : bad;
    case HyperType::kChoice:
      if (!v.is_string()) return bad;
      return std::find(k.choices.begin(), k.choices.end(), v.as_string()) != k.choices.end()
                 ? ""
                 : bad + did_you_mean(v.as_string(), k.choices);
    case HyperType::kInt:
      if (!(v.is_int() ||
            (v.is_double() && std::isfinite(v.as_double()) && v.as_double() == std::floor(v.as_double())))) {
        return bad;
      }
      break;
    case HyperType::kFloat:
      if (!v.is_number() || !std::isfinite(v.as_double())) return bad;
      break;
  }
  double x = v.as_double();
  bool ok = (k.min_open ? x > k.min : x >= k.min) && (k.max_open ? x < k.max : x <= k.max);
  return ok ? "" : bad;
}

// Why some value of `d` is not admissible for `k`, or "" when all are. Ranges are intervals, so the bounds of a
// numeric domain decide.
std::string check_domain(const HyperKey& k, const Distribution& d) {
  if (d.kind() == DistributionKind::kCategorical) {
    for (const auto& c : d.choices()) {
      std::string err = check_value(k, c);
      if (!err.empty()) return "choice " + err;
    }
    return "";
  }
  if (k.type == HyperType::kBool || k.type == HyperType::kChoice) {
    return std::string("it is numeric; ") + k.key + " must be " + describe(k) + " (use a categorical parameter)";
  }
  if (k.type == HyperType::kInt && d.kind() == DistributionKind::kFloat) {
    return std::string("it is a float parameter; ") + k.key + " needs integers (declare it with type: int)";
  }
  for (double x : {d.low(), d.high()}) {
    ParamValue v = d.kind() == DistributionKind::kInt ? ParamValue(static_cast<std::int64_t>(x)) : ParamValue(x);
    std::string err = check_value(k, v);
    if (!err.empty()) return (x == d.low() ? "its low bound " : "its high bound ") + err;
  }
  return "";
}

HyperSetting read_setting(SectionReader& r, const HyperKey& k, const SearchSpace& space) {
  HyperSetting s{k.key, k.get(TrainHyperparams{}), ""};
  ConfigNode n =
      r.child(k.name, describe(k) + " or \"$param\"", std::string(k.doc) + " (default " + s.constant.to_string() + ")");
  if (!n.defined() || n.is_null()) return s;
  if (!n.is_scalar()) n.fail("expected " + describe(k) + " or \"$param\", got " + n.describe());
  ParamValue v = n.as_param_value();
  if (v.is_string() && !v.as_string().empty() && v.as_string()[0] == '$') {
    std::string name = v.as_string().substr(1);
    const ParamSpec* spec = space.find(name);
    if (!spec) {
      std::vector<std::string> names = space.names();
      n.fail("'" + v.as_string() + "' names no search-space parameter" + did_you_mean(name, names) +
             (names.empty() ? "; the space has no parameters" : "; parameters: " + join(names, ", ")));
    }
    std::string err = check_domain(k, spec->distribution);
    if (!err.empty()) {
      n.fail("'" + v.as_string() + "' refers to parameter '" + name + "' (" + spec->distribution.describe() +
             ", declared at " + spec->location.to_string() + "), which does not fit: " + err);
    }
    s.param = name;
    return s;
  }
  switch (k.type) {
    case HyperType::kInt:
      v = ParamValue(n.as_int());  // fails with the location for 2.5 or text
      break;
    case HyperType::kFloat:
      v = ParamValue(n.as_double());
      break;
    case HyperType::kBool:
      v = ParamValue(n.as_bool());
      break;
    case HyperType::kChoice:
      v = ParamValue(n.as_string());
      break;
  }
  std::string err = check_value(k, v);
  if (!err.empty()) n.fail(err + "; or write \"$name\" to search it as a space parameter");
  s.constant = v;
  return s;
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

  ConfigNode objectives = options.child(
      "objectives", "list of metric names",
      "metrics to return, one per study direction: " + join(train_metric_names(), ", ") + " (default [val_accuracy])");
  if (!objectives.defined() || objectives.is_null()) {
    c.objectives = {"val_accuracy"};
  } else {
    std::vector<ConfigNode> items = objectives.is_sequence() ? objectives.elements()
                                    : objectives.is_scalar() ? std::vector<ConfigNode>{objectives}
                                                             : std::vector<ConfigNode>{};
    if (items.empty()) {
      objectives.fail("expected a list of metric names (" + join(train_metric_names(), ", ") + "), got " +
                      objectives.describe());
    }
    for (const auto& item : items) {
      std::string name = train_metric_names()[lookup_name(item, item.as_string(), train_metric_names(), "metric")];
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
    if (std::string(k.key).find('.') == std::string::npos) c.settings.push_back(read_setting(options, k, space));
  }
  {
    SectionReader es(options.child("early_stopping", "mapping",
                                   "{patience: 0, min_delta: 0.0}: stop when the first objective metric stalls"));
    for (const auto& k : hyper_keys()) {
      if (std::string(k.key).rfind("early_stopping.", 0) == 0) c.settings.push_back(read_setting(es, k, space));
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
  c.threads = options.integer("threads", 0, "torch intra-op threads on the CPU (0 = libtorch's default: one per physical core)");
  options.require(c.threads >= 0, "threads", "must be >= 0 (0 = libtorch's default), got " + std::to_string(c.threads));
  {
    SectionReader lat(options.child("latency", "mapping", "{runs: 30, warmup: 5}: batch-1 latency measurement"));
    c.latency_runs = lat.integer("runs", 30, "timed batch-1 forward passes; latency_ms is their median (0 = skip)");
    c.latency_warmup = lat.integer("warmup", 5, "untimed forward passes before the timed ones");
    lat.require(c.latency_runs >= 0, "runs",
                "must be >= 0 (0 skips the measurement), got " + std::to_string(c.latency_runs));
    lat.require(c.latency_warmup >= 0, "warmup", "must be >= 0, got " + std::to_string(c.latency_warmup));
    lat.finish();
  }
  if (c.latency_runs == 0 && std::find(c.objectives.begin(), c.objectives.end(), "latency_ms") != c.objectives.end()) {
    options.require(false, "objectives", "asks for latency_ms, but latency: {runs: 0} skips the measurement");
  }
  c.save_weights =
      options.flag("save_weights", true, "write the best weights and model.json into the trial's artifact folder");
  return c;
}

TrainHyperparams TrainConfig::resolve(const ParamMap& params) const {
  TrainHyperparams h;
  for (const auto& s : settings) {
    const HyperKey& k = hyper_key(s.key);
    ParamValue v = s.constant;
    if (!s.param.empty()) {
      auto it = params.find(s.param);
      // An inactive conditional parameter leaves the key at its default (e.g. momentum only searched for sgd).
      v = it == params.end() || it->second.is_null() ? k.get(TrainHyperparams{}) : it->second;
      std::string err = check_value(k, v);
      if (!err.empty()) throw ObjectiveError("parameter '" + s.param + "' gives " + s.key + ": " + err);
    }
    k.set(h, v);
  }
  if (h.optimizer == "sgd" && h.nesterov && h.momentum <= 0) {
    throw ObjectiveError("nesterov: true needs momentum > 0, but momentum is " + format_double(h.momentum));
  }
  return h;
}

}  // namespace nasforge
