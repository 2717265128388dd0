#include "strategies/gp_sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "strategies/gaussian_process.h"
#include "strategies/registry.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kInactiveNumber = 0.5;
// Trials whose points start the local search besides the best random candidates.
constexpr std::size_t kBestTrialStarts = 5;
// A complete multi-start hyperparameter fit every this many fits; the others only refine the previous optimum,
// which keeps a proposal well under a second with a few hundred trials.
constexpr int kFullFitEvery = 10;

// The caps keep the values inside the int fields of GpSamplerOptions.
const IntKey kNStartupTrials{"n_startup_trials", Range::closed(0, 1e9), "random trials before the GP starts modelling"};
const IntKey kNCandidates{"n_candidates", Range::closed(1, 1e6),
                          "random points scored by log expected improvement per proposal"};

// Standard normal draw from the platform-independent uniform01 (Box-Muller).
double normal01(std::mt19937_64& rng) {
  double u1 = 1.0 - uniform01(rng);  // (0, 1]
  double u2 = uniform01(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

}  // namespace

GpEncoding::GpEncoding(const SearchSpace& space) : space_(space) {
  for (const ParamSpec& spec : space.params()) {
    const Distribution& dist = spec.distribution;
    Slot slot;
    slot.offset = dims_;
    if (dist.single()) {
      slot.width = 0;
      slot.categorical = dist.kind() == DistributionKind::kCategorical;
    } else if (dist.kind() == DistributionKind::kCategorical) {
      slot.categorical = true;
      slot.width = dist.choices().size();
    } else {
      slot.width = 1;
      slot.log = dist.log();
      double half = dist.step() ? 0.5 * *dist.step() : 0.0;
      // Widened by half a step like the random sampler's draws; log int domains (low >= 1) stay positive.
      double lo = dist.low() - half, hi = dist.high() + half;
      slot.lo = slot.log ? std::log(lo) : lo;
      slot.hi = slot.log ? std::log(hi) : hi;
    }
    dims_ += slot.width;
    slots_.push_back(slot);
  }
}

Eigen::VectorXd GpEncoding::encode_internal(const std::vector<std::optional<double>>& internal) const {
  Eigen::VectorXd u = Eigen::VectorXd::Zero(static_cast<Eigen::Index>(dims_));
  for (std::size_t p = 0; p < slots_.size(); ++p) {
    const Slot& s = slots_[p];
    if (s.width == 0) continue;
    auto at = static_cast<Eigen::Index>(s.offset);
    if (s.categorical) {
      if (internal[p]) u[at + static_cast<Eigen::Index>(*internal[p])] = 1.0;
    } else if (internal[p]) {
      double t = s.log ? std::log(*internal[p]) : *internal[p];
      u[at] = std::min(1.0, std::max(0.0, (t - s.lo) / (s.hi - s.lo)));
    } else {
      u[at] = kInactiveNumber;
    }
  }
  return u;
}

Eigen::VectorXd GpEncoding::encode(const FrozenTrial& trial) const {
  const auto& specs = space_.params();
  std::vector<std::optional<double>> internal(specs.size());
  for (std::size_t p = 0; p < specs.size(); ++p) {
    internal[p] = trial_internal(trial, specs[p].name, specs[p].distribution);
  }
  return encode_internal(internal);
}

Eigen::VectorXd GpEncoding::encode(const ParamMap& params) const {
  const auto& specs = space_.params();
  std::vector<std::optional<double>> internal(specs.size());
  for (std::size_t p = 0; p < specs.size(); ++p) {
    auto it = params.find(specs[p].name);
    if (it == params.end()) continue;
    try {
      internal[p] = specs[p].distribution.to_internal(it->second);
    } catch (const ValueError&) {
      // A fixed value outside the domain is kept by decode but cannot be placed; treat it as absent.
    }
  }
  return encode_internal(internal);
}

ParamMap GpEncoding::decode(const Eigen::VectorXd& u, const ParamMap& fixed) const {
  check(static_cast<std::size_t>(u.size()) == dims_,
        "a point of this space has " + std::to_string(dims_) + " coordinates, got " + std::to_string(u.size()));
  ParamMap out = fixed;
  const auto& specs = space_.params();
  for (std::size_t p = 0; p < specs.size(); ++p) {
    const ParamSpec& spec = specs[p];
    if (fixed.count(spec.name) || !space_.is_active(spec, out)) continue;
    const Distribution& dist = spec.distribution;
    const Slot& s = slots_[p];
    double v;
    if (s.width == 0) {
      v = s.categorical ? 0.0 : dist.low();
    } else if (s.categorical) {
      Eigen::Index best;
      u.segment(static_cast<Eigen::Index>(s.offset), static_cast<Eigen::Index>(s.width)).maxCoeff(&best);
      v = static_cast<double>(best);
    } else {
      double t = s.lo + std::min(1.0, std::max(0.0, u[static_cast<Eigen::Index>(s.offset)])) * (s.hi - s.lo);
      v = s.log ? std::exp(t) : t;
    }
    // to_external rounds onto int and step grids and clamps to the bounds.
    out[spec.name] = dist.to_external(v);
  }
  return out;
}

GpSampler::GpSampler(GpSamplerOptions options, std::size_t n_objectives)
    : options_(options), rng_(options.seed), random_(derive_seed(options.seed, 1)) {
  if (n_objectives != 1) {
    throw ValueError("the gp strategy handles exactly one objective, the study has " + std::to_string(n_objectives) +
                     "; use tpe or random for several objectives");
  }
  kNStartupTrials.check(options_.n_startup_trials);
  kNCandidates.check(options_.n_candidates);
  check(options_.n_local_starts >= 0, "n_local_starts must be >= 0, got " + std::to_string(options_.n_local_starts));
  check(options_.n_local_steps >= 0, "n_local_steps must be >= 0, got " + std::to_string(options_.n_local_steps));
}

ParamMap GpSampler::sample(const SampleContext& ctx) {
  if (ctx.directions.size() != 1) {
    throw ValueError("the gp strategy handles exactly one objective, the study has " +
                     std::to_string(ctx.directions.size()));
  }
  const double sign = ctx.directions[0] == StudyDirection::kMinimize ? 1.0 : -1.0;
  // Observations: COMPLETE trials only. PRUNED trials' last reports are not comparable to final values, and FAIL
  // trials have none; non-finite values count as the worst finite one.
  std::vector<const FrozenTrial*> done, running;
  std::vector<double> losses;
  double worst = -kInf;
  for (const auto& trial : ctx.trials) {
    if (trial.state == TrialState::kComplete && trial.values.size() == 1) {
      done.push_back(&trial);
      losses.push_back(sign * trial.values[0]);
      if (std::isfinite(losses.back())) worst = std::max(worst, losses.back());
    } else if (trial.state == TrialState::kRunning && !trial.params.empty() &&
               options_.constant_liar != GpLiar::kNone) {
      running.push_back(&trial);
    }
  }
  GpEncoding encoding(ctx.space);
  const auto n = static_cast<Eigen::Index>(done.size());
  const auto dims = static_cast<Eigen::Index>(encoding.dims());
  if (n == 0 || n < options_.n_startup_trials || dims == 0 || !std::isfinite(worst)) return random_.sample(ctx);

  Eigen::MatrixXd x(n, dims);
  Eigen::VectorXd y(n);
  for (Eigen::Index i = 0; i < n; ++i) {
    x.row(i) = encoding.encode(*done[static_cast<std::size_t>(i)]).transpose();
    double l = losses[static_cast<std::size_t>(i)];
    y[i] = std::isfinite(l) ? l : worst;
  }
  double mean = y.mean();
  double sd = std::sqrt((y.array() - mean).square().mean());
  if (!(sd > 1e-12)) sd = 1.0;
  y = (y.array() - mean) / sd;

  // Hyperparameters from real observations only, so that lies cannot distort length scales or noise.
  GpFitOptions fit;
  bool full = n_fits_ % kFullFitEvery == 0 || last_theta_.size() != dims + 2;
  fit.n_random_starts = full ? (n <= 100 ? 2 : 1) : 0;
  fit.default_start = full;
  fit.max_iterations = full ? 50 : 25;
  GpHyperparams hp = fit_gp_hyperparams(x, y, rng_, fit, &last_theta_);
  last_theta_ = hp.to_log();
  ++n_fits_;

  const double best = y.minCoeff();
  std::unique_ptr<GaussianProcess> gp = std::make_unique<GaussianProcess>(x, y, hp);
  if (!running.empty()) {
    const auto m = static_cast<Eigen::Index>(running.size());
    Eigen::MatrixXd xr(m, dims);
    for (Eigen::Index i = 0; i < m; ++i) xr.row(i) = encoding.encode(*running[static_cast<std::size_t>(i)]).transpose();
    Eigen::VectorXd lies(m);
    switch (options_.constant_liar) {
      case GpLiar::kBest:
        lies.setConstant(best);
        break;
      case GpLiar::kMean:
        lies.setConstant(0.0);  // the mean of standardized values
        break;
      case GpLiar::kWorst:
        lies.setConstant(y.maxCoeff());
        break;
      case GpLiar::kBeliever:
      default: {
        Eigen::VectorXd var;
        gp->predict(xr, lies, var);
        break;
      }
    }
    Eigen::MatrixXd xa(n + m, dims);
    xa << x, xr;
    Eigen::VectorXd ya(n + m);
    ya << y, lies;
    gp = std::make_unique<GaussianProcess>(std::move(xa), ya, hp);
  }

  // Every point is scored where it decodes to, so the acquisition never rewards an unreachable in-between point.
  auto project = [&](const Eigen::VectorXd& u) { return encoding.encode(encoding.decode(u, ctx.fixed)); };
  auto score = [&](const Eigen::MatrixXd& pts) {
    Eigen::VectorXd mu, var;
    gp->predict(pts, mu, var);
    Eigen::VectorXd s(pts.rows());
    for (Eigen::Index i = 0; i < pts.rows(); ++i) s[i] = log_expected_improvement(mu[i], var[i], best);
    return s;
  };

  // Candidates: uniform random points, then the best trials' points (with ctx.fixed applied).
  std::vector<std::size_t> order(done.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return y[static_cast<Eigen::Index>(a)] < y[static_cast<Eigen::Index>(b)];
  });
  const std::size_t n_best = std::min(kBestTrialStarts, order.size());
  const auto n_cand = static_cast<Eigen::Index>(options_.n_candidates + n_best);
  Eigen::MatrixXd cand(n_cand, dims);
  Eigen::VectorXd u(dims);
  for (Eigen::Index c = 0; c < options_.n_candidates; ++c) {
    for (Eigen::Index k = 0; k < dims; ++k) u[k] = uniform01(rng_);
    cand.row(c) = project(u).transpose();
  }
  for (std::size_t b = 0; b < n_best; ++b) {
    cand.row(options_.n_candidates + static_cast<Eigen::Index>(b)) =
        project(x.row(static_cast<Eigen::Index>(order[b])).transpose()).transpose();
  }
  Eigen::VectorXd scores = score(cand);
  std::vector<Eigen::Index> ranked(static_cast<std::size_t>(n_cand));
  std::iota(ranked.begin(), ranked.end(), Eigen::Index{0});
  std::stable_sort(ranked.begin(), ranked.end(), [&](Eigen::Index a, Eigen::Index b) { return scores[a] > scores[b]; });

  // Local search: a (1+1) evolution strategy with the 1/5 success rule from each of the best distinct candidates.
  // Numeric coordinates move by Gaussian steps; categoricals jump to a random choice now and then.
  const auto& specs = ctx.space.params();
  std::vector<std::size_t> free_params;
  bool any_numeric = false;
  for (std::size_t p = 0; p < specs.size(); ++p) {
    if (encoding.coordinates(p).second == 0 || ctx.fixed.count(specs[p].name)) continue;
    free_params.push_back(p);
    any_numeric = any_numeric || !encoding.is_categorical(p);
  }
  Eigen::VectorXd best_u = cand.row(ranked[0]).transpose();
  double best_score = scores[ranked[0]];
  std::vector<Eigen::VectorXd> starts;
  for (Eigen::Index idx : ranked) {
    if (static_cast<int>(starts.size()) >= options_.n_local_starts) break;
    Eigen::VectorXd c = cand.row(idx).transpose();
    bool duplicate = false;
    for (const auto& s : starts) duplicate = duplicate || (s - c).squaredNorm() < 1e-18;
    if (!duplicate) starts.push_back(std::move(c));
  }
  const double mutate_p = free_params.empty() ? 0.0 : 1.0 / static_cast<double>(free_params.size());
  Eigen::MatrixXd one(1, dims);
  for (const auto& start : starts) {
    if (free_params.empty()) break;
    Eigen::VectorXd cur = start;
    one.row(0) = cur.transpose();
    double cur_score = score(one)[0];
    double sigma = 0.1;
    for (int step = 0; step < options_.n_local_steps && sigma > 1e-4; ++step) {
      Eigen::VectorXd next = cur;
      bool changed = false;
      for (std::size_t p : free_params) {
        auto [offset, width] = encoding.coordinates(p);
        auto at = static_cast<Eigen::Index>(offset);
        if (!encoding.is_categorical(p)) {
          next[at] = std::min(1.0, std::max(0.0, next[at] + sigma * normal01(rng_)));
          changed = true;
        } else if (uniform01(rng_) < mutate_p || (!any_numeric && !changed && p == free_params.back())) {
          next.segment(at, static_cast<Eigen::Index>(width)).setZero();
          next[at + static_cast<Eigen::Index>(uniform_index(rng_, width))] = 1.0;
          changed = true;
        }
      }
      next = project(next);
      one.row(0) = next.transpose();
      double s = score(one)[0];
      if (s > cur_score) {
        cur = std::move(next);
        cur_score = s;
        sigma = std::min(0.5, sigma * 2.0);
      } else {
        sigma *= 0.84;
      }
    }
    if (cur_score > best_score) {
      best_score = cur_score;
      best_u = cur;
    }
  }
  return encoding.decode(best_u, ctx.fixed);
}

std::unique_ptr<Sampler> make_gp_sampler(SectionReader& options, const SearchSpace&, std::uint64_t seed,
                                         const StrategyEnv& env) {
  GpSamplerOptions o;
  o.seed = seed;
  o.n_startup_trials = static_cast<int>(options.integer(kNStartupTrials, 10));
  o.n_candidates = static_cast<int>(options.integer(kNCandidates, 1000));
  std::string liar = options.text("constant_liar", std::string("best"),
                                  "value assumed for RUNNING trials: best, mean or worst value so far, believer (the "
                                  "GP's prediction) or none",
                                  {"best", "mean", "worst", "believer", "none"});
  o.constant_liar = liar == "mean"       ? GpLiar::kMean
                    : liar == "worst"    ? GpLiar::kWorst
                    : liar == "believer" ? GpLiar::kBeliever
                    : liar == "none"     ? GpLiar::kNone
                                         : GpLiar::kBest;
  return std::make_unique<GpSampler>(o, env.n_objectives);
}

}  // namespace nasforge
