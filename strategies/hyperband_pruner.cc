#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/strings.h"
#include "strategies/pruners.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const IntKey kMinResource{"min_resource", Range::closed(1),
                          "steps before the first rung of the most aggressive bracket"};

// CRC-32 (IEEE, as zlib and Python's binascii.crc32), bitwise: it runs once per trial and bracket lookup.
std::uint32_t crc32(const std::string& text) {
  std::uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : text) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return crc ^ 0xFFFFFFFFu;
}

}  // namespace

HyperbandPruner::HyperbandPruner(const HyperbandOptions& options) : options_(options) {
  kMinResource.check(options.min_resource);
  kReductionFactor.check(options.reduction_factor);
  kBootstrapCount.check(options.bootstrap_count);
  if (options.max_resource) {
    check(*options.max_resource >= options.min_resource,
          "max_resource must be 'auto' or an integer >= min_resource (" + std::to_string(options.min_resource) +
              "), got " + std::to_string(*options.max_resource));
  }
  check(options.bootstrap_count == 0 || options.max_resource,
        "bootstrap_count > 0 (got " + std::to_string(options.bootstrap_count) + ") needs an integer max_resource, "
        "not 'auto'");
}

bool HyperbandPruner::initialize(const std::vector<FrozenTrial>& trials) {
  if (!brackets_.empty()) return true;
  std::int64_t max_resource;
  if (options_.max_resource) {
    max_resource = *options_.max_resource;
  } else {
    std::optional<int> longest;
    for (const auto& t : trials) {
      if (t.state != TrialState::kComplete) continue;
      if (auto s = t.last_step(); s && (!longest || *s > *longest)) longest = s;
    }
    if (!longest) return false;
    max_resource = static_cast<std::int64_t>(*longest) + 1;
  }
  // Optuna's float formula, kept as is so that bracket counts match it exactly (floor(log_rf(max / min)) + 1).
  double ratio = static_cast<double>(max_resource) / static_cast<double>(options_.min_resource);
  int n = static_cast<int>(std::floor(std::log(ratio) / std::log(static_cast<double>(options_.reduction_factor)))) + 1;
  // An estimated max_resource below min_resource would leave no bracket at all; one bracket still prunes.
  n = std::max(n, 1);
  for (int b = 0; b < n; ++b) {
    int s = n - 1 - b;
    double budget = static_cast<double>(n) * std::pow(static_cast<double>(options_.reduction_factor), s) / (s + 1);
    budgets_.push_back(static_cast<std::int64_t>(std::ceil(budget)));
    total_budget_ += budgets_.back();
    SuccessiveHalvingOptions sh;
    sh.min_resource = options_.min_resource;
    sh.reduction_factor = options_.reduction_factor;
    sh.min_early_stopping_rate = b;
    sh.bootstrap_count = options_.bootstrap_count;
    brackets_.emplace_back(sh);
  }
  return true;
}

int HyperbandPruner::bracket_of(int number) const {
  if (brackets_.empty()) return 0;
  auto n = static_cast<std::int64_t>(crc32(std::to_string(number)) % static_cast<std::uint64_t>(total_budget_));
  for (std::size_t b = 0; b < budgets_.size(); ++b) {
    n -= budgets_[b];
    if (n < 0) return static_cast<int>(b);
  }
  return static_cast<int>(budgets_.size()) - 1;  // unreachable: the budgets sum to total_budget_
}

bool HyperbandPruner::prune(const FrozenTrial& trial, const std::vector<FrozenTrial>& trials,
                            StudyDirection direction) {
  if (!initialize(trials)) return false;
  int bracket = bracket_of(trial.number);
  std::vector<FrozenTrial> same_bracket;
  for (const auto& t : trials) {
    if (bracket_of(t.number) == bracket) same_bracket.push_back(t);
  }
  return brackets_[static_cast<std::size_t>(bracket)].prune(trial, same_bracket, direction);
}

std::unique_ptr<Pruner> make_hyperband_pruner(SectionReader& options) {
  HyperbandOptions o;
  o.min_resource = options.integer(kMinResource, 1);
  // At least min_resource, so this key's range is only known now.
  o.max_resource = read_auto_resource(
      options, IntKey{"max_resource", Range::closed(static_cast<double>(o.min_resource)),
                      "largest step + 1 a trial reaches: an integer, or 'auto' (from the first finished trial)"});
  read_halving_rates(options, 3, "max_resource", o.max_resource.has_value(), o.reduction_factor, o.bootstrap_count);
  return std::make_unique<HyperbandPruner>(o);
}

}  // namespace nasforge
