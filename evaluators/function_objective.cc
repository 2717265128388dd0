#include <chrono>
#include <cmath>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/registry.h"
#include "evaluators/test_functions.h"

namespace nasforge {

namespace {

constexpr char kNoisyPrefix[] = "noisy_";

struct FunctionOptions {
  const TestFunction* function = nullptr;
  std::string name;  // as configured, with any noisy_ prefix
  std::size_t dim = 2;
  bool noisy = false;
  double noise_std = 0.1;
  int steps = 0;
  int sleep_ms = 0;
};

// Sleeps in short slices so that Ctrl-C is honoured while a test simulates a slow trial.
void interruptible_sleep(TrialContext& trial, int ms) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (true) {
    if (trial.stop_requested()) throw Interrupted("trial " + std::to_string(trial.number()) + " interrupted");
    auto now = std::chrono::steady_clock::now();
    if (now >= until) return;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(10)));
  }
}

// Gaussian noise that depends only on the trial seed; Box-Muller keeps it identical across standard libraries.
double gaussian_noise(std::uint64_t seed, double std_dev) {
  std::mt19937_64 gen(seed ^ 0x6e6f697379ULL);  // "noisy": decorrelates from other users of the trial seed
  double u1 = (static_cast<double>(gen() >> 11) + 0.5) * 0x1.0p-53;
  double u2 = (static_cast<double>(gen() >> 11) + 0.5) * 0x1.0p-53;
  return std_dev * std::sqrt(-2 * std::log(u1)) * std::cos(2 * 3.14159265358979323846 * u2);
}

class FunctionObjective : public Objective {
 public:
  explicit FunctionObjective(FunctionOptions options) : options_(std::move(options)) {}

  std::vector<double> evaluate(TrialContext& trial) override {
    std::vector<double> x(options_.dim);
    for (std::size_t i = 0; i < options_.dim; ++i) {
      std::string name = "x" + std::to_string(i);
      try {
        x[i] = trial.param(name).as_double();
      } catch (const ValueError& e) {
        throw ObjectiveError("function " + options_.name + ": parameter '" + name + "': " + e.what());
      }
    }
    double value = options_.function->evaluate(x);
    if (options_.noisy) value += gaussian_noise(trial.seed(), options_.noise_std);

    if (options_.steps == 0 && options_.sleep_ms > 0) interruptible_sleep(trial, options_.sleep_ms);
    // A learning-curve stand-in: decreasing, ending exactly at the value, and ordered like the final values
    // (scale 1 + |value| keeps a better final value better at every step), so pruners behave sensibly.
    for (int step = 0; step < options_.steps; ++step) {
      if (options_.sleep_ms > 0) interruptible_sleep(trial, options_.sleep_ms);
      double remaining = static_cast<double>(options_.steps - 1 - step) / options_.steps;
      trial.report(value + remaining * (1 + std::abs(value)), step);
      if (trial.should_prune())
        throw TrialPruned("trial " + std::to_string(trial.number()) + " pruned at step " + std::to_string(step));
    }
    return {value};
  }

 private:
  FunctionOptions options_;
};

}  // namespace

std::unique_ptr<Objective> make_function_objective(SectionReader& options, const SearchSpace& space,
                                                   std::size_t n_objectives, const std::string& base_dir) {
  FunctionOptions o;
  std::vector<std::string> names;
  for (const auto& f : test_functions()) names.push_back(f.name);
  for (const auto& f : test_functions()) names.push_back(kNoisyPrefix + f.name);
  o.name = options.text("name", std::nullopt, "test function: " + join(names, ", "));
  std::size_t index = lookup_name(options.node().get("name"), o.name, names, "function");
  o.noisy = index >= test_functions().size();
  o.function = &test_functions()[index % test_functions().size()];

  std::optional<std::int64_t> dim =
      options.optional_integer("dim", "number of coordinates for rosenbrock and ackley (default 2, at least 2)");
  if (o.function->fixed_dim) {
    options.require(!dim || static_cast<std::size_t>(*dim) == *o.function->fixed_dim, "dim",
                    "function " + o.name + " has a fixed dimension of " + std::to_string(*o.function->fixed_dim) +
                        ", got " + std::to_string(dim.value_or(0)) + "; remove dim:");
    o.dim = *o.function->fixed_dim;
  } else {
    options.require(!dim || *dim >= 2, "dim", "must be at least 2, got " + std::to_string(dim.value_or(0)));
    o.dim = static_cast<std::size_t>(dim.value_or(2));
  }
  o.noise_std = options.number("noise_std", 0.1, "standard deviation of the Gaussian noise of the noisy_ variants");
  options.require(std::isfinite(o.noise_std) && o.noise_std >= 0, "noise_std",
                  "must be a finite number >= 0, got " + format_double(o.noise_std));
  options.require(o.noisy || !options.node().get("noise_std").defined(), "noise_std",
                  "only applies to the noisy_ variants; use name: noisy_" + o.name);
  std::int64_t steps =
      options.integer("steps", 0, "report this many decreasing intermediate values ending at the result (0 = none)");
  options.require(steps >= 0 && steps <= 1000000, "steps", "must be in [0, 1000000], got " + std::to_string(steps));
  o.steps = static_cast<int>(steps);
  std::int64_t sleep_ms = options.integer("sleep_ms", 0, "milliseconds to sleep per step (or once when steps is 0)");
  options.require(sleep_ms >= 0 && sleep_ms <= 86400000, "sleep_ms",
                  "must be in [0, 86400000], got " + std::to_string(sleep_ms));
  o.sleep_ms = static_cast<int>(sleep_ms);

  options.require(
      n_objectives == 1, "name",
      "function " + o.name + " returns 1 value but the study has " + std::to_string(n_objectives) + " directions");

  std::vector<std::string> expected, missing;
  for (std::size_t i = 0; i < o.dim; ++i) {
    std::string name = "x" + std::to_string(i);
    expected.push_back(name);
    if (!space.find(name)) missing.push_back(name);
  }
  if (!missing.empty()) {
    std::string has = space.empty() ? "no parameters" : join(space.names(), ", ");
    options.node().get("name").fail("function " + o.name + " needs parameters " + join(expected, ", ") +
                                    " in the space (" + o.function->domain + "); missing: " + join(missing, ", ") +
                                    "; the space has: " + has);
  }
  for (const auto& name : expected) {
    // An inactive parameter is not passed to the objective, so every trial where it is inactive would fail.
    const ParamSpec& spec = space.at(name);
    if (!spec.when.empty()) {
      options.node().get("name").fail("function " + o.name + " needs '" + name + "' in every trial, but it is " +
                                      "conditional (when: at " + spec.location.to_string() + "); remove its when:");
    }
    const Distribution& d = spec.distribution;
    bool numeric = d.kind() != DistributionKind::kCategorical;
    if (!numeric) {
      numeric = true;
      for (const auto& c : d.choices()) numeric = numeric && c.is_number();
    }
    if (!numeric) {
      options.node().get("name").fail("function " + o.name + " needs numeric parameters, but '" + name + "' is " +
                                      d.describe());
    }
  }
  return std::make_unique<FunctionObjective>(std::move(o));
}

}  // namespace nasforge
