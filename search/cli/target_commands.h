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
