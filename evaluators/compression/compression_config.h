#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"
#include "core/param_value.h"
#include "evaluators/compression/clustering.h"
#include "evaluators/compression/quantization.h"
#include "evaluators/setting.h"
#include "spaces/search_space.h"

namespace nasforge {

/// Which numbers a `quantize` step rounds.
enum class QuantMode {
  kStatic,   ///< Weights and activations; activation ranges calibrated on training samples beforehand.
  kDynamic,  ///< Weights ahead of time; activations per batch from that batch's own range (8-bit, when bits <= 8).
  kFloat16,  ///< Weights rounded to IEEE half precision; activations stay float.
};

/// The integer format shared by post-training quantization and QAT.
struct QuantScheme {
  int bits = 8;                       ///< Integer bit width: 2..8 (static, QAT), 2..16 (dynamic weights).
  bool per_channel = true;            ///< One weight scale per output channel (else one per tensor).
  bool weight_symmetric = true;       ///< Weights: zero point in the middle of the signed range.
  bool activation_symmetric = false;  ///< Activations: symmetric instead of affine (asymmetric).
};

/// Post-training quantization (`quantize:` step), after the trial's values of "$param" settings are resolved.
struct QuantizeOptions : QuantScheme {
  QuantMode mode = QuantMode::kStatic;            ///< What is quantized.
  ObserverKind observer = ObserverKind::kMinMax;  ///< How activation ranges are calibrated (static mode).
  double percentile = 99.99;                      ///< Percentile observer: the upper percentile kept.
  std::int64_t calibration_samples = 1024;        ///< Training samples run through the network to calibrate.
};

/// Quantization-aware training (`qat:` step).
struct QatOptions : QuantScheme {
  std::int64_t epochs = 1;                  ///< Fine-tuning epochs with fake quantization in the forward pass.
  double lr = 0.01;                         ///< Peak learning rate of that fine-tuning (cosine to 0).
  std::int64_t calibration_samples = 1024;  ///< Samples that set the initial activation ranges.
};

/// What a `prune` step removes.
enum class PruneStructure {
  kUnstructured,  ///< Individual weights of smallest magnitude (masked to zero).
  kChannel,       ///< Whole output channels (filters) of smallest norm, physically removed.
};

/// How the sparsity target grows over pruning rounds.
enum class PruneSchedule {
  kOneShot,    ///< One round straight to the final sparsity.
  kIterative,  ///< `steps` rounds, the target growing linearly from initial to final sparsity.
  kAgp,        ///< `steps` rounds following Zhu & Gupta's cubic schedule s_f + (s_i - s_f) (1 - k/n)^3.
};

/// Magnitude pruning (`prune:` step).
struct PruneOptions {
  PruneStructure structure = PruneStructure::kUnstructured;  ///< Weights or channels.
  bool global = true;        ///< Unstructured: one magnitude threshold over all layers (false: each layer alone).
  int norm = 1;              ///< Channel: filters ranked by their L1 (1) or L2 (2) norm.
  bool target_macs = false;  ///< Channel: `sparsity` is the fraction of MACs to remove, not of channels.
  double sparsity = 0.5;     ///< Final fraction of weights (unstructured) or of each layer's channels removed.
  PruneSchedule schedule = PruneSchedule::kOneShot;  ///< How the target grows.
  std::int64_t steps = 1;                            ///< Pruning rounds (1 for one-shot).
  double initial_sparsity = 0;                       ///< Target of the schedule's start (iterative, agp).
  std::int64_t finetune_epochs = 1;                  ///< Fine-tuning epochs after each round (0 = none).
  double lr = 0.01;                                  ///< Peak learning rate of the fine-tuning.

  /// The sparsity target after 1-based round `k` of `steps`.
  double target(std::int64_t k) const;
};

/// Weight sharing (`cluster:` step).
struct ClusterOptions {
  std::int64_t clusters = 16;               ///< Centroids per layer.
  ClusterInit init = ClusterInit::kLinear;  ///< Initial centroids.
  std::int64_t finetune_epochs = 0;         ///< Epochs fine-tuning the centroids (0 = none).
  double lr = 0.01;                         ///< Peak learning rate of that fine-tuning.
};

/// Teacher-student training of the trial's network (`distill:` section).
struct DistillOptions {
  bool enabled = false;    ///< Off: plain cross-entropy training.
  std::string teacher;     ///< "best", a trial number of the same study, or an exported model folder.
  double alpha = 0.5;      ///< Weight of the hard-label cross-entropy; 1 - alpha weighs the soft KL term.
  double temperature = 4;  ///< Softmax temperature T of both networks' outputs (the KL term is scaled by T^2).
};

/// The kinds of compression step.
enum class StepKind { kQuantize, kQat, kPrune, kCluster };

/// "quantize", "qat", "prune", "cluster".
const char* to_string(StepKind kind);

/// One step of a variant as written in YAML: its kind and settings (constants or "$param" references).
struct CompressionStep {
  StepKind kind = StepKind::kQuantize;  ///< What the step does.
  std::vector<HyperSetting> settings;   ///< Every key of the step, in declaration order.
};

/// A named chain of steps applied to a copy of the trained network; its metrics are stored with the suffix
/// "_<name>" (val_accuracy_int8, size_bytes_int8, ...).
struct CompressionVariant {
  std::string name;                    ///< Metric suffix, e.g. "int8".
  std::vector<CompressionStep> steps;  ///< Applied in order.

  /// True when a step quantizes (its latency would be that of fake quantization, so none is measured).
  bool quantizes() const;
  /// The resolved options of step `i` (which must be of the matching kind). ObjectiveError for a resolved value
  /// out of range.
  QuantizeOptions quantize_options(std::size_t i, const ParamMap& params) const;
  /// See quantize_options.
  QatOptions qat_options(std::size_t i, const ParamMap& params) const;
  /// See quantize_options.
  PruneOptions prune_options(std::size_t i, const ParamMap& params) const;
  /// See quantize_options.
  ClusterOptions cluster_options(std::size_t i, const ParamMap& params) const;
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
