#include "evaluators/compression/prune_step.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace nasforge {

double PruneOptions::target(std::int64_t k) const {
  if (schedule == PruneSchedule::kOneShot || steps <= 1) return sparsity;
  const double f = std::clamp(static_cast<double>(k) / static_cast<double>(steps), 0.0, 1.0);
  if (schedule == PruneSchedule::kIterative) return initial_sparsity + (sparsity - initial_sparsity) * f;
  return sparsity + (initial_sparsity - sparsity) * std::pow(1.0 - f, 3);
}

PruneOptions PruneOptions::from(const SettingValues& values) {
  PruneOptions o;
  o.structure = values["structure"].as_string() == "channel" ? PruneStructure::kChannel : PruneStructure::kUnstructured;
  o.global = values["scope"].as_string() == "global";
  o.norm = values["norm"].as_string() == "l2" ? 2 : 1;
  o.target_macs = values["target"].as_string() == "macs";
  o.sparsity = values["sparsity"].as_double();
  const std::string& schedule = values["schedule"].as_string();
  o.schedule = schedule == "iterative" ? PruneSchedule::kIterative
               : schedule == "agp"     ? PruneSchedule::kAgp
                                       : PruneSchedule::kOneShot;
  o.steps = o.schedule == PruneSchedule::kOneShot ? 1 : values["steps"].as_int();
  o.initial_sparsity = values["initial_sparsity"].as_double();
  o.finetune_epochs = values["finetune_epochs"].as_int();
  o.lr = values["lr"].as_double();
  return o;
}

StepType prune_step() {
  StepType t;
  t.entry = {"prune", "magnitude pruning of weights or whole channels, one-shot or over a schedule"};
  t.keys = {
      SettingSpec::choice("structure", {"unstructured", "channel"}, "unstructured",
                          "unstructured: individual weights; channel: whole filters, physically removed"),
      SettingSpec::choice("scope", {"global", "layer"}, "global",
                          "unstructured: one magnitude ranking over all layers, or each layer to the same sparsity"),
      SettingSpec::choice("norm", {"l1", "l2"}, "l1", "channel: filter norm that ranks channels"),
      SettingSpec::choice("target", {"channels", "macs"}, "channels",
                          "channel: sparsity is the fraction of channels removed, or of MACs (the channel fraction "
                          "that removes it is found by bisection)"),
      SettingSpec::number("sparsity", {0, false, 1, true}, 0.5,
                          "final fraction of weights (unstructured) or of each prunable layer's channels (channel) "
                          "removed"),
      SettingSpec::choice("schedule", {"one_shot", "iterative", "agp"}, "one_shot",
                          "one_shot; iterative (linear growth over steps); agp (cubic, Zhu & Gupta)"),
      SettingSpec::integer("steps", Range::closed(1), 1,
                           "pruning rounds, each followed by finetune_epochs (iterative, agp)"),
      SettingSpec::number("initial_sparsity", {0, false, 1, true}, 0, "sparsity target at the schedule's start"),
      SettingSpec::integer("finetune_epochs", Range::closed(0), 1, "fine-tuning epochs after each round"),
      finetune_lr_key(),
  };
  t.not_after = {"cluster"};
  t.not_after_because = "pruning must come first (it would break shared values)";
  return t;
}

}  // namespace nasforge
