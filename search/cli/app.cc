#include "search/cli/app.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <initializer_list>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/strings.h"
#include "search/cli/ask_tell_commands.h"
#include "search/cli/common_args.h"
#include "search/cli/file_commands.h"
#include "search/cli/listing_commands.h"
#include "search/cli/run_commands.h"
#include "search/cli/target_commands.h"
#include "storage/storage.h"

namespace nasforge {

namespace {

constexpr const char* kDescription =
    "nasforge: hyperparameter and neural architecture search.\n"
    "Describe a study in YAML (space, strategy, pruner, objective), run it, resume it after a stop or crash,\n"
    "and query the results. Every trial is stored (SQLite by default). Exit codes: 0 ok, 2 bad input or usage,\n"
    "1 runtime failure, 130 interrupted.";

/// Adds --storage URL to `cmd`; `required` for the commands that read an existing study.
void add_storage(CLI::App* cmd, CommonArgs& a, bool required) {
  auto* opt = cmd->add_option("--storage", a.storage,
                              "storage URL: sqlite:///relative.db, sqlite:////abs/path.db or "
                              "postgresql://user:pass@host:port/db (workers on many machines)");
  if (required) opt->required();
}

/// Adds --format (table, json or csv) to `cmd`.
void add_format(CLI::App* cmd, CommonArgs& a) {
  cmd->add_option("--format", a.format, "output format")->check(CLI::IsMember({"table", "json", "csv"}))
      ->default_str("table");
}

/// A number of seconds in (0, 1e9] (CLI11's PositiveNumber accepts nan and prints its range as 309 digits).
const CLI::Validator kSeconds(
    [](std::string& text) -> std::string {
      std::optional<double> v = parse_double(text);
      if (v && *v > 0 && *v <= 1e9) return "";
      return "expected a number of seconds > 0 and at most 1e9 (e.g. 3600), got '" + text + "'";
    },
    "SECONDS>0");

/// A whole number >= `min`, with a message that says so.
CLI::Validator at_least(long long min, const std::string& what) {
  return CLI::Validator(
      [min, what](std::string& text) -> std::string {
        std::optional<long long> v = parse_int(text);
        if (v && *v >= min) return "";
        return "expected " + what + " (a whole number >= " + std::to_string(min) + "), got '" + text + "'";
      },
      "INT>=" + std::to_string(min));
}

/// The "Examples:" footer of one command.
std::string examples(std::initializer_list<const char*> lines) {
  std::string out = "Examples:";
  for (const char* l : lines) out += std::string("\n  ") + l;
  return out;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{kDescription, "nasforge"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "nasforge 0.1.0");
  CommonArgs a;
  int top = 1;
  bool yes = false, force = false;
  int trial_number = -1;
  std::vector<double> values;
  std::string state_name, reason, file;
  std::vector<std::string> states, where;
  std::string sort_key;
  const CLI::Validator n_trials_check = at_least(1, "a number of trials") & CLI::Range(1, 100000000);

  auto* run = app.add_subcommand("run", "create a study from a YAML file and run it (continues it if it exists "
                                        "with the same file)");
  run->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  add_storage(run, a, false);
  run->add_option("--study", a.study, "study name (overrides study.name)");
  run->add_option("--n-trials", a.n_trials, "target number of finished trials (overrides study.n_trials)")
      ->check(n_trials_check);
  run->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  run->add_option("--workers", a.workers, "worker processes sharing the study (default 1)")->check(CLI::Range(1, 256));
  run->add_flag("--quiet,-q", a.quiet, "no progress output");
  run->footer(examples({"nasforge run configs/quickstart.yaml",
                        "nasforge run configs/quickstart.yaml --workers 2 --timeout 600",
                        "nasforge run study.yaml --storage sqlite:///runs/study.db --study study-v2"}));

  auto* resume = app.add_subcommand("resume", "continue a stored study after a stop or crash");
  add_storage(resume, a, true);
  resume->add_option("--study", a.study, "study name")->required();
  resume->add_option("--n-trials", a.n_trials, "new target number of finished trials")->check(n_trials_check);
  resume->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  resume->add_option("--workers", a.workers, "worker processes (default 1)")->check(CLI::Range(1, 256));
  resume->add_flag("--quiet,-q", a.quiet, "no progress output");
  resume->footer(examples({"nasforge resume --storage sqlite:///quickstart.db --study quickstart",
                           "nasforge resume --storage sqlite:///quickstart.db --study quickstart --n-trials 100"}));

  auto* worker = app.add_subcommand("worker", "run trials of a stored study until its target (start any number, "
                                              "on any machine sharing the storage)");
  add_storage(worker, a, true);
  worker->add_option("--study", a.study, "study name")->required();
  worker->add_option("--n-trials", a.n_trials, "target number of finished trials")->check(n_trials_check);
  worker->add_option("--timeout", a.timeout_s, "stop starting trials after S seconds")->check(kSeconds);
  worker
      ->add_option("--worker-index", a.worker_index,
                   "distinct per worker (e.g. the Slurm array or Kubernetes completion index); seeds its own sampler "
                   "stream reproducibly. Without it, a random stream: workers still propose different trials")
      ->check(at_least(0, "a worker index"));
  worker->add_flag("--quiet,-q", a.quiet, "no progress output");
  worker->footer(examples({"nasforge worker --storage postgresql://nasforge@db-host:5432/nasforge --study big "
                           "--worker-index 3"}));

  auto* create = app.add_subcommand("create", "create a study from a YAML file without running it (for ask/tell)");
  create->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  add_storage(create, a, false);
  create->add_option("--study", a.study, "study name (overrides study.name)");
  create->footer(examples({"nasforge create study.yaml --storage sqlite:///study.db"}));

  auto* validate = app.add_subcommand("validate", "check a study file and report the first problem");
  validate->add_option("STUDY_YAML", file, "study file")->required()->check(CLI::ExistingFile);
  validate->footer(examples({"nasforge validate configs/quickstart.yaml"}));

  auto* studies = app.add_subcommand("studies", "list the studies in a storage");
  add_storage(studies, a, true);
  add_format(studies, a);
  studies->footer(examples({"nasforge studies --storage sqlite:///quickstart.db"}));

  auto* trials = app.add_subcommand("trials", "list the trials of a study");
  add_storage(trials, a, true);
  trials->add_option("--study", a.study, "study name")->required();
  trials->add_option("--state", states, "only these states (complete, pruned, fail, running, waiting)");
  add_format(trials, a);
  trials->footer(examples({"nasforge trials --storage sqlite:///quickstart.db --study quickstart --format json",
                           "nasforge trials --storage sqlite:///quickstart.db --study quickstart --state fail"}));

  auto* best = app.add_subcommand("best", "the best trial(s): top K by value, or the Pareto set for several "
                                          "objectives");
  add_storage(best, a, true);
  best->add_option("--study", a.study, "study name")->required();
  CLI::Option* top_option = best->add_option("--top", top, "how many (single objective, or with --sort; with "
                                                           "--target default 10)")
      ->check(at_least(1, "how many trials to show"));
  best->add_option("--where", where,
                   "keep trials where KEY OP VALUE holds; repeatable; KEY is value, a parameter or a metric "
                   "(macs, params, size_bytes, peak_mem_bytes, latency_ms, val_accuracy, ...), OP one of "
                   "< <= > >= == !=, e.g. --where \"macs<5e6\" --where \"latency_ms<2\"");
  best->add_option("--sort", sort_key, "order by KEY[:asc|:desc] instead of the objective, e.g. latency_ms");
  BestTargetArgs bt;
  best->add_option("--target", bt.target,
                   "rank (trial, compression variant) pairs by accuracy on this device (a shipped profile name or a "
                   "file), costs predicted from each trial's stored network; prints the accuracy-latency front");
  best->add_option("--max-latency-ms", bt.max_latency_ms, "with --target: most predicted latency")
      ->check(CLI::PositiveNumber);
  best->add_option("--max-flash-kb", bt.max_flash_kb, "with --target: most flash (KB)")->check(CLI::PositiveNumber);
  best->add_option("--max-sram-kb", bt.max_sram_kb, "with --target: most SRAM (KB)")->check(CLI::PositiveNumber);
  best->add_option("--variant", bt.variant, "with --target: only this compression variant (fp32 = the float network) "
                                            "or any (default)");
  add_format(best, a);
  best->footer(examples({"nasforge best --storage sqlite:///quickstart.db --study quickstart --top 5",
                         "nasforge best --storage sqlite:///quickstart.db --study quickstart --where \"macs<2e6\" "
                         "--sort latency_ms",
                         "nasforge best --storage sqlite:///mcu.db --study mcu --target stm32f746 --variant int8",
                         "nasforge best --storage sqlite:///quickstart.db --study quickstart --target raspberry-pi-4 "
                         "--max-latency-ms 5"}));

  std::string out_dir;
  bool evaluate_after = false;
  auto* exp = app.add_subcommand("export", "write a trained trial's network (genotype, hyperparameters, metrics, "
                                           "weights) to a folder that 'nasforge evaluate' can rebuild");
  add_storage(exp, a, true);
  exp->add_option("--study", a.study, "study name")->required();
  exp->add_option("--trial", trial_number, "trial number")->required()->check(at_least(0, "a trial number"));
  exp->add_option("--out", out_dir, "output folder: new or empty (created), outside the storage's trial files")
      ->required();
  exp->add_flag("--force", force,
                "export into a non-empty folder, replacing its model.json and weights.pt (other files stay)");
  exp->add_flag("--evaluate", evaluate_after, "rebuild the exported model and evaluate it on its validation data");
  exp->add_option("--device", a.device, "auto, cpu or cuda (with --evaluate)")
      ->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  exp->footer(examples({"nasforge export --storage sqlite:///quickstart.db --study quickstart --trial 0 --out best-model",
                        "nasforge export --storage sqlite:///quickstart.db --study quickstart --trial 3 --out "
                        "best-model --force --evaluate"}));

  auto* eval = app.add_subcommand("evaluate", "rebuild an exported (or a trial's saved) model and evaluate it on "
                                              "the validation split of the data it was trained on");
  eval->add_option("MODEL_DIR", file, "folder with model.json and weights.pt")->required()->check(CLI::ExistingDirectory);
  eval->add_option("--device", a.device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  eval->add_option("--format", a.format, "table or json")->check(CLI::IsMember({"table", "json"}));
  eval->footer(examples({"nasforge evaluate best-model --format json"}));

  auto* del = app.add_subcommand("delete", "delete a study, all its trials and its trial files (the study's folder "
                                           "of saved weights next to the database)");
  add_storage(del, a, true);
  del->add_option("--study", a.study, "study name")->required();
  del->add_flag("--yes", yes, "confirm");
  del->footer(examples({"nasforge delete --storage sqlite:///quickstart.db --study quickstart --yes"}));

  std::string new_name;
  auto* rename = app.add_subcommand("rename", "give a study a new name; its trial files move with it");
  add_storage(rename, a, true);
  rename->add_option("--study", a.study, "current name")->required();
  rename->add_option("--as", new_name, "new name (letters, digits, '.', '_', '-')")->required();
  rename->footer(std::string(kStudyNameRule) + ".\n" +
                 examples({"nasforge rename --storage sqlite:///old.db --study 'my study' --as my-study"}));

  std::string copy_from, copy_to;
  auto* copy_cmd = app.add_subcommand(
      "copy",
      "copy a study with all its trials (values, intermediate values, attributes, datetimes) to another "
      "storage, e.g. from SQLite to PostgreSQL or back; its trial files (weights) come along when both "
      "storages keep them");
  copy_cmd->add_option("--from", copy_from, "storage URL to copy from (sqlite:///a.db, postgresql://user@host/db)")
      ->required();
  copy_cmd->add_option("--to", copy_to, "storage URL to copy to (a new SQLite file is created)")->required();
  copy_cmd->add_option("--study", a.study, "name of the study to copy")->required();
  copy_cmd->add_option("--as", new_name, "name in the destination (default: the same name); must not exist there");
  copy_cmd->footer(
      "The source is read whole before anything is written. The trials go into the destination in one transaction; "
      "trial files are copied into a staging folder first and moved into place after the trials, so a copy killed "
      "at any point leaves no study, or one that commands refuse as unfinished until the same copy command is run "
      "again (it finishes the move). RUNNING trials are copied as RUNNING with a fresh heartbeat, so a worker on the "
      "destination fails and retries them after the grace period.\n" +
      examples({"nasforge copy --from sqlite:///study.db --to postgresql://nasforge@db-host:5432/nasforge "
                "--study quickstart",
                "nasforge copy --from sqlite:///quickstart.db --to sqlite:///backup.db --study quickstart"}));

  auto* ask = app.add_subcommand("ask", "start a trial of a stored study and print {number, params} as JSON");
  add_storage(ask, a, true);
  ask->add_option("--study", a.study, "study name")->required();
  ask->add_flag("--force", force, "start a trial even when the study has reached its n_trials target");
  ask->footer(examples({"nasforge ask --storage sqlite:///study.db --study study"}));

  auto* tell = app.add_subcommand("tell", "finish a trial started with ask");
  add_storage(tell, a, true);
  tell->add_option("--study", a.study, "study name")->required();
  tell->add_option("--trial", trial_number, "trial number printed by ask")->required()
      ->check(at_least(0, "a trial number"));
  tell->add_option("--values", values, "objective value(s), one per objective: COMPLETE");
  tell->add_option("--state", state_name, "instead of values")->check(CLI::IsMember({"pruned", "fail"}, CLI::ignore_case));
  tell->add_option("--reason", reason, "why it failed (with --state fail)");
  tell->footer(examples({"nasforge tell --storage sqlite:///study.db --study study --trial 0 --values 0.93",
                         "nasforge tell --storage sqlite:///study.db --study study --trial 1 --state fail --reason OOM"}));

  TargetArgs ta;
  auto add_networks = [&ta](CLI::App* cmd) {
    cmd->add_option("--study-file", ta.study_file, "study file whose architecture space the networks come from")
        ->required()
        ->check(CLI::ExistingFile);
    cmd->add_option("--input", ta.input, "sample shape CxHxW (default: the study's train dataset), e.g. 3x32x32");
    cmd->add_option("--classes", ta.classes, "classes of the head (default: the study's train dataset)")
        ->check(CLI::Range(1, 1000000));
  };
  auto* targets = app.add_subcommand("targets", "list the device profiles shipped with nasforge (configs/targets/)");
  add_format(targets, a);
  targets->footer("A profile is the device as the latency and memory models see it: MAC rates per data type, memory "
                  "bandwidth, per-kernel overheads, SRAM/flash limits and the runtime assumed (docs/targets.md).\n" +
                  examples({"nasforge targets", "nasforge targets --format json"}));

  auto* target = app.add_subcommand("target", "predict costs on a device profile, or calibrate one to measurements");
  target->require_subcommand(1);
  auto* predict = target->add_subcommand(
      "predict", "one row per genotype: predicted batch-1 latency (fp32, int8, fp16), flash, SRAM and whether it fits");
  predict->add_option("--target", ta.target, "a shipped profile name (nasforge targets) or a profile file")->required();
  add_networks(predict);
  predict->add_option("--genotypes", ta.genotypes, "file with one genotype per line, or - for stdin "
                                                   "(default: --random networks of the space)");
  predict->add_option("--random", ta.random, "random networks when no --genotypes (default 10)")
      ->check(CLI::Range(1, 100000));
  predict->add_option("--seed", ta.seed, "seed of the random networks (default 0)");
  add_format(predict, a);
  predict->footer(examples({"nasforge target predict --target raspberry-pi-4 --study-file configs/quickstart.yaml",
                            "nasforge target predict --target stm32f746 --study-file configs/mcu_fashion_mnist.yaml "
                            "--random 20 --format csv",
                            "nasforge target predict --target pixel-3 --study-file configs/nb201_cells.yaml "
                            "--input 3x32x32 --classes 10 --genotypes archs.txt"}));
  auto* calibrate_cmd = target->add_subcommand(
      "calibrate", "fit a profile's coefficients to latencies measured by any means (a phone's benchmark tool, a "
                   "vendor profiler) and write it; prints leave-one-out Spearman and error");
  calibrate_cmd->add_option("--target", ta.target, "the profile to start from (shipped name or file)")->required();
  add_networks(calibrate_cmd);
  calibrate_cmd->add_option("--measured", ta.measured,
                            "CSV with columns genotype,latency_ms (and optionally latency_ms_int8), genotypes of the "
                            "study's architecture space")
      ->required()
      ->check(CLI::ExistingFile);
  calibrate_cmd->add_option("--out", ta.out, "the calibrated profile to write (YAML)")->required();
  calibrate_cmd->add_option("--name", ta.name, "its target name (default: the --out file name without .yaml)");
  calibrate_cmd->add_flag("--force", ta.force, "overwrite --out");
  calibrate_cmd->footer(examples({"nasforge target calibrate --target pixel-3 --study-file configs/nb201_cells.yaml "
                                  "--input 3x32x32 --classes 10 --measured phone.csv --out my-phone.yaml"}));

  auto* profile = app.add_subcommand(
      "profile", "time random networks of a study's architecture space on this machine (libtorch eager, batch 1) and "
                 "write a fitted profile with its quality on networks it was not fitted on (run it on the device)");
  profile->add_option("--out", ta.out, "the profile to write (YAML)")->required();
  add_networks(profile);
  profile->add_option("--target", ta.target, "profile to start from (default generic)");
  profile->add_option("--networks", ta.networks, "random networks to time: half fit, half check; up to as many of the "
                                                 "fitting half's distinct layers are also timed alone (default 60)")
      ->check(CLI::Range(10, 100000));
  profile->add_option("--threads", ta.threads, "torch threads (default 1)")->check(CLI::Range(1, 1024));
  profile->add_option("--runs", ta.runs, "rounds: each round times every network once (round-robin); each keeps the "
                                         "median of its rounds (default 20)")
      ->check(CLI::Range(1, 100000));
  profile->add_option("--seed", ta.seed, "seed of the random networks (default 0)");
  profile->add_option("--name", ta.name, "target name (default: the --out file name without .yaml)");
  profile->add_flag("--force", ta.force, "overwrite --out");
  profile->add_flag("--quiet,-q", a.quiet, "no progress output");
  profile->footer(examples({"nasforge profile --study-file configs/quickstart.yaml --out my-device.yaml",
                            "nasforge profile --study-file study.yaml --networks 100 --threads 4 --out pi4.yaml"}));

  auto* help = app.add_subcommand("help", "show the help of a command (nasforge help run)");
  std::string help_topic;
  help->add_option("COMMAND", help_topic, "command");

  // After the subcommands: they would inherit it.
  app.footer(examples({"nasforge run configs/quickstart.yaml",
                       "nasforge best --storage sqlite:///quickstart.db --study quickstart --top 5",
                       "nasforge resume --storage sqlite:///quickstart.db --study quickstart --n-trials 100"}) +
             "\nRun 'nasforge COMMAND --help' (or 'nasforge help COMMAND') for a command's options and examples.");

  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) commands.push_back(sub->get_name());
  if (argc >= 2 && argv[1][0] != '-' && std::find(commands.begin(), commands.end(), argv[1]) == commands.end()) {
    throw UsageError(std::string("unknown command '") + argv[1] + "'" + did_you_mean(argv[1], commands) +
                     "; the commands are " + join(commands, ", ") + " (nasforge --help describes them)");
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    throw UsageError(e.what());
  }

  // An empty --study would otherwise read as "not given" and fall back to study.name.
  for (const CLI::App* sub : app.get_subcommands()) {
    const CLI::Option* study_opt = sub->get_option_no_throw("--study");
    if (study_opt && study_opt->count() > 0 && a.study.empty()) {
      throw UsageError("--study: a study name cannot be empty");
    }
  }
  if (*help) {
    if (help_topic.empty()) {
      std::cout << app.help();
      return 0;
    }
    if (std::find(commands.begin(), commands.end(), help_topic) == commands.end()) {
      throw UsageError("no command '" + help_topic + "'" + did_you_mean(help_topic, commands) + "; the commands are " +
                       join(commands, ", "));
    }
    std::cout << app.get_subcommand(help_topic)->help();
    return 0;
  }
  if (*run) return cmd_run(file, a);
  if (*resume) return cmd_resume(a);
  if (*worker) return cmd_worker(a);
  if (*create) return cmd_create(file, a);
  if (*validate) return cmd_validate(file);
  if (*studies) return cmd_studies(a);
  if (*trials) return cmd_trials(a, states);
  if (*best) {
    if (!bt.target.empty()) return cmd_best_target(a, bt, top_option->count() > 0 ? top : 10, where);
    if (bt.max_latency_ms || bt.max_flash_kb || bt.max_sram_kb || bt.variant != "any") {
      throw UsageError("--max-latency-ms, --max-flash-kb, --max-sram-kb and --variant need --target");
    }
    return cmd_best(a, top, where, sort_key);
  }
  if (*del) return cmd_delete(a, yes);
  if (*rename) return cmd_rename(a, new_name);
  if (*exp) return cmd_export(a, trial_number, out_dir, evaluate_after, force);
  if (*eval) return cmd_evaluate(file, a);
  if (*copy_cmd) return cmd_copy(copy_from, copy_to, a.study, new_name);
  if (*ask) return cmd_ask(a, force);
  if (*tell) return cmd_tell(a, trial_number, values, state_name, reason);
  if (*targets) return cmd_targets(a);
  if (*predict) return cmd_target_predict(a, ta);
  if (*calibrate_cmd) return cmd_target_calibrate(a, ta);
  if (*profile) return cmd_profile(a, ta);
  return 0;
}

}  // namespace nasforge
