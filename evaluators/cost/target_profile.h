#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "evaluators/cost/kernels.h"

namespace nasforge {

/// A kernel type's coefficients: time = overhead + MACs / (rate of the data type * efficiency) + bytes / bandwidth.
struct KernelCoefficients {
  double efficiency = 1.0;  ///< Fraction of the device's MAC rate this kernel type reaches (depthwise: far below 1).
  double overhead_us = 0;   ///< Fixed cost of one kernel (launch, dispatch, loop set-up), microseconds.
};

/// How well a profile's coefficients predict whole networks it was not fitted on (written by profile/calibrate).
struct FitQuality {
  std::string method;          ///< How the coefficients were obtained, e.g. "nasforge profile, 80 networks".
  std::int64_t networks = 0;   ///< Measured networks used for the fit.
  std::int64_t held_out = 0;   ///< Networks the quality below was measured on (or leave-one-out: = networks).
  double spearman = 0;         ///< Rank correlation of predicted and measured latency on them.
  double mdape = 0;            ///< Median absolute percentage error on them, as a fraction (0.08 = 8%).
};

/// A device as the latency and memory models see it: one file of configs/targets/ (or a user's file).
struct TargetProfile {
  std::string name;         ///< Identifier used in metric names (latency_ms@NAME); letters, digits, '.', '_', '-'.
  std::string device;       ///< What the device is, for people.
  std::string runtime;      ///< The inference runtime the numbers assume (e.g. "TFLite 2.14 + XNNPACK, 4 threads").
  std::int64_t threads = 1;  ///< Threads the runtime uses.
  FusionRules fuse;         ///< What the runtime executes as one kernel.
  double fp32_gmacs = 1;    ///< Effective fp32 rate of a dense convolution, 1e9 MAC/s.
  double fp16_gmacs = 1;    ///< Effective fp16 rate (the fp32 rate where the device has no fast fp16).
  double int8_gmacs = 1;    ///< Effective int8 rate.
  double bandwidth_gbs = 1;  ///< Memory bandwidth a kernel sees, 1e9 bytes/s.
  std::array<KernelCoefficients, kKernelTypeCount> kernels{};  ///< Per kernel type, indexed by KernelType.
  double invoke_overhead_us = 0;  ///< Fixed cost of one inference call (dispatch, input and output copies).
  std::optional<std::int64_t> sram_bytes;   ///< Working memory for activations, where it binds (microcontrollers).
  std::optional<std::int64_t> flash_bytes;  ///< Storage for weights and code, where it binds.
  std::int64_t runtime_flash_bytes = 0;     ///< Flash the runtime's code and model format take besides weights.
  std::int64_t runtime_sram_bytes = 0;      ///< SRAM the runtime needs besides activations and scratch.
  bool in_place_depthwise = false;  ///< Depthwise convs overwrite their input channel by channel (MCUNetV2).
  std::int64_t im2col_columns = 0;  ///< Scratch of a k>1 conv: this many im2col columns of in_c/groups*k*k elements.
  bool sparse_weights = false;      ///< The model format stores unstructured-sparse weights compressed.
  bool clustered_weights = false;   ///< The model format stores clustered weights as a table plus indices.
  std::optional<FitQuality> fit;    ///< Set when the coefficients were fitted to measurements.
  std::string source;               ///< Where the profile was read from (a file path or "built-in NAME").

  /// The coefficients of one kernel type.
  const KernelCoefficients& coefficients(KernelType type) const { return kernels[static_cast<std::size_t>(type)]; }
  /// Mutable coefficients of one kernel type (calibration writes them).
  KernelCoefficients& coefficients(KernelType type) { return kernels[static_cast<std::size_t>(type)]; }
  /// The effective MAC rate of a data type, 1e9 MAC/s.
  double gmacs(DataType type) const;

  /// Reads a profile document; ConfigError at file:line for unknown keys, missing keys and impossible values.
  static TargetProfile from_config(const ConfigNode& root);
  /// The profile as a YAML document that from_config reads back to the same values; `header` lines become
  /// comments at the top.
  std::string to_yaml(const std::vector<std::string>& header = {}) const;
};

/// Whether `name` can name a target in metric names (latency_ms@NAME): 1-64 letters, digits, '.', '_', '-', not
/// starting with '.'.
bool is_valid_target_name(const std::string& name);

/// The names of the profiles shipped with nasforge (configs/targets/*.yaml, compiled into the binary).
std::vector<std::string> builtin_target_names();

/// A shipped profile by name, or a profile file: a name containing '/' or ending in .yaml/.yml is a path,
/// resolved against `base_dir` when relative. NotFoundError listing the shipped names for an unknown name.
TargetProfile load_target(const std::string& name_or_path, const std::string& base_dir = "");

}  // namespace nasforge
