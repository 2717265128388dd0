#include "evaluators/compression/quantize_step.h"

#include <string>
#include <vector>

namespace nasforge {

namespace {

// The observers by their to_string() names, which are also their YAML names.
const std::vector<ObserverKind> kObservers = {ObserverKind::kMinMax, ObserverKind::kMovingAverage,
                                              ObserverKind::kPercentile, ObserverKind::kEntropy};

std::vector<std::string> observer_names() {
  std::vector<std::string> names;
  for (ObserverKind k : kObservers) names.emplace_back(to_string(k));
  return names;
}

// Nothing may follow either quantizing step.
const char* const kQuantizeLast = "quantization must be the variant's last step (prune and cluster first)";

// The keys of QuantScheme, in the order both steps list them.
std::vector<SettingSpec> scheme_keys(double max_bits, const char* bits_doc) {
  return {
      SettingSpec::integer("bits", Range::closed(2, max_bits), 8, bits_doc),
      SettingSpec::flag("per_channel", true, "one weight scale and zero point per output channel (else per tensor)"),
      SettingSpec::flag("weight_symmetric", true, "symmetric weight quantization (zero point 0)"),
      SettingSpec::flag("activation_symmetric", false, "symmetric activation quantization (else affine)"),
  };
}

SettingSpec calibration_key() {
  return SettingSpec::integer("calibration_samples", Range::closed(1), 1024,
                              "training samples that calibrate activation ranges");
}

// Only dynamic mode stores integers wider than 8 bits (its activations then stay float).
std::string static_bits_violation(const SettingValues& values) {
  if (values["mode"].as_string() != "static" || values["bits"].as_int() <= 8) return "";
  return "static quantization supports 2..8 bits (use mode: dynamic for wider integer weights)";
}

}  // namespace

QuantScheme QuantScheme::from(const SettingValues& values) {
  QuantScheme q;
  q.bits = static_cast<int>(values["bits"].as_int());
  q.per_channel = values["per_channel"].as_bool();
  q.weight_symmetric = values["weight_symmetric"].as_bool();
  q.activation_symmetric = values["activation_symmetric"].as_bool();
  return q;
}

QuantizeOptions QuantizeOptions::from(const SettingValues& values) {
  QuantizeOptions o;
  static_cast<QuantScheme&>(o) = QuantScheme::from(values);
  const std::string& mode = values["mode"].as_string();
  o.mode = mode == "dynamic" ? QuantMode::kDynamic : mode == "float16" ? QuantMode::kFloat16 : QuantMode::kStatic;
  // Resolved values were checked against observer_names(), so one of them matches.
  for (ObserverKind k : kObservers) {
    if (values["observer"].as_string() == to_string(k)) o.observer = k;
  }
  o.percentile = values["percentile"].as_double();
  o.calibration_samples = values["calibration_samples"].as_int();
  return o;
}

QatOptions QatOptions::from(const SettingValues& values) {
  QatOptions o;
  static_cast<QuantScheme&>(o) = QuantScheme::from(values);
  o.epochs = values["epochs"].as_int();
  o.lr = values["lr"].as_double();
  o.calibration_samples = values["calibration_samples"].as_int();
  return o;
}

namespace {

// float16 ships half-precision weights; static and dynamic ship integer weights run by integer kernels.
void plan_quantize(DeployPlan& plan, const SettingValues& values) {
  const QuantizeOptions o = QuantizeOptions::from(values);
  plan.weight_bits = o.mode == QuantMode::kFloat16 ? 16 : o.bits;
}

void plan_qat(DeployPlan& plan, const SettingValues& values) { plan.weight_bits = QuantScheme::from(values).bits; }

}  // namespace

StepType quantize_step() {
  StepType t;
  t.entry = {"quantize", "post-training quantization: static (calibrated), dynamic, or float16"};
  t.keys.push_back(SettingSpec::choice("mode", {"static", "dynamic", "float16"}, "static",
                                       "static: weights and activations (calibrated); dynamic: weights, activations "
                                       "per batch; float16: weights in half precision"));
  for (auto& k : scheme_keys(16, "integer bit width: 2..8 (static), 2..16 (dynamic)")) t.keys.push_back(k);
  t.keys.push_back(SettingSpec::choice("observer", observer_names(), "minmax",
                                       "activation range calibration: minmax, moving_average, percentile, or "
                                       "entropy (KL)"));
  t.keys.push_back(
      SettingSpec::number("percentile", {50, true, 100, false}, 99.99, "percentile observer: upper percentile kept"));
  t.keys.push_back(calibration_key());
  t.quantizes = true;
  t.last_because = kQuantizeLast;
  t.rule = {{"bits", "mode"}, &static_bits_violation};
  t.plan = &plan_quantize;
  return t;
}

StepType qat_step() {
  StepType t;
  t.entry = {"qat", "quantization-aware training: fine-tuning with fake quantization in the forward pass"};
  t.keys = scheme_keys(8, "weight and activation bit width");
  t.keys.push_back(SettingSpec::integer("epochs", Range::closed(1), 1, "fine-tuning epochs with fake quantization"));
  t.keys.push_back(finetune_lr_key());
  t.keys.push_back(calibration_key());
  t.quantizes = true;
  t.last_because = kQuantizeLast;
  t.plan = &plan_qat;
  return t;
}

}  // namespace nasforge
