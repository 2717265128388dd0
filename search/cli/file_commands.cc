#include "search/cli/file_commands.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/export/model_bundle.h"
#include "search/cli/study_loader.h"
#include "search/report.h"
#include "search/study.h"
#include "storage/sqlite_storage.h"
#include "storage/storage_copy.h"

namespace nasforge {

namespace {

/// Whether `path` is `folder` or inside it (both absolute and normalised).
bool is_within(const std::filesystem::path& path, const std::filesystem::path& folder) {
  auto [f, p] = std::mismatch(folder.begin(), folder.end(), path.begin(), path.end());
  return f == folder.end();
}

/// Refuses an --out folder that export must not write into and returns the bundle files it will replace there:
/// the file system's root, anything inside the storage's trial-file folder (it would overwrite a stored trial's
/// files), a file, or a non-empty folder without --force.
std::vector<std::string> check_export_folder(const std::string& out_dir, const std::string& artifact_root,
                                             bool force) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(fs::absolute(out_dir), ec);
  if (ec) throw UsageError("--out '" + out_dir + "': " + ec.message());
  if (out == out.root_path()) {
    throw UsageError("--out '" + out_dir + "' is the root of the file system; export into a folder of its own, e.g. "
                     "--out best-model");
  }
  if (!artifact_root.empty()) {
    const fs::path root = fs::weakly_canonical(fs::absolute(artifact_root), ec);
    if (!ec && is_within(out, root)) {
      throw UsageError("--out '" + out_dir + "' is inside " + root.string() +
                       ", the folder where the storage keeps every trial's files; writing there would replace a stored "
                       "trial's weights. Choose a folder outside it");
    }
  }
  if (!fs::exists(out, ec)) return {};
  if (!fs::is_directory(out, ec)) throw UsageError("--out '" + out_dir + "' exists and is not a folder");
  std::vector<std::string> replaced;
  for (const char* name : {kBundleModelFile, kBundleWeightsFile}) {
    if (fs::exists(out / name, ec)) replaced.emplace_back(name);
  }
  if (fs::is_empty(out, ec) || force) return replaced;
  throw UsageError("--out '" + out_dir + "' is not empty" +
                   (replaced.empty() ? std::string() : " (it holds " + join(replaced, " and ") + ")") +
                   "; export writes " + kBundleModelFile + " and " + kBundleWeightsFile + " into it. Add --force to " +
                   "replace those two files (the folder's other files stay as they are), or choose a new folder");
}

/// Equal for two URLs that name the same storage: for SQLite the file's canonical path (so "sqlite:///a.db" and
/// "sqlite:////abs/a.db" match), else the URL itself.
std::string storage_identity(const std::string& url) {
  if (url.rfind("sqlite:///", 0) == 0) {
    std::error_code ec;
    auto path = std::filesystem::weakly_canonical(sqlite_path_from_url(url), ec);
    if (!ec) return "sqlite:" + path.string();
  }
  return url;
}

}  // namespace

int cmd_export(const CommonArgs& args, int number, const std::string& out_dir, bool evaluate, bool force) {
  if (out_dir.empty()) throw UsageError("--out DIR is required");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true, StorageAccess::kReadOnly);
  Study study = Study::load(storage, args.study);
  check_copy_finished(*storage, args.study);
  FrozenTrial trial = find_trial(study, number);
  std::string dir = storage->study_artifact_dir(args.study);
  if (dir.empty())
    throw ValueError("storage " + redact_url(args.storage) + " keeps no trial files, so there is nothing to export");
  std::vector<std::string> replaced = check_export_folder(out_dir, storage->artifact_root(), force);
  export_bundle((std::filesystem::path(dir) / ("trial_" + std::to_string(number))).string(), trial.to_json(), out_dir);
  std::cout << "Exported trial " << number << " of study '" << args.study << "' to " << out_dir << " ("
            << kBundleModelFile << ", " << kBundleWeightsFile << ")";
  if (!replaced.empty()) std::cout << "; replaced the earlier " << join(replaced, " and ");
  std::cout << ".\n";
  if (evaluate) {
    Json r = evaluate_bundle(out_dir, args.device);
    std::cout << "Rebuilt from " << out_dir << " and evaluated: val_accuracy " << r.at("val_accuracy").dump()
              << ", val_loss " << r.at("val_loss").dump() << " on " << r.at("n").dump() << " samples.\n";
  }
  return 0;
}

int cmd_evaluate(const std::string& dir, const CommonArgs& args) {
  Json r = evaluate_bundle(dir, args.device);
  if (parse_format(args.format) == OutputFormat::kJson) {
    std::cout << r.dump(2) << "\n";
  } else {
    std::cout << "val_accuracy " << r.at("val_accuracy").dump() << "\nval_loss " << r.at("val_loss").dump()
              << "\nsamples " << r.at("n").dump() << "\n";
  }
  return 0;
}

int cmd_delete(const CommonArgs& args, bool yes) {
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  if (!yes) {
    throw UsageError("deleting study '" + args.study + "', its " +
                     std::to_string(storage->count_trials(study.id()).slots()) +
                     " trials and their files cannot be undone; add --yes to confirm");
  }
  // Decided before the rows go: a stored name that cannot be a folder leaves every file where it is.
  const bool files_safe = !study_name_problem(args.study);
  std::vector<std::string> folders;
  if (files_safe) {
    for (const std::string& f : {storage->study_artifact_dir(args.study), copy_staging_dir(*storage, args.study)}) {
      if (!f.empty()) folders.push_back(f);
    }
  }
  storage->delete_study(study.id());
  for (const std::string& f : folders) {
    std::error_code ec;
    if (!std::filesystem::exists(f, ec)) continue;
    std::filesystem::remove_all(f, ec);
    if (ec) std::cerr << "nasforge: warning: could not remove " << f << ": " << ec.message() << "\n";
  }
  if (!files_safe && !storage->artifact_root().empty()) {
    std::cerr << "nasforge: warning: the name " << quote_study_name(args.study) << " cannot be a folder, so no trial "
              << "files were removed; look in " << storage->artifact_root() << " for any it left\n";
  }
  std::cout << "Deleted study " << quote_study_name(args.study) << ".\n";
  return 0;
}

// The folder moves first, then the database (the folder moves back when the database refuses), so no state leaves
// a study without its files but a kill between the two renames.
int cmd_rename(const CommonArgs& args, const std::string& new_name) {
  check_study_name(new_name, "--as");
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  check_copy_finished(*storage, args.study);
  if (storage->find_study(new_name)) {
    throw DuplicateStudyError("study '" + new_name + "' already exists in " + redact_url(args.storage) +
                              "; choose another name");
  }
  namespace fs = std::filesystem;
  const std::string to = storage->study_artifact_dir(new_name);
  std::string from;
  if (!to.empty() && !study_name_problem(args.study)) from = storage->study_artifact_dir(args.study);
  std::error_code ec;
  const bool move = !from.empty() && fs::exists(from, ec);
  if (move) {
    if (fs::exists(to, ec)) {
      throw StorageError("cannot move the trial files of study " + quote_study_name(args.study) + " to " + to +
                         ": that folder exists already (left from a deleted study?); move it away first");
    }
    fs::rename(from, to, ec);
    if (ec) throw StorageError("cannot move " + from + " to " + to + ": " + ec.message() + "; nothing was renamed");
  }
  try {
    storage->rename_study(study.id(), new_name);
  } catch (...) {
    if (move) fs::rename(to, from, ec);
    throw;
  }
  std::cout << "Renamed study " << quote_study_name(args.study) << " to '" << new_name << "'";
  if (move) std::cout << " and moved its trial files to " << to;
  std::cout << ".\n";
  if (!to.empty() && study_name_problem(args.study)) {
    std::cerr << "nasforge: warning: the old name cannot be a folder, so no trial files were moved; if the study had "
              << "any, move them into " << to << " yourself\n";
  }
  return 0;
}

int cmd_copy(const std::string& from_url, const std::string& to_url, const std::string& name, std::string new_name) {
  if (new_name.empty()) new_name = name;
  check_study_name(new_name, new_name == name ? "--study" : "--as");
  if (name == new_name && storage_identity(from_url) == storage_identity(to_url)) {
    throw UsageError("cannot copy study '" + name +
                     "' onto itself: --from and --to name the same storage; give "
                     "another --to, or a new name with --as NEW_NAME");
  }
  const std::string from_text = redact_url(from_url), to_text = redact_url(to_url);
  // The whole source is read before the destination is opened: a source that cannot be read creates nothing.
  StudySnapshot snapshot;
  {
    auto from = open_storage_arg(from_url, /*must_exist=*/true, StorageAccess::kReadOnly);
    if (!from->find_study(name)) {
      throw NotFoundError("no study named " + quote_study_name(name) + " in " + from_text +
                          " (studies there: " + quoted_study_names(*from) + ")");
    }
    snapshot = read_study(*from, name);
  }
  const std::string taken = "study '" + new_name + "' already exists in " + to_text +
                            "; copy under another name with --as NEW_NAME, or delete it first with 'nasforge delete "
                            "--storage " +
                            to_text + " --study " + new_name + " --yes'";
  auto to = open_storage_arg(to_url, /*must_exist=*/false);
  CopySummary summary;
  try {
    summary = write_study(*to, snapshot, new_name);
  } catch (const DuplicateStudyError&) {
    throw DuplicateStudyError(taken);
  }
  if (summary.finished_earlier) {
    std::cerr << "finished the interrupted copy of study '" << name << "' to " << to_text
              << ": its trials were there, its trial files are now in " << summary.artifacts_to << "\n";
    return 0;
  }
  if (summary.counts.running > 0) {
    std::cerr << "nasforge: warning: " << summary.counts.running << " trial(s) were RUNNING in " << from_text
              << "; they are copied as RUNNING with a fresh heartbeat, so a worker on the destination fails and "
                 "retries them (up to max_retry) after the grace period. Stop the source's workers before copying "
                 "to avoid this.\n";
  }
  std::cerr << "copied study '" << name << "'" << (new_name != name ? " as '" + new_name + "'" : "") << " ("
            << describe_counts(summary) << ") from " << from_text << " to " << to_text;
  if (summary.artifacts_copied) {
    std::cerr << ", with its trial files (" << summary.artifacts_from << " -> " << summary.artifacts_to << ")";
  }
  std::cerr << "\n";
  return 0;
}

}  // namespace nasforge
