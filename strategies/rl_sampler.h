#pragma once

#include <cstdint>

#include "core/config.h"

namespace nasforge {

/// Options of the `rl` strategy (YAML keys of the same names; read_rl_options declares them).
struct RlOptions {
  std::int64_t hidden_size = 64;  ///< LSTM hidden units (and decision embedding size).
  std::int64_t bins = 10;         ///< Values a float/int parameter is discretized into (log-spaced when `log`).
  double lr = 0.005;              ///< Adam learning rate of the controller.
  double baseline_decay = 0.9;    ///< Moving-average baseline: b <- decay * b + (1 - decay) * reward.
  double entropy_weight = 0.01;   ///< Entropy bonus added to the REINFORCE objective.
  double temperature = 1.0;       ///< Softmax temperature of the decision logits.
  std::uint64_t seed = 0;         ///< Seeds sampling and the controller's initial weights.
};

/// Declares and reads the `rl` keys of a strategy section (ConfigError naming file, line, key and value).
RlOptions read_rl_options(SectionReader& options);

/// ValueError naming the first option outside the range its YAML key allows (the controller's own check, so that
/// options built in code obey the same rules as the study file's).
void check_rl_options(const RlOptions& o);

}  // namespace nasforge
