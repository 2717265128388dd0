#include "search/cli/study_loader.h"

#include <filesystem>
#include <iostream>
#include <random>

#include "core/error.h"
#include "search/cli/progress.h"
#include "search/runner.h"
#include "storage/sqlite_storage.h"
#include "storage/storage_copy.h"
#include "strategies/pruner.h"
#include "strategies/sampler.h"

namespace nasforge {

namespace {

std::uint64_t stored_seed(const StudyInfo& info) {
  auto it = info.system_attrs.find(study_attr::kSeed);
  return it == info.system_attrs.end() ? 0 : it->second.get<std::uint64_t>();
}

StudyConfig stored_config(const StudyInfo& info) {
  auto it = info.system_attrs.find(study_attr::kConfig);
  if (it == info.system_attrs.end()) {
    throw ValueError("study '" + info.name + "' has no stored configuration (it was not created from a study file), "
                     "so it cannot be run or resumed here; drive it with 'nasforge ask' / 'nasforge tell'");
  }
  auto path = info.system_attrs.count(study_attr::kConfigPath)
                  ? info.system_attrs.at(study_attr::kConfigPath).get<std::string>()
                  : std::string("<stored config>");
  auto base = info.system_attrs.count(study_attr::kBaseDir)
                  ? info.system_attrs.at(study_attr::kBaseDir).get<std::string>()
                  : std::string(".");
  StudyConfig cfg = parse_study_config(it->second.get<std::string>(), path, base);
  cfg.path = path;
  return cfg;
}

}  // namespace

LoadedStudy open_study(const std::shared_ptr<Storage>& storage, const std::string& name, int worker_index,
                       bool need_objective) {
  LoadedStudy ls;
  ls.study = std::make_unique<Study>(Study::load(storage, name));
  check_copy_finished(*storage, name);
  StudyInfo info = storage->get_study(ls.study->id());
  ls.config = stored_config(info);
  ls.seed = stored_seed(info);
  ls.worker_index = worker_index;
  // A fresh stream per worker and per resumption, so a resumed random search does not replay its first run;
  // a fresh single-worker run still depends on the seed alone.
  std::uint64_t existing = static_cast<std::uint64_t>(storage->count_trials(ls.study->id()).slots());
  std::uint64_t sampler_seed = ls.seed;
  if (worker_index > 0) sampler_seed = mix_seed(sampler_seed, static_cast<std::uint64_t>(worker_index));
  if (existing > 0) sampler_seed = mix_seed(sampler_seed, existing + 0x5eed);
  ls.study->set_space(ls.config.space);
  ls.study->set_sampler(make_sampler(ls.config.strategy(), ls.config.space, sampler_seed,
                                     StrategyEnv{info.directions.size(), ls.config.objective(), ls.config.base_dir}));
  ls.study->set_pruner(make_pruner(ls.config.pruner()));
  ls.artifact_dir = storage->study_artifact_dir(name);
  ls.stop_flag = &install_stop_handlers();
  if (need_objective) {
    if (!ls.config.has_objective()) {
      throw ValueError("study '" + name + "' has no objective: section, so it can only be driven with "
                       "'nasforge ask' / 'nasforge tell'");
    }
    ls.objective = make_objective(ls.config.objective(), ls.config.space, info.directions.size(), ls.config.base_dir);
  }
  auto nt = info.system_attrs.find(study_attr::kNTrials);
  if (nt != info.system_attrs.end() && nt->second.is_number_integer()) ls.n_trials = nt->second.get<int>();
  return ls;
}

StudyOptions study_options(const LoadedStudy& ls, Progress* progress) {
  StudyOptions options;
  options.with_seed(ls.seed)
      .with_worker(ls.worker_index)
      .with_max_retry(ls.config.max_retry)
      .with_heartbeat(ls.config.heartbeat_interval_s, ls.config.grace_period_s);
  if (!ls.artifact_dir.empty()) options.with_artifact_root(ls.artifact_dir);
  options.stop_flag = ls.stop_flag;
  if (progress) {
    options.on_report = [progress](int number, int step, double value) {
      progress->trial_reported(number, step, value);
    };
    options.on_progress = [progress](int number, const std::string& m) { progress->trial_progress(number, m); };
    options.on_strategy_progress = [progress](const std::string& m) { progress->strategy_progress(m); };
  }
  return options;
}

void create_from_config(const std::shared_ptr<Storage>& storage, const StudyConfig& cfg, bool quiet) {
  std::uint64_t seed;
  if (cfg.seed) {
    seed = *cfg.seed;
  } else {
    seed = std::random_device{}() & 0x7fffffffULL;
    if (!quiet) std::cerr << "seed " << seed << " (drawn at random; set study.seed to fix it)\n";
  }
  Study study = Study::create(storage, cfg.name, cfg.directions, /*load_if_exists=*/false,
                              {{study_attr::kConfig, cfg.text},
                               {study_attr::kConfigPath, cfg.path},
                               {study_attr::kBaseDir, cfg.base_dir},
                               {study_attr::kSeed, seed},
                               {study_attr::kNTrials, cfg.n_trials ? Json(*cfg.n_trials) : Json(nullptr)}});
  study.set_space(cfg.space);
  for (const auto& params : cfg.enqueue) study.enqueue(params);
}

std::shared_ptr<Storage> open_storage_arg(const std::string& url, bool must_exist, StorageAccess access) {
  if (url.empty()) throw UsageError("--storage URL is required (e.g. --storage sqlite:///study.db)");
  if (must_exist && url.rfind("sqlite:", 0) == 0) {
    std::string path = sqlite_path_from_url(url);
    if (!std::filesystem::exists(path)) {
      throw NotFoundError("no database at '" + path + "' (from --storage " + url +
                          "); check the path, or create a study there with 'nasforge run STUDY.yaml'");
    }
  }
  return open_storage(url, access);
}

FrozenTrial find_trial(Study& study, int number) {
  for (auto& t : study.trials()) {
    if (t.number == number) return t;
  }
  throw NotFoundError("study '" + study.name() + "' has no trial number " + std::to_string(number));
}

}  // namespace nasforge
