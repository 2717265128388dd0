#pragma once

#include <cstdint>
#include <string>

#include "search/storage.h"

namespace nasforge {

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
};

/// Copies study `name` of `from` into `to` as `new_name` ("" keeps the name) with every trial, value, intermediate
/// value and attribute (Storage::import_study, one transaction). Then, when both storages keep trial files and the
/// source has a folder for the study, copies that folder too. NotFoundError when the source has no such study,
/// DuplicateStudyError when the destination already has `new_name` (nothing is written then); an Error naming both
/// folders when the files could not be copied after the trials were.
CopySummary copy_study(Storage& from, Storage& to, const std::string& name, const std::string& new_name);

/// "120 trials: 100 COMPLETE, 15 PRUNED, 5 FAIL" (states with no trial left out).
std::string describe_counts(const CopySummary& summary);

}  // namespace nasforge
