#include "search/cli/ask_tell_commands.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <optional>

#include "core/error.h"
#include "core/strings.h"
#include "search/cli/study_loader.h"
#include "search/study.h"
#include "search/study_config.h"

namespace nasforge {

int cmd_create(const std::string& file, CommonArgs args) {
  StudyConfig cfg = load_study_config(file);
  if (!args.study.empty()) {
    check_study_name(args.study, "--study");
    cfg.name = args.study;
  }
  std::string url = args.storage.empty() ? cfg.storage_url : args.storage;
  auto storage = open_storage_arg(url, /*must_exist=*/false);
  if (storage->find_study(cfg.name)) {
    throw DuplicateStudyError("study '" + cfg.name + "' already exists in " + redact_url(url));
  }
  create_from_config(storage, cfg, args.quiet);
  std::cout << "Created study '" << cfg.name << "' in " << redact_url(url) << ".\n";
  return 0;
}

int cmd_ask(const CommonArgs& args, bool force) {
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  LoadedStudy ls = open_study(storage, args.study, 0, false);
  ls.study->set_options(study_options(ls, /*progress=*/nullptr));
  // Like run, ask stops at the study's target unless told otherwise; the check and the new trial are one
  // transaction, so concurrent asks never overshoot it either.
  std::optional<Trial> trial = ls.study->ask(force ? std::nullopt : ls.n_trials);
  if (!trial) {
    TrialCounts c = storage->count_trials(ls.study->id());
    throw UsageError("study '" + args.study + "' has reached its target of " + std::to_string(*ls.n_trials) +
                     " trials (" + std::to_string(c.finished()) + " finished, " + std::to_string(c.running) +
                     " running, " + std::to_string(c.waiting) + " waiting), where 'nasforge run' stops too; add "
                     "--force to start another trial anyway");
  }
  Json out{{"number", trial->number()}, {"params", Json::object()}};
  for (const auto& [k, v] : trial->params()) out["params"][k] = v.to_json();
  std::cout << out.dump() << "\n";
  return 0;
}

int cmd_tell(const CommonArgs& args, int number, const std::vector<double>& values, const std::string& state_name,
             const std::string& reason) {
  if (values.empty() == state_name.empty()) {
    throw UsageError("give either --values V [V ...] (COMPLETE) or --state pruned|fail");
  }
  auto storage = open_storage_arg(args.storage, /*must_exist=*/true);
  Study study = Study::load(storage, args.study);
  FrozenTrial found = find_trial(study, number);
  if (found.state != TrialState::kRunning) {
    throw ValueError("trial " + std::to_string(number) + " is " + to_string(found.state) +
                     ", not RUNNING; only running trials can be told");
  }
  // Checked here, not left to Study::tell, which would store such a result as a FAIL: a typo on the command line
  // must not end the trial.
  const std::string stays = "; trial " + std::to_string(number) + " stays RUNNING";
  if (!values.empty()) {
    const std::size_t n = study.directions().size();
    if (values.size() != n) {
      std::vector<std::string> dirs;
      for (StudyDirection d : study.directions()) dirs.push_back(to_string(d));
      throw UsageError("study '" + args.study + "' has " + std::to_string(n) + " objective(s) (" + join(dirs, ", ") +
                       "), so --values takes " + std::to_string(n) + " value(s), got " +
                       std::to_string(values.size()) + stays);
    }
    for (double v : values) {
      if (!std::isfinite(v)) {
        throw UsageError("--values: " + format_double(v) + " is not a finite number" + stays +
                         ". Report a failed evaluation with --state fail --reason TEXT");
      }
    }
  }
  Trial trial(study, found);
  TrialState final_state;
  if (!values.empty()) {
    final_state = study.tell(trial, values);
  } else {
    std::string upper = state_name;
    std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
    TrialState st = parse_trial_state(upper);
    final_state = study.tell(trial, st, reason);
  }
  std::cout << "Trial " << number << " is " << to_string(final_state) << ".\n";
  return 0;
}

int cmd_validate(const std::string& file) {
  StudyConfig cfg = load_study_config(file);
  std::cout << file << ": OK: study '" << cfg.name << "', " << cfg.space.params().size() << " parameter(s), "
            << cfg.directions.size() << " objective(s)\n";
  return 0;
}

}  // namespace nasforge
