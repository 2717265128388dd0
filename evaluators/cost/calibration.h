#pragma once

#include <string>
#include <vector>

#include "evaluators/cost/kernels.h"
#include "evaluators/cost/target_profile.h"

namespace nasforge {

/// One network whose latency was measured on the device.
struct LatencySample {
  std::vector<Kernel> kernels;          ///< Its kernels under the profile's fusion rules.
  DataType dtype = DataType::kFloat32;  ///< What it computed in.
  double latency_ms = 0;                ///< The measured batch-1 latency.
};

/// A fitted profile and how well it predicts networks it was not fitted on.
struct Calibration {
  TargetProfile profile;              ///< The base profile with fitted efficiencies, overheads and bandwidth.
  double ridge = 0;                   ///< The pull towards the base profile that leave-one-out chose.
  std::vector<double> loo_predicted;  ///< Leave-one-out prediction of each sample, ms (empty when not computed).
  double loo_spearman = 0;            ///< Spearman of loo_predicted against the measurements.
  double loo_mdape = 0;               ///< Median absolute percentage error of loo_predicted, as a fraction.
};

/// The predicted batch-1 latency in ms of `kernels` computing in `dtype` on `target`.
double predict_latency_ms(const std::vector<Kernel>& kernels, DataType dtype, const TargetProfile& target);

/// Fits each kernel type's efficiency and overhead and the bandwidth of `base` to `samples`, minimizing squared
/// relative error with a ridge pull (weight `ridge`) towards `base`'s own values, so coefficients the samples say
/// nothing about keep the base's and few samples cannot overfit. The data-type rates stay as in `base`: fp32 and
/// int8 samples share the efficiencies. ValueError for no samples or a non-positive latency.
TargetProfile fit_profile(const TargetProfile& base, const std::vector<LatencySample>& samples, double ridge);

/// fit_profile with the ridge weight chosen by leave-one-out error from a fixed grid, plus the leave-one-out
/// predictions and their Spearman and median error (needs at least 3 samples for those).
Calibration calibrate(const TargetProfile& base, const std::vector<LatencySample>& samples);

/// Spearman rank correlation (ties get their average rank); 0 when either side is constant.
double spearman(const std::vector<double>& a, const std::vector<double>& b);

/// Median of |predicted - measured| / measured.
double median_ape(const std::vector<double>& predicted, const std::vector<double>& measured);

}  // namespace nasforge
