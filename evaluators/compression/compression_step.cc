#include "evaluators/compression/compression_step.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/compression/cluster_step.h"
#include "evaluators/compression/prune_step.h"
#include "evaluators/compression/quantize_step.h"

namespace nasforge {

namespace {

// The setting of `key` among a step's settings.
const HyperSetting& setting_of(const CompressionStep& step, const std::string& key) {
  for (const auto& s : step.settings) {
    if (s.key == key) return s;
  }
  throw ValueError("compression step " + step.type->entry.name + " has no key '" + key + "'");
}

}  // namespace

bool StepType::forbids_after(const StepType& previous) const {
  return std::find(not_after.begin(), not_after.end(), previous.entry.name) != not_after.end();
}

const std::vector<StepType>& step_types() {
  // Each row comes from its step's own <step>_step.cc; its libtorch half is a row of nn/step_apply.cc.
  static const std::vector<StepType> kTypes = {quantize_step(), qat_step(), prune_step(), cluster_step()};
  return kTypes;
}

const Catalog& step_catalog() {
  // A step is selected by its mapping's single key ({prune: {...}}), not by a key inside a section.
  static const Catalog kCatalog("compression step", "", step_types().size(),
                                [](std::size_t i) { return step_types()[i].entry; });
  return kCatalog;
}

SettingSpec finetune_lr_key() {
  return SettingSpec::number("lr", Range::open(0), 0.01, "peak learning rate of the fine-tuning (cosine)");
}

CompressionStep CompressionStep::read(const ConfigNode& node, const SearchSpace& space) {
  if (!node.is_map() || node.keys().size() != 1) {
    node.fail("expected one step as a mapping with a single key (" + join(step_catalog().names(), ", ") +
              "), e.g. {quantize: {bits: 8}}, got " + node.describe());
  }
  auto [name, body] = node.entries().front();
  CompressionStep step;
  step.type = &step_types()[step_catalog().find(body, name)];
  if (!body.is_null() && !body.is_map())
    body.fail("expected a mapping of " + name + " settings, got " + body.describe());
  SectionReader r(body);
  for (const auto& spec : step.type->keys) step.settings.push_back(read_setting(r, spec, space));
  r.finish();
  // A rule over searched keys can only be checked per trial (resolve).
  const KeyRule& rule = step.type->rule;
  if (rule.keys.empty()) return step;
  SettingValues constants;
  for (const auto& key : rule.keys) {
    const HyperSetting& s = setting_of(step, key);
    if (!s.param.empty()) return step;
    constants.add(key, s.constant);
  }
  const std::string why = rule.violation(constants);
  const std::string& blamed = rule.keys.front();
  r.require(why.empty(), blamed, "is " + constants[blamed].to_string() + ", but " + why);
  return step;
}

SettingValues CompressionStep::resolve(const ParamMap& params, const std::string& variant) const {
  SettingValues values = resolve_settings(settings, type->keys, params);
  const KeyRule& rule = type->rule;
  if (rule.keys.empty()) return values;
  const std::string why = rule.violation(values);
  if (!why.empty()) {
    const std::string& blamed = rule.keys.front();
    throw ObjectiveError("compress." + variant + ": " + blamed + " is " + values[blamed].to_string() + ", but " + why);
  }
  return values;
}

}  // namespace nasforge
