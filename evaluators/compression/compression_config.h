#pragma once

#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"
#include "core/param_value.h"
#include "evaluators/compression/compression_step.h"
#include "evaluators/setting.h"
#include "spaces/search_space.h"

namespace nasforge {

/// Teacher-student training of the trial's network (`distill:` section).
struct DistillOptions {
  bool enabled = false;    ///< Off: plain cross-entropy training.
  std::string teacher;     ///< "best", a trial number of the same study, or an exported model folder.
  double alpha = 0.5;      ///< Weight of the hard-label cross-entropy; 1 - alpha weighs the soft KL term.
  double temperature = 4;  ///< Softmax temperature T of both networks' outputs (the KL term is scaled by T^2).
};

/// A named chain of steps applied to a copy of the trained network; its metrics are stored with the suffix
/// "_<name>" (val_accuracy_int8, size_bytes_int8, ...).
struct CompressionVariant {
  std::string name;                    ///< Metric suffix, e.g. "int8".
  std::vector<CompressionStep> steps;  ///< Applied in order.

  /// True when a step quantizes (its latency would be that of fake quantization, so none is measured).
  bool quantizes() const;
  /// What this variant of a trial with `params` ships as, before training (each step's StepType::plan).
  DeployPlan plan(const ParamMap& params) const;
};

/// The `compress:` and `distill:` sections of a train objective.
struct CompressionConfig {
  std::vector<CompressionVariant> variants;  ///< In file order.
  std::vector<HyperSetting> distill;         ///< The `distill:` keys (empty when the section is absent).
  std::string teacher;                       ///< distill.teacher: "best", a trial number, or an absolute folder.

  /// Reads `compress:` and `distill:` from a train section (relative teacher folders resolve against
  /// `base_dir`). ConfigError with file:line, key, value and what is allowed for unknown keys, bad values,
  /// duplicate or malformed variant names, and steps in an impossible order (quantize/qat must be last).
  static CompressionConfig from_config(SectionReader& options, const SearchSpace& space, const std::string& base_dir);

  /// The metric names the variants add (val_accuracy_<v>, val_loss_<v>, size_bytes_<v>, macs_<v>, params_<v>,
  /// sparsity_<v>, and latency_ms_<v> for variants without quantization).
  std::vector<std::string> metric_names() const;
  /// The trial's distillation settings.
  DistillOptions distill_options(const ParamMap& params) const;
};

}  // namespace nasforge
