#include "strategies/gaussian_process.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>

#include "core/error.h"
#include "core/strings.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt5 = 2.2360679774997896964;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))

// Box bounds of the log-hyperparameters: length scales for inputs in [0,1], amplitude and noise for standardized
// targets. The fit works on logit-squashed coordinates so that it can be unconstrained.
constexpr double kMinLength = 5e-3, kMaxLength = 1e2;
constexpr double kMinSignal = 1e-2, kMaxSignal = 1e2;
constexpr double kMinNoise = 1e-6, kMaxNoise = 1.0;

// Weak log-normal priors (mean, sd of the log): they only matter when the likelihood is flat, e.g. with few points,
// where they keep length scales moderate instead of drifting to a bound.
constexpr double kLengthPriorMean = -0.6931471805599453, kLengthPriorSd = 1.5;  // around 0.5
constexpr double kSignalPriorMean = 0.0, kSignalPriorSd = 1.5;
constexpr double kNoisePriorMean = -6.907755278982137, kNoisePriorSd = 3.0;  // around 1e-3

// Relative change of the log posterior below which the fit stops; far finer than what changes a proposal.
constexpr double kFitTolerance = 1e-6;

Eigen::MatrixXd scaled(const Eigen::MatrixXd& a, const Eigen::VectorXd& length_scales) {
  return a * length_scales.cwiseInverse().asDiagonal();
}

// Pairwise Euclidean distances between rows of already scaled inputs.
Eigen::MatrixXd distances(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b) {
  Eigen::MatrixXd r(a.rows(), b.rows());
  for (Eigen::Index j = 0; j < b.rows(); ++j) {
    for (Eigen::Index i = 0; i < a.rows(); ++i) r(i, j) = (a.row(i) - b.row(j)).norm();
  }
  return r;
}

double log_normal_prior(double log_value, double mean, double sd, double* grad) {
  double z = (log_value - mean) / sd;
  if (grad) *grad = -z / sd;
  return -0.5 * z * z;
}

// Log prior of the log-hyperparameters (up to a constant), with its gradient.
double log_prior(const Eigen::VectorXd& theta, Eigen::VectorXd& grad) {
  const Eigen::Index d = theta.size() - 2;
  grad.resize(theta.size());
  double lp = 0;
  for (Eigen::Index k = 0; k < d; ++k) lp += log_normal_prior(theta[k], kLengthPriorMean, kLengthPriorSd, &grad[k]);
  lp += log_normal_prior(theta[d], kSignalPriorMean, kSignalPriorSd, &grad[d]);
  lp += log_normal_prior(theta[d + 1], kNoisePriorMean, kNoisePriorSd, &grad[d + 1]);
  return lp;
}

double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

struct Bounds {
  Eigen::VectorXd lo, hi;
};

Bounds log_bounds(Eigen::Index d) {
  Bounds b{Eigen::VectorXd(d + 2), Eigen::VectorXd(d + 2)};
  b.lo.head(d).setConstant(std::log(kMinLength));
  b.hi.head(d).setConstant(std::log(kMaxLength));
  b.lo[d] = std::log(kMinSignal);
  b.hi[d] = std::log(kMaxSignal);
  b.lo[d + 1] = std::log(kMinNoise);
  b.hi[d + 1] = std::log(kMaxNoise);
  return b;
}

Eigen::VectorXd to_unbounded(const Eigen::VectorXd& theta, const Bounds& b) {
  Eigen::VectorXd phi(theta.size());
  for (Eigen::Index k = 0; k < theta.size(); ++k) {
    double t = (theta[k] - b.lo[k]) / (b.hi[k] - b.lo[k]);
    t = std::min(1 - 1e-6, std::max(1e-6, t));
    phi[k] = std::log(t / (1 - t));
  }
  return phi;
}

Eigen::VectorXd to_bounded(const Eigen::VectorXd& phi, const Bounds& b, Eigen::VectorXd* jacobian) {
  Eigen::VectorXd theta(phi.size());
  if (jacobian) jacobian->resize(phi.size());
  for (Eigen::Index k = 0; k < phi.size(); ++k) {
    double s = sigmoid(phi[k]);
    theta[k] = b.lo[k] + (b.hi[k] - b.lo[k]) * s;
    if (jacobian) (*jacobian)[k] = (b.hi[k] - b.lo[k]) * s * (1 - s);
  }
  return theta;
}

// Cholesky of K, retrying with growing jitter; false when K stays indefinite.
bool factorize(Eigen::MatrixXd& k, Eigen::LLT<Eigen::MatrixXd>& llt) {
  double jitter = 0;
  const double scale = std::max(1e-300, k.diagonal().mean());
  for (int attempt = 0; attempt < 6; ++attempt) {
    llt.compute(k);
    if (llt.info() == Eigen::Success) return true;
    double next = jitter == 0 ? 1e-10 * scale : jitter * 10;
    k.diagonal().array() += next - jitter;
    jitter = next;
  }
  return false;
}

}  // namespace

double matern52(double r) {
  return (1 + kSqrt5 * r + 5.0 / 3.0 * r * r) * std::exp(-kSqrt5 * r);
}

Eigen::VectorXd GpHyperparams::to_log() const {
  const Eigen::Index d = length_scales.size();
  Eigen::VectorXd theta(d + 2);
  theta.head(d) = length_scales.array().log().matrix();
  theta[d] = std::log(signal_variance);
  theta[d + 1] = std::log(noise_variance);
  return theta;
}

GpHyperparams GpHyperparams::from_log(const Eigen::VectorXd& theta) {
  check(theta.size() >= 2, "log-hyperparameters need at least 2 entries, got " + std::to_string(theta.size()));
  const Eigen::Index d = theta.size() - 2;
  GpHyperparams hp;
  hp.length_scales = theta.head(d).array().exp().matrix();
  hp.signal_variance = std::exp(theta[d]);
  hp.noise_variance = std::exp(theta[d + 1]);
  return hp;
}

Eigen::MatrixXd matern52_kernel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, const GpHyperparams& hp) {
  check(a.cols() == hp.length_scales.size() && b.cols() == hp.length_scales.size(),
        "kernel inputs have " + std::to_string(a.cols()) + " and " + std::to_string(b.cols()) +
            " columns, the kernel " + std::to_string(hp.length_scales.size()) + " length scales");
  Eigen::MatrixXd r = distances(scaled(a, hp.length_scales), scaled(b, hp.length_scales));
  return hp.signal_variance * r.unaryExpr([](double v) { return matern52(v); });
}

double gp_log_marginal_likelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& theta,
                                  Eigen::VectorXd* grad) {
  const Eigen::Index n = x.rows(), d = x.cols();
  check(theta.size() == d + 2,
        "expected " + std::to_string(d + 2) + " log-hyperparameters, got " + std::to_string(theta.size()));
  check(y.size() == n, "expected " + std::to_string(n) + " targets, got " + std::to_string(y.size()));
  GpHyperparams hp = GpHyperparams::from_log(theta);
  Eigen::MatrixXd r = distances(scaled(x, hp.length_scales), scaled(x, hp.length_scales));
  Eigen::MatrixXd kf = hp.signal_variance * r.unaryExpr([](double v) { return matern52(v); });
  Eigen::MatrixXd k = kf;
  k.diagonal().array() += hp.noise_variance;
  Eigen::LLT<Eigen::MatrixXd> llt(k);
  if (llt.info() != Eigen::Success) {
    if (grad) grad->setZero(theta.size());
    return -kInf;
  }
  Eigen::VectorXd alpha = llt.solve(y);
  const Eigen::MatrixXd& l = llt.matrixLLT();
  double lml = -0.5 * y.dot(alpha) - l.diagonal().array().log().sum() - static_cast<double>(n) * kLogSqrt2Pi;
  if (!grad) return lml;

  // d lml / d theta_j = 0.5 tr(W dK/dtheta_j) with W = alpha alpha^T - K^-1.
  Eigen::MatrixXd w = alpha * alpha.transpose() - llt.solve(Eigen::MatrixXd::Identity(n, n));
  grad->setZero(theta.size());
  // dk/dlog l_k = s2 * 5/3 (1 + sqrt5 r) exp(-sqrt5 r) * (x_ik - x_jk)^2 / l_k^2.
  Eigen::MatrixXd f = (hp.signal_variance * 5.0 / 3.0) *
                      r.unaryExpr([](double v) { return (1 + kSqrt5 * v) * std::exp(-kSqrt5 * v); }).cwiseProduct(w);
  for (Eigen::Index kdim = 0; kdim < d; ++kdim) {
    double inv_l2 = 1.0 / (hp.length_scales[kdim] * hp.length_scales[kdim]);
    double sum = 0;
    for (Eigen::Index j = 0; j < n; ++j) {
      for (Eigen::Index i = 0; i < n; ++i) {
        double diff = x(i, kdim) - x(j, kdim);
        sum += f(i, j) * diff * diff;
      }
    }
    (*grad)[kdim] = 0.5 * sum * inv_l2;
  }
  (*grad)[d] = 0.5 * w.cwiseProduct(kf).sum();
  (*grad)[d + 1] = 0.5 * hp.noise_variance * w.trace();
  return lml;
}

Eigen::VectorXd minimize_lbfgs(const std::function<double(const Eigen::VectorXd&, Eigen::VectorXd&)>& f,
                               Eigen::VectorXd x0, int max_iterations, double tolerance) {
  constexpr std::size_t kMemory = 8;
  Eigen::VectorXd x = std::move(x0), g(x.size()), gn(x.size());
  double fx = f(x, g);
  if (!std::isfinite(fx)) return x;
  std::deque<Eigen::VectorXd> ss, ys;
  std::deque<double> rhos;
  for (int it = 0; it < max_iterations; ++it) {
    if (g.lpNorm<Eigen::Infinity>() < 1e-6) break;
    // Two-loop recursion for the quasi-Newton direction.
    Eigen::VectorXd q = g;
    std::vector<double> a(ss.size());
    for (std::size_t i = ss.size(); i-- > 0;) {
      a[i] = rhos[i] * ss[i].dot(q);
      q -= a[i] * ys[i];
    }
    if (!ss.empty()) q *= ss.back().dot(ys.back()) / ys.back().squaredNorm();
    for (std::size_t i = 0; i < ss.size(); ++i) {
      double b = rhos[i] * ys[i].dot(q);
      q += (a[i] - b) * ss[i];
    }
    Eigen::VectorXd dir = -q;
    double slope = g.dot(dir);
    if (!(slope < 0)) {
      dir = -g;
      slope = -g.squaredNorm();
      ss.clear();
      ys.clear();
      rhos.clear();
    }
    double step = ss.empty() ? std::min(1.0, 1.0 / g.norm()) : 1.0;
    bool accepted = false;
    Eigen::VectorXd xn;
    double fn = kInf;
    for (int back = 0; back < 30; ++back) {
      xn = x + step * dir;
      fn = f(xn, gn);
      if (std::isfinite(fn) && fn <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    Eigen::VectorXd s = xn - x, yv = gn - g;
    double sy = s.dot(yv);
    if (sy > 1e-12) {
      ss.push_back(s);
      ys.push_back(yv);
      rhos.push_back(1.0 / sy);
      if (ss.size() > kMemory) {
        ss.pop_front();
        ys.pop_front();
        rhos.pop_front();
      }
    }
    bool converged = std::abs(fx - fn) <= tolerance * (1 + std::abs(fx));
    x = xn;
    fx = fn;
    g = gn;
    if (converged) break;
  }
  return x;
}

GpHyperparams fit_gp_hyperparams(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, std::mt19937_64& rng,
                                 const GpFitOptions& options, const Eigen::VectorXd* warm_start) {
  const Eigen::Index d = x.cols();
  const Bounds bounds = log_bounds(d);
  // Negative log posterior in the squashed coordinates.
  auto objective = [&](const Eigen::VectorXd& phi, Eigen::VectorXd& grad) {
    Eigen::VectorXd jac, g_lml, g_prior;
    Eigen::VectorXd theta = to_bounded(phi, bounds, &jac);
    double v = gp_log_marginal_likelihood(x, y, theta, &g_lml) + log_prior(theta, g_prior);
    grad = -(g_lml + g_prior).cwiseProduct(jac);
    return std::isfinite(v) ? -v : kInf;
  };

  std::vector<Eigen::VectorXd> starts;
  GpHyperparams def;
  def.length_scales = Eigen::VectorXd::Constant(d, 0.5);
  def.signal_variance = 1.0;
  def.noise_variance = 1e-3;
  bool warm = warm_start && warm_start->size() == d + 2;
  if (options.default_start || (!warm && options.n_random_starts <= 0)) starts.push_back(def.to_log());
  if (warm) starts.push_back(*warm_start);
  for (int s = 0; s < options.n_random_starts; ++s) {
    Eigen::VectorXd theta(d + 2);
    for (Eigen::Index k = 0; k < d; ++k) theta[k] = std::log(0.05) + uniform01(rng) * (std::log(2.0) - std::log(0.05));
    theta[d] = std::log(0.3) + uniform01(rng) * (std::log(3.0) - std::log(0.3));
    theta[d + 1] = std::log(1e-5) + uniform01(rng) * (std::log(1e-2) - std::log(1e-5));
    starts.push_back(theta);
  }

  Eigen::VectorXd best = starts.front(), unused;
  double best_value = kInf;
  for (const auto& start : starts) {
    Eigen::VectorXd phi = minimize_lbfgs(objective, to_unbounded(start, bounds), options.max_iterations, kFitTolerance);
    double v = objective(phi, unused);
    if (v < best_value) {
      best_value = v;
      best = to_bounded(phi, bounds, nullptr);
    }
  }
  return GpHyperparams::from_log(best);
}

GaussianProcess::GaussianProcess(Eigen::MatrixXd x, const Eigen::VectorXd& y, GpHyperparams hp)
    : x_(std::move(x)), hp_(std::move(hp)) {
  check(y.size() == x_.rows(), "a GP needs one target per input row: " + std::to_string(x_.rows()) + " rows, " +
                                   std::to_string(y.size()) + " targets");
  check(hp_.signal_variance > 0 && hp_.noise_variance >= 0, "GP variances must be positive, got signal " +
                                                                format_double(hp_.signal_variance) + ", noise " +
                                                                format_double(hp_.noise_variance));
  Eigen::MatrixXd k = matern52_kernel(x_, x_, hp_);
  k.diagonal().array() += hp_.noise_variance;
  if (!factorize(k, llt_)) throw ValueError("the GP covariance matrix is not positive definite even with jitter");
  alpha_ = llt_.solve(y);
}

void GaussianProcess::predict(const Eigen::MatrixXd& xs, Eigen::VectorXd& mean, Eigen::VectorXd& variance) const {
  Eigen::MatrixXd ks = matern52_kernel(x_, xs, hp_);  // n x m
  mean = ks.transpose() * alpha_;
  Eigen::MatrixXd v = llt_.matrixL().solve(ks);
  variance = (hp_.signal_variance - v.colwise().squaredNorm().array()).max(0.0).matrix().transpose();
}

double log_h(double z) {
  if (z > -30) {
    // phi and Phi are still normal numbers here; their difference loses at most ~z^2 ulps.
    double phi = std::exp(-0.5 * z * z - kLogSqrt2Pi);
    double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    return std::log(phi + z * cdf);
  }
  // Far in the tail, h(z) = phi(z) / z^2 * (1 - 3/z^2 + 15/z^4 - 105/z^6 + 945/z^8 - ...), from Mills' ratio.
  double u = 1.0 / (z * z);
  double series = 1 - u * (3 - u * (15 - u * (105 - u * 945)));
  return -0.5 * z * z - kLogSqrt2Pi + std::log(u) + std::log(series);
}

double log_expected_improvement(double mean, double variance, double best) {
  double sd = std::sqrt(std::max(variance, 1e-30));
  return std::log(sd) + log_h((best - mean) / sd);
}

}  // namespace nasforge
