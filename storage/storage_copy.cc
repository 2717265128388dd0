#include "storage/storage_copy.h"

#include <filesystem>
#include <system_error>

#include "core/error.h"

namespace nasforge {

namespace fs = std::filesystem;

namespace {

bool is_folder(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool holds_files(const fs::path& p) {
  std::error_code ec;
  return fs::exists(p, ec) && !(fs::is_directory(p, ec) && fs::is_empty(p, ec));
}

void remove_tree(const fs::path& p, const std::string& why) {
  std::error_code ec;
  fs::remove_all(p, ec);
  if (ec) throw StorageError("cannot remove " + p.string() + " (" + why + "): " + ec.message());
}

// Moves the filled staging folder to the study's folder: one rename, so the files appear all at once.
void move_into_place(const fs::path& staging, const fs::path& dst) {
  std::error_code ec;
  if (is_folder(dst) && fs::is_empty(dst, ec)) fs::remove(dst, ec);
  fs::rename(staging, dst, ec);
  if (ec) {
    throw StorageError("cannot rename the copied trial files " + staging.string() + " to " + dst.string() + ": " +
                       ec.message() + "; rerun the same 'nasforge copy' to finish");
  }
}

}  // namespace

std::string copy_staging_dir(const Storage& storage, const std::string& name) {
  std::string dir = storage.study_artifact_dir(name);
  if (dir.empty()) return dir;
  fs::path p(dir);
  return (p.parent_path() / ("." + p.filename().string() + ".copying")).string();
}

void check_copy_finished(const Storage& storage, const std::string& name) {
  if (study_name_problem(name)) return;  // never a copy's destination: copies refuse such names
  std::string staging = copy_staging_dir(storage, name);
  if (staging.empty() || !is_folder(staging)) return;
  throw StateError("study " + quote_study_name(name) + " is an unfinished copy: its trials were copied but its trial "
                   "files are still in " + staging + " (the copy was interrupted); rerun the same 'nasforge copy' "
                   "command to finish it, or remove the study with 'nasforge delete'");
}

StudySnapshot read_study(Storage& from, const std::string& name) {
  StudySnapshot snapshot;
  std::optional<std::int64_t> id = from.find_study(name);
  if (!id) {
    throw NotFoundError("the source storage has no study named " + quote_study_name(name) +
                        " (studies there: " + quoted_study_names(from) + ")");
  }
  check_copy_finished(from, name);
  std::string dir = from.study_artifact_dir(name);
  if (!dir.empty() && is_folder(dir)) snapshot.artifacts = dir;
  snapshot.info = from.get_study(*id);
  snapshot.trials = from.get_all_trials(*id);
  return snapshot;
}

CopySummary write_study(Storage& to, const StudySnapshot& snapshot, const std::string& new_name) {
  CopySummary summary;
  summary.name = snapshot.info.name;
  summary.new_name = new_name.empty() ? snapshot.info.name : new_name;
  summary.trials = static_cast<int>(snapshot.trials.size());
  for (const FrozenTrial& t : snapshot.trials) summary.counts.count(t);
  check_study_name(summary.new_name, "the destination name");
  const std::string dst = to.study_artifact_dir(summary.new_name);
  const bool with_files = !snapshot.artifacts.empty() && !dst.empty();
  const std::string staging = with_files ? copy_staging_dir(to, summary.new_name) : "";
  if (with_files) {
    summary.artifacts_from = snapshot.artifacts;
    summary.artifacts_to = dst;
  }

  if (std::optional<std::int64_t> existing = to.find_study(summary.new_name)) {
    // Trials in and files staged: only the final rename was missing.
    if (with_files && is_folder(staging) && !holds_files(dst)) {
      move_into_place(staging, dst);
      summary.study_id = *existing;
      summary.artifacts_copied = true;
      summary.finished_earlier = true;
      return summary;
    }
    throw DuplicateStudyError("the destination already has a study named " + quote_study_name(summary.new_name));
  }
  if (with_files) {
    if (holds_files(dst)) {
      throw StorageError("the destination folder " + dst + " already holds files, but the destination has no study " +
                         quote_study_name(summary.new_name) + " they could belong to; nasforge will not mix them "
                         "with the copy. Move that folder away (or copy under another name with --as), then retry");
    }
    // Whatever a killed earlier attempt staged is incomplete: its trials were never imported.
    remove_tree(staging, "left by an interrupted copy");
    std::error_code ec;
    fs::create_directories(fs::path(staging).parent_path(), ec);
    if (!ec) fs::copy(snapshot.artifacts, staging, fs::copy_options::recursive, ec);
    if (ec) {
      std::error_code ignored;
      fs::remove_all(staging, ignored);
      throw StorageError("copying the trial files of study " + quote_study_name(summary.name) + " from " +
                         snapshot.artifacts + " to " + staging + " failed: " + ec.message() +
                         "; nothing was written to the destination");
    }
  }
  StudyInfo info = snapshot.info;
  info.name = summary.new_name;
  summary.study_id = to.import_study(info, snapshot.trials);
  if (with_files) {
    move_into_place(staging, dst);
    summary.artifacts_copied = true;
  }
  return summary;
}

CopySummary copy_study(Storage& from, Storage& to, const std::string& name, const std::string& new_name) {
  return write_study(to, read_study(from, name), new_name);
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
