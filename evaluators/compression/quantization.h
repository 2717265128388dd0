#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace nasforge {

/// Integer range of a quantized value: signed [-2^(b-1), 2^(b-1)-1] or unsigned [0, 2^b-1].
struct QuantRange {
  std::int64_t qmin = 0;    ///< Smallest integer.
  std::int64_t qmax = 255;  ///< Largest integer.
};

/// The range of `bits`-bit integers (2..16); ValueError outside that.
QuantRange quant_range(int bits, bool is_signed);

/// Affine quantization parameters: R = (Q - zero_point) * scale.
struct QParams {
  double scale = 1;             ///< Step between two integers (> 0; stored as float by libtorch).
  std::int64_t zero_point = 0;  ///< The integer that represents 0.0 exactly.
};

/// Scale and zero point for observed values in [min_value, max_value], following PyTorch's observers (the
/// range is first widened to contain 0; symmetric uses max(|min|, |max|) around the range's middle integer).
QParams choose_qparams(double min_value, double max_value, QuantRange range, bool symmetric);

/// Reference scalar fake quantization, as libtorch rounds: clamp(nearbyint(x * (1 / scale)) + zp) then back.
float fake_quantize(float x, const QParams& q, const QuantRange& range);

/// How activation ranges are calibrated.
enum class ObserverKind {
  kMinMax,         ///< Running min and max of everything seen.
  kMovingAverage,  ///< Exponential moving average of each batch's min and max.
  kPercentile,     ///< The [100-p, p] percentiles of a histogram of the values (clips outliers).
  kEntropy,        ///< KL-divergence (TensorRT entropy) calibration on a histogram of |x|.
};

/// "minmax", "moving_average", "percentile", "entropy".
const char* to_string(ObserverKind kind);

/// Settings of the range observers.
struct ObserverOptions {
  double averaging_constant = 0.01;  ///< kMovingAverage: weight of each new batch.
  double percentile = 99.99;         ///< kPercentile: upper percentile (the lower one is 100 - p).
  int bins = 2048;                   ///< Histogram bins (kPercentile, kEntropy).
  int bits = 8;                      ///< kEntropy: target bit width (sets the number of quantization levels).
};

/// Accumulates the values of one tensor over calibration batches and proposes a [min, max] range.
class RangeObserver {
 public:
  virtual ~RangeObserver() = default;
  /// Adds one batch of `n` values (n > 0; non-finite values are an error).
  virtual void observe(const float* values, std::size_t n) = 0;
  /// The calibrated range; StateError before any observe().
  virtual std::pair<double, double> range() const = 0;
};

/// A new observer of `kind`.
std::unique_ptr<RangeObserver> make_observer(ObserverKind kind, const ObserverOptions& options = {});

}  // namespace nasforge
