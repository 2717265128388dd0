#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"
#include "core/param_value.h"
#include "evaluators/compression/compression_config.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/cost/target_profile.h"
#include "evaluators/data/dataset.h"
#include "evaluators/setting.h"
#include "spaces/search_space.h"

namespace nasforge {

/// The metrics a `train` objective can return (YAML `objectives:`), one per study direction.
const std::vector<std::string>& train_metric_names();

/// The training hyperparameters of one trial, after "$param" references are resolved. The defaults are those
/// of the YAML keys.
struct TrainHyperparams {
  std::int64_t epochs = 3;          ///< Passes over the training split.
  std::int64_t batch_size = 128;    ///< Training mini-batch size.
  std::string optimizer = "sgd";    ///< sgd | adam | adamw.
  double lr = 0.05;                 ///< Peak learning rate (reached after warm-up).
  double momentum = 0.9;            ///< SGD momentum (unused by adam/adamw).
  bool nesterov = false;            ///< SGD Nesterov momentum (needs momentum > 0).
  double weight_decay = 5e-4;       ///< L2 penalty (sgd, adam) or decoupled decay (adamw).
  std::string schedule = "cosine";  ///< cosine | step | constant; applied per iteration.
  double warmup_epochs = 0;         ///< Linear warm-up length in epochs (fractions allowed).
  double step_epochs = 1;           ///< step: epochs between two decays.
  double gamma = 0.1;               ///< step: decay factor.
  double label_smoothing = 0;       ///< Cross-entropy label smoothing in [0, 1).
  std::int64_t patience = 0;        ///< Early stopping: epochs without improvement before stopping (0 = off).
  double min_delta = 0;             ///< Early stopping: smallest change that counts as an improvement.

  /// All fields by YAML key; patience and min_delta nested under "early_stopping" as in YAML.
  Json to_json() const;
};

/// Everything a `train` objective reads from its YAML section, checked at load time (torch-free).
struct TrainConfig {
  DatasetOptions dataset;               ///< The `dataset:` section.
  std::string dataset_yaml;             ///< That section as YAML text, stored with saved models.
  std::string base_dir;                 ///< Folder relative dataset paths resolve against.
  std::vector<std::string> objectives;  ///< Returned metrics, one per study direction.
  std::vector<HyperSetting> settings;   ///< Every training hyperparameter, in declaration order.
  std::int64_t eval_batch_size = 1024;  ///< Batch size of validation passes.
  std::string device = "auto";          ///< auto | cpu | cuda.
  std::int64_t threads = 0;             ///< torch intra-op threads (0 = libtorch's default: one per physical core).
  std::int64_t latency_runs = 30;       ///< Timed batch-1 forward passes (0 = skip the measurement).
  std::int64_t latency_warmup = 5;      ///< Untimed passes before them.
  bool save_weights = true;             ///< Write weights.pt + model.json into the trial's artifact folder.
  CompressionConfig compression;        ///< The `compress:` variants and the `distill:` section.
  std::vector<TargetProfile> targets;   ///< The `targets:` devices: each trial stores its costs on each.
  CostBudget budget;                    ///< The `budget:` section: candidates over it are never trained.

  /// Reads the keys of a `kind: train` section from `options` (the caller declared `kind` and calls finish()).
  /// Needs `space` to hold an architecture; checks that every "$name" names a parameter of `space` whose whole
  /// domain is admissible for its key. ConfigError with file:line, key, value and what is allowed.
  static TrainConfig from_config(SectionReader& options, const SearchSpace& space, std::size_t n_objectives,
                                 const std::string& base_dir);

  /// The hyperparameters of a trial with these parameters. A reference to a parameter that is inactive in the
  /// trial (a conditional one) takes the key's default. ObjectiveError for a value outside its key's range.
  TrainHyperparams resolve(const ParamMap& params) const;
};

}  // namespace nasforge
