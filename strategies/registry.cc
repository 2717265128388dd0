#include "strategies/registry.h"

#include <algorithm>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

using SamplerFactory = std::unique_ptr<Sampler> (*)(SectionReader&, const SearchSpace&, std::uint64_t,
                                                    const StrategyEnv&);
using PrunerFactory = std::unique_ptr<Pruner> (*)(SectionReader&);

struct SamplerEntry {
  StrategyInfo info;
  SamplerFactory make;
};

struct PrunerEntry {
  StrategyInfo info;
  PrunerFactory make;
};

const std::vector<SamplerEntry>& sampler_entries() {
  static const std::vector<SamplerEntry> kEntries = {
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
  return kEntries;
}

const std::vector<PrunerEntry>& pruner_entries() {
  static const std::vector<PrunerEntry> kEntries = {
      {{"none", "never prune"}, &make_nop_pruner},
      {{"median", "prune when worse than the median of earlier trials at the same step"}, &make_median_pruner},
      {{"percentile", "prune when outside the best `percentile` of earlier trials at the same step"},
       &make_percentile_pruner},
      {{"asha", "asynchronous successive halving (Li et al. 2020)"}, &make_asha_pruner},
      {{"hyperband", "Hyperband: several successive-halving brackets (Li et al. 2018)"}, &make_hyperband_pruner},
      {{"patient", "wrap another pruner; prune only after `patience` steps without improvement"}, &make_patient_pruner},
  };
  return kEntries;
}

std::vector<std::string> names_of(const std::vector<StrategyInfo>& infos) {
  std::vector<std::string> names;
  for (const auto& i : infos) names.push_back(i.name);
  return names;
}

}  // namespace

std::unique_ptr<Sampler> make_sampler(const ConfigNode& section, const SearchSpace& space, std::uint64_t seed,
                                      const StrategyEnv& env) {
  SectionReader options(section);
  std::string name = options.text("name", std::string("tpe"), "search strategy");
  const SamplerEntry& entry =
      sampler_entries()[lookup_name(section.get("name"), name, names_of(sampler_catalog()), "strategy")];
  std::unique_ptr<Sampler> sampler;
  try {
    sampler = entry.make(options, space, seed, env);
  } catch (const ConfigError&) {
    throw;
  } catch (const ValueError& e) {
    section.fail(e.what());
  }
  options.finish();
  return sampler;
}

std::vector<StrategyInfo> sampler_catalog() {
  std::vector<StrategyInfo> out;
  for (const auto& e : sampler_entries()) out.push_back(e.info);
  return out;
}

std::unique_ptr<Pruner> make_pruner(const ConfigNode& section) {
  SectionReader options(section);
  std::string name = options.text("name", std::string("none"), "pruner");
  const PrunerEntry& entry =
      pruner_entries()[lookup_name(section.get("name"), name, names_of(pruner_catalog()), "pruner")];
  std::unique_ptr<Pruner> pruner;
  try {
    pruner = entry.make(options);
  } catch (const ConfigError&) {
    throw;
  } catch (const ValueError& e) {
    section.fail(e.what());
  }
  options.finish();
  return pruner;
}

std::vector<StrategyInfo> pruner_catalog() {
  std::vector<StrategyInfo> out;
  for (const auto& e : pruner_entries()) out.push_back(e.info);
  return out;
}

}  // namespace nasforge
