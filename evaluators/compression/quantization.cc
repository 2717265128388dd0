// Quantization parameters and range observers (torch-free, so they run under the sanitizer build).
//
// choose_qparams follows PyTorch's observers (torch/ao/quantization/observer.py, _calculate_qparams): the range
// is widened to contain 0, everything is computed in float32 as libtorch does, the scale is at least float
// epsilon, and a symmetric unsigned range centres on (qmin + qmax + 1) / 2 (128 for 8 bits, PyTorch's quint8).
//
// The percentile and entropy observers keep a fixed number of equal-width bins. When a batch falls outside the
// current range the bin width doubles (as often as needed) and the range is extended by whole old bins, so every
// old bin lies inside exactly one new bin and counts move without interpolation error. Until a batch with two
// different values arrives, the histogram is not built: constant data (all-zero ReLU outputs) has no width.

#include "evaluators/compression/quantization.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"

namespace nasforge {

namespace {

// Min and max of one batch; ValueError for an empty batch or a NaN / infinity.
std::pair<double, double> batch_range(const float* values, std::size_t n) {
  check(n > 0, "a range observer needs at least one value per batch, got an empty batch");
  float lo = values[0], hi = values[0];
  for (std::size_t i = 0; i < n; ++i) {
    float v = values[i];
    if (!std::isfinite(v)) {
      throw ValueError("a range observer got the non-finite value " + std::to_string(v) + " at index " +
                       std::to_string(i) + "; only finite values can be quantized");
    }
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  return {lo, hi};
}

class MinMaxObserver : public RangeObserver {
 public:
  void observe(const float* values, std::size_t n) override {
    auto [lo, hi] = batch_range(values, n);
    min_ = seen_ ? std::min(min_, lo) : lo;
    max_ = seen_ ? std::max(max_, hi) : hi;
    seen_ = true;
  }
  std::pair<double, double> range() const override {
    if (!seen_) throw StateError("the min-max observer has no range before its first batch");
    return {min_, max_};
  }

 private:
  bool seen_ = false;
  double min_ = 0, max_ = 0;
};

class MovingAverageObserver : public RangeObserver {
 public:
  explicit MovingAverageObserver(double c) : c_(c) {}
  void observe(const float* values, std::size_t n) override {
    auto [lo, hi] = batch_range(values, n);
    if (!seen_) {
      min_ = lo;
      max_ = hi;
      seen_ = true;
    } else {
      min_ += c_ * (lo - min_);
      max_ += c_ * (hi - max_);
    }
  }
  std::pair<double, double> range() const override {
    if (!seen_) throw StateError("the moving-average observer has no range before its first batch");
    return {min_, max_};
  }

 private:
  double c_;
  bool seen_ = false;
  double min_ = 0, max_ = 0;
};

// Equal-width histogram over [lo, lo + bins * width) whose range grows by merging bins.
class Histogram {
 public:
  explicit Histogram(int bins) : counts_(static_cast<std::size_t>(bins), 0.0) {}

  // Adds values already known to be finite; `lo`..`hi` is their range.
  void add(const float* values, std::size_t n, double lo, double hi, bool absolute) {
    if (!built_) {
      double all_lo = pending_ > 0 ? std::min(lo, pending_value_) : lo;
      double all_hi = pending_ > 0 ? std::max(hi, pending_value_) : hi;
      if (all_lo == all_hi) {
        pending_value_ = all_lo;
        pending_ += static_cast<double>(n);
        return;
      }
      built_ = true;
      lo_ = all_lo;
      width_ = (all_hi - all_lo) / static_cast<double>(counts_.size());
      if (pending_ > 0) counts_[bin_of(pending_value_)] += pending_;
      pending_ = 0;
    } else {
      grow(lo, hi);
    }
    for (std::size_t i = 0; i < n; ++i) {
      double v = absolute ? std::fabs(values[i]) : values[i];
      counts_[bin_of(v)] += 1;
    }
  }

  bool built() const { return built_; }
  double pending_value() const { return pending_value_; }
  double lo() const { return lo_; }
  double width() const { return width_; }
  const std::vector<double>& counts() const { return counts_; }

 private:
  std::size_t bin_of(double v) const {
    double b = std::floor((v - lo_) / width_);
    double last = static_cast<double>(counts_.size() - 1);
    return static_cast<std::size_t>(std::clamp(b, 0.0, last));
  }

  // Doubles the bin width until [lo, hi] fits, extending the range downwards by whole old bins.
  void grow(double lo, double hi) {
    const auto bins = static_cast<double>(counts_.size());
    if (lo >= lo_ && hi <= lo_ + bins * width_) return;
    // Old bins added below the old range (a whole number, so old edges stay edges of the new grid).
    double shift = lo < lo_ ? std::ceil((lo_ - lo) / width_) : 0.0;
    double factor = 1;
    while ((lo_ - shift * width_) + bins * width_ * factor < hi || shift + bins > bins * factor) factor *= 2;
    std::vector<double> merged(counts_.size(), 0.0);
    for (std::size_t b = 0; b < counts_.size(); ++b) {
      auto to = static_cast<std::size_t>(std::floor((static_cast<double>(b) + shift) / factor));
      merged[std::min(to, counts_.size() - 1)] += counts_[b];
    }
    counts_ = std::move(merged);
    lo_ -= shift * width_;
    width_ *= factor;
  }

  std::vector<double> counts_;
  bool built_ = false;
  double lo_ = 0, width_ = 1;
  double pending_value_ = 0;  // the one value seen while no histogram exists
  double pending_ = 0;        // how often it was seen
};

class PercentileObserver : public RangeObserver {
 public:
  PercentileObserver(double percentile, int bins) : percentile_(percentile), hist_(bins) {}
  void observe(const float* values, std::size_t n) override {
    auto [lo, hi] = batch_range(values, n);
    hist_.add(values, n, lo, hi, false);
    min_ = seen_ ? std::min(min_, lo) : lo;
    max_ = seen_ ? std::max(max_, hi) : hi;
    seen_ = true;
  }
  std::pair<double, double> range() const override {
    if (!seen_) throw StateError("the percentile observer has no range before its first batch");
    if (!hist_.built()) return {hist_.pending_value(), hist_.pending_value()};
    // Clamped to what was seen: interpolation inside the outermost bins could otherwise reach past it.
    double lo = std::max(min_, quantile((100 - percentile_) / 100));
    double hi = std::min(max_, quantile(percentile_ / 100));
    return {lo, std::max(lo, hi)};
  }

 private:
  // The value below which a fraction `f` of the counts lies, linear within the bin that crosses it.
  double quantile(double f) const {
    const std::vector<double>& counts = hist_.counts();
    double total = 0;
    for (double c : counts) total += c;
    double target = f * total, cum = 0;
    for (std::size_t b = 0; b < counts.size(); ++b) {
      if (counts[b] > 0 && cum + counts[b] >= target) {
        double frac = std::clamp((target - cum) / counts[b], 0.0, 1.0);
        return hist_.lo() + hist_.width() * (static_cast<double>(b) + frac);
      }
      cum += counts[b];
    }
    return hist_.lo() + hist_.width() * static_cast<double>(counts.size());
  }

  double percentile_;
  Histogram hist_;
  bool seen_ = false;
  double min_ = 0, max_ = 0;
};

// KL(P || Q) of two unnormalized distributions over the first n bins; Q > 0 wherever P > 0.
double kl_divergence(const std::vector<double>& p, const std::vector<double>& q, std::size_t n) {
  double sp = 0, sq = 0;
  for (std::size_t b = 0; b < n; ++b) {
    sp += p[b];
    sq += q[b];
  }
  double kl = 0;
  for (std::size_t b = 0; b < n; ++b) {
    if (p[b] > 0) kl += (p[b] / sp) * std::log((p[b] / sp) / (q[b] / sq));
  }
  return kl;
}

// Gives empty bins a small mass taken evenly from the others, so that KL(P || Q) stays finite where P has mass
// Q lacks (MXNet's and TensorRT's calibrators do the same, with the same 1e-4 per bin of raw counts).
void smooth(std::vector<double>& h, std::size_t n) {
  constexpr double kEps = 1e-4;
  std::size_t zeros = 0;
  for (std::size_t b = 0; b < n; ++b) zeros += h[b] == 0 ? 1 : 0;
  if (zeros == 0 || zeros == n) return;
  const double take = kEps * static_cast<double>(zeros) / static_cast<double>(n - zeros);
  for (std::size_t b = 0; b < n; ++b) h[b] = h[b] == 0 ? kEps : std::max(h[b] - take, kEps);
}

class EntropyObserver : public RangeObserver {
 public:
  EntropyObserver(int bits, int bins) : bits_(bits), hist_(bins) {}
  void observe(const float* values, std::size_t n) override {
    auto [lo, hi] = batch_range(values, n);
    negative_ = negative_ || lo < 0;
    // A histogram of |x| over [0, max |x|]: the lower end stays at 0.
    hist_.add(values, n, 0.0, std::max(std::fabs(lo), std::fabs(hi)), true);
    seen_ = true;
  }
  std::pair<double, double> range() const override {
    if (!seen_) throw StateError("the entropy observer has no range before its first batch");
    double t = threshold();
    return {negative_ ? -t : 0.0, t};
  }

 private:
  // The upper edge of the first i bins whose quantization to `levels` levels loses the least information.
  double threshold() const {
    if (!hist_.built()) return 0;  // only zeros were seen
    const std::vector<double>& counts = hist_.counts();
    const std::size_t bins = counts.size();
    const std::size_t levels = std::size_t{1} << (negative_ ? bits_ - 1 : bits_);
    if (levels >= bins) return hist_.width() * static_cast<double>(bins);
    std::vector<double> beyond(bins + 1, 0.0);  // beyond[i]: the mass of bins i and up
    for (std::size_t b = bins; b-- > 0;) beyond[b] = beyond[b + 1] + counts[b];
    std::vector<double> p(bins), q(bins);
    double best = std::numeric_limits<double>::infinity();
    std::size_t best_i = bins;
    for (std::size_t i = levels; i <= bins; ++i) {
      // Reference P: the first i bins, with the clipped outliers' mass added to the last of them.
      std::copy(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(i), p.begin());
      p[i - 1] += beyond[i];
      // Candidate Q: the first i bins (outliers clipped away) merged into `levels` chunks, each chunk's mass
      // spread evenly over the bins where P is nonzero.
      for (std::size_t j = 0; j < levels; ++j) {
        std::size_t start = j * i / levels, stop = (j + 1) * i / levels;
        double mass = 0, nonzero = 0;
        for (std::size_t b = start; b < stop; ++b) {
          mass += counts[b];
          nonzero += p[b] > 0 ? 1 : 0;
        }
        for (std::size_t b = start; b < stop; ++b) q[b] = p[b] > 0 ? mass / nonzero : 0;
      }
      smooth(p, i);
      smooth(q, i);
      double kl = kl_divergence(p, q, i);
      // A margin against rounding: equal divergences keep the smaller threshold.
      if (kl < best - 1e-12) {
        best = kl;
        best_i = i;
      }
    }
    return hist_.width() * static_cast<double>(best_i);
  }

  int bits_;
  Histogram hist_;
  bool seen_ = false;
  bool negative_ = false;
};

}  // namespace

QuantRange quant_range(int bits, bool is_signed) {
  if (bits < 2 || bits > 16) {
    throw ValueError("quantization bit width " + std::to_string(bits) + " is outside the supported 2..16");
  }
  if (is_signed) return {-(std::int64_t{1} << (bits - 1)), (std::int64_t{1} << (bits - 1)) - 1};
  return {0, (std::int64_t{1} << bits) - 1};
}

QParams choose_qparams(double min_value, double max_value, QuantRange range, bool symmetric) {
  if (!std::isfinite(min_value) || !std::isfinite(max_value) || min_value > max_value) {
    throw ValueError("cannot quantize the range [" + std::to_string(min_value) + ", " + std::to_string(max_value) +
                     "]: it must be finite with min <= max");
  }
  if (range.qmin >= range.qmax || range.qmin > 0 || range.qmax < 0) {
    throw ValueError("integer range [" + std::to_string(range.qmin) + ", " + std::to_string(range.qmax) +
                     "] must contain 0 and more than one value");
  }
  // float32 throughout, as PyTorch's observers compute on float tensors.
  const float lo = std::min(static_cast<float>(std::max(min_value, -static_cast<double>(FLT_MAX))), 0.0f);
  const float hi = std::max(static_cast<float>(std::min(max_value, static_cast<double>(FLT_MAX))), 0.0f);
  const auto steps = static_cast<float>(range.qmax - range.qmin);
  QParams q;
  if (symmetric) {
    float scale = std::max(std::max(-lo, hi) / (steps / 2.0f), FLT_EPSILON);
    q.scale = scale;
    q.zero_point = range.qmin < 0 ? 0 : (range.qmin + range.qmax + 1) / 2;
  } else {
    float scale = std::max((hi - lo) / steps, FLT_EPSILON);
    q.scale = scale;
    auto zp = range.qmin - static_cast<std::int64_t>(std::nearbyint(lo / scale));
    q.zero_point = std::clamp(zp, range.qmin, range.qmax);
  }
  return q;
}

float fake_quantize(float x, const QParams& q, const QuantRange& range) {
  const auto scale = static_cast<float>(q.scale);
  const float inv_scale = 1.0f / scale;
  // libtorch adds the zero point after rounding (ties to even of x / scale itself) and clamps the integer.
  double v = static_cast<double>(std::nearbyint(x * inv_scale)) + static_cast<double>(q.zero_point);
  v = std::clamp(v, static_cast<double>(range.qmin), static_cast<double>(range.qmax));
  return static_cast<float>((v - static_cast<double>(q.zero_point)) * static_cast<double>(scale));
}

const char* to_string(ObserverKind kind) {
  switch (kind) {
    case ObserverKind::kMinMax:
      return "minmax";
    case ObserverKind::kMovingAverage:
      return "moving_average";
    case ObserverKind::kPercentile:
      return "percentile";
    case ObserverKind::kEntropy:
      return "entropy";
  }
  return "?";
}

std::unique_ptr<RangeObserver> make_observer(ObserverKind kind, const ObserverOptions& options) {
  switch (kind) {
    case ObserverKind::kMinMax:
      return std::make_unique<MinMaxObserver>();
    case ObserverKind::kMovingAverage:
      if (!(options.averaging_constant > 0 && options.averaging_constant <= 1)) {
        throw ValueError("moving-average constant " + std::to_string(options.averaging_constant) +
                         " is outside (0, 1]");
      }
      return std::make_unique<MovingAverageObserver>(options.averaging_constant);
    case ObserverKind::kPercentile:
      if (!(options.percentile > 50 && options.percentile <= 100)) {
        throw ValueError("percentile " + std::to_string(options.percentile) + " is outside (50, 100]");
      }
      if (options.bins < 2) throw ValueError("histogram bins " + std::to_string(options.bins) + " must be >= 2");
      return std::make_unique<PercentileObserver>(options.percentile, options.bins);
    case ObserverKind::kEntropy:
      quant_range(options.bits, false);  // validates 2..16
      if (options.bins < 2) throw ValueError("histogram bins " + std::to_string(options.bins) + " must be >= 2");
      return std::make_unique<EntropyObserver>(options.bits, options.bins);
  }
  throw ValueError("unknown observer kind " + std::to_string(static_cast<int>(kind)));
}

}  // namespace nasforge
