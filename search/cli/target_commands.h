#pragma once

#include <optional>
#include <string>
#include <vector>

#include "search/cli/common_args.h"

namespace nasforge {

/// The options of the commands that price networks of a study file's architecture space on a target.
struct TargetArgs {
  std::string target;                  ///< --target: a shipped profile name or a profile file.
  std::string study_file;              ///< --study-file: the study whose architecture space the genotypes are in.
  std::string input;                   ///< --input CxHxW ("" = from the study's train dataset).
  std::optional<int> classes;          ///< --classes ("" = from the study's train dataset).
  std::string genotypes;               ///< predict --genotypes FILE or "-" (stdin); "" = --random networks.
  int random = 10;                     ///< predict: random networks when no --genotypes.
  std::uint64_t seed = 0;              ///< Seed of the random networks.
  std::string measured;                ///< calibrate --measured M.csv (genotype,latency_ms[,latency_ms_int8]).
  std::string out;                     ///< calibrate / profile --out NEW.yaml.
  std::string name;                    ///< calibrate / profile --name of the new profile ("" = from --out).
  int networks = 60;                   ///< profile --networks: random networks timed.
  int threads = 1;                     ///< profile --threads: torch threads.
  int runs = 20;                       ///< profile --runs: timed passes per network (median).
  bool force = false;                  ///< Overwrite --out.
};

/// The options of `nasforge best --target`.
struct BestTargetArgs {
  std::string target;                      ///< --target: shipped name or profile file.
  std::optional<double> max_latency_ms;    ///< --max-latency-ms.
  std::optional<double> max_flash_kb;      ///< --max-flash-kb (1 KB = 1024 bytes).
  std::optional<double> max_sram_kb;       ///< --max-sram-kb.
  std::string variant = "any";             ///< --variant NAME, "fp32" (the float network) or "any".
};

/// `nasforge best --target`: prices every (trial, variant) of a study on a target from its stored deployment, ranks
/// the feasible ones by accuracy, prints their accuracy-vs-latency Pareto front, or the nearest miss.
int cmd_best_target(const CommonArgs& args, const BestTargetArgs& b, int top, const std::vector<std::string>& where);

/// `nasforge targets`: the shipped device profiles, one row each.
int cmd_targets(const CommonArgs& args);

/// `nasforge target predict`: latency, flash, SRAM and fit of genotypes on a target, fp32 and int8.
int cmd_target_predict(const CommonArgs& args, const TargetArgs& t);

/// `nasforge target calibrate`: fits a profile to measured latencies and writes it; prints leave-one-out quality.
int cmd_target_calibrate(const CommonArgs& args, const TargetArgs& t);

/// `nasforge profile`: times random networks of the study's space on this machine, fits a profile on part of them
/// and writes it with its quality on the others.
int cmd_profile(const CommonArgs& args, const TargetArgs& t);

}  // namespace nasforge
