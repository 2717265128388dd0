// The `train` objective: builds the trial's network from the study's architecture space, trains it on the
// configured dataset with libtorch, and returns validation and deployment metrics.

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/cost/compressed_size.h"
#include "evaluators/compression/nn/compressed_net.h"
#include "evaluators/compression/nn/step_apply.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/cost/target_costs.h"
#include "evaluators/export/nn/model_bundle.h"
#include "evaluators/nn/distill.h"
#include "evaluators/nn/nn_api.h"
#include "evaluators/nn/trainer.h"
#include "evaluators/train_config.h"
#include "spaces/architecture.h"

namespace nasforge {

namespace {

bool epoch_metric(const std::string& name) {
  return name == "val_accuracy" || name == "val_loss" || name == "train_loss";
}

// Shuffling and augmentation use their own stream, apart from the weight initialisation seeded by seed_torch.
std::uint64_t data_seed(std::uint64_t trial_seed) {
  return trial_seed ^ 0x9E3779B97F4A7C15ULL;
}

class TrainObjective : public Objective {
 public:
  TrainObjective(TrainConfig config, std::shared_ptr<const ArchitectureSpace> arch)
      : c_(std::move(config)), arch_(std::move(arch)) {
    const std::string& first = c_.objectives.front();
    // The first metric drives reports, pruning, early stopping and the best epoch when it changes per epoch;
    // otherwise (a cost metric) nothing is reported and the best epoch is the one with the best val_accuracy.
    report_ = epoch_metric(first);
    monitor_.metric = report_ ? first : "val_accuracy";
    monitor_.maximize = monitor_.metric == "val_accuracy";
  }

  std::optional<std::string> reject(const ParamMap& params) override {
    if (c_.budget.empty()) return std::nullopt;
    // Costs need the sample shape; the data is loaded once and kept for the training that follows.
    std::shared_ptr<const TrainData> data = data_on(resolve_device(c_.device));
    try {
      const NetGraph graph = arch_->build(arch_->genotype(params), data->shape, data->num_classes);
      // Each variant priced as its steps plan it, on the unpruned graph: an upper bound of what pruning ships.
      auto price = [&](std::size_t target, const std::string& variant) {
        DeployPlan plan;
        for (const CompressionVariant& v : c_.compression.variants) {
          if (v.name == variant) plan = v.plan(params);
        }
        return predict_costs(Deployment::of(graph, plan.weight_bits, plan.clusters), c_.targets[target]);
      };
      return c_.budget.violation(analyze_costs(graph), price);
    } catch (const InvalidArchitecture&) {
      return std::nullopt;  // not a budget matter: the trial fails with this reason when evaluated
    }
  }

  std::vector<double> evaluate(TrialContext& trial) override {
    try {
      return run(trial);
    } catch (const c10::Error& e) {
      // libtorch errors (shape mismatches, out of memory) fail this trial with a readable message.
      throw ObjectiveError(std::string("libtorch: ") + e.what_without_backtrace());
    }
  }

 private:
  std::vector<double> run(TrialContext& trial) {
    const std::string tname = "trial " + std::to_string(trial.number());
    if (trial.stop_requested()) throw Interrupted(tname + " interrupted");
    TrainHyperparams h = c_.resolve(trial.params());
    torch::Device device = resolve_device(c_.device);
    if (c_.threads > 0) torch::set_num_threads(static_cast<int>(c_.threads));
    std::shared_ptr<const TrainData> data = data_on(device);

    std::string genotype = arch_->genotype(trial.params());
    NetGraph graph = arch_->build(genotype, data->shape, data->num_classes);
    CostMetrics costs = analyze_costs(graph);
    const Json cost_json = costs.to_json();
    for (const auto& [key, value] : cost_json.items()) trial.set_user_attr(key, value);

    seed_torch(trial.seed());
    GraphNet net(graph);
    net->to(device);

    TrainHooks hooks;
    hooks.stop_requested = [&trial] { return trial.stop_requested(); };
    const DistillOptions distill = c_.compression.distill_options(trial.params());
    std::optional<Teacher> teacher = find_teacher(trial, distill, *data);
    if (teacher) {
      hooks.loss = [&teacher, &h, &o = distill](const torch::Tensor& x, const torch::Tensor& logits,
                                                const torch::Tensor& y) {
        return distillation_loss(logits, teacher->logits(x), y, o.alpha, o.temperature, h.label_smoothing);
      };
    }
    // The full learning curve, kept even for pruned trials; intermediate values hold only the monitored metric.
    Json history = Json::array();
    hooks.on_epoch = [&](const EpochMetrics& m) {
      history.push_back({{"epoch", m.epoch},
                         {"train_loss", m.train_loss},
                         {"val_accuracy", m.val_accuracy},
                         {"val_loss", m.val_loss}});
      trial.set_user_attr("history", history);
      if (!report_) return;
      const double v = monitor_.value(m);
      trial.report(v, m.epoch);
      // After the last epoch the training cost is spent; pruning then would only discard a finished network.
      if (m.epoch < h.epochs && trial.should_prune()) {
        throw TrialPruned(tname + " pruned after epoch " + std::to_string(m.epoch) + " (" + monitor_.metric + " " +
                          format_double(v) + ")");
      }
    };
    TrainResult r = train_network(net, *data, h, monitor_, c_.eval_batch_size, data_seed(trial.seed()), hooks);

    std::optional<double> latency;
    if (c_.latency_runs > 0) {
      latency = measure_latency_ms(net, data->shape, device, static_cast<int>(c_.latency_runs),
                                   static_cast<int>(c_.latency_warmup));
    }

    Json metrics = costs.to_json();
    Json deployment = Json::object();
    store_target_costs(trial, Deployment::of(graph), "", metrics, deployment);
    metrics["val_accuracy"] = r.best.val_accuracy;
    metrics["val_loss"] = r.best.val_loss;
    metrics["train_loss"] = r.best.train_loss;
    metrics["best_epoch"] = r.best.epoch;
    metrics["epochs_run"] = r.epochs_run;
    metrics["stopped_early"] = r.stopped_early;
    metrics["train_time_s"] = r.train_time_s;
    metrics["images_per_s"] = r.images_per_s;
    if (latency) metrics["latency_ms"] = *latency;
    for (const char* key : {"val_accuracy", "val_loss", "train_loss", "best_epoch", "epochs_run", "stopped_early",
                            "train_time_s", "images_per_s", "latency_ms"}) {
      if (metrics.contains(key)) trial.set_user_attr(key, metrics[key]);
    }

    if (c_.save_weights && !trial.artifact_dir().empty()) {
      Json model;
      model["format"] = "nasforge-model";
      model["version"] = 1;
      model["genotype"] = genotype;
      model["architecture"] = arch_->config_yaml();
      model["graph"] = graph.to_json();
      model["input_shape"] = {data->shape.c, data->shape.h, data->shape.w};
      model["num_classes"] = data->num_classes;
      model["normalization"] = {{"mean", mean_}, {"std", stddev_}};
      model["dataset"] = {{"yaml", c_.dataset_yaml}, {"base_dir", c_.base_dir}};
      model["hyperparameters"] = h.to_json();
      model["eval_batch_size"] = c_.eval_batch_size;
      model["seed"] = trial.seed();
      model["metrics"] = metrics;
      model["torch_version"] = TORCH_VERSION;
      save_bundle(trial.artifact_dir(), net, model);
      trial.set_user_attr(
          "weights",
          std::filesystem::absolute(std::filesystem::path(trial.artifact_dir()) / kBundleWeightsFile).string());
    }

    // The fine-tunings of compression variants distill too, but report nothing to the pruner.
    TrainHooks finetune_hooks;
    finetune_hooks.stop_requested = hooks.stop_requested;
    finetune_hooks.loss = hooks.loss;
    for (std::size_t v = 0; v < c_.compression.variants.size(); ++v) {
      const StepContext ctx{*data, h, c_.eval_batch_size, data_seed(trial.seed()) + v + 1, finetune_hooks};
      compress(trial, net, c_.compression.variants[v], ctx, metrics, deployment);
    }

    // Everything a device's cost model needs, so that `best --target` prices targets the study never named.
    trial.set_user_attr("deployment", deployment);

    std::vector<double> values;
    for (const auto& name : c_.objectives) {
      if (name == "peak_mem_bytes") {
        values.push_back(static_cast<double>(costs.peak_activation_bytes));
      } else {
        const Json& v = metrics.at(name);
        values.push_back(v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>());
      }
    }
    return values;
  }

  // latency_ms<suffix>@T, flash_bytes<suffix>@T, sram_bytes<suffix>@T and fits<suffix>@T of `d` on every target, as
  // metrics and user attributes; `d` itself goes into `deployment` under `variant` ("" = the float network), its
  // graph only when it differs from the float network's (channel pruning).
  void store_target_costs(TrialContext& trial, const Deployment& d, const std::string& variant, Json& metrics,
                          Json& deployment) {
    const bool own_graph = variant.empty() || !deployment.contains("") ||
                           d.graph.to_json() != deployment[""]["graph"];
    deployment[variant] = d.to_json(own_graph);
    for (const TargetProfile& t : c_.targets) {
      const TargetCosts costs = predict_costs(d, t);
      for (TargetMetric m : target_metrics()) {
        const std::string key = target_metric_name(m, variant, t.name);
        metrics[key] = m == TargetMetric::kFits ? Json(costs.fits) : Json(target_metric_value(m, costs));
        trial.set_user_attr(key, metrics[key]);
      }
    }
  }

  // The teacher named by distill:, when distillation is on for this trial; records what was used.
  std::optional<Teacher> find_teacher(TrialContext& trial, const DistillOptions& o, const TrainData& data) {
    if (!o.enabled) {
      if (!c_.compression.distill.empty()) trial.set_user_attr("distilled_from", "none (distill disabled)");
      return std::nullopt;
    }
    const std::string dir = trial.artifact_dir();
    const std::string study_dir = dir.empty() ? "" : std::filesystem::path(dir).parent_path().string();
    std::optional<Teacher> t = load_teacher(o, study_dir, trial.number(), data, mean_, stddev_);
    trial.set_user_attr("distilled_from", t ? t->source() : std::string("none (no saved trial yet)"));
    return t;
  }

  // Applies one variant's steps to a copy of the trained network and stores its metrics as <metric>_<variant>.
  void compress(TrialContext& trial, GraphNet& trained, const CompressionVariant& v, const StepContext& ctx,
                Json& metrics, Json& deployment) {
    if (trial.stop_requested()) throw Interrupted("trial " + std::to_string(trial.number()) + " interrupted");
    const auto started = std::chrono::steady_clock::now();
    trial.progress("compressing " + v.name);
    const ParamMap& params = trial.params();
    CompressedNet c = CompressedNet::from(trained);
    for (const CompressionStep& step : v.steps) {
      step_apply(step.type->entry.name)(c, step.resolve(params, v.name), ctx);
    }
    const TrainData& data = ctx.data;
    EvalResult e = evaluate_split(c.net, data, data.val, ctx.eval_batch_size);
    std::int64_t nonzero_params = 0;
    for (const auto& p : c.net->parameters()) nonzero_params += p.ne(0).sum().item<std::int64_t>();
    Json m;
    m["val_accuracy"] = e.accuracy;
    m["val_loss"] = e.loss;
    m["size_bytes"] = storage_bytes(c.storage(), c.extra_float_params());
    m["macs"] = analyze_costs(c.graph).macs;
    m["params"] = nonzero_params;
    m["sparsity"] = c.sparsity();
    // Fake quantization runs in float and is slower than the float network, so its time says nothing about int8
    // kernels: latency is measured only for variants that are real float modules.
    if (!v.quantizes() && c_.latency_runs > 0) {
      m["latency_ms"] = measure_latency_ms(c.net, data.shape, data.device, static_cast<int>(c_.latency_runs),
                                           static_cast<int>(c_.latency_warmup));
    }
    m["compress_time_s"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    for (const auto& [key, value] : m.items()) {
      metrics[key + "_" + v.name] = value;
      trial.set_user_attr(key + "_" + v.name, value);
    }
    // Integer weights run on integer kernels; float weights of 16 bits or fewer ship as fp16.
    const int bits = c.weight_float ? (c.weight_bits < 32 ? 16 : 32) : std::min(c.weight_bits, 8);
    store_target_costs(trial, Deployment{c.graph, data_type_for_bits(bits), c.storage(), c.extra_float_params()}, v.name,
                       metrics, deployment);
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%.1f", m["compress_time_s"].get<double>());
    trial.progress(v.name + ": val_accuracy " + format_double(e.accuracy) + ", " +
                   std::to_string(m["size_bytes"].get<std::int64_t>()) + " bytes (" + seconds + " s)");
  }

  // The dataset is read and converted to tensors once per objective, on the first trial.
  std::shared_ptr<const TrainData> data_on(torch::Device device) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!data_ || data_->device != device) {
      DatasetSplits splits = load_dataset(c_.dataset);
      mean_ = splits.mean;
      stddev_ = splits.stddev;
      data_ = std::make_shared<const TrainData>(to_tensors(splits, c_.dataset.augment, device));
    }
    return data_;
  }

  TrainConfig c_;
  std::shared_ptr<const ArchitectureSpace> arch_;
  bool report_ = true;
  Monitor monitor_;
  std::mutex mu_;
  std::shared_ptr<const TrainData> data_;
  std::vector<float> mean_, stddev_;
};

}  // namespace

std::unique_ptr<Objective> make_train_objective_nn(SectionReader& options, const SearchSpace& space,
                                                   std::size_t n_objectives, const std::string& base_dir) {
  TrainConfig config = TrainConfig::from_config(options, space, n_objectives, base_dir);
  if (config.device == "cuda" && !torch::cuda::is_available()) {
    options.require(false, "device",
                    "is cuda, but libtorch sees no CUDA GPU (this libtorch may be a CPU-only "
                    "build); use device: auto or cpu");
  }
  return std::make_unique<TrainObjective>(std::move(config), space.architecture());
}

}  // namespace nasforge
