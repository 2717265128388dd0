// Calibration of a target profile to measured networks. The latency model is linear in its coefficients
// (per kernel type: overhead and 1/efficiency; one 1/bandwidth), so fitting is a small regularized least-squares
// problem with bounds, solved exactly rather than by gradient descent: a few dozen samples and 17 unknowns.

#include "evaluators/cost/calibration.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

constexpr std::size_t kTypes = kKernelTypeCount;
constexpr std::size_t kUnknowns = 2 * kTypes + 2;  // overheads, 1/efficiencies, 1/bandwidth, invoke overhead

// Features f with predicted us = f . x, x = [overhead_us per type, 1/efficiency per type, 1/bandwidth_gbs,
// invoke_overhead_us].
Eigen::VectorXd features(const LatencySample& s, const TargetProfile& base) {
  Eigen::VectorXd f = Eigen::VectorXd::Zero(kUnknowns);
  f[static_cast<Eigen::Index>(2 * kTypes + 1)] = 1;
  const double macs_per_us = base.gmacs(s.dtype) * 1e3;
  const double bytes = element_bytes(s.dtype);
  for (const Kernel& k : s.kernels) {
    const auto t = static_cast<std::size_t>(k.type);
    f[static_cast<Eigen::Index>(t)] += 1;
    f[static_cast<Eigen::Index>(kTypes + t)] += static_cast<double>(k.macs) / macs_per_us;
    f[static_cast<Eigen::Index>(2 * kTypes)] += static_cast<double>(k.elements) * bytes / 1e3;
  }
  return f;
}

Eigen::VectorXd unknowns(const TargetProfile& p) {
  Eigen::VectorXd x(kUnknowns);
  for (std::size_t t = 0; t < kTypes; ++t) {
    x[static_cast<Eigen::Index>(t)] = p.kernels[t].overhead_us;
    x[static_cast<Eigen::Index>(kTypes + t)] = 1.0 / p.kernels[t].efficiency;
  }
  x[static_cast<Eigen::Index>(2 * kTypes)] = 1.0 / p.bandwidth_gbs;
  x[static_cast<Eigen::Index>(2 * kTypes + 1)] = p.invoke_overhead_us;
  return x;
}

// Bounds that keep every coefficient inside the profile's own key ranges.
double lower_bound(std::size_t j) { return j < kTypes || j == 2 * kTypes + 1 ? 0.0 : j < 2 * kTypes ? 0.01 : 1e-9; }
double upper_bound(std::size_t j) { return j < kTypes ? 1e9 : 1e9; }

struct Problem {
  Eigen::MatrixXd a;  // rows: features / measured (relative residuals)
  Eigen::VectorXd prior;
  Eigen::VectorXd scale;  // per unknown: how much a unit change moves the relative predictions
};

Problem make_problem(const TargetProfile& base, const std::vector<LatencySample>& samples,
                     const std::vector<std::size_t>& rows) {
  Problem p;
  p.a.resize(static_cast<Eigen::Index>(rows.size()), kUnknowns);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const LatencySample& s = samples[rows[r]];
    p.a.row(static_cast<Eigen::Index>(r)) = features(s, base).transpose() / (s.latency_ms * 1e3);
  }
  p.prior = unknowns(base);
  p.scale.resize(kUnknowns);
  for (Eigen::Index j = 0; j < static_cast<Eigen::Index>(kUnknowns); ++j) {
    double rms = rows.empty() ? 0 : std::sqrt(p.a.col(j).squaredNorm() / static_cast<double>(rows.size()));
    // An unknown no sample exercises stays at the prior (any positive pull does that).
    p.scale[j] = rms > 0 ? rms : 1e-6 / std::max(std::abs(p.prior[j]), 1e-9);
  }
  return p;
}

// min |A x - 1|^2 + ridge * |diag(scale) (x - prior)|^2 subject to the bounds, by an active set: solve on the
// free unknowns, clamp the worst violation to its bound, repeat.
Eigen::VectorXd solve(const Problem& p, double ridge) {
  const Eigen::Index n = static_cast<Eigen::Index>(kUnknowns);
  std::vector<bool> fixed(kUnknowns, false);
  Eigen::VectorXd x = p.prior;
  const Eigen::VectorXd ones = Eigen::VectorXd::Ones(p.a.rows());
  for (std::size_t iter = 0; iter <= kUnknowns; ++iter) {
    std::vector<Eigen::Index> free;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (!fixed[static_cast<std::size_t>(j)]) free.push_back(j);
    }
    if (free.empty()) break;
    const Eigen::Index m = static_cast<Eigen::Index>(free.size());
    Eigen::VectorXd rhs_target = ones;
    for (Eigen::Index j = 0; j < n; ++j) {
      if (fixed[static_cast<std::size_t>(j)]) rhs_target -= p.a.col(j) * x[j];
    }
    Eigen::MatrixXd af(p.a.rows(), m);
    Eigen::VectorXd reg(m), pri(m);
    for (Eigen::Index k = 0; k < m; ++k) {
      af.col(k) = p.a.col(free[static_cast<std::size_t>(k)]);
      reg[k] = ridge * p.scale[free[static_cast<std::size_t>(k)]] * p.scale[free[static_cast<std::size_t>(k)]];
      pri[k] = p.prior[free[static_cast<std::size_t>(k)]];
    }
    Eigen::MatrixXd normal = af.transpose() * af;
    normal.diagonal() += reg;
    Eigen::VectorXd rhs = af.transpose() * rhs_target + reg.cwiseProduct(pri);
    Eigen::VectorXd xf = normal.ldlt().solve(rhs);
    double worst = 0;
    Eigen::Index worst_j = -1;
    for (Eigen::Index k = 0; k < m; ++k) {
      const Eigen::Index j = free[static_cast<std::size_t>(k)];
      x[j] = xf[k];
      const double lo = lower_bound(static_cast<std::size_t>(j)), hi = upper_bound(static_cast<std::size_t>(j));
      const double v = x[j] < lo ? (lo - x[j]) / std::max(lo, 1e-12) : x[j] > hi ? (x[j] - hi) / hi : 0;
      if (v > worst || !std::isfinite(x[j])) {
        worst = std::isfinite(x[j]) ? v : INFINITY;
        worst_j = j;
      }
    }
    if (worst_j < 0) return x;
    const auto w = static_cast<std::size_t>(worst_j);
    x[worst_j] = std::isfinite(x[worst_j]) && x[worst_j] > upper_bound(w) ? upper_bound(w) : lower_bound(w);
    fixed[w] = true;
  }
  for (Eigen::Index j = 0; j < n; ++j) {
    x[j] = std::clamp(x[j], lower_bound(static_cast<std::size_t>(j)), upper_bound(static_cast<std::size_t>(j)));
  }
  return x;
}

TargetProfile with_unknowns(TargetProfile p, const Eigen::VectorXd& x) {
  for (std::size_t t = 0; t < kTypes; ++t) {
    p.kernels[t].overhead_us = x[static_cast<Eigen::Index>(t)];
    p.kernels[t].efficiency = std::min(100.0, 1.0 / x[static_cast<Eigen::Index>(kTypes + t)]);
  }
  p.bandwidth_gbs = 1.0 / x[static_cast<Eigen::Index>(2 * kTypes)];
  p.invoke_overhead_us = x[static_cast<Eigen::Index>(2 * kTypes + 1)];
  return p;
}

void check_samples(const std::vector<LatencySample>& samples) {
  if (samples.empty()) throw ValueError("calibration needs at least one measured network, got none");
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (!(samples[i].latency_ms > 0) || !std::isfinite(samples[i].latency_ms)) {
      throw ValueError("calibration: measured latency of sample " + std::to_string(i + 1) + " must be a positive number, got " +
                       format_double(samples[i].latency_ms));
    }
  }
}

std::vector<double> ranks(const std::vector<double>& v) {
  std::vector<std::size_t> order(v.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&v](std::size_t a, std::size_t b) { return v[a] < v[b]; });
  std::vector<double> r(v.size());
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j + 1 < order.size() && v[order[j + 1]] == v[order[i]]) ++j;
    const double avg = (static_cast<double>(i) + static_cast<double>(j)) / 2.0 + 1.0;
    for (std::size_t k = i; k <= j; ++k) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

}  // namespace

double predict_latency_ms(const std::vector<Kernel>& kernels, DataType dtype, const TargetProfile& target) {
  LatencySample s{kernels, dtype, 1.0};
  return features(s, target).dot(unknowns(target)) / 1e3;
}

TargetProfile fit_profile(const TargetProfile& base, const std::vector<LatencySample>& samples, double ridge) {
  check_samples(samples);
  std::vector<std::size_t> rows(samples.size());
  std::iota(rows.begin(), rows.end(), 0);
  return with_unknowns(base, solve(make_problem(base, samples, rows), ridge));
}

Calibration calibrate(const TargetProfile& base, const std::vector<LatencySample>& samples) {
  check_samples(samples);
  Calibration c;
  const std::vector<double> grid = {1e-4, 1e-3, 1e-2, 1e-1, 1, 10};
  std::vector<double> measured;
  for (const LatencySample& s : samples) measured.push_back(s.latency_ms);
  double best_error = INFINITY;
  c.ridge = 1;
  for (double ridge : grid) {
    if (samples.size() < 3) break;
    std::vector<double> predicted;
    double error = 0;
    for (std::size_t out = 0; out < samples.size(); ++out) {
      std::vector<std::size_t> rows;
      for (std::size_t i = 0; i < samples.size(); ++i) {
        if (i != out) rows.push_back(i);
      }
      Eigen::VectorXd x = solve(make_problem(base, samples, rows), ridge);
      const double p = features(samples[out], base).dot(x) / 1e3;
      predicted.push_back(p);
      const double rel = (p - samples[out].latency_ms) / samples[out].latency_ms;
      error += rel * rel;
    }
    if (error < best_error) {
      best_error = error;
      c.ridge = ridge;
      c.loo_predicted = predicted;
    }
  }
  if (!c.loo_predicted.empty()) {
    c.loo_spearman = spearman(c.loo_predicted, measured);
    c.loo_mdape = median_ape(c.loo_predicted, measured);
  }
  c.profile = fit_profile(base, samples, c.ridge);
  return c;
}

double spearman(const std::vector<double>& a, const std::vector<double>& b) {
  check(a.size() == b.size(), "spearman: sizes differ");
  if (a.size() < 2) return 0;
  const std::vector<double> ra = ranks(a), rb = ranks(b);
  const double n = static_cast<double>(a.size());
  const double mean = (n + 1) / 2;
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += (ra[i] - mean) * (rb[i] - mean);
    saa += (ra[i] - mean) * (ra[i] - mean);
    sbb += (rb[i] - mean) * (rb[i] - mean);
  }
  if (saa == 0 || sbb == 0) return 0;
  return sab / std::sqrt(saa * sbb);
}

double median_ape(const std::vector<double>& predicted, const std::vector<double>& measured) {
  check(predicted.size() == measured.size() && !predicted.empty(), "median_ape: needs equal, non-empty inputs");
  std::vector<double> e;
  for (std::size_t i = 0; i < predicted.size(); ++i) e.push_back(std::abs(predicted[i] - measured[i]) / measured[i]);
  std::sort(e.begin(), e.end());
  const std::size_t m = e.size() / 2;
  return e.size() % 2 ? e[m] : (e[m - 1] + e[m]) / 2;
}

}  // namespace nasforge
