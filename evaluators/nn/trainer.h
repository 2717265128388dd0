#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "evaluators/data/dataset.h"
#include "evaluators/train_config.h"
#include "spaces/nn/graph_module.h"

namespace nasforge {

/// One split as tensors on the training device. Images stay uint8 [N, C, H, W] (4x less memory, converted per
/// batch); feature rows are float [N, F, 1, 1], normalized once when converted.
struct TensorSplit {
  torch::Tensor x;  ///< Samples.
  torch::Tensor y;  ///< int64 class indices [N].
  /// Number of samples.
  std::int64_t size() const { return y.defined() ? y.size(0) : 0; }
};

/// Train and validation splits on one device, with what turns a stored batch into network input.
struct TrainData {
  TensorSplit train;                  ///< Training split.
  TensorSplit val;                    ///< Validation split.
  bool is_image = false;              ///< True: x is uint8 and each batch is augmented (train only) and normalized.
  torch::Tensor mean;                 ///< float [1, C, 1, 1] per-channel mean (image batches).
  torch::Tensor stddev;               ///< float [1, C, 1, 1] per-channel stddev (image batches; zeros replaced by 1).
  AugmentOptions augment;             ///< Training-time augmentation of image batches.
  Shape shape;                        ///< Shape of one sample.
  int num_classes = 0;                ///< Number of classes.
  torch::Device device{torch::kCPU};  ///< Where every tensor lives.
};

/// Converts loaded splits to tensors on `device` (one copy; the caller may then drop `splits`).
TrainData to_tensors(const DatasetSplits& splits, const AugmentOptions& augment, torch::Device device);

/// Network input for stored samples `x` (a batch of TensorSplit::x): images are cropped/flipped when `augment`
/// (offsets and flips drawn from `gen`, a CPU generator), converted to float and normalized.
torch::Tensor prepare_batch(const TrainData& data, const torch::Tensor& x, bool augment, at::Generator* gen);

/// Accuracy and loss of a network on one split.
struct EvalResult {
  double accuracy = 0;  ///< Fraction of samples whose arg-max logit is the label (0..1).
  double loss = 0;      ///< Mean cross-entropy (no label smoothing).
  std::int64_t n = 0;   ///< Number of samples.
};

/// Evaluates `net` on `split` in eval mode without gradients, `batch_size` samples at a time.
EvalResult evaluate_split(GraphNet& net, const TrainData& data, const TensorSplit& split, std::int64_t batch_size);

/// What the trainer reports after each epoch.
struct EpochMetrics {
  int epoch = 0;            ///< 1-based.
  double train_loss = 0;    ///< Mean training loss of the epoch (with label smoothing).
  double val_accuracy = 0;  ///< Validation accuracy as a fraction 0..1.
  double val_loss = 0;      ///< Validation cross-entropy.
};

/// The metric that picks the best epoch, drives early stopping and is reported per epoch.
struct Monitor {
  std::string metric = "val_accuracy";  ///< val_accuracy, val_loss or train_loss.
  bool maximize = true;                 ///< True for val_accuracy.
  /// The monitored value of one epoch.
  double value(const EpochMetrics& m) const;
};

/// Hooks into the training loop; all optional.
struct TrainHooks {
  /// Called after each epoch's validation; may throw (e.g. TrialPruned) to end training.
  std::function<void(const EpochMetrics&)> on_epoch;
  /// Polled every batch; when true the trainer throws Interrupted.
  std::function<bool()> stop_requested;
  /// Called after every optimizer step, e.g. to re-apply pruning masks or snap weights to cluster centroids.
  std::function<void()> after_step;
  /// Replaces the training loss: gets the network input, its logits and the labels (knowledge distillation).
  std::function<torch::Tensor(const torch::Tensor& x, const torch::Tensor& logits, const torch::Tensor& y)> loss;
};

/// Outcome of a training run; the network holds the best epoch's weights afterwards.
struct TrainResult {
  EpochMetrics best;            ///< Metrics of the best epoch (by the monitor).
  int epochs_run = 0;           ///< Epochs completed.
  bool stopped_early = false;   ///< True when early stopping ended training before `epochs`.
  double train_time_s = 0;      ///< Wall time of training and per-epoch validation.
  double images_per_s = 0;      ///< Training samples per second of the training steps (validation excluded).
  std::int64_t iterations = 0;  ///< Optimizer steps taken.
};

/// Learning rate at 0-based iteration `it` of `total` (warm-up, then the schedule), per TrainHyperparams.
double learning_rate(const TrainHyperparams& h, std::int64_t it, std::int64_t iters_per_epoch);

/// Trains `net` (already on data.device) with `h`; shuffling and augmentation draw from a generator seeded with
/// `seed`. Throws ObjectiveError when the loss becomes NaN or infinite, Interrupted when hooks ask to stop.
TrainResult train_network(GraphNet& net, const TrainData& data, const TrainHyperparams& h, const Monitor& monitor,
                          std::int64_t eval_batch_size, std::uint64_t seed, const TrainHooks& hooks = {});

/// Median wall time in milliseconds of `runs` batch-1 forward passes after `warmup` untimed ones (eval mode,
/// no gradients, on `device`).
double measure_latency_ms(GraphNet& net, const Shape& shape, torch::Device device, int runs, int warmup);

/// "auto" -> cuda when available, else cpu; "cuda" without a GPU is an ObjectiveError.
torch::Device resolve_device(const std::string& name);

}  // namespace nasforge
