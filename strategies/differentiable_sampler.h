#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json.h"

namespace nasforge {

/// Options of the `darts` and `gdas` strategies (YAML keys of the same names; see docs/strategies.md).
struct DifferentiableOptions {
  bool gdas = false;                 ///< Gumbel-softmax sampling of one op per edge (GDAS) instead of all (DARTS).
  std::int64_t epochs = 10;          ///< Search epochs over the weight half of the training split.
  std::int64_t batch_size = 64;      ///< Mini-batch size of both weight and architecture steps.
  double arch_fraction = 0.5;        ///< Share of the training split held out for the architecture steps.
  double w_lr = 0.025;               ///< Supernet weights: peak SGD learning rate (cosine to w_lr_min).
  double w_lr_min = 0.001;           ///< Supernet weights: final learning rate.
  double w_momentum = 0.9;           ///< Supernet weights: SGD momentum.
  double w_weight_decay = 3e-4;      ///< Supernet weights: L2 penalty.
  double grad_clip = 5;              ///< Supernet weights: gradient-norm clip.
  double arch_lr = 3e-4;             ///< Architecture parameters: Adam learning rate (betas 0.5, 0.999).
  double arch_weight_decay = 1e-3;   ///< Architecture parameters: L2 penalty.
  int order = 1;                     ///< darts: 1 = first-order, 2 = second-order (unrolled) architecture gradient.
  double tau_max = 10;               ///< gdas: Gumbel-softmax temperature at the first epoch.
  double tau_min = 0.1;              ///< gdas: temperature at the last epoch (linear decay).
  std::int64_t channels = 0;         ///< Supernet channels of the first stage (0 = the cell space's).
  std::int64_t cells_per_stage = 0;  ///< Supernet cells per stage (0 = the cell space's).
  double cost_weight = 0;            ///< Weight of the expected-MACs term in the architecture loss (0 = off).
  std::int64_t max_skip = -1;        ///< Collapse remedy (DARTS+): stop when the derived cell has more skip
                                     ///< connections than this (-1 = off).
  std::uint64_t seed = 0;            ///< Seeds torch, data order and Gumbel noise.
};

/// Outcome of one supernet search.
struct DifferentiableResult {
  std::string genotype;      ///< Derived NAS-Bench-201 arch string (argmax op per edge).
  double search_time_s = 0;  ///< Wall time of the search (supernet training and derivation).
  Json details;              ///< Per-epoch alphas, derived genotypes, skip counts, supernet accuracy, costs.
};

/// The architecture skeleton a supernet copies from the study's `cell` space.
struct CellSkeleton {
  std::int64_t channels = 16;        ///< Channels of the first stage.
  std::int64_t cells_per_stage = 5;  ///< Cells per stage.
  std::int64_t stages = 3;           ///< Stages separated by reductions.
  std::vector<std::string> ops;      ///< Candidate ops of every edge (NAS-Bench-201 names).
};

}  // namespace nasforge
