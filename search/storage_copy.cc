#include "search/storage_copy.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace nasforge {

namespace {

std::string study_names(Storage& storage) {
  std::string names;
  for (const StudyInfo& s : storage.list_studies()) names += (names.empty() ? "" : ", ") + ("'" + s.name + "'");
  return names.empty() ? "none" : names;
}

}  // namespace

CopySummary copy_study(Storage& from, Storage& to, const std::string& name, const std::string& new_name) {
  namespace fs = std::filesystem;
  CopySummary summary;
  summary.name = name;
  summary.new_name = new_name.empty() ? name : new_name;
  std::optional<std::int64_t> source_id = from.find_study(name);
  if (!source_id) {
    throw NotFoundError("the source storage has no study named '" + name + "' (studies there: " + study_names(from) +
                        ")");
  }
  StudyInfo info = from.get_study(*source_id);
  std::vector<FrozenTrial> trials = from.get_all_trials(*source_id);
  info.name = summary.new_name;
  summary.study_id = to.import_study(info, trials);
  summary.trials = static_cast<int>(trials.size());
  for (const FrozenTrial& t : trials) summary.counts.count(t);

  std::string from_root = from.artifact_root(), to_root = to.artifact_root();
  if (from_root.empty() || to_root.empty()) return summary;
  fs::path src = fs::path(from_root) / name, dst = fs::path(to_root) / summary.new_name;
  std::error_code ec;
  if (!fs::is_directory(src, ec)) return summary;
  // The trials are already in the destination: a failure here must say so, so that nobody copies them twice.
  fs::create_directories(dst, ec);
  if (!ec) fs::copy(src, dst, fs::copy_options::recursive | fs::copy_options::overwrite_existing, ec);
  if (ec) {
    throw StorageError("study '" + summary.new_name + "' and its " + std::to_string(summary.trials) +
                       " trials were copied, but its trial files were not: copying '" + src.string() + "' to '" +
                       dst.string() + "' failed: " + ec.message() + "; copy that folder by hand");
  }
  summary.artifacts_copied = true;
  summary.artifacts_from = src.string();
  summary.artifacts_to = dst.string();
  return summary;
}

std::string describe_counts(const CopySummary& summary) {
  const TrialCounts& c = summary.counts;
  std::string out = std::to_string(summary.trials) + (summary.trials == 1 ? " trial" : " trials");
  std::string parts;
  for (auto [n, state] :
       {std::make_pair(c.complete, "COMPLETE"), std::make_pair(c.pruned, "PRUNED"), std::make_pair(c.failed, "FAIL"),
        std::make_pair(c.running, "RUNNING"), std::make_pair(c.waiting, "WAITING")}) {
    if (n > 0) parts += (parts.empty() ? "" : ", ") + std::to_string(n) + " " + state;
  }
  return parts.empty() ? out : out + ": " + parts;
}

}  // namespace nasforge
