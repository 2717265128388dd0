#include "evaluators/compression/compression_config.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

const std::vector<SettingSpec>& distill_keys() {
  static const std::vector<SettingSpec> kKeys = {
      SettingSpec::flag("enabled", true, "train with the teacher (a $param makes distillation a search choice)"),
      SettingSpec::number("alpha", Range::closed(0, 1), 0.5,
                          "weight of the hard-label cross-entropy; 1 - alpha weighs the KL"),
      SettingSpec::number("temperature", Range::open(0), 4, "softmax temperature T (the KL term is scaled by T^2)"),
  };
  return kKeys;
}

bool valid_variant_name(const std::string& name) {
  if (name.empty() || name.size() > 32 || !(name[0] >= 'a' && name[0] <= 'z')) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

}  // namespace

bool CompressionVariant::quantizes() const {
  return std::any_of(steps.begin(), steps.end(), [](const CompressionStep& s) { return s.type->quantizes; });
}

DeployPlan CompressionVariant::plan(const ParamMap& params) const {
  DeployPlan p;
  for (const CompressionStep& step : steps) {
    if (step.type->plan) step.type->plan(p, step.resolve(params, name));
  }
  return p;
}

CompressionConfig CompressionConfig::from_config(SectionReader& options, const SearchSpace& space,
                                                 const std::string& base_dir) {
  CompressionConfig c;
  ConfigNode compress = options.child("compress", "mapping",
                                      "named variants of the trained network, each a list of steps (" +
                                          join(step_catalog().names(), ", ") +
                                          "); metrics of variant V are stored as val_accuracy_V, size_bytes_V, ...");
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
        // A step that must be last is blamed before the step after it is even read.
        const StepType* previous = i > 0 ? v.steps.back().type : nullptr;
        const std::string after = previous ? "comes after a " + previous->entry.name + " step, but " : "";
        if (previous && !previous->last_because.empty()) items[i].fail(after + previous->last_because);
        v.steps.push_back(CompressionStep::read(items[i], space));
        const StepType& type = *v.steps.back().type;
        if (previous && type.forbids_after(*previous)) items[i].fail(after + type.not_after_because);
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
  const SettingValues values = resolve_settings(distill, distill_keys(), params);
  o.enabled = values["enabled"].as_bool();
  o.alpha = values["alpha"].as_double();
  o.temperature = values["temperature"].as_double();
  o.teacher = teacher;
  return o;
}

}  // namespace nasforge
