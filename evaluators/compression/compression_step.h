#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/param_value.h"
#include "core/registry.h"
#include "evaluators/setting.h"
#include "spaces/search_space.h"

namespace nasforge {

/// A rule that spans keys of one step, such as static quantization's limit of 8 bits.
struct KeyRule {
  std::vector<std::string> keys;  ///< The keys it reads, the blamed one first; empty: the step has no rule.
  /// What is wrong with `values` (which hold at least `keys`), completing "<keys[0]> is <value>, but ...", or "".
  std::string (*violation)(const SettingValues& values) = nullptr;
};

/// Everything about one kind of compression step that needs no libtorch: a row of step_types(). Its libtorch
/// half, keyed by entry.name, is in evaluators/compression/nn/step_apply.cc. A broken ordering rule reads
/// "comes after a <previous> step, but <last_because or not_after_because>".
/// What a network ships as, as far as it is known before training: the weight precision and clustering its
/// variant's steps ask for. Pruning's smaller graph exists only after training, so a plan is an upper bound.
struct DeployPlan {
  int weight_bits = 32;        ///< 32 float, 16 half, 2..8 integer kernels.
  std::int64_t clusters = 0;   ///< Shared weight values per layer (0 = not clustered).
};

struct StepType {
  CatalogEntry entry;                  ///< The YAML name ("prune") and one line for docs.
  std::vector<SettingSpec> keys;       ///< Its settings, in declaration order.
  bool quantizes = false;              ///< Leaves fake quantization in the network, so no latency is measured.
  std::string last_because;            ///< Non-empty: nothing may follow it, because of this.
  std::vector<std::string> not_after;  ///< Steps it may not directly follow...
  std::string not_after_because;       ///< ...because of this.
  KeyRule rule;                        ///< Checked when the study is read if its keys are constants, else per trial.
  /// How the step changes what ships (null: it does not, or only after training, as pruning).
  void (*plan)(DeployPlan& plan, const SettingValues& values) = nullptr;

  /// Whether this step may not directly follow `previous`.
  bool forbids_after(const StepType& previous) const;
};

/// The compression steps in listing order; entries, in the same order, of step_catalog().
const std::vector<StepType>& step_types();

/// The step names for lookups and messages ("unknown compression step 'x' (did you mean ..)").
const Catalog& step_catalog();

/// The `lr` key of every step that fine-tunes.
SettingSpec finetune_lr_key();

/// One step of a variant as written in YAML: its type and settings (constants or "$param" references).
struct CompressionStep {
  const StepType* type = nullptr;      ///< A row of step_types().
  std::vector<HyperSetting> settings;  ///< One per key of `type`, in declaration order.

  /// Reads `{name: {settings}}`. ConfigError with file:line, key, value and what is allowed for an unknown step
  /// or key, a bad value, or constants that break the step's rule.
  static CompressionStep read(const ConfigNode& node, const SearchSpace& space);
  /// The trial's values by key. ObjectiveError, naming compress.<variant>, for a resolved value out of range or
  /// values that break the step's rule.
  SettingValues resolve(const ParamMap& params, const std::string& variant) const;
};

}  // namespace nasforge
