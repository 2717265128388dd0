#pragma once

#include <cstdint>

#include "evaluators/compression/compression_step.h"
#include "evaluators/compression/quantization.h"
#include "evaluators/setting.h"

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

  /// The keys both quantizing steps have, from a step's resolved values.
  static QuantScheme from(const SettingValues& values);
};

/// Post-training quantization (`quantize:` step), after the trial's values of "$param" settings are resolved.
struct QuantizeOptions : QuantScheme {
  QuantMode mode = QuantMode::kStatic;            ///< What is quantized.
  ObserverKind observer = ObserverKind::kMinMax;  ///< How activation ranges are calibrated (static mode).
  double percentile = 99.99;                      ///< Percentile observer: the upper percentile kept.
  std::int64_t calibration_samples = 1024;        ///< Training samples run through the network to calibrate.

  /// The options of a `quantize` step's resolved values; ValueError for the values of another step.
  static QuantizeOptions from(const SettingValues& values);
};

/// Quantization-aware training (`qat:` step).
struct QatOptions : QuantScheme {
  std::int64_t epochs = 1;                  ///< Fine-tuning epochs with fake quantization in the forward pass.
  double lr = 0.01;                         ///< Peak learning rate of that fine-tuning (cosine to 0).
  std::int64_t calibration_samples = 1024;  ///< Samples that set the initial activation ranges.

  /// The options of a `qat` step's resolved values; ValueError for the values of another step.
  static QatOptions from(const SettingValues& values);
};

/// The `quantize` row of step_types().
StepType quantize_step();

/// The `qat` row of step_types().
StepType qat_step();

}  // namespace nasforge
