// Fake quantization of a GraphNet through its NodeTransform hook.
//
// The network keeps float modules; a FakeQuantizer rewrites what forward() computes so that it equals what the
// integer model computes: weights are replaced by their dequantized integer values, and node outputs by the
// dequantized values of their quantized activations. libtorch's fake_quantize_per_tensor_affine and
// fake_quantize_per_channel_affine round exactly like quantize_per_tensor / quantize_per_channel followed by
// dequantize() (tests check this bit for bit) and carry straight-through gradients, so the same transform serves
// post-training quantization and quantization-aware training.
//
// Activation placement follows PyTorch's eager/FX int8 models: the network input and the output of every node is
// quantized, except max pooling and dropout, whose outputs are values of their input and so already lie on its
// grid. Dynamic quantization instead quantizes, per batch, what each conv/linear reads (through the output of the
// node it reads from).

#include "evaluators/compression/nn/quantize.h"

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "core/error.h"

namespace nasforge {

namespace {

// PyTorch's default averaging constant of MovingAverageMinMaxObserver, used while QAT trains.
constexpr double kQatAveragingConstant = 0.01;
// Dynamic quantization rounds activations to 8 bits, as PyTorch's quantize_dynamic (quint8) does.
constexpr int kDynamicActivationBits = 8;

enum class WeightFormat { kFloat, kInteger, kHalf };
enum class ActivationMode { kNone, kStatic, kDynamic };

struct QuantizerConfig {
  WeightFormat weights = WeightFormat::kFloat;
  int weight_bits = 8;
  bool per_channel = true;
  bool weight_symmetric = true;
  ActivationMode activations = ActivationMode::kNone;
  int activation_bits = 8;
  bool activation_symmetric = false;
  ObserverKind observer = ObserverKind::kMinMax;
  ObserverOptions observer_options;
};

// Min and max of a tensor's values, as doubles (one device-to-host transfer).
std::pair<double, double> min_max(const torch::Tensor& t) {
  auto [lo, hi] = torch::aminmax(t.detach());
  torch::Tensor both = torch::stack({lo, hi}).to(torch::kCPU, torch::kDouble);
  return {both[0].item<double>(), both[1].item<double>()};
}

// One activation's calibrated range and the parameters frozen from it.
struct ActivationState {
  std::unique_ptr<RangeObserver> observer;
  QParams q;
  bool ready = false;  // q holds the frozen parameters
};

// Weight quantization parameters of one layer.
struct WeightQParams {
  QParams q;                  // per tensor
  torch::Tensor scales;       // per channel: float [C]
  torch::Tensor zero_points;  // per channel: int32 [C]
};

class FakeQuantizer : public NodeTransform {
 public:
  FakeQuantizer(GraphNet& net, QuantizerConfig config)
      : config_(std::move(config)), inner_(net->transform()), net_(net.ptr()) {
    const auto& nodes = net->graph().nodes();
    quantize_output_.assign(nodes.size(), false);
    states_.resize(nodes.size());
    if (config_.weights == WeightFormat::kInteger) weight_range_ = quant_range(config_.weight_bits, true);
    switch (config_.activations) {
      case ActivationMode::kNone:
        break;
      case ActivationMode::kStatic:
        activation_range_ = quant_range(config_.activation_bits, false);
        for (std::size_t i = 0; i < nodes.size(); ++i) {
          quantize_output_[i] = nodes[i].kind != OpKind::kMaxPool && nodes[i].kind != OpKind::kDropout;
          if (quantize_output_[i]) states_[i].observer = make_observer(config_.observer, config_.observer_options);
        }
        break;
      case ActivationMode::kDynamic:
        activation_range_ = quant_range(kDynamicActivationBits, false);
        for (const NetNode& n : nodes) {
          if (n.kind == OpKind::kConv || n.kind == OpKind::kLinear) {
            quantize_output_[static_cast<std::size_t>(n.inputs[0])] = true;
          }
        }
        break;
    }
  }

  torch::Tensor weight(int node, const torch::Tensor& w) override {
    torch::Tensor v = inner_ ? inner_->weight(node, w) : w;
    if (calibrating_) return v;  // observers see the float network
    switch (config_.weights) {
      case WeightFormat::kFloat:
        return v;
      case WeightFormat::kHalf:
        return v.to(torch::kHalf).to(v.scalar_type());
      case WeightFormat::kInteger:
        break;
    }
    const WeightQParams q = weight_qparams(v);
    if (config_.per_channel) return fake_quantize_channels(v, q.scales, q.zero_points, 0, weight_range_);
    return fake_quantize_tensor(v, q.q, weight_range_);
  }

  torch::Tensor output(int node, torch::Tensor y) override {
    if (inner_) y = inner_->output(node, std::move(y));
    const auto i = static_cast<std::size_t>(node);
    if (!quantize_output_[i]) return y;
    if (config_.activations == ActivationMode::kDynamic) {
      auto [lo, hi] = min_max(y);
      return fake_quantize_tensor(y, choose_qparams(lo, hi, activation_range_, false), activation_range_);
    }
    if (tracking_) note_mode();
    ActivationState& s = states_[i];
    if (calibrating_) {
      observe(s, y);
      return y;
    }
    if (tracking_ && training()) {
      // QAT: the moving average follows the changing activations; eval passes use the latest parameters.
      auto [lo, hi] = min_max(y);
      const float batch[2] = {static_cast<float>(lo), static_cast<float>(hi)};
      s.observer->observe(batch, 2);
      freeze(s);
    }
    if (!s.ready) {
      throw StateError("activation of node " + std::to_string(node) + " has no calibrated range; calibrate first");
    }
    return fake_quantize_tensor(y, s.q, activation_range_);
  }

  // Calibration: observers record every quantized node output, nothing is rounded.
  void set_calibrating(bool on) { calibrating_ = on; }
  // Sets every activation's parameters from its observer's current range.
  void freeze_all() {
    for (ActivationState& s : states_) {
      if (s.observer) freeze(s);
    }
  }
  // QAT: activation ranges follow the training batches (train mode only) until switched off.
  void set_tracking(bool on) { tracking_ = on; }
  // QAT: restores the activation parameters that 1-based epoch `epoch` was validated with, when each of the
  // `epochs_run` epochs ended with one evaluation pass (the trainer restores that epoch's weights too).
  void use_epoch(int epoch, int epochs_run) {
    if (epoch < 1 || static_cast<std::size_t>(epochs_run) != epoch_qparams_.size()) return;
    const std::vector<QParams>& q = epoch_qparams_[static_cast<std::size_t>(epoch - 1)];
    for (std::size_t i = 0; i < states_.size(); ++i) states_[i].q = q[i];
  }

 private:
  bool training() const {
    auto net = net_.lock();
    return net && net->is_training();
  }

  // Saves the activation parameters at the first evaluation pass after training passes (an epoch's validation).
  void note_mode() {
    if (training()) {
      trained_ = true;
    } else if (trained_) {
      trained_ = false;
      std::vector<QParams> q;
      for (const ActivationState& s : states_) q.push_back(s.q);
      epoch_qparams_.push_back(std::move(q));
    }
  }

  void observe(ActivationState& s, const torch::Tensor& y) {
    if (config_.observer == ObserverKind::kMinMax || config_.observer == ObserverKind::kMovingAverage) {
      // These observers only need the batch's extremes: avoid copying the whole tensor to the host.
      auto [lo, hi] = min_max(y);
      const float batch[2] = {static_cast<float>(lo), static_cast<float>(hi)};
      s.observer->observe(batch, 2);
      return;
    }
    torch::Tensor host = y.detach().to(torch::kCPU, torch::kFloat).contiguous();
    s.observer->observe(host.data_ptr<float>(), static_cast<std::size_t>(host.numel()));
  }

  void freeze(ActivationState& s) {
    auto [lo, hi] = s.observer->range();
    s.q = choose_qparams(lo, hi, activation_range_, config_.activation_symmetric);
    s.ready = true;
  }

  // MinMax parameters of the weight `v`, recomputed at every pass: cheap next to the layer itself, and never
  // stale (libtorch's optimizers update parameters through .data(), which no version counter sees).
  WeightQParams weight_qparams(const torch::Tensor& v) const {
    WeightQParams c;
    if (config_.per_channel) {
      torch::Tensor flat = v.detach().reshape({v.size(0), -1});
      auto [lo, hi] = torch::aminmax(flat, 1);
      torch::Tensor host = torch::stack({lo, hi}).to(torch::kCPU, torch::kDouble).contiguous();
      const std::int64_t channels = v.size(0);
      std::vector<float> scales(static_cast<std::size_t>(channels));
      std::vector<std::int32_t> zero_points(static_cast<std::size_t>(channels));
      auto a = host.accessor<double, 2>();
      for (std::int64_t k = 0; k < channels; ++k) {
        QParams q = choose_qparams(a[0][k], a[1][k], weight_range_, config_.weight_symmetric);
        scales[static_cast<std::size_t>(k)] = static_cast<float>(q.scale);
        zero_points[static_cast<std::size_t>(k)] = static_cast<std::int32_t>(q.zero_point);
      }
      c.scales = torch::tensor(scales, torch::kFloat).to(v.device());
      c.zero_points = torch::tensor(zero_points, torch::kInt).to(v.device());
    } else {
      auto [lo, hi] = min_max(v);
      c.q = choose_qparams(lo, hi, weight_range_, config_.weight_symmetric);
    }
    return c;
  }

  QuantizerConfig config_;
  std::shared_ptr<NodeTransform> inner_;  // a transform installed before (e.g. by an earlier step), run first
  std::weak_ptr<GraphNetImpl> net_;       // weak: the network owns this transform
  QuantRange weight_range_;
  QuantRange activation_range_;
  std::vector<bool> quantize_output_;
  std::vector<ActivationState> states_;
  bool calibrating_ = false;
  bool tracking_ = false;
  bool trained_ = false;                             // a training pass ran since the last evaluation pass
  std::vector<std::vector<QParams>> epoch_qparams_;  // per epoch, every node's activation parameters
};

// Installs `fq` on c.net and runs the first `samples` training samples (no augmentation) through it in eval mode
// while its observers record; then freezes the ranges. On failure the previous transform is put back.
void calibrate(CompressedNet& c, const std::shared_ptr<FakeQuantizer>& fq, const TrainData& data, std::int64_t samples,
               std::int64_t batch_size) {
  if (samples <= 0) {
    throw ValueError("calibration_samples must be positive to calibrate activation ranges, got " +
                     std::to_string(samples));
  }
  if (batch_size <= 0) throw ValueError("calibration batch size must be positive, got " + std::to_string(batch_size));
  const std::int64_t n = std::min(samples, data.train.size());
  if (n == 0) throw ValueError("cannot calibrate activation ranges: the training split is empty");
  torch::NoGradGuard no_grad;
  const bool was_training = c.net->is_training();
  std::shared_ptr<NodeTransform> previous = c.net->transform();
  c.net->set_transform(fq);
  c.net->eval();
  fq->set_calibrating(true);
  try {
    for (std::int64_t start = 0; start < n; start += batch_size) {
      torch::Tensor x = data.train.x.slice(0, start, std::min(start + batch_size, n));
      c.net->forward(prepare_batch(data, x, /*augment=*/false, nullptr));
    }
    fq->set_calibrating(false);
    fq->freeze_all();
  } catch (...) {
    c.net->set_transform(previous);
    c.net->train(was_training);
    throw;
  }
  c.net->train(was_training);
}

// The fields every quantizer takes from the step's integer format.
QuantizerConfig scheme_config(const QuantScheme& s) {
  QuantizerConfig config;
  config.weight_bits = s.bits;
  config.per_channel = s.per_channel;
  config.weight_symmetric = s.weight_symmetric;
  config.activation_bits = s.bits;
  config.activation_symmetric = s.activation_symmetric;
  return config;
}

void check_bits(int bits, int max_bits, const char* what) {
  if (bits < 2 || bits > max_bits) {
    throw ValueError(std::string(what) + " bits " + std::to_string(bits) + " is outside the supported 2.." +
                     std::to_string(max_bits));
  }
}

}  // namespace

torch::Tensor fake_quantize_tensor(const torch::Tensor& x, const QParams& q, const QuantRange& range) {
  return torch::fake_quantize_per_tensor_affine(x, q.scale, q.zero_point, range.qmin, range.qmax);
}

torch::Tensor fake_quantize_channels(const torch::Tensor& x, const torch::Tensor& scales,
                                     const torch::Tensor& zero_points, std::int64_t axis, const QuantRange& range) {
  check(scales.dim() == 1 && zero_points.dim() == 1 && scales.numel() == x.size(axis) &&
            zero_points.numel() == x.size(axis),
        "per-channel fake quantization needs one scale and zero point per channel of axis " + std::to_string(axis) +
            " (" + std::to_string(x.size(axis)) + "), got " + std::to_string(scales.numel()) + " scales and " +
            std::to_string(zero_points.numel()) + " zero points");
  return torch::fake_quantize_per_channel_affine(x, scales.to(x.device(), torch::kFloat),
                                                 zero_points.to(x.device(), torch::kInt), axis, range.qmin, range.qmax);
}

void quantize_post_training(CompressedNet& c, const QuantizeOptions& o, const TrainData& data,
                            std::int64_t batch_size) {
  QuantizerConfig config = scheme_config(o);
  switch (o.mode) {
    case QuantMode::kStatic:
      check_bits(o.bits, 8, "static quantization");
      config.weights = WeightFormat::kInteger;
      config.activations = ActivationMode::kStatic;
      break;
    case QuantMode::kDynamic:
      check_bits(o.bits, 16, "dynamic quantization");
      config.weights = WeightFormat::kInteger;
      config.activations = o.bits <= kDynamicActivationBits ? ActivationMode::kDynamic : ActivationMode::kNone;
      break;
    case QuantMode::kFloat16:
      config.weights = WeightFormat::kHalf;
      break;
  }
  config.observer = o.observer;
  config.observer_options.percentile = o.percentile;
  config.observer_options.bits = o.bits;

  fold_batch_norm(c);
  auto fq = std::make_shared<FakeQuantizer>(c.net, config);
  if (config.activations == ActivationMode::kStatic) {
    calibrate(c, fq, data, o.calibration_samples, batch_size);
  } else {
    c.net->set_transform(fq);
  }

  const bool integer = o.mode != QuantMode::kFloat16;
  c.weight_bits = integer ? o.bits : 16;
  c.weight_float = !integer;
  c.per_channel = integer && o.per_channel;
  c.activations_quantized = o.mode == QuantMode::kStatic;
}

TrainResult quantize_aware_training(CompressedNet& c, const QatOptions& o, const StepContext& ctx) {
  check_bits(o.bits, 8, "quantization-aware training");
  if (o.epochs < 0) throw ValueError("qat epochs must be >= 0, got " + std::to_string(o.epochs));
  QuantizerConfig config = scheme_config(o);
  config.weights = WeightFormat::kInteger;
  config.activations = ActivationMode::kStatic;
  config.observer = ObserverKind::kMovingAverage;
  config.observer_options.averaging_constant = kQatAveragingConstant;

  fold_batch_norm(c);
  auto fq = std::make_shared<FakeQuantizer>(c.net, config);
  calibrate(c, fq, ctx.data, o.calibration_samples, ctx.base.batch_size);
  c.weight_bits = o.bits;
  c.weight_float = false;
  c.per_channel = o.per_channel;
  c.activations_quantized = true;

  fq->set_tracking(true);
  TrainResult r;
  try {
    r = finetune(c, o.epochs, o.lr, ctx);
  } catch (...) {
    fq->set_tracking(false);
    throw;
  }
  // The ranges stay as the kept epoch was validated with, whatever mode the network is put in later.
  fq->set_tracking(false);
  fq->use_epoch(r.best.epoch, r.epochs_run);
  return r;
}

}  // namespace nasforge
