#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace nasforge {

/// A study read whole from its storage (Storage::get_study and get_all_trials), so that a copy reads everything
/// before it writes anything.
struct StudySnapshot {
  StudyInfo info;                   ///< The study as stored in the source.
  std::vector<FrozenTrial> trials;  ///< All its trials.
  std::string artifacts;            ///< The folder of its trial files; "" when the source keeps none or has none.
};

/// What copy_study did.
struct CopySummary {
  std::string name;               ///< The study's name in the source.
  std::string new_name;           ///< Its name in the destination.
  std::int64_t study_id = -1;     ///< Its id in the destination.
  int trials = 0;                 ///< Trials copied.
  TrialCounts counts;             ///< Trials copied, by state.
  bool artifacts_copied = false;  ///< Whether the study's trial files were copied too.
  std::string artifacts_from;     ///< Source folder of the trial files ("" when none were copied).
  std::string artifacts_to;       ///< Destination folder of the trial files ("" when none were copied).
  bool finished_earlier = false;  ///< An interrupted copy of the same study was found and finished, not redone.
};

/// Reads study `name` of `from`: NotFoundError when absent, StateError when it is itself an unfinished copy,
/// ValueError when it keeps trial files under a name that cannot be a folder (Storage::study_artifact_dir).
StudySnapshot read_study(Storage& from, const std::string& name);

/// Writes `snapshot` into `to` as `new_name` ("" keeps the name). The trials go in with Storage::import_study
/// (one transaction). When both sides keep trial files, the files are first copied into a staging folder beside
/// the destination folder (copy_staging_dir), the trials imported only after that, and the staging folder then
/// renamed into place: a copy killed at any point leaves either no study, or a study whose staging folder marks
/// it unfinished (check_copy_finished), which the same call finishes. DuplicateStudyError when `new_name` is
/// taken by a finished study; StorageError when the destination folder already holds files of no study.
CopySummary write_study(Storage& to, const StudySnapshot& snapshot, const std::string& new_name);

/// read_study then write_study.
CopySummary copy_study(Storage& from, Storage& to, const std::string& name, const std::string& new_name);

/// The staging folder a copy fills before the study's folder appears: "<root>/.<name>.copying" (a leading '.' is
/// never part of a study name, so it cannot collide with a study's folder); "" when `storage` keeps no files.
std::string copy_staging_dir(const Storage& storage, const std::string& name);

/// StateError saying how to finish it when study `name` of `storage` is an unfinished copy: its trials are
/// stored but its trial files are still in the staging folder.
void check_copy_finished(const Storage& storage, const std::string& name);

/// "120 trials: 100 COMPLETE, 15 PRUNED, 5 FAIL" (states with no trial left out).
std::string describe_counts(const CopySummary& summary);

}  // namespace nasforge
