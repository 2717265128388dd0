#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "evaluators/objective.h"
#include "search/study.h"
#include "search/study_config.h"
#include "storage/storage.h"

namespace nasforge {

class Progress;

/// A stored study rebuilt from its stored file, ready to run trials (or hand them out) in this process.
struct LoadedStudy {
  StudyConfig config;                            ///< The stored study file, parsed again.
  std::unique_ptr<Study> study;                  ///< Space, sampler and pruner set; options from study_options().
  std::unique_ptr<Objective> objective;          ///< Built only for a process that evaluates trials, else null.
  std::optional<int> n_trials;                   ///< The target number of finished trials, if any.
  std::uint64_t seed = 0;                        ///< The study seed recorded at creation.
  int worker_index = 0;                          ///< Which worker of the study this process is.
  std::string artifact_dir;                      ///< The study's trial-file folder; "" when the storage keeps none.
  const std::atomic<bool>* stop_flag = nullptr;  ///< Set by Ctrl-C / SIGTERM (install_stop_handlers).
};

/// Rebuilds space, sampler, pruner and (with `need_objective`) objective of stored study `name` for worker
/// `worker_index`, and installs the stop handlers. The study's options are left to study_options(), which needs the
/// progress display, and the display needs the study.
LoadedStudy open_study(const std::shared_ptr<Storage>& storage, const std::string& name, int worker_index,
                       bool need_objective);

/// Every option of `ls`'s study in this process: seed, worker, retries and heartbeats from the study file, the
/// trial-file folder, the stop flag and, with a `progress` display (may be null), the callbacks that feed it. The
/// objective's budget is not an option: optimize() hands it to each ask().
StudyOptions study_options(const LoadedStudy& ls, Progress* progress);

/// Creates the study of a validated file and stores what resume needs: the file, its folder, the seed (drawn and
/// reported unless `quiet` when the file has none), the target, then the enqueued parameter sets.
void create_from_config(const std::shared_ptr<Storage>& storage, const StudyConfig& cfg, bool quiet);

/// Opens --storage. Commands that read an existing study pass `must_exist`, so that a mistyped path is an error
/// instead of a new, empty database file; commands that only read pass kReadOnly, so that they write nothing.
std::shared_ptr<Storage> open_storage_arg(const std::string& url, bool must_exist,
                                          StorageAccess access = StorageAccess::kReadWrite);

/// The trial with `number` in `study`; NotFoundError naming the study otherwise.
FrozenTrial find_trial(Study& study, int number);

}  // namespace nasforge
