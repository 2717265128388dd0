#include "strategies/parzen_estimator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "strategies/sampler_util.h"

namespace nasforge {

namespace truncnorm {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kSqrt1_2 = 0.70710678118654752440;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;  // log(sqrt(2 pi))
constexpr double kLn2 = 0.69314718055994530942;

// Phi(x) through erfc, which keeps full relative precision in the lower tail.
double ndtr(double x) {
  return 0.5 * std::erfc(-x * kSqrt1_2);
}

double log_add_exp(double p, double q) {
  double m = std::max(p, q);
  if (m == -kInf) return -kInf;
  return m + std::log1p(std::exp(-std::fabs(p - q)));
}

// log(exp(p) - exp(q)) for p >= q.
double log_diff_exp(double p, double q) {
  if (q == -kInf) return p;
  return p + std::log1p(-std::exp(q - p));
}

double log_mass_left(double a, double b) {
  return log_diff_exp(log_ndtr(b), log_ndtr(a));
}

// Solves log Phi(x) = log_p for log_p <= log(1/2), i.e. x <= 0.
double ndtri_exp_lower(double log_p) {
  if (log_p == -kInf) return -kInf;
  // Abramowitz & Stegun 26.2.23 as the start (|error| < 4.5e-4); it needs only log p, so it never underflows.
  double t = std::sqrt(-2.0 * log_p);
  double x = -(t - (2.515517 + t * (0.802853 + t * 0.010328)) / (1.0 + t * (1.432788 + t * (0.189269 + t * 0.001308))));
  // Newton on log Phi, which is concave: once left of the root the iterates rise monotonically.
  for (int i = 0; i < 60; ++i) {
    double l = log_ndtr(x);
    double slope = std::exp(-0.5 * x * x - kLogSqrt2Pi - l);  // phi(x) / Phi(x)
    double dx = (l - log_p) / slope;
    x -= dx;
    if (std::fabs(dx) <= 1e-15 * std::max(1.0, std::fabs(x))) break;
  }
  return x;
}

}  // namespace

double log_ndtr(double x) {
  if (x == kInf) return 0.0;
  if (x == -kInf) return -kInf;
  if (x > 6.0) return std::log1p(-ndtr(-x));
  if (x > -20.0) return std::log(ndtr(x));
  // Asymptotic expansion: Phi(x) = phi(x) / -x * (1 - 1/x^2 + 3/x^4 - 15/x^6 + ...).
  double log_lhs = -0.5 * x * x - std::log(-x) - kLogSqrt2Pi;
  double inv_x2 = 1.0 / (x * x);
  double sum = 1.0, term = 1.0, last = 0.0;
  for (int i = 1; i < 100 && std::fabs(sum - last) > std::numeric_limits<double>::epsilon(); ++i) {
    last = sum;
    term *= -(2.0 * i - 1.0) * inv_x2;
    sum += term;
  }
  return log_lhs + std::log(sum);
}

double log_gauss_mass(double a, double b) {
  if (!(a < b)) return -kInf;
  // A tiny interval: the CDF difference would cancel, while the series is exact to rounding there.
  double h = 0.5 * (b - a), m = 0.5 * (a + b);
  if (h <= 0.01 && std::fabs(m) * h <= 0.01) return log_gauss_mass_series(m, h);
  // Work in the left tail where log Phi is accurate; the central case avoids cancellation near mass 1.
  if (b <= 0) return log_mass_left(a, b);
  if (a > 0) return log_mass_left(-b, -a);
  return std::log1p(-ndtr(a) - ndtr(-b));
}

namespace {

// Phi on nodes -i/32 for x in [-9, 0], with the Taylor coefficients of Phi around each node
// (Phi^(n)(x0) = (-1)^(n-1) He_(n-1)(x0) phi(x0)); degree 7 keeps the absolute error below 1e-16.
struct NdtrTable {
  static constexpr int kPerUnit = 32;
  static constexpr int kNodes = 9 * kPerUnit + 1;
  static constexpr int kDegree = 7;  // ndtr_lower_fast's Estrin evaluation is written for this degree
  double coef[kNodes][kDegree + 1];

  NdtrTable() {
    for (int i = 0; i < kNodes; ++i) {
      double x = -static_cast<double>(i) / kPerUnit;
      double pdf = std::exp(-0.5 * x * x - kLogSqrt2Pi);
      coef[i][0] = ndtr(x);
      double he_prev = 0, he = 1, factorial = 1;  // He_{n-1} and He_{n-2}
      for (int n = 1; n <= kDegree; ++n) {
        factorial *= n;
        coef[i][n] = ((n - 1) % 2 == 0 ? 1.0 : -1.0) * he * pdf / factorial;
        double next = x * he - (n - 1) * he_prev;
        he_prev = he;
        he = next;
      }
    }
  }
};

// Built at load time so that lookups need no initialisation guard; it depends only on libm.
const NdtrTable kNdtrTable;

// Phi(x) for x <= 0 to an absolute 1e-16 (not relative: the tail below -9 is returned as 0).
double ndtr_lower_fast(double x) {
  if (x < -9.0) return 0.0;
  int i = static_cast<int>(-x * NdtrTable::kPerUnit + 0.5);
  double d = x + static_cast<double>(i) / NdtrTable::kPerUnit;
  const double* c = kNdtrTable.coef[i];
  // Estrin's scheme: a shorter dependency chain than Horner's.
  double d2 = d * d;
  double d4 = d2 * d2;
  double lo = (c[0] + c[1] * d) + (c[2] + c[3] * d) * d2;
  double hi = (c[4] + c[5] * d) + (c[6] + c[7] * d) * d2;
  return lo + hi * d4;
}

}  // namespace

double log_gauss_mass_central(double a, double b) {
  // Absolute accuracy is relative accuracy only when the mass is not small: a wide interval around 0.
  if (!(a <= 0 && b >= 0 && b - a >= 0.5)) return log_gauss_mass(a, b);
  return std::log1p(-(ndtr_lower_fast(a) + ndtr_lower_fast(-b)));
}

double log_gauss_mass_series(double m, double h) {
  return log_gauss_mass_series(m, h, std::log(2.0 * h));
}

double log_gauss_mass_series(double m, double h, double log_2h) {
  // Integral of phi over [m - h, m + h] = 2 h phi(m) (1 + c),  c = sum_k He_2k(m) h^2k / (2k + 1)!  (Hermite
  // polynomials); log(1 + c) expanded in powers of h^2 as well, so no transcendental is left to evaluate.
  double m2 = m * m, h2 = h * h;
  double a = (m2 - 1.0) / 6.0;
  double b = ((m2 - 6.0) * m2 + 3.0) / 120.0;
  double c = (((m2 - 15.0) * m2 + 45.0) * m2 - 15.0) / 5040.0;
  double d = ((((m2 - 28.0) * m2 + 210.0) * m2 - 420.0) * m2 + 105.0) / 362880.0;
  double a2 = a * a;
  double log1p_c = h2 * (a + h2 * ((b - 0.5 * a2) + h2 * ((c - a * b + a2 * a / 3.0) +
                                                          h2 * (d - 0.5 * b * b - a * c + a2 * b - 0.25 * a2 * a2))));
  return log_2h - 0.5 * m2 - kLogSqrt2Pi + log1p_c;
}

double ndtri_exp(double log_p) {
  if (std::isnan(log_p)) return log_p;
  if (log_p >= 0) return kInf;
  if (log_p <= -kLn2) return ndtri_exp_lower(log_p);
  // Upper half: Phi(x) = p  <=>  Phi(-x) = 1 - p, computed without cancellation.
  return -ndtri_exp_lower(std::log(-std::expm1(log_p)));
}

double ppf(double q, double a, double b) {
  return ppf(q, a, b, log_gauss_mass(a, b));
}

double ppf(double q, double a, double b, double mass) {
  if (q <= 0) return a;
  if (q >= 1) return b;
  if (!(a < b)) return a;
  double x;
  if (a < 0) {
    x = ndtri_exp(log_add_exp(log_ndtr(a), std::log(q) + mass));
  } else {
    x = -ndtri_exp(log_add_exp(log_ndtr(-b), std::log1p(-q) + mass));
  }
  return std::min(b, std::max(a, x));
}

double logpdf(double x, double low, double high, double loc, double scale) {
  if (x < low || x > high) return -kInf;
  double z = (x - loc) / scale;
  return -0.5 * z * z - kLogSqrt2Pi - std::log(scale) - log_gauss_mass((low - loc) / scale, (high - loc) / scale);
}

}  // namespace truncnorm

namespace {

constexpr double kEps = 1e-12;
constexpr double kSigma0Magnitude = 0.2;
constexpr double kLogSqrt2Pi = 0.91893853320467274178;
// Components more than this far (in log density) below a point's best one add less than 1e-17 relative each.
constexpr double kNegligibleLog = -40.0;

// exp(x) for x in [kNegligibleLog, 0] to ~4e-14 relative: a Taylor polynomial of exp(x / 256) squared eight
// times. Plain arithmetic without branches or calls, so the compiler vectorizes the log-sum-exp loop (libm's exp
// was the largest single cost of a TPE step).
inline double exp_nonpositive(double x) {
  double y = x * (1.0 / 256);
  double p = 1.0 / 39916800;
  p = p * y + 1.0 / 3628800;
  p = p * y + 1.0 / 362880;
  p = p * y + 1.0 / 40320;
  p = p * y + 1.0 / 5040;
  p = p * y + 1.0 / 720;
  p = p * y + 1.0 / 120;
  p = p * y + 1.0 / 24;
  p = p * y + 1.0 / 6;
  p = p * y + 0.5;
  p = p * y + 1.0;
  p = p * y + 1.0;
  p *= p;
  p *= p;
  p *= p;
  p *= p;
  p *= p;
  p *= p;
  p *= p;
  p *= p;
  return p;
}

// The element-wise loops below dominate a TPE step. On x86-64 they are also compiled for AVX2 (four doubles per
// instruction) and picked at run time; without FMA contraction each element rounds exactly as in the baseline
// build, so results do not depend on the machine.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define NASFORGE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define NASFORGE_VECTOR_CLONES
#endif

NASFORGE_VECTOR_CLONES void exp_in_place(double* v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) v[i] = exp_nonpositive(v[i]);
}

// acc[m] += log N(x; mu_m, sigma_m) without the constant and mass terms folded into norm[m].
NASFORGE_VECTOR_CLONES void add_gaussian(double* acc, double x, const double* mus, const double* inv,
                                         const double* norm, std::size_t n) {
  for (std::size_t m = 0; m < n; ++m) {
    double z = (x - mus[m]) * inv[m];
    acc[m] += -0.5 * z * z - norm[m];
  }
}

NASFORGE_VECTOR_CLONES void add_row(double* acc, const double* row, std::size_t n) {
  for (std::size_t m = 0; m < n; ++m) acc[m] += row[m];
}

}  // namespace

void ParzenEstimator::fit(const std::vector<const Distribution*>& dims, const std::vector<double>& observations,
                          const std::vector<double>& weights, const ParzenEstimatorOptions& options) {
  const std::size_t n = weights.size();
  if (observations.size() != n * dims.size()) {
    throw ValueError("Parzen estimator: " + std::to_string(observations.size()) + " observation values for " +
                     std::to_string(n) + " rows of " + std::to_string(dims.size()) + " parameters");
  }
  options_ = options;
  if (n == 0) options_.consider_prior = true;

  // Component weights: the observations' own, then the prior's; normalised.
  weights_.assign(weights.begin(), weights.end());
  if (options_.consider_prior) weights_.push_back(options_.prior_weight);
  double total = 0;
  for (double w : weights_) {
    if (!(w >= 0 && std::isfinite(w))) {
      throw ValueError("Parzen estimator weights must be finite and >= 0, got " + std::to_string(w));
    }
    total += w;
  }
  if (!(total > 0)) throw ValueError("Parzen estimator weights must not all be zero");
  log_weights_.resize(weights_.size());
  cumulative_.resize(weights_.size());
  double run = 0;
  for (std::size_t k = 0; k < weights_.size(); ++k) {
    weights_[k] /= total;
    log_weights_[k] = std::log(weights_[k]);
    run += weights_[k];
    cumulative_[k] = run;
  }

  // Scott's rule, shared by every kernel in the multivariate case (as in BOHB).
  double sigma0 = 0;
  if (options_.multivariate) {
    double m = static_cast<double>(std::max<std::size_t>(n, 1));
    sigma0 = kSigma0Magnitude * std::pow(m, -1.0 / (static_cast<double>(dims.size()) + 4.0));
  }

  dims_.resize(dims.size());
  for (std::size_t d = 0; d < dims.size(); ++d) {
    const Distribution& dist = *dims[d];
    Dim& dim = dims_[d];
    dim.log = dist.log();
    dim.is_int = dist.kind() == DistributionKind::kInt;
    dim.dist_low = dist.low();
    dim.dist_high = dist.high();
    if (dist.kind() == DistributionKind::kCategorical) {
      dim.kind = Kind::kCategorical;
      dim.n_choices = dist.choices().size();
      fit_categorical(dim, d, observations, n);
      continue;
    }
    dim.q = 0;
    if (dist.log()) {
      // Log ints are modelled continuously between log(low - 1/2) and log(high + 1/2), then rounded.
      dim.kind = Kind::kContinuous;
      dim.low = std::log(dim.is_int ? dist.low() - 0.5 : dist.low());
      dim.high = std::log(dim.is_int ? dist.high() + 0.5 : dist.high());
    } else if (dist.step()) {
      dim.kind = Kind::kDiscrete;
      dim.q = *dist.step();
      dim.low = dist.low() - 0.5 * dim.q;
      dim.high = dist.high() + 0.5 * dim.q;
    } else {
      dim.kind = Kind::kContinuous;
      dim.low = dist.low();
      dim.high = dist.high();
    }
    if (!(dim.low < dim.high)) throw ValueError("Parzen estimator: empty range for " + dist.describe());
    fit_numeric(dim, d, observations, n, sigma0);
  }
  merge();
}

void ParzenEstimator::order_by_centre(const Dim& dim, std::size_t k_total) {
  // (centre, index) pairs in increasing order, ties by index (what a stable sort of the centres gives). Centres lie
  // in [low, high]: a stable bucket pass (half steps of the grid for discrete dimensions, where it is exact) and an
  // insertion sort over the nearly sorted result take linear time instead of n log n.
  keyed_.resize(k_total);
  const bool grid = dim.kind == Kind::kDiscrete;
  const double slots = grid ? 2 * (dim.dist_high - dim.dist_low) / dim.q + 1 : static_cast<double>(k_total);
  if (k_total < 2 || !(slots >= 1) || slots > static_cast<double>(std::max<std::size_t>(4096, 4 * k_total))) {
    for (std::size_t k = 0; k < k_total; ++k) keyed_[k] = {dim.mus[k], k};
    std::sort(keyed_.begin(), keyed_.end());
    return;
  }
  auto n_slots = static_cast<std::size_t>(slots);
  const double origin = grid ? dim.dist_low : dim.low;
  const double scale = grid ? 2 / dim.q : static_cast<double>(n_slots) / (dim.high - dim.low);
  auto slot = [&](double mu) {
    double v = grid ? std::nearbyint((mu - origin) * scale) : std::floor((mu - origin) * scale);
    return static_cast<std::size_t>(std::min(std::max(v, 0.0), static_cast<double>(n_slots - 1)));
  };
  counts_.assign(n_slots + 1, 0);
  for (std::size_t k = 0; k < k_total; ++k) ++counts_[slot(dim.mus[k]) + 1];
  for (std::size_t i = 0; i < n_slots; ++i) counts_[i + 1] += counts_[i];
  for (std::size_t k = 0; k < k_total; ++k) keyed_[counts_[slot(dim.mus[k])]++] = {dim.mus[k], k};
  // counts_[b] is now the end of bucket b. Crowded buckets (a study converging on a point) get a real sort.
  std::size_t begin = 0;
  for (std::size_t b = 0; b < n_slots; ++b) {
    std::size_t end = counts_[b];
    if (end - begin > 16) {
      std::sort(keyed_.begin() + static_cast<std::ptrdiff_t>(begin), keyed_.begin() + static_cast<std::ptrdiff_t>(end));
    } else {
      for (std::size_t j = begin + 1; j < end; ++j) {
        auto item = keyed_[j];
        std::size_t i = j;
        for (; i > begin && item < keyed_[i - 1]; --i) keyed_[i] = keyed_[i - 1];
        keyed_[i] = item;
      }
    }
    begin = end;
  }
}

void ParzenEstimator::classify_widths(Dim& dim, std::size_t k_total) {
  // When the kernels share a few widths (multivariate TPE: one, plus the prior's) and sit on half steps of the
  // grid, a grid point's term depends only on the width and the offset in half steps: it is tabulated once,
  // exactly, instead of bounded and refined per point and kernel.
  constexpr std::size_t kMaxClasses = 4;
  const std::size_t n_unique = dim.u_mus.size();
  const double span = (dim.dist_high - dim.dist_low) / dim.q;
  dim.n_offsets = static_cast<std::size_t>(std::llround(4 * span)) + 1;
  dim.shared_widths =
      static_cast<double>(dim.n_offsets) <= static_cast<double>(std::max<std::size_t>(4096, 8 * k_total));
  dim.class_inv.clear();
  dim.u_class.resize(n_unique);
  dim.u_half_step.resize(n_unique);
  for (std::size_t u = 0; u < n_unique && dim.shared_widths; ++u) {
    double pos = 2 * (dim.u_mus[u] - dim.dist_low) / dim.q;
    long long idx = std::llround(pos);
    std::size_t c = 0;
    while (c < dim.class_inv.size() && dim.class_inv[c] != dim.u_inv[u]) ++c;
    if (c == dim.class_inv.size()) dim.class_inv.push_back(dim.u_inv[u]);
    dim.shared_widths = dim.class_inv.size() <= kMaxClasses && std::fabs(pos - static_cast<double>(idx)) < 1e-6 &&
                        idx >= 0 && static_cast<double>(idx) <= 2 * span + 0.5;
    dim.u_class[u] = static_cast<std::uint32_t>(c);
    dim.u_half_step[u] = idx;
  }
}

void ParzenEstimator::fit_numeric(Dim& dim, std::size_t d, const std::vector<double>& observations, std::size_t n,
                                  double sigma0) {
  const std::size_t stride = dims_.size();
  const std::size_t k_total = weights_.size();
  const bool prior = options_.consider_prior;
  const double range = dim.high - dim.low;
  dim.mus.resize(k_total);
  dim.sigmas.resize(k_total);
  for (std::size_t i = 0; i < n; ++i) {
    double v = observations[i * stride + d];
    dim.mus[i] = dim.log ? std::log(v) : v;
  }
  if (prior) dim.mus[n] = 0.5 * (dim.low + dim.high);

  // Components in order of their centres: univariate widths come from sorted neighbours, and discrete dimensions
  // find their repeated kernels along it.
  const bool discrete = dim.kind == Kind::kDiscrete;
  if (!options_.multivariate || discrete) order_by_centre(dim, k_total);
  if (options_.multivariate) {
    std::fill(dim.sigmas.begin(), dim.sigmas.end(), sigma0 * range);
  } else {
    // Each kernel is as wide as the larger gap to its sorted neighbours (domain ends count as neighbours).
    sorted_.resize(k_total + 2);
    sorted_[0] = dim.low;
    for (std::size_t i = 0; i < k_total; ++i) sorted_[i + 1] = keyed_[i].first;
    sorted_[k_total + 1] = dim.high;
    for (std::size_t i = 0; i < k_total; ++i) {
      double s = std::max(sorted_[i + 1] - sorted_[i], sorted_[i + 2] - sorted_[i + 1]);
      if (!options_.consider_endpoints && k_total >= 2) {
        if (i == 0) s = sorted_[2] - sorted_[1];
        if (i + 1 == k_total) s = sorted_[k_total] - sorted_[k_total - 1];
      }
      dim.sigmas[keyed_[i].second] = s;
    }
  }
  double max_sigma = range;
  double min_sigma = options_.consider_magic_clip ? range / std::min(100.0, 1.0 + static_cast<double>(k_total)) : kEps;
  for (double& s : dim.sigmas) s = std::min(max_sigma, std::max(min_sigma, s));
  if (prior) dim.sigmas[n] = range;

  // Everything per component that does not depend on the evaluated point.
  dim.inv_sigmas.resize(k_total);
  dim.log_mass.resize(k_total);
  dim.log_norm.resize(k_total);
  if (dim.kind == Kind::kDiscrete) {
    // Grid values repeat, and so do (centre, width) pairs: every per-point term is computed once per distinct
    // pair, which keeps int parameters with many trials as cheap as continuous ones. Along the centre order,
    // equal centres are adjacent and carry at most a few distinct widths.
    dim.unique_of.resize(k_total);
    dim.u_mus.clear();
    dim.u_inv.clear();
    dim.u_half.clear();
    dim.u_log_width.clear();
    dim.u_log_norm.clear();
    std::size_t run_start = 0;  // first unique pair of the current run of equal centres
    for (std::size_t j = 0; j < k_total; ++j) {
      std::size_t k = keyed_[j].second;
      double mu = dim.mus[k], s = dim.sigmas[k];
      if (j == 0 || mu != dim.u_mus.back()) run_start = dim.u_mus.size();
      std::size_t u = run_start;
      while (u < dim.u_mus.size() && !(dim.u_mus[u] == mu && dim.u_inv[u] == 1.0 / s)) ++u;
      if (u == dim.u_mus.size()) {
        dim.u_mus.push_back(mu);
        dim.u_inv.push_back(1.0 / s);
        dim.u_half.push_back(0.5 * dim.q / s);
        dim.u_log_width.push_back(std::log(dim.q / s));
        dim.u_log_norm.push_back(truncnorm::log_gauss_mass_central((dim.low - mu) / s, (dim.high - mu) / s));
      }
      dim.unique_of[k] = static_cast<std::uint32_t>(u);
      dim.inv_sigmas[k] = dim.u_inv[u];
      dim.log_mass[k] = dim.u_log_norm[u];
      dim.log_norm[k] = dim.u_log_norm[u];
    }
    classify_widths(dim, k_total);
    return;
  }
  double last_sigma = -1, log_sigma = 0;  // multivariate kernels share one width
  for (std::size_t k = 0; k < k_total; ++k) {
    double s = dim.sigmas[k];
    dim.inv_sigmas[k] = 1.0 / s;
    double log_mass = truncnorm::log_gauss_mass_central((dim.low - dim.mus[k]) / s, (dim.high - dim.mus[k]) / s);
    dim.log_mass[k] = log_mass;
    dim.log_norm[k] = kLogSqrt2Pi + log_mass;
    // The kernel's 1/sigma; with width_weighted it cancels against the weights' sigma factor (see merge()).
    if (options_.width_weighted) continue;
    if (s != last_sigma) {
      last_sigma = s;
      log_sigma = std::log(s);
    }
    dim.log_norm[k] += log_sigma;
  }
}

void ParzenEstimator::fit_categorical(Dim& dim, std::size_t d, const std::vector<double>& observations, std::size_t n) {
  const std::size_t stride = dims_.size();
  const std::size_t k_total = weights_.size();
  const std::size_t c = dim.n_choices;
  // Each observation is a one-hot vector smoothed by prior_weight / (n + 1); the prior component is uniform.
  double fill = options_.consider_prior ? options_.prior_weight / static_cast<double>(n + 1)
                                        : options_.prior_weight / static_cast<double>(n);
  dim.cat_weights.assign(k_total * c, fill);
  dim.cat_of.assign(k_total, static_cast<std::uint32_t>(c));
  for (std::size_t i = 0; i < n; ++i) {
    auto idx = static_cast<std::size_t>(std::llround(observations[i * stride + d]));
    if (idx >= c) throw ValueError("Parzen estimator: choice index " + std::to_string(idx) + " out of range");
    dim.cat_weights[i * c + idx] += 1.0;
    dim.cat_of[i] = static_cast<std::uint32_t>(idx);
  }
  for (std::size_t k = 0; k < k_total; ++k) {
    double row = 0;
    for (std::size_t j = 0; j < c; ++j) row += dim.cat_weights[k * c + j];
    for (std::size_t j = 0; j < c; ++j) dim.cat_weights[k * c + j] /= row;
  }
  double row = fill * static_cast<double>(c) + 1.0;
  dim.log_hit = std::log((fill + 1.0) / row);
  dim.log_miss = std::log(fill / row);
  dim.log_prior_choice = -std::log(static_cast<double>(c));
}

void ParzenEstimator::merge() {
  const std::size_t k_total = weights_.size();
  bool mergeable = true;
  for (const Dim& dim : dims_) mergeable = mergeable && dim.kind != Kind::kContinuous;
  // Continuous kernels practically never coincide; sorting them would cost more than it saves.
  merged_rep_.clear();
  merged_log_weights_.clear();
  if (!mergeable) {
    merged_rep_.resize(k_total);
    std::iota(merged_rep_.begin(), merged_rep_.end(), std::size_t{0});
    merged_log_weights_ = log_weights_;
    if (options_.width_weighted) {
      // Optuna 3.1's continuous kernels lack their 1/sigma factor (fit_numeric leaves it out of log_norm), which
      // weighs each component by the product of its widths; dividing by the sum of w_k * prod sigma_k makes that a
      // proper mixture again.
      double total = 0;
      for (std::size_t k = 0; k < k_total; ++k) {
        double w = weights_[k];
        for (const Dim& dim : dims_) {
          if (dim.kind == Kind::kContinuous) w *= dim.sigmas[k];
        }
        total += w;
      }
      double log_total = std::log(total);
      if (!(total > 0) || !std::isfinite(log_total)) {
        // The products underflowed (many narrow dimensions): the same sum in log space.
        double top = -std::numeric_limits<double>::infinity();
        for (std::size_t k = 0; k < k_total; ++k) {
          double lw = log_weights_[k];
          for (const Dim& dim : dims_) {
            if (dim.kind == Kind::kContinuous) lw += std::log(dim.sigmas[k]);
          }
          top = std::max(top, lw);
        }
        double sum = 0;
        for (std::size_t k = 0; k < k_total; ++k) {
          double lw = log_weights_[k];
          for (const Dim& dim : dims_) {
            if (dim.kind == Kind::kContinuous) lw += std::log(dim.sigmas[k]);
          }
          sum += std::exp(lw - top);
        }
        log_total = top + std::log(sum);
      }
      for (double& lw : merged_log_weights_) lw -= log_total;
    }
  } else if (dims_.size() == 1) {
    // One dimension: its kernel ids are small integers, so bucket instead of sorting.
    const Dim& dim = dims_[0];
    const std::vector<std::uint32_t>& ids = dim.kind == Kind::kDiscrete ? dim.unique_of : dim.cat_of;
    std::size_t n_ids = dim.kind == Kind::kDiscrete ? dim.u_mus.size() : dim.n_choices + 1;
    counts_.assign(n_ids, k_total);  // id -> merged index, k_total = unseen
    for (std::size_t k = 0; k < k_total; ++k) {
      std::size_t& slot = counts_[ids[k]];
      if (slot == k_total) {
        slot = merged_rep_.size();
        merged_rep_.push_back(k);
        merged_log_weights_.push_back(0.0);
      }
      merged_log_weights_[slot] += weights_[k];
    }
    for (double& w : merged_log_weights_) w = std::log(w);
  } else {
    auto id = [&](const Dim& dim, std::size_t k) -> std::uint64_t {
      return dim.kind == Kind::kDiscrete ? dim.unique_of[k] : dim.cat_of[k];
    };
    // One integer key per component (mixed radix over the dimensions' kernel ids) when it fits, else a
    // lexicographic comparison; ties by index keep the first component as the representative.
    std::uint64_t radix = 1;
    bool packed = true;
    for (const Dim& dim : dims_) {
      std::uint64_t base = dim.kind == Kind::kDiscrete ? dim.u_mus.size() : dim.n_choices + 1;
      if (radix > (std::uint64_t{1} << 62) / base) packed = false;
      radix *= packed ? base : 1;
    }
    merge_keys_.resize(k_total);
    for (std::size_t k = 0; k < k_total; ++k) {
      std::uint64_t key = 0;
      if (packed) {
        for (const Dim& dim : dims_) {
          key = key * (dim.kind == Kind::kDiscrete ? dim.u_mus.size() : dim.n_choices + 1) + id(dim, k);
        }
      }
      merge_keys_[k] = {key, k};
    }
    auto same_kernels = [&](std::size_t x, std::size_t y) {
      for (const Dim& dim : dims_) {
        if (id(dim, x) != id(dim, y)) return false;
      }
      return true;
    };
    if (packed) {
      std::sort(merge_keys_.begin(), merge_keys_.end());
    } else {
      std::sort(merge_keys_.begin(), merge_keys_.end(), [&](const auto& x, const auto& y) {
        for (const Dim& dim : dims_) {
          if (id(dim, x.second) != id(dim, y.second)) return id(dim, x.second) < id(dim, y.second);
        }
        return x.second < y.second;
      });
    }
    for (std::size_t j = 0; j < k_total; ++j) {
      std::size_t k = merge_keys_[j].second;
      if (j > 0 && same_kernels(k, merged_rep_.back())) {
        merged_log_weights_.back() += weights_[k];  // summed as weights, logged below
      } else {
        merged_rep_.push_back(k);
        merged_log_weights_.push_back(weights_[k]);
      }
    }
    for (double& w : merged_log_weights_) w = std::log(w);
  }
  const std::size_t m_total = merged_rep_.size();
  for (Dim& dim : dims_) {
    if (dim.kind == Kind::kContinuous) {
      dim.e_mus.resize(m_total);
      dim.e_inv.resize(m_total);
      dim.e_norm.resize(m_total);
      for (std::size_t m = 0; m < m_total; ++m) {
        dim.e_mus[m] = dim.mus[merged_rep_[m]];
        dim.e_inv[m] = dim.inv_sigmas[merged_rep_[m]];
        dim.e_norm[m] = dim.log_norm[merged_rep_[m]];
      }
    } else if (dim.kind == Kind::kDiscrete) {
      dim.e_unique.resize(m_total);
      for (std::size_t m = 0; m < m_total; ++m) dim.e_unique[m] = dim.unique_of[merged_rep_[m]];
    } else {
      // A kernel row holds only three distinct values: its own choice, the others, or the prior's uniform.
      const std::size_t c = dim.n_choices;
      dim.e_log_cat.resize(c * m_total);
      for (std::size_t m = 0; m < m_total; ++m) {
        std::uint32_t own = dim.cat_of[merged_rep_[m]];
        for (std::size_t j = 0; j < c; ++j) {
          dim.e_log_cat[j * m_total + m] = own == c ? dim.log_prior_choice : (own == j ? dim.log_hit : dim.log_miss);
        }
      }
    }
  }
}

void ParzenEstimator::sample(std::mt19937_64& rng, std::size_t n, std::vector<double>& out) {
  const std::size_t nd = dims_.size();
  const std::size_t k_total = weights_.size();
  out.resize(n * nd);
  // Component of each point first, then each dimension in turn (the order Optuna draws in).
  active_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    double u = uniform01(rng);
    auto it = std::upper_bound(cumulative_.begin(), cumulative_.end(), u);
    active_[i] = std::min<std::size_t>(static_cast<std::size_t>(it - cumulative_.begin()), k_total - 1);
  }
  for (std::size_t d = 0; d < nd; ++d) {
    const Dim& dim = dims_[d];
    for (std::size_t i = 0; i < n; ++i) {
      std::size_t k = active_[i];
      double u = uniform01(rng);
      double v;
      if (dim.kind == Kind::kCategorical) {
        // Index of the first choice whose cumulative probability reaches u.
        const double* row = &dim.cat_weights[k * dim.n_choices];
        double cum = 0;
        std::size_t j = 0;
        for (; j + 1 < dim.n_choices; ++j) {
          cum += row[j];
          if (cum >= u) break;
        }
        v = static_cast<double>(j);
      } else {
        double mu = dim.mus[k], s = dim.sigmas[k];
        double x = truncnorm::ppf(u, (dim.low - mu) / s, (dim.high - mu) / s, dim.log_mass[k]) * s + mu;
        if (dim.log) {
          v = std::exp(x);
          if (dim.is_int) v = std::nearbyint(v);
          v = std::min(dim.dist_high, std::max(dim.dist_low, v));
        } else if (dim.kind == Kind::kDiscrete) {
          // Round half to even, as numpy does.
          v = std::nearbyint((x - dim.dist_low) / dim.q) * dim.q + dim.dist_low;
          v = std::min(dim.dist_high, std::max(dim.dist_low, v));
        } else {
          v = x;
        }
      }
      out[i * nd + d] = v;
    }
  }
}

double ParzenEstimator::discrete_term(const Dim& dim, double x, std::size_t u, bool exact, bool* bounded) const {
  // log P(x) under distinct kernel u: its mass over x's step, normalised by its mass inside the bounds.
  double lo = std::max(x - 0.5 * dim.q, dim.low);
  double hi = std::min(x + 0.5 * dim.q, dim.high);
  double mu = dim.u_mus[u], inv = dim.u_inv[u], h = dim.u_half[u];
  double m = (x - mu) * inv;
  double a = (lo - mu) * inv, b = (hi - mu) * inv;
  *bounded = false;
  bool full_step = (hi - lo) >= dim.q * (1 - 1e-12);
  if (full_step && h <= truncnorm::kSeriesMaxHalfWidth && std::fabs(m) * h <= truncnorm::kSeriesMaxProduct) {
    return truncnorm::log_gauss_mass_series(m, h, dim.u_log_width[u]) - dim.u_log_norm[u];
  }
  if ((a <= 0 && b >= 0) || exact) return truncnorm::log_gauss_mass_central(a, b) - dim.u_log_norm[u];
  // A step in the kernel's tail: its width times the density at its nearer end bounds the mass from above,
  // cheaply. Most such kernels turn out negligible; log_pdf computes the exact value for the others.
  *bounded = true;
  double t = b <= 0 ? b : a;
  double log_width = full_step ? dim.u_log_width[u] : std::log(b - a);
  return log_width - 0.5 * t * t - kLogSqrt2Pi - dim.u_log_norm[u];
}

void ParzenEstimator::add_discrete(std::size_t d, const std::vector<double>& points, std::size_t n) {
  const Dim& dim = dims_[d];
  const std::size_t nd = dims_.size();
  const std::size_t m_total = merged_rep_.size();
  const std::size_t n_unique = dim.u_mus.size();
  // Candidates repeat grid values often; each distinct value is a group whose terms are computed once.
  keyed_.resize(n);
  for (std::size_t i = 0; i < n; ++i) keyed_[i] = {points[i * nd + d], i};
  std::sort(keyed_.begin(), keyed_.end());
  std::size_t n_groups = 0;
  for (std::size_t j = 0; j < n; ++j) n_groups += (j == 0 || keyed_[j].first != keyed_[j - 1].first) ? 1 : 0;
  DiscreteTerms& t = terms_[d];
  t.n_unique = n_unique;
  t.value.resize(n_groups * n_unique);
  t.bounded.resize(n_groups * n_unique);
  t.exact.assign(n_groups * n_unique, std::numeric_limits<double>::quiet_NaN());
  t.group_of.resize(n);
  if (dim.shared_widths) t.table.assign(dim.class_inv.size() * dim.n_offsets, std::numeric_limits<double>::quiet_NaN());
  const std::uint32_t* unique_of = dim.e_unique.data();
  std::size_t g = 0;
  for (std::size_t start = 0; start < n; ++g) {
    double x = keyed_[start].first;
    std::size_t end = start;
    while (end < n && keyed_[end].first == x) ++end;
    double* value = &t.value[g * n_unique];
    std::uint8_t* bounded = &t.bounded[g * n_unique];
    bool any_bounded = false;
    double pos = 2 * (x - dim.dist_low) / dim.q;
    long long x_half = std::llround(pos);
    if (dim.shared_widths && std::fabs(pos - static_cast<double>(x_half)) < 1e-6 && (x_half & 1) == 0) {
      // On the grid: exact terms from the (width, offset) table, filled as needed.
      const long long centre = static_cast<long long>(dim.n_offsets / 2);
      for (std::size_t u = 0; u < n_unique; ++u) {
        long long offset = x_half - dim.u_half_step[u] + centre;
        double& cell = t.table[dim.u_class[u] * dim.n_offsets + static_cast<std::size_t>(offset)];
        if (std::isnan(cell)) {
          bool b;
          cell = discrete_term(dim, x, u, true, &b) + dim.u_log_norm[u];
        }
        value[u] = cell - dim.u_log_norm[u];
        bounded[u] = 0;
      }
    } else {
      for (std::size_t u = 0; u < n_unique; ++u) {
        bool b;
        value[u] = discrete_term(dim, x, u, false, &b);
        bounded[u] = b ? 1 : 0;
        any_bounded = any_bounded || b;
      }
    }
    for (std::size_t j = start; j < end; ++j) {
      std::size_t i = keyed_[j].second;
      t.group_of[i] = g;
      double* acc = &matrix_[i * m_total];
      for (std::size_t m = 0; m < m_total; ++m) acc[m] += value[unique_of[m]];
      if (!any_bounded) continue;
      std::uint8_t* flags = &bounded_[i * m_total];
      for (std::size_t m = 0; m < m_total; ++m) flags[m] |= bounded[unique_of[m]];
    }
    start = end;
  }
}

void ParzenEstimator::refine(const std::vector<double>& points, std::size_t i, std::size_t m) {
  // Swaps every bound of merged component m at point i for the exact term (memoised per value and kernel).
  const std::size_t nd = dims_.size();
  const std::size_t m_total = merged_rep_.size();
  double& acc = matrix_[i * m_total + m];
  for (std::size_t d = 0; d < nd; ++d) {
    const Dim& dim = dims_[d];
    if (dim.kind != Kind::kDiscrete) continue;
    DiscreteTerms& t = terms_[d];
    std::size_t u = dim.e_unique[m];
    std::size_t cell = t.group_of[i] * t.n_unique + u;
    if (!t.bounded[cell]) continue;
    if (std::isnan(t.exact[cell])) {
      bool bounded;
      t.exact[cell] = discrete_term(dim, points[i * nd + d], u, true, &bounded);
    }
    acc += t.exact[cell] - t.value[cell];
  }
  bounded_[i * m_total + m] = 0;
}

void ParzenEstimator::log_pdf(const std::vector<double>& points, std::size_t n, std::vector<double>& out) {
  const std::size_t nd = dims_.size();
  const std::size_t m_total = merged_rep_.size();
  constexpr double kMinusInf = -std::numeric_limits<double>::infinity();
  if (points.size() != n * nd) {
    throw ValueError("Parzen estimator: " + std::to_string(points.size()) + " values for " + std::to_string(n) +
                     " points of " + std::to_string(nd) + " parameters");
  }
  out.assign(n, 0.0);
  matrix_.resize(n * m_total);
  bool any_discrete = false;
  for (const Dim& dim : dims_) any_discrete = any_discrete || dim.kind == Kind::kDiscrete;
  if (any_discrete) {
    bounded_.assign(n * m_total, 0);
    terms_.resize(nd);
  }
  for (std::size_t i = 0; i < n; ++i) {
    std::copy(merged_log_weights_.begin(), merged_log_weights_.end(), &matrix_[i * m_total]);
  }
  for (std::size_t d = 0; d < nd; ++d) {
    const Dim& dim = dims_[d];
    if (dim.kind == Kind::kDiscrete) {
      add_discrete(d, points, n);
      continue;
    }
    for (std::size_t i = 0; i < n; ++i) {
      double* acc = &matrix_[i * m_total];
      double v = points[i * nd + d];
      if (dim.kind == Kind::kCategorical) {
        auto j = static_cast<std::size_t>(std::llround(v));
        if (j >= dim.n_choices) {
          throw ValueError("Parzen estimator: choice index " + std::to_string(j) + " out of range");
        }
        const double* lw = &dim.e_log_cat[j * m_total];
        add_row(acc, lw, m_total);
        continue;
      }
      double x = dim.log ? std::log(v) : v;
      if (!(x >= dim.low && x <= dim.high)) {
        out[i] = kMinusInf;
        continue;
      }
      add_gaussian(acc, x, dim.e_mus.data(), dim.e_inv.data(), dim.e_norm.data(), m_total);
    }
  }
  // Log-sum-exp per point. Components more than 40 below the best add nothing measurable, and late in a study
  // most are that far: the near ones are gathered first (branch-free), then exponentiated in a vectorized loop.
  row_.resize(m_total);
  double* near = row_.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (out[i] == kMinusInf) continue;
    double* row = &matrix_[i * m_total];
    double top[4] = {row[0], row[0], row[0], row[0]};
    std::size_t m = 0;
    for (; m + 4 <= m_total; m += 4) {
      for (std::size_t j = 0; j < 4; ++j) top[j] = std::max(top[j], row[m + j]);
    }
    for (; m < m_total; ++m) top[0] = std::max(top[0], row[m]);
    double best = std::max(std::max(top[0], top[1]), std::max(top[2], top[3]));
    if (any_discrete && std::isfinite(best)) {
      // Some terms are upper bounds. Refine the leader until it is exact; then every bound more than 40 below
      // it is negligible whatever its exact value, and only the others need refining.
      std::uint8_t* flags = &bounded_[i * m_total];
      for (;;) {
        auto lead = static_cast<std::size_t>(std::max_element(row, row + m_total) - row);
        if (!flags[lead]) {
          best = row[lead];
          break;
        }
        refine(points, i, lead);
      }
      for (m = 0; m < m_total; ++m) {
        if (!flags[m]) continue;
        if (row[m] > best + kNegligibleLog) {
          refine(points, i, m);
        } else {
          row[m] = kMinusInf;
        }
      }
    }
    if (!std::isfinite(best)) {
      out[i] = best;
      continue;
    }
    std::size_t count = 0;
    const double floor = best + kNegligibleLog;
    for (m = 0; m < m_total; ++m) {
      near[count] = row[m] - best;
      count += row[m] > floor ? 1 : 0;
    }
    exp_in_place(near, count);
    double sum[4] = {0, 0, 0, 0};
    for (m = 0; m + 4 <= count; m += 4) {
      for (std::size_t j = 0; j < 4; ++j) sum[j] += near[m + j];
    }
    for (; m < count; ++m) sum[0] += near[m];
    out[i] = best + std::log((sum[0] + sum[1]) + (sum[2] + sum[3]));
  }
}

}  // namespace nasforge
