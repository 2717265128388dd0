#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <zlib.h>

#include "core/config.h"
#include "evaluators/objective.h"
#include "spaces/search_space.h"
#include "spaces/trial.h"

namespace nasforge::testing {

/// A TrialContext that records what the objective does and prunes or stops on request.
class FakeTrial : public TrialContext {
 public:
  /// A trial with these parameters, seed and number.
  explicit FakeTrial(ParamMap params, std::uint64_t seed = 1, int number = 0)
      : params_(std::move(params)), seed_(seed), number_(number) {}

  int number() const override { return number_; }
  const ParamMap& params() const override { return params_; }
  std::uint64_t seed() const override { return seed_; }
  void report(double value, int step) override {
    reports.emplace_back(step, value);
    if (stop_after_reports && reports.size() >= *stop_after_reports) stop = true;
  }
  bool should_prune() override {
    ++prune_checks;
    return prune_after_reports && reports.size() >= *prune_after_reports;
  }
  void set_user_attr(const std::string& key, const Json& value) override { attrs[key] = value; }
  bool stop_requested() const override { return stop; }
  std::string artifact_dir() const override { return artifacts; }
  void progress(const std::string& message) override { messages.push_back(message); }

  std::vector<std::pair<int, double>> reports;     ///< (step, value) in the order reported.
  std::map<std::string, Json> attrs;               ///< User attributes set by the objective.
  int prune_checks = 0;                            ///< How often should_prune() was asked.
  std::optional<std::size_t> prune_after_reports;  ///< should_prune() answers true once this many were reported.
  std::optional<std::size_t> stop_after_reports;   ///< stop_requested() turns true once this many were reported.
  std::atomic<bool> stop{false};                   ///< What stop_requested() answers.
  std::string artifacts;                           ///< What artifact_dir() answers ("" = keep no files).
  std::vector<std::string> messages;               ///< Progress messages, in order.

 private:
  ParamMap params_;
  std::uint64_t seed_;
  int number_;
};

/// Parses a `space:` mapping written as YAML text.
/// Writes `text` gzip-compressed to `path` (tables in the tests are small, made on the fly).
inline std::string write_gz_file(const std::string& path, const std::string& text) {
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  EXPECT_EQ(gzwrite(f, text.data(), static_cast<unsigned>(text.size())), static_cast<int>(text.size()));
  EXPECT_EQ(gzclose(f), Z_OK);
  return path;
}

inline SearchSpace parse_space(const std::string& yaml) {
  return SearchSpace::from_config(ConfigNode::parse_string(yaml, "space.yaml"));
}

/// Builds an objective through the public registry from YAML text, as a study file would.
inline std::unique_ptr<Objective> build_objective(const std::string& objective_yaml, const SearchSpace& space,
                                                  std::size_t n_objectives = 1, const std::string& base_dir = ".") {
  return make_objective(ConfigNode::parse_string(objective_yaml, "study.yaml"), space, n_objectives, base_dir);
}

}  // namespace nasforge::testing
