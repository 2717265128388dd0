#include "evaluators/nn/trainer.h"

#include "evaluators/nn/nn_api.h"

#include <algorithm>
#include <cstdio>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <unistd.h>

#include "core/blas_check.h"
#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

namespace F = torch::nn::functional;
using SteadyClock = std::chrono::steady_clock;

double seconds_since(SteadyClock::time_point t0) {
  return std::chrono::duration<double>(SteadyClock::now() - t0).count();
}

torch::Tensor channel_tensor(const std::vector<float>& v, std::int64_t channels, float fallback, bool nonzero) {
  std::vector<float> values(static_cast<std::size_t>(channels), fallback);
  for (std::size_t i = 0; i < values.size() && i < v.size(); ++i) {
    // A constant channel has stddev 0; dividing by 1 instead leaves it centred rather than infinite.
    values[i] = nonzero && !(v[i] > 0) ? 1.0f : v[i];
  }
  return torch::tensor(values, torch::kFloat).view({1, channels, 1, 1});
}

TensorSplit split_tensors(const Dataset& d, bool is_image, const torch::Tensor& mean, const torch::Tensor& stddev,
                          torch::Device device) {
  const Shape& s = d.sample_shape;
  const auto n = static_cast<std::int64_t>(d.size());
  TensorSplit out;
  std::vector<std::int64_t> labels(d.labels.begin(), d.labels.end());
  out.y = torch::tensor(labels, torch::kLong).to(device);
  if (is_image) {
    check(d.pixels.size() == static_cast<std::size_t>(n * s.numel()),
          d.name + ": holds " + std::to_string(d.pixels.size()) + " pixel bytes, expected " +
              std::to_string(n * s.numel()));
    // from_blob borrows the vector; clone (CPU) or the device copy makes the tensor own its memory.
    torch::Tensor x = torch::from_blob(const_cast<std::uint8_t*>(d.pixels.data()), {n, s.c, s.h, s.w}, torch::kUInt8);
    out.x = device.is_cpu() ? x.clone() : x.to(device);
  } else {
    check(d.features.size() == static_cast<std::size_t>(n * s.numel()),
          d.name + ": holds " + std::to_string(d.features.size()) + " features, expected " +
              std::to_string(n * s.numel()));
    torch::Tensor x = torch::from_blob(const_cast<float*>(d.features.data()), {n, s.c, s.h, s.w}, torch::kFloat);
    // Feature rows are normalized once here instead of per batch.
    out.x = x.sub(mean).div_(stddev).to(device);
  }
  return out;
}

// Random crop (zero padding) and horizontal flip of a uint8 batch [B, C, H, W] as one gather: row and column
// indices per sample are drawn on the CPU generator, so the result is the same on every device.
torch::Tensor augment_batch(const torch::Tensor& x, const AugmentOptions& a, at::Generator* gen) {
  const std::int64_t b = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const auto cpu_long = torch::TensorOptions().dtype(torch::kLong);
  const torch::Device device = x.device();
  if (a.crop_padding == 0) {
    torch::Tensor flip = torch::randint(2, {b}, *gen, cpu_long).to(torch::kBool).to(device);
    return torch::where(flip.view({b, 1, 1, 1}), x.flip({3}), x);
  }
  const std::int64_t p = a.crop_padding;
  torch::Tensor padded = torch::constant_pad_nd(x, {p, p, p, p}, 0);
  torch::Tensor oy = torch::randint(2 * p + 1, {b, 1}, *gen, cpu_long);
  torch::Tensor ox = torch::randint(2 * p + 1, {b, 1}, *gen, cpu_long);
  torch::Tensor ar_h = torch::arange(h, cpu_long).view({1, h});
  torch::Tensor ar_w = torch::arange(w, cpu_long).view({1, w});
  torch::Tensor rows = oy + ar_h;
  torch::Tensor cols;
  if (a.hflip) {
    torch::Tensor flip = torch::randint(2, {b, 1}, *gen, cpu_long).to(torch::kBool);
    cols = ox + torch::where(flip, (w - 1) - ar_w, ar_w);
  } else {
    cols = ox + ar_w;
  }
  torch::Tensor bi = torch::arange(b, cpu_long.device(device)).view({b, 1, 1, 1});
  torch::Tensor ci = torch::arange(c, cpu_long.device(device)).view({1, c, 1, 1});
  return padded.index({bi, ci, rows.to(device).view({b, 1, h, 1}), cols.to(device).view({b, 1, 1, w})});
}

// The parameters and buffers of a network, so the best epoch's state can be copied aside and back.
class Snapshot {
 public:
  explicit Snapshot(GraphNet& net) {
    for (auto& t : net->parameters()) live_.push_back(t);
    for (auto& t : net->buffers()) live_.push_back(t);
  }
  void save() {
    torch::NoGradGuard no_grad;
    if (saved_.empty()) {
      for (const auto& t : live_) saved_.push_back(t.detach().clone());
    } else {
      for (std::size_t i = 0; i < live_.size(); ++i) saved_[i].copy_(live_[i].detach());
    }
  }
  void restore() {
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < live_.size() && i < saved_.size(); ++i) live_[i].detach().copy_(saved_[i]);
  }

 private:
  std::vector<torch::Tensor> live_;
  std::vector<torch::Tensor> saved_;
};

// libtorch allocates CPU tensors with plain malloc. glibc serves blocks above its mmap threshold (adaptive, at most
// 32 MiB) with a fresh mmap() and trims free memory at the top of the heap past 2x that threshold, so every
// training step maps its activation and gradient buffers anew and faults them in page by page: 25-40% of a CPU
// training step was spent in the kernel on the bench/train_bench.cc networks (10 million minor faults for 1024
// images of the medium one). Keeping blocks up to 1 GiB in the heap, and up to 1 GiB of free heap mapped, lets each
// step reuse the previous step's pages; results are unchanged, the process keeps up to 1 GiB more resident. Once
// per process (it is process-wide), the first time a network is trained on the CPU.
void keep_cpu_buffers_mapped() {
#if defined(__GLIBC__)
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kBytes = 1 << 30;
    mallopt(M_MMAP_THRESHOLD, kBytes);
    mallopt(M_TRIM_THRESHOLD, kBytes);
  });
#endif
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(GraphNet& net, const TrainHyperparams& h) {
  if (h.optimizer == "sgd") {
    return std::make_unique<torch::optim::SGD>(
        net->parameters(),
        torch::optim::SGDOptions(h.lr).momentum(h.momentum).nesterov(h.nesterov).weight_decay(h.weight_decay));
  }
  if (h.optimizer == "adam") {
    return std::make_unique<torch::optim::Adam>(net->parameters(),
                                                torch::optim::AdamOptions(h.lr).weight_decay(h.weight_decay));
  }
  if (h.optimizer == "adamw") {
    return std::make_unique<torch::optim::AdamW>(net->parameters(),
                                                 torch::optim::AdamWOptions(h.lr).weight_decay(h.weight_decay));
  }
  throw ValueError("unknown optimizer '" + h.optimizer + "'; use sgd, adam or adamw");
}

}  // namespace

TrainData to_tensors(const DatasetSplits& splits, const AugmentOptions& augment, torch::Device device) {
  TrainData data;
  data.is_image = splits.train.is_image;
  data.shape = splits.train.sample_shape;
  data.num_classes = splits.train.num_classes;
  data.augment = augment;
  data.device = device;
  check(splits.train.size() > 0, splits.train.name + ": the training split is empty");
  check(splits.val.size() > 0, splits.val.name + ": the validation split is empty");
  check(splits.val.sample_shape == data.shape, "validation samples are " + splits.val.sample_shape.to_string() +
                                                   " but training samples are " + data.shape.to_string());
  torch::Tensor mean = channel_tensor(splits.mean, data.shape.c, 0.0f, false);
  torch::Tensor stddev = channel_tensor(splits.stddev, data.shape.c, 1.0f, true);
  data.train = split_tensors(splits.train, data.is_image, mean, stddev, device);
  data.val = split_tensors(splits.val, data.is_image, mean, stddev, device);
  data.mean = mean.to(device);
  data.stddev = stddev.to(device);
  return data;
}

torch::Tensor prepare_batch(const TrainData& data, const torch::Tensor& x, bool augment, at::Generator* gen) {
  if (!data.is_image) return x;
  torch::Tensor b = x;
  if (augment && gen && (data.augment.crop_padding > 0 || data.augment.hflip)) b = augment_batch(x, data.augment, gen);
  // Same order as torchvision's ToTensor-free Normalize: (x - mean) / std on the raw 0..255 scale.
  return b.to(torch::kFloat).sub_(data.mean).div_(data.stddev);
}

EvalResult evaluate_split(GraphNet& net, const TrainData& data, const TensorSplit& split, std::int64_t batch_size) {
  net->eval();
  torch::NoGradGuard no_grad;
  const std::int64_t n = split.size();
  auto options = torch::TensorOptions().device(data.device);
  torch::Tensor loss_sum = torch::zeros({}, options.dtype(torch::kDouble));
  torch::Tensor correct = torch::zeros({}, options.dtype(torch::kLong));
  for (std::int64_t s = 0; s < n; s += batch_size) {
    const std::int64_t e = std::min(n, s + batch_size);
    torch::Tensor logits = net->forward(prepare_batch(data, split.x.slice(0, s, e), false, nullptr));
    torch::Tensor y = split.y.slice(0, s, e);
    loss_sum += F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().reduction(torch::kSum)).to(torch::kDouble);
    correct += logits.argmax(1).eq(y).sum();
  }
  EvalResult r;
  r.n = n;
  if (n > 0) {
    r.accuracy = static_cast<double>(correct.item<std::int64_t>()) / static_cast<double>(n);
    r.loss = loss_sum.item<double>() / static_cast<double>(n);
  }
  return r;
}

double Monitor::value(const EpochMetrics& m) const {
  if (metric == "val_loss") return m.val_loss;
  if (metric == "train_loss") return m.train_loss;
  return m.val_accuracy;
}

double learning_rate(const TrainHyperparams& h, std::int64_t it, std::int64_t iters_per_epoch) {
  const double t = static_cast<double>(it);
  const double total = static_cast<double>(h.epochs * iters_per_epoch);
  const double warm = h.warmup_epochs * static_cast<double>(iters_per_epoch);
  if (warm > 0 && t < warm) return h.lr * std::min(1.0, (t + 1) / warm);
  if (h.schedule == "cosine") {
    double progress = std::clamp((t - warm) / std::max(1.0, total - warm), 0.0, 1.0);
    return h.lr * 0.5 * (1 + std::cos(M_PI * progress));
  }
  if (h.schedule == "step") {
    double decays = std::floor(t / (h.step_epochs * static_cast<double>(iters_per_epoch)));
    return h.lr * std::pow(h.gamma, decays);
  }
  return h.lr;
}

TrainResult train_network(GraphNet& net, const TrainData& data, const TrainHyperparams& h, const Monitor& monitor,
                          std::int64_t eval_batch_size, std::uint64_t seed, const TrainHooks& hooks) {
  const auto started = SteadyClock::now();
  const std::int64_t n = data.train.size();
  check(n > 0, "the training split is empty");
  if (data.device.is_cpu()) keep_cpu_buffers_mapped();
  const std::int64_t batch = std::min(h.batch_size, n);
  // A trailing batch of one sample is dropped: BatchNorm cannot normalize a single 1x1 feature map.
  std::int64_t iters = n / batch + (n % batch > 1 ? 1 : 0);
  if (iters == 0) iters = 1;

  at::Generator gen = at::detail::createCPUGenerator(seed);
  std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(net, h);
  auto ce = F::CrossEntropyFuncOptions().label_smoothing(h.label_smoothing);
  Snapshot snapshot(net);

  TrainResult result;
  bool have_best = false;
  double best_value = 0;
  std::int64_t stalled = 0;
  double step_seconds = 0;
  std::int64_t samples = 0;
  std::int64_t it = 0;
  for (int epoch = 1; epoch <= h.epochs; ++epoch) {
    net->train();
    const auto epoch_start = SteadyClock::now();
    torch::Tensor perm = torch::randperm(n, gen, torch::kLong).to(data.device);
    double loss_sum = 0;
    std::int64_t seen = 0;
    for (std::int64_t b = 0; b < iters; ++b) {
      if (hooks.stop_requested && hooks.stop_requested()) {
        throw Interrupted("training stopped at epoch " + std::to_string(epoch) + ", batch " + std::to_string(b + 1));
      }
      const std::int64_t s = b * batch;
      const std::int64_t e = std::min(n, s + batch);
      torch::Tensor idx = perm.slice(0, s, e);
      torch::Tensor x = prepare_batch(data, data.train.x.index_select(0, idx), true, &gen);
      torch::Tensor y = data.train.y.index_select(0, idx);
      const double lr = learning_rate(h, it, iters);
      for (auto& group : optimizer->param_groups()) group.options().set_lr(lr);
      torch::Tensor logits = net->forward(x);
      torch::Tensor loss = hooks.loss ? hooks.loss(x, logits, y) : F::cross_entropy(logits, y, ce);
      net->zero_grad(/*set_to_none=*/true);
      loss.backward();
      optimizer->step();
      if (hooks.after_step) hooks.after_step();
      // The one host sync per step: it catches divergence at the batch where it happens.
      const double value = loss.item<double>();
      if (!std::isfinite(value)) {
        throw ObjectiveError("training loss is " + std::string(std::isnan(value) ? "nan" : "inf") + " at epoch " +
                             std::to_string(epoch) + ", batch " + std::to_string(b + 1) + " (lr=" + format_double(lr) +
                             ")");
      }
      loss_sum += value * static_cast<double>(e - s);
      seen += e - s;
      ++it;
    }
    step_seconds += seconds_since(epoch_start);
    samples += seen;

    EvalResult val = evaluate_split(net, data, data.val, eval_batch_size);
    EpochMetrics m{epoch, loss_sum / static_cast<double>(seen), val.accuracy, val.loss};
    result.epochs_run = epoch;
    const double v = monitor.value(m);
    const bool improved =
        !have_best || (monitor.maximize ? v > best_value + h.min_delta : v < best_value - h.min_delta);
    if (improved) {
      have_best = true;
      best_value = v;
      result.best = m;
      stalled = 0;
      // The last epoch's weights stay in the network anyway.
      if (epoch < h.epochs) snapshot.save();
    } else {
      ++stalled;
    }
    if (hooks.on_epoch) hooks.on_epoch(m);
    if (h.patience > 0 && stalled >= h.patience && epoch < h.epochs) {
      result.stopped_early = true;
      break;
    }
  }
  if (result.best.epoch != result.epochs_run) snapshot.restore();
  result.iterations = it;
  result.train_time_s = seconds_since(started);
  result.images_per_s = step_seconds > 0 ? static_cast<double>(samples) / step_seconds : 0;
  net->eval();
  return result;
}

namespace {

// The median of timed runs: robust to the odd pass that a context switch stretches.
double median_of(std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  const std::size_t k = ms.size();
  return k % 2 == 1 ? ms[k / 2] : 0.5 * (ms[k / 2 - 1] + ms[k / 2]);
}

}  // namespace

double measure_latency_ms(GraphNet& net, const Shape& shape, torch::Device device, int runs, int warmup) {
  if (runs <= 0) return 0;
  if (!device.is_cuda()) warn_if_reference_blas("latency measurement");
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::zeros({1, shape.c, shape.h, shape.w}, torch::TensorOptions().device(device));
  auto sync = [&] {
    if (device.is_cuda()) torch::cuda::synchronize();
  };
  for (int i = 0; i < warmup; ++i) net->forward(x);
  sync();
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto t0 = SteadyClock::now();
    net->forward(x);
    sync();
    ms.push_back(seconds_since(t0) * 1e3);
  }
  return median_of(std::move(ms));
}

std::vector<double> measure_latencies_nn(const std::vector<NetGraph>& graphs, int runs, int warmup, int threads,
                                         bool progress) {
  if (threads > 0) torch::set_num_threads(threads);
  warn_if_reference_blas("latency measurement");
  torch::NoGradGuard no_grad;
  std::vector<GraphNet> nets;
  std::vector<torch::Tensor> inputs;
  for (std::size_t i = 0; i < graphs.size(); ++i) {
    seed_torch(i);
    nets.emplace_back(graphs[i]);
    nets.back()->eval();
    const Shape& s = graphs[i].input_shape();
    inputs.push_back(torch::zeros({1, s.c, s.h, s.w}));
    for (int w = 0; w < warmup; ++w) nets.back()->forward(inputs.back());
  }
  // Round-robin: each round times every network once, so a slow spell of a shared machine (seconds long, as on a
  // VM) lands on all networks alike instead of on the few measured during it, which would wreck their ranking.
  // Each timed pass follows an untimed one of the same network, so every network is timed with warm caches.
  std::vector<std::vector<double>> ms(graphs.size());
  const bool tty = isatty(STDERR_FILENO) != 0;
  for (int r = 0; r < runs; ++r) {
    for (std::size_t i = 0; i < nets.size(); ++i) {
      nets[i]->forward(inputs[i]);
      auto t0 = SteadyClock::now();
      nets[i]->forward(inputs[i]);
      ms[i].push_back(seconds_since(t0) * 1e3);
    }
    // On a terminal one line counts up; in a log, one line per tenth of the rounds.
    if (progress && (tty || (r + 1) % std::max(1, runs / 10) == 0 || r + 1 == runs)) {
      std::fprintf(stderr, "%sprofile: round %d/%d of %zu networks%s", tty ? "\r" : "", r + 1, runs, nets.size(),
                   tty ? "" : "\n");
    }
  }
  if (progress && tty) std::fprintf(stderr, "\n");
  std::vector<double> out;
  for (std::vector<double>& m : ms) out.push_back(median_of(std::move(m)));
  return out;
}

torch::Device resolve_device(const std::string& name) {
  if (name == "cpu") return torch::kCPU;
  const bool cuda = torch::cuda::is_available();
  if (name == "cuda" && !cuda) {
    throw ObjectiveError(
        "device: cuda, but libtorch sees no CUDA GPU (this libtorch may be a CPU-only build); "
        "use device: auto or cpu");
  }
  return cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
}

}  // namespace nasforge
