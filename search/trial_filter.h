#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/json.h"
#include "spaces/trial.h"

namespace nasforge {

/// The value a trial has under `key`: "number", "value" (the single objective), "values[i]", a parameter name,
/// a user attribute (e.g. macs, latency_ms, genotype) or a system attribute, looked up in that order. nullopt
/// when the trial has none.
std::optional<Json> trial_field(const FrozenTrial& trial, const std::string& key);

/// Every key trial_field() can answer for `trial`, sorted (for "available keys" messages).
std::vector<std::string> trial_field_names(const FrozenTrial& trial);

/// One `--where` condition such as "macs<5e6", "latency_ms<=2", "s1.b0.op==mbconv" or "genotype!=skip".
class TrialFilter {
 public:
  /// Parses `expr` (KEY OP VALUE with OP one of < <= > >= == !=); UsageError quoting the expression otherwise.
  static TrialFilter parse(const std::string& expr);
  /// Whether `trial` has the key and satisfies the comparison (numbers compare numerically, text as text;
  /// < and > need numbers on both sides).
  bool matches(const FrozenTrial& trial) const;
  /// The key this filter reads.
  const std::string& key() const { return key_; }

 private:
  std::string expr_, key_, op_, rhs_;
  std::optional<double> number_;
};

/// How `best` orders trials: by `key`, ascending unless `descending`.
struct TrialOrder {
  std::string key;          ///< A trial_field key.
  bool descending = false;  ///< Largest first.
  /// Parses "KEY", "KEY:asc" or "KEY:desc"; UsageError otherwise.
  static TrialOrder parse(const std::string& text);
};

/// The trials of `trials` that satisfy every filter. UsageError when a filter's key exists in none of
/// `trials` (a typo), listing the keys that do.
std::vector<FrozenTrial> filter_trials(const std::vector<FrozenTrial>& trials, const std::vector<TrialFilter>& filters);

/// Stable sort by `order` (numbers numerically, then text; trials lacking the key last). UsageError when no
/// trial has the key.
void sort_trials(std::vector<FrozenTrial>& trials, const TrialOrder& order);

}  // namespace nasforge
