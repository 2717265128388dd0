#include "strategies/registry.h"

#include <vector>

namespace nasforge {

namespace {

using SamplerFactory = std::unique_ptr<Sampler> (*)(SectionReader&, const SearchSpace&, std::uint64_t,
                                                    const StrategyEnv&);
using PrunerFactory = std::unique_ptr<Pruner> (*)(SectionReader&);

// One row per strategy: its catalog entry and factory. Adding a strategy is one file and one row here.
struct SamplerRow {
  CatalogEntry entry;
  SamplerFactory make;
};

struct PrunerRow {
  CatalogEntry entry;
  PrunerFactory make;
};

const std::vector<SamplerRow> kSamplerRows = {
    {{"random", "independent uniform (or log-uniform) sampling; the baseline"}, &make_random_sampler},
    {{"grid", "every combination of categorical/stepped values, each once across all workers"}, &make_grid_sampler},
    {{"tpe", "tree-structured Parzen estimator (Bergstra 2011; Optuna's default)"}, &make_tpe_sampler},
    {{"gp", "Gaussian-process Bayesian optimization: Matern-5/2 ARD kernel, log expected improvement"},
     &make_gp_sampler},
    {{"evolution", "regularized (aging) evolution with tournament selection (Real et al. 2019)"},
     &make_evolution_sampler},
    {{"rl", "LSTM controller trained with REINFORCE, moving-average baseline, entropy bonus (Zoph & Le 2017)"},
     &make_rl_sampler},
    {{"darts", "differentiable architecture search on a weight-sharing cell supernet (Liu et al. 2019)"},
     &make_darts_sampler},
    {{"gdas", "differentiable search sampling one op per edge with Gumbel-softmax (Dong & Yang 2019)"},
     &make_gdas_sampler},
};

const std::vector<PrunerRow> kPrunerRows = {
    {{"none", "never prune"}, &make_nop_pruner},
    {{"median", "prune when worse than the median of earlier trials at the same step"}, &make_median_pruner},
    {{"percentile", "prune when outside the best `percentile` of earlier trials at the same step"},
     &make_percentile_pruner},
    {{"asha", "asynchronous successive halving (Li et al. 2020)"}, &make_asha_pruner},
    {{"hyperband", "Hyperband: several successive-halving brackets (Li et al. 2018)"}, &make_hyperband_pruner},
    {{"patient", "wrap another pruner; prune only after `patience` steps without improvement"}, &make_patient_pruner},
};

}  // namespace

const Catalog& sampler_catalog() {
  static const Catalog kCatalog("strategy", "name", kSamplerRows.size(),
                                [](std::size_t i) { return kSamplerRows[i].entry; });
  return kCatalog;
}

const Catalog& pruner_catalog() {
  static const Catalog kCatalog("pruner", "name", kPrunerRows.size(),
                                [](std::size_t i) { return kPrunerRows[i].entry; });
  return kCatalog;
}

std::unique_ptr<Sampler> make_sampler(const ConfigNode& section, const SearchSpace& space, std::uint64_t seed,
                                      const StrategyEnv& env) {
  std::unique_ptr<Sampler> sampler;
  sampler_catalog().build(section, "tpe", [&](SectionReader& options, std::size_t i) {
    sampler = kSamplerRows[i].make(options, space, seed, env);
  });
  return sampler;
}

std::unique_ptr<Pruner> make_pruner(const ConfigNode& section) {
  std::unique_ptr<Pruner> pruner;
  pruner_catalog().build(section, "none", [&](SectionReader& options, std::size_t i) {
    pruner = kPrunerRows[i].make(options);
  });
  return pruner;
}

}  // namespace nasforge
