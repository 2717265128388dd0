#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "spaces/distribution.h"

namespace nasforge {

/// Standard-normal helpers behind the truncated-normal kernels of the TPE estimator, accurate far into both tails
/// (the same case split as Optuna 3.1's `_truncnorm`, on top of the C library's erfc).
namespace truncnorm {

/// log Phi(x), the log of the standard normal CDF; finite for every finite x.
double log_ndtr(double x);
/// log(Phi(b) - Phi(a)) for a <= b, without cancellation in either tail.
double log_gauss_mass(double a, double b);
/// log_gauss_mass, several times faster when a <= 0 <= b and b - a >= 0.5 (a kernel centred inside its bounds):
/// Phi from a tabulated Taylor expansion, error below 1e-15; other intervals fall back to log_gauss_mass.
double log_gauss_mass_central(double a, double b);
/// The x with log Phi(x) = log_p (log_p <= 0), solved in the lower tail for precision.
double ndtri_exp(double log_p);
/// Quantile `q` (in [0, 1]) of the standard normal truncated to [a, b] (standardized bounds, a < b).
double ppf(double q, double a, double b);
/// ppf() with log_gauss_mass(a, b) already known.
double ppf(double q, double a, double b, double log_mass);
/// Log density at x of N(loc, scale^2) truncated to [low, high]; -inf outside.
double logpdf(double x, double low, double high, double loc, double scale);
/// log(Phi(m + h) - Phi(m - h)) by its Hermite series in h^2; absolute error below 2e-11 when h <= 0.15 and
/// |m| * h <= 0.25 (callers check kSeriesMaxHalfWidth and kSeriesMaxProduct).
double log_gauss_mass_series(double m, double h);
/// log_gauss_mass_series with log(2 h) already known.
double log_gauss_mass_series(double m, double h, double log_2h);
/// Largest half width h for which log_gauss_mass_series is used.
inline constexpr double kSeriesMaxHalfWidth = 0.15;
/// Largest |m| * h for which log_gauss_mass_series is used.
inline constexpr double kSeriesMaxProduct = 0.25;

}  // namespace truncnorm

/// Knobs of the Parzen estimator; the defaults are Optuna 3.1's.
struct ParzenEstimatorOptions {
  bool consider_prior = true;       ///< Add a wide prior component (always on when there are no observations).
  double prior_weight = 1.0;        ///< Weight of the prior component (and prior mass of categorical kernels).
  bool consider_magic_clip = true;  ///< Lower-bound the bandwidths by range / min(100, 1 + n).
  bool consider_endpoints = false;  ///< Let the outermost kernels also look at the domain ends (univariate).
  bool multivariate = false;        ///< Scott's-rule bandwidths shared by all kernels (multivariate TPE).
  /// log_pdf weighs each component by the product of its continuous kernels' widths (renormalised): the
  /// densities Optuna 3.1 compares, whose truncated normals lack the 1/sigma factor (optuna#5109), up to a
  /// constant. Sampling always uses the plain weights, as Optuna does.
  bool width_weighted = false;
};

/// A weighted mixture of per-observation kernels over one or several parameters (Optuna 3.1's
/// `_ParzenEstimator`): truncated normals for numbers (in log space for log scales, with the bounds widened by half
/// a step and the mass of a whole step for int / stepped float), smoothed one-hot vectors for categoricals.
/// Kernels, widths and weights are Optuna 3.1's exactly. log_pdf is always a proper density (it integrates to
/// one); `width_weighted` makes its differences equal those of Optuna 3.1's unnormalised one. Buffers are reused
/// between calls.
class ParzenEstimator {
 public:
  /// Fits the mixture. `dims` are the distributions of the modelled parameters; `observations` holds n rows of
  /// dims.size() internal values (row-major); `weights` holds n non-negative raw weights (normalised here, after
  /// appending the prior's).
  void fit(const std::vector<const Distribution*>& dims, const std::vector<double>& observations,
           const std::vector<double>& weights, const ParzenEstimatorOptions& options);

  /// Number of parameters modelled.
  std::size_t n_dims() const { return dims_.size(); }
  /// Number of mixture components (observations, plus the prior when used).
  std::size_t n_components() const { return weights_.size(); }
  /// Normalised component weights (used for sampling); the prior is last when used.
  const std::vector<double>& weights() const { return weights_; }
  /// Kernel centres of numeric dimension `d` (log space for log scales).
  const std::vector<double>& mus(std::size_t d) const { return dims_[d].mus; }
  /// Kernel widths of numeric dimension `d`.
  const std::vector<double>& sigmas(std::size_t d) const { return dims_[d].sigmas; }
  /// Lower bound of the kernels of numeric dimension `d` (widened by half a step; log space for log scales).
  double low(std::size_t d) const { return dims_[d].low; }
  /// Upper bound of the kernels of numeric dimension `d`.
  double high(std::size_t d) const { return dims_[d].high; }
  /// Categorical kernel probabilities of dimension `d`: n_components rows of n_choices (row-major).
  const std::vector<double>& categorical_weights(std::size_t d) const { return dims_[d].cat_weights; }

  /// Draws n points into `out` (row-major, n x n_dims) in internal representation: log scales undone, steps
  /// rounded half to even, categoricals as choice indices.
  void sample(std::mt19937_64& rng, std::size_t n, std::vector<double>& out);
  /// Log density of each of the n points in `points` (row-major internal values, as sample() returns them).
  void log_pdf(const std::vector<double>& points, std::size_t n, std::vector<double>& out);

 private:
  enum class Kind { kContinuous, kDiscrete, kCategorical };

  struct Dim {
    Kind kind = Kind::kContinuous;
    bool log = false;
    bool is_int = false;
    double dist_low = 0, dist_high = 0;  // domain bounds in internal units, for rounding
    double low = 0, high = 0, q = 0;     // kernel bounds and step in the modelled space
    std::size_t n_choices = 0;
    std::vector<double> mus, sigmas, inv_sigmas;
    std::vector<double> log_mass;  // log of each kernel's mass inside [low, high]
    std::vector<double> log_norm;  // continuous: log(sigma sqrt(2 pi)) + log mass (no sigma if width_weighted)
    // Discrete dimensions: the distinct (centre, width) pairs and each component's pair.
    std::vector<std::uint32_t> unique_of;
    std::vector<double> u_mus, u_inv, u_half, u_log_width, u_log_norm;
    // Discrete dimensions whose kernels share a few widths and sit on half steps (see classify_widths()).
    bool shared_widths = false;
    std::size_t n_offsets = 0;           // table length: every offset in half steps, centred
    std::vector<double> class_inv;       // 1 / sigma of each width class
    std::vector<std::uint32_t> u_class;  // width class of each distinct kernel
    std::vector<long long> u_half_step;  // centre of each distinct kernel in half steps from the lower end
    std::vector<double> cat_weights;     // categorical: n_components x n_choices
    std::vector<std::uint32_t> cat_of;   // categorical: each component's observed choice (n_choices for the prior)
    double log_hit = 0, log_miss = 0, log_prior_choice = 0;  // categorical: the three log probabilities a row holds
    // The same per merged component (see merge()), laid out for the log_pdf loops.
    std::vector<double> e_mus, e_inv, e_norm;  // continuous
    std::vector<std::uint32_t> e_unique;       // discrete
    std::vector<double> e_log_cat;             // categorical: n_choices rows of n_merged
  };

  void order_by_centre(const Dim& dim, std::size_t k_total);
  void classify_widths(Dim& dim, std::size_t k_total);
  void fit_numeric(Dim& dim, std::size_t d, const std::vector<double>& observations, std::size_t n, double sigma0);
  void fit_categorical(Dim& dim, std::size_t d, const std::vector<double>& observations, std::size_t n);
  void merge();
  // Terms of one discrete dimension for the points of one log_pdf call: per distinct value (group) and kernel.
  struct DiscreteTerms {
    std::size_t n_unique = 0;
    std::vector<double> value, exact;   // value may be an upper bound; exact is filled on demand (NaN = not yet)
    std::vector<std::uint8_t> bounded;  // whether value is a bound
    std::vector<std::size_t> group_of;  // point -> group
    std::vector<double> table;          // shared widths: term + kernel normaliser by (class, offset); NaN = not yet
  };

  double discrete_term(const Dim& dim, double x, std::size_t u, bool exact, bool* bounded) const;
  void add_discrete(std::size_t d, const std::vector<double>& points, std::size_t n);
  void refine(const std::vector<double>& points, std::size_t i, std::size_t k);

  std::vector<Dim> dims_;
  std::vector<double> weights_, log_weights_, cumulative_;
  // Components identical in every dimension (repeated grid values and configurations) act as one in log_pdf.
  std::vector<double> merged_log_weights_;
  std::vector<std::size_t> merged_rep_;
  ParzenEstimatorOptions options_;
  // Scratch reused across calls.
  std::vector<std::size_t> active_, order_;
  std::vector<double> sorted_, row_, matrix_;
  std::vector<std::pair<double, std::size_t>> keyed_;
  std::vector<std::size_t> counts_;
  std::vector<std::pair<std::uint64_t, std::size_t>> merge_keys_;
  std::vector<std::uint8_t> bounded_;  // which log-pdf terms (point x component) are still upper bounds
  std::vector<DiscreteTerms> terms_;
};

}  // namespace nasforge
