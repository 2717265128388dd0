#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include <Eigen/Dense>

namespace nasforge {

/// Matern-5/2 correlation at scaled distance r: (1 + sqrt(5) r + 5 r^2 / 3) exp(-sqrt(5) r).
double matern52(double r);

/// Hyperparameters of a zero-mean GP with a Matern-5/2 ARD kernel plus Gaussian observation noise.
struct GpHyperparams {
  Eigen::VectorXd length_scales;  ///< One per input dimension, > 0.
  double signal_variance = 1.0;   ///< Kernel amplitude k(x, x), > 0.
  double noise_variance = 1e-6;   ///< Observation noise added to the diagonal, > 0.

  /// [log l_1 .. log l_d, log signal_variance, log noise_variance]: the space the fit works in.
  Eigen::VectorXd to_log() const;
  /// Inverse of to_log for d = theta.size() - 2 dimensions.
  static GpHyperparams from_log(const Eigen::VectorXd& theta);
};

/// Covariance matrix k(a_i, b_j) between the rows of `a` and the rows of `b` (no noise term).
Eigen::MatrixXd matern52_kernel(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, const GpHyperparams& hp);

/// Log marginal likelihood of targets `y` at inputs `x` (rows) under log-hyperparameters `theta` (see
/// GpHyperparams::to_log); fills `grad` (same size as theta) when non-null. -inf when K is not positive definite.
double gp_log_marginal_likelihood(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, const Eigen::VectorXd& theta,
                                  Eigen::VectorXd* grad);

/// Minimizes `f` (which returns the value and writes the gradient) from `x0` with L-BFGS and an Armijo
/// backtracking line search; returns the best point found. Non-finite values count as failed steps. Stops when a
/// step improves f by less than `tolerance` * (1 + |f|).
Eigen::VectorXd minimize_lbfgs(const std::function<double(const Eigen::VectorXd&, Eigen::VectorXd&)>& f,
                               Eigen::VectorXd x0, int max_iterations, double tolerance = 1e-9);

/// How the hyperparameter fit searches.
struct GpFitOptions {
  int max_iterations = 50;    ///< L-BFGS iterations per start.
  int n_random_starts = 2;    ///< Random starts besides the default one (and the warm start, if given).
  bool default_start = true;  ///< Also start from the default hyperparameters (l = 0.5, amplitude 1, noise 1e-3).
};

/// Maximum a posteriori hyperparameters for (x, y): log marginal likelihood plus weak log-normal priors
/// (keeping length scales, amplitude and noise within sane bounds for inputs in [0,1] and standardized targets),
/// from the default start, `warm_start` (when its size matches) and random starts; at least one start is used.
GpHyperparams fit_gp_hyperparams(const Eigen::MatrixXd& x, const Eigen::VectorXd& y, std::mt19937_64& rng,
                                 const GpFitOptions& options, const Eigen::VectorXd* warm_start = nullptr);

/// A GP conditioned on observations with fixed hyperparameters (zero prior mean; callers standardize targets).
class GaussianProcess {
 public:
  /// Conditions on `y` at the rows of `x`; adds diagonal jitter when the Cholesky factorization fails, and throws
  /// ValueError when even that does not help.
  GaussianProcess(Eigen::MatrixXd x, const Eigen::VectorXd& y, GpHyperparams hp);
  /// Posterior mean and latent (noise-free) variance at each row of `xs`.
  void predict(const Eigen::MatrixXd& xs, Eigen::VectorXd& mean, Eigen::VectorXd& variance) const;
  /// The hyperparameters in use.
  const GpHyperparams& hyperparams() const { return hp_; }

 private:
  Eigen::MatrixXd x_;
  GpHyperparams hp_;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::VectorXd alpha_;
};

/// log(phi(z) + z Phi(z)): the log of expected improvement per unit standard deviation. Accurate for every finite z
/// (an asymptotic series where phi and Phi underflow), so log EI stays finite and increasing far from the incumbent.
double log_h(double z);

/// log E[max(best - f, 0)] for f ~ N(mean, variance) (improvement for minimization).
double log_expected_improvement(double mean, double variance, double best);

}  // namespace nasforge
