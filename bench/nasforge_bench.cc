// Benchmark harness for nasforge: the C++ half of bench/run.sh. It drives the library through the same ask/tell
// API a user would (search/study.h) and prints one JSON document on stdout; bench/optuna_bench.py prints the same
// shape for Optuna, and bench/report.py turns both into docs/benchmarks.md.
//
//   nasforge_bench overhead --strategy "name: tpe" --storage memory --trials 1000
//   nasforge_bench quality --problem branin --strategy "name: random" --seeds 0,1,2 --trials 200
//   nasforge_bench trace --problem hpolib --table t.csv.gz --strategy "name: gp" --seeds 0,1,2 --trials 100

#include <CLI/CLI.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <limits>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/json.h"
#include "evaluators/objective.h"
#include "storage/storage.h"
#include "search/study.h"
#include "spaces/search_space.h"
#include "strategies/sampler.h"

namespace nasforge::bench {

namespace fs = std::filesystem;
using SteadyClock = std::chrono::steady_clock;

/// One benchmark problem: its space, objective section and direction.
struct Problem {
  std::string space_yaml;      ///< The `space:` mapping.
  std::string objective_yaml;  ///< The `objective:` section.
  StudyDirection direction = StudyDirection::kMinimize;  ///< Lower is better except for NAS-Bench-201.
};

constexpr char kBraninSpace[] = "x0: {type: float, low: -5, high: 10}\nx1: {type: float, low: 0, high: 15}\n";

Problem make_problem(const std::string& name, const std::string& table) {
  if (name == "branin") return {kBraninSpace, "kind: function\nname: branin\n", StudyDirection::kMinimize};
  if (name == "hartmann6") {
    std::string space;
    for (int i = 0; i < 6; ++i) space += "x" + std::to_string(i) + ": {type: float, low: 0, high: 1}\n";
    return {space, "kind: function\nname: hartmann6\n", StudyDirection::kMinimize};
  }
  if (name == "nb201") {
    std::string space;
    for (const char* edge : {"edge_1_0", "edge_2_0", "edge_2_1", "edge_3_0", "edge_3_1", "edge_3_2"}) {
      space += std::string(edge) + ": [none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]\n";
    }
    // Absolute path, so base_dir does not matter; aggregate: random is the noisy one-seed-per-query protocol.
    std::string objective = "kind: tabular\ntable: '" + fs::absolute(table).string() +
                            "'\nkey: nasbench201\naggregate: random\n";
    return {space, objective, StudyDirection::kMaximize};
  }
  if (name == "hpolib") {
    // HPOLib / fcnet: 9 categorical hyperparameters whose values are the table's key columns.
    std::string space =
        "activation_fn_1: [relu, tanh]\nactivation_fn_2: [relu, tanh]\nbatch_size: [8, 16, 32, 64]\n"
        "dropout_1: [0.0, 0.3, 0.6]\ndropout_2: [0.0, 0.3, 0.6]\n"
        "init_lr: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1]\nlr_schedule: [cosine, const]\n"
        "n_units_1: [16, 32, 64, 128, 256, 512]\nn_units_2: [16, 32, 64, 128, 256, 512]\n";
    std::string objective = "kind: tabular\ntable: '" + fs::absolute(table).string() + "'\naggregate: random\n";
    return {space, objective, StudyDirection::kMinimize};
  }
  throw ValueError("unknown problem '" + name + "'; expected branin, hartmann6, nb201 or hpolib");
}

/// A study wired to a sampler and an objective, as the runner would build it.
struct Setup {
  std::shared_ptr<Storage> storage;
  std::unique_ptr<Study> study;
  std::unique_ptr<Objective> objective;
};

Setup make_setup(const Problem& problem, const std::string& strategy_yaml, const std::string& storage_url,
                 std::uint64_t seed) {
  Setup s;
  SearchSpace space = SearchSpace::from_config(ConfigNode::parse_string(problem.space_yaml, "<bench space>"));
  s.storage = open_storage(storage_url);
  s.study = std::make_unique<Study>(Study::create(s.storage, "bench", {problem.direction}));
  s.study->set_space(space);
  s.study->set_sampler(
      make_sampler(ConfigNode::parse_string(strategy_yaml, "<bench strategy>"), space, seed, StrategyEnv{}));
  s.study->set_options(StudyOptions().with_seed(seed));
  s.objective = make_objective(ConfigNode::parse_string(problem.objective_yaml, "<bench objective>"), space, 1,
                               fs::current_path().string());
  return s;
}

/// Runs one ask / evaluate / tell round; an objective error fails the trial like the runner does.
void run_one_trial(Setup& s) {
  std::optional<Trial> trial = s.study->ask();
  if (!trial) throw StateError("ask() returned no trial");
  try {
    std::vector<double> values = s.objective->evaluate(*trial);
    s.study->tell(*trial, values);
  } catch (const TrialPruned&) {
    s.study->tell(*trial, TrialState::kPruned);
  } catch (const ObjectiveError& e) {
    s.study->tell(*trial, TrialState::kFail, e.what());
  }
}

Json run_overhead(const std::string& label, const std::string& strategy_yaml, const std::string& storage,
                  int n_trials, const std::string& dir, std::uint64_t seed) {
  std::string url = "memory";
  fs::path db;
  if (storage == "sqlite") {
    db = fs::absolute(fs::path(dir) / ("nasforge_overhead_" + std::to_string(seed) + ".db"));
    fs::remove(db);
    url = "sqlite:///" + db.string();  // db is absolute, so this is the four-slash form
  } else if (storage != "memory") {
    throw ValueError("unknown storage '" + storage + "'; expected memory or sqlite");
  }
  std::vector<double> ms;
  ms.reserve(static_cast<std::size_t>(n_trials));
  {
    Setup s = make_setup(make_problem("branin", ""), strategy_yaml, url, seed);
    for (int i = 0; i < n_trials; ++i) {
      auto start = SteadyClock::now();
      run_one_trial(s);
      ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count());
    }
    int complete = s.study->counts().complete;
    if (complete != n_trials) {
      throw StateError("only " + std::to_string(complete) + " of " + std::to_string(n_trials) + " trials completed");
    }
  }
  if (!db.empty()) {
    // SQLite may leave -wal/-shm side files next to the database.
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix);
  }
  return Json{{"impl", "nasforge"}, {"kind", "overhead"}, {"label", label}, {"strategy", strategy_yaml},
              {"storage", storage}, {"trials", n_trials}, {"ms", ms}};
}

Json run_quality(const std::string& label, const std::string& problem_name, const std::string& strategy_yaml,
                 const std::vector<int>& seeds, int n_trials, const std::vector<int>& checkpoints,
                 const std::string& table) {
  Problem problem = make_problem(problem_name, table);
  const bool maximize = problem.direction == StudyDirection::kMaximize;
  Json runs = Json::array();
  for (int seed : seeds) {
    auto start = SteadyClock::now();
    Setup s = make_setup(problem, strategy_yaml, "memory", static_cast<std::uint64_t>(seed));
    for (int i = 0; i < n_trials; ++i) run_one_trial(s);
    double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();

    // The recommendation after k trials is the first trial among the first k with the best observed value.
    std::vector<FrozenTrial> trials = s.study->trials();
    Json at = Json::object();
    std::size_t next = 0;
    const FrozenTrial* best = nullptr;
    int n_failed = 0;
    for (const FrozenTrial& t : trials) {
      if (t.state == TrialState::kComplete) {
        double v = *t.value();
        if (!best || (maximize ? v > *best->value() : v < *best->value())) best = &t;
      } else {
        ++n_failed;
      }
      while (next < checkpoints.size() && t.number + 1 == checkpoints[next]) {
        Json entry = {{"value", best ? Json(*best->value()) : Json(nullptr)}};
        if (best) {
          entry["number"] = best->number;
          entry["params"] = Json::object();
          for (const auto& [name, value] : best->params) entry["params"][name] = value.to_string();
          if (auto it = best->user_attrs.find("arch"); it != best->user_attrs.end()) entry["arch"] = it->second;
          if (auto it = best->user_attrs.find("mean_metric"); it != best->user_attrs.end()) {
            entry["mean_metric"] = it->second;
          }
        }
        at[std::to_string(checkpoints[next])] = entry;
        ++next;
      }
    }
    runs.push_back({{"seed", seed}, {"seconds", seconds}, {"failed", n_failed}, {"best", at}});
    std::cerr << "  nasforge " << label << " " << problem_name << " seed " << seed << ": " << seconds << " s\n";
  }
  return Json{{"impl", "nasforge"}, {"kind", "quality"}, {"label", label}, {"problem", problem_name},
              {"strategy", strategy_yaml}, {"trials", n_trials}, {"runs", runs}};
}

/// Every trial's observed value, the table mean of its configuration (tabular problems) and its ask + evaluate +
/// tell time, per seed; bench/report.py derives incumbents, regret curves and per-trial cost from it.
Json run_trace(const std::string& label, const std::string& problem_name, const std::string& strategy_yaml,
               const std::vector<int>& seeds, int n_trials, const std::string& table) {
  Problem problem = make_problem(problem_name, table);
  Json runs = Json::array();
  for (int seed : seeds) {
    auto start = SteadyClock::now();
    Setup s = make_setup(problem, strategy_yaml, "memory", static_cast<std::uint64_t>(seed));
    std::vector<double> ms;
    ms.reserve(static_cast<std::size_t>(n_trials));
    for (int i = 0; i < n_trials; ++i) {
      auto t0 = SteadyClock::now();
      run_one_trial(s);
      ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
    }
    double seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
    Json values = Json::array();
    Json means = Json::array();
    int n_failed = 0;
    for (const FrozenTrial& t : s.study->trials()) {
      bool complete = t.state == TrialState::kComplete;
      n_failed += complete ? 0 : 1;
      values.push_back(complete ? Json(*t.value()) : Json(nullptr));
      auto it = t.user_attrs.find("mean_metric");
      means.push_back(complete && it != t.user_attrs.end() ? it->second : Json(nullptr));
    }
    runs.push_back(
        {{"seed", seed}, {"seconds", seconds}, {"failed", n_failed}, {"values", values}, {"means", means}, {"ms", ms}});
    std::cerr << "  nasforge " << label << " " << problem_name << " seed " << seed << ": " << seconds << " s\n";
  }
  return Json{{"impl", "nasforge"},        {"kind", "trace"},    {"label", label}, {"problem", problem_name},
              {"strategy", strategy_yaml}, {"trials", n_trials}, {"runs", runs}};
}

std::vector<int> parse_int_list(const std::string& text) {
  std::vector<int> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t comma = text.find(',', pos);
    if (comma == std::string::npos) comma = text.size();
    out.push_back(std::stoi(text.substr(pos, comma - pos)));
    pos = comma + 1;
  }
  return out;
}

int main(int argc, char** argv) {
  CLI::App app{"nasforge benchmark harness (JSON on stdout)"};
  app.require_subcommand(1);

  std::string strategy = "name: tpe";
  std::string label = "tpe";
  std::string storage = "memory";
  std::string dir = fs::temp_directory_path().string();
  int trials = 1000;
  std::uint64_t seed = 0;
  CLI::App* overhead = app.add_subcommand("overhead", "per-trial time of ask + branin + tell");
  overhead->add_option("--strategy", strategy, "strategy section as YAML text");
  overhead->add_option("--label", label, "name of this strategy variant in the report");
  overhead->add_option("--storage", storage, "memory or sqlite");
  overhead->add_option("--trials", trials, "number of trials");
  overhead->add_option("--dir", dir, "folder for the SQLite file");
  overhead->add_option("--seed", seed, "study seed");

  std::string problem = "branin";
  std::string seeds_text = "0,1,2,3,4,5,6,7,8,9";
  std::string checkpoints_text = "100,200";
  std::string table = "data/benchmarks/nasbench201/cifar10_valid.csv.gz";
  int quality_trials = 200;
  CLI::App* quality = app.add_subcommand("quality", "best value found after k trials, per seed");
  quality->add_option("--problem", problem, "branin, hartmann6 or nb201");
  quality->add_option("--strategy", strategy, "strategy section as YAML text");
  quality->add_option("--label", label, "name of this strategy variant in the report");
  quality->add_option("--seeds", seeds_text, "comma-separated seeds");
  quality->add_option("--trials", quality_trials, "trials per run");
  quality->add_option("--checkpoints", checkpoints_text, "comma-separated trial counts to report");
  quality->add_option("--table", table, "NAS-Bench-201 CIFAR-10 table");

  CLI::App* trace = app.add_subcommand("trace", "every trial's value, table mean and time, per seed");
  trace->add_option("--problem", problem, "branin, hartmann6, nb201 or hpolib");
  trace->add_option("--strategy", strategy, "strategy section as YAML text");
  trace->add_option("--label", label, "name of this strategy variant in the report");
  trace->add_option("--seeds", seeds_text, "comma-separated seeds");
  trace->add_option("--trials", quality_trials, "trials per run");
  trace->add_option("--table", table, "the NAS-Bench-201 or HPOLib table (nb201, hpolib)");

  CLI11_PARSE(app, argc, argv);
  try {
    Json out;
    if (*overhead) {
      out = run_overhead(label, strategy, storage, trials, dir, seed);
    } else if (*trace) {
      out = run_trace(label, problem, strategy, parse_int_list(seeds_text), quality_trials, table);
    } else {
      out = run_quality(label, problem, strategy, parse_int_list(seeds_text), quality_trials,
                        parse_int_list(checkpoints_text), table);
    }
    std::cout << out.dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nasforge_bench: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace nasforge::bench

int main(int argc, char** argv) { return nasforge::bench::main(argc, argv); }
