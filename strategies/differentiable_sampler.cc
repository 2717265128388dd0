// The `darts` and `gdas` strategies' torch-free half: option checking at config load, and a sampler whose every
// proposal is the genotype derived by one supernet search (strategies/nn/differentiable_search.cc, loaded on the
// first proposal). The derived cell is then retrained from scratch by the study's `train` objective as a normal
// trial, which stores the search's cost and trajectory as system attributes.
#include "strategies/differentiable_sampler.h"

#include <algorithm>
#include <string>

#include "core/error.h"
#include "core/strings.h"
#include "strategies/nn_api.h"
#include "evaluators/train_config.h"
#include "spaces/architecture.h"
#include "strategies/random_sampler.h"
#include "strategies/registry.h"

namespace nasforge {

namespace {

const IntKey kEpochs{"epochs", Range::closed(1), "search epochs over the weight part of the training split"};
const IntKey kBatchSize{"batch_size", Range::closed(1), "mini-batch size of weight and architecture steps"};
const NumberKey kArchFraction{"arch_fraction", Range::open(0, 1),
                              "share of the training split held out for architecture steps"};
const NumberKey kWLr{"w_lr", Range{0, /*min_open=*/true},
                     "supernet weights: peak SGD learning rate (cosine decay to w_lr_min)"};
const NumberKey kWMomentum{"w_momentum", Range{0, false, 1, /*max_open=*/true}, "supernet weights: SGD momentum"};
const NumberKey kWWeightDecay{"w_weight_decay", Range::closed(0), "supernet weights: L2 penalty"};
const NumberKey kGradClip{"grad_clip", Range::closed(0), "supernet weights: gradient-norm clip (0 = off)"};
const NumberKey kArchLr{"arch_lr", Range{0, /*min_open=*/true}, "architecture parameters: Adam learning rate"};
const NumberKey kArchWeightDecay{"arch_weight_decay", Range::closed(0), "architecture parameters: L2 penalty"};
const IntKey kOrder{"order", Range::closed(1, 2),
                    "1: first-order DARTS; 2: second-order (unrolled) architecture gradient"};
const IntKey kChannels{"channels", Range::closed(0), "supernet channels of the first stage (0: the cell space's)"};
const IntKey kCellsPerStage{"cells_per_stage", Range::closed(0), "supernet cells per stage (0: the cell space's)"};
const NumberKey kCostWeight{"cost_weight", Range::closed(0),
                            "weight of the expected-MACs term (FBNet/ProxylessNAS) in the architecture loss"};
const IntKey kMaxSkip{"max_skip", Range::closed(-1, 6),
                      "collapse remedy (DARTS+): stop the search when the derived cell has more skip connections "
                      "than this (-1: off)"};

class DifferentiableSampler : public Sampler {
 public:
  DifferentiableSampler(DifferentiableOptions options, CellSkeleton cell, TrainConfig train, SearchSpace space)
      : options_(options),
        cell_(std::move(cell)),
        train_(std::move(train)),
        space_(std::move(space)),
        random_(options.seed ^ 0x9e3779b97f4a7c15ULL) {}

  ParamMap sample(const SampleContext& ctx) override {
    const std::string name = options_.gdas ? "gdas" : "darts";
    // An enqueued or re-enqueued (interrupted) trial already names its cell: no search, only the rest is drawn.
    const std::vector<ParamSpec> cell_params = space_.architecture()->parameters();
    if (std::all_of(cell_params.begin(), cell_params.end(),
                    [&ctx](const ParamSpec& p) { return ctx.fixed.count(p.name) > 0; })) {
      return random_.sample(ctx);
    }
    // Each proposal is an independent search with its own seed, so several trials give the spread over seeds.
    DifferentiableOptions o = options_;
    o.seed = options_.seed + static_cast<std::uint64_t>(searches_++);
    DifferentiableResult r =
        strategy_nn_api("the " + name + " strategy").run_differentiable_search(o, cell_, train_, [&](const std::string& m) {
          if (ctx.progress) ctx.progress(name + " search " + std::to_string(searches_) + ": " + m);
        });
    // The architecture comes from the search; any other parameter (e.g. a learning rate) is drawn at random.
    ParamMap fixed = ctx.fixed;
    for (const auto& [key, value] : space_.architecture()->params(r.genotype)) fixed.emplace(key, value);  // fixed win
    SampleContext rest{ctx.space, ctx.trials, ctx.directions, fixed, ctx.claim, ctx.progress};
    ParamMap params = random_.sample(rest);
    attrs_ = {
        {"strategy", name}, {"search_genotype", r.genotype}, {"search_cost_s", r.search_time_s}, {"search", r.details}};
    return params;
  }

  std::map<std::string, Json> take_trial_attrs() override { return std::exchange(attrs_, {}); }

 private:
  DifferentiableOptions options_;
  CellSkeleton cell_;
  TrainConfig train_;
  SearchSpace space_;
  RandomSampler random_;
  int searches_ = 0;
  std::map<std::string, Json> attrs_;
};

// The skeleton of the study's `cell` space, read back from its canonical YAML.
CellSkeleton cell_skeleton(const ArchitectureSpace& arch) {
  ConfigNode node = ConfigNode::parse_string(arch.config_yaml(), "<cell space>");
  CellSkeleton cell;
  cell.channels = node.get("channels").as_int();
  cell.cells_per_stage = node.get("cells_per_stage").as_int();
  cell.stages = node.get("stages").as_int();
  for (const auto& op : node.get("ops").elements()) cell.ops.push_back(op.as_string());
  return cell;
}

std::unique_ptr<Sampler> make_differentiable(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                             const StrategyEnv& env, bool gdas) {
  const std::string name = gdas ? "gdas" : "darts";
  const auto& arch = space.architecture();
  if (!arch || arch->type() != "cell") {
    throw ValueError("the " + name + " strategy searches a `cell` architecture space with a weight-sharing supernet; " +
                     (arch ? "this study's architecture is of type '" + arch->type() + "'"
                           : std::string("this study has no architecture: section")) +
                     " (use random, tpe, gp, evolution or rl for other spaces)");
  }
  DifferentiableOptions o;
  o.gdas = gdas;
  o.seed = seed;
  o.epochs = options.integer(kEpochs, o.epochs);
  o.batch_size = options.integer(kBatchSize, o.batch_size);
  o.arch_fraction = options.number(kArchFraction, o.arch_fraction);
  o.w_lr = options.number(kWLr, o.w_lr);
  o.w_lr_min = options.number("w_lr_min", o.w_lr_min, "supernet weights: final learning rate");
  options.require(o.w_lr_min >= 0 && o.w_lr_min <= o.w_lr, "w_lr_min",
                  "must be in [0, w_lr], got " + format_double(o.w_lr_min));
  o.w_momentum = options.number(kWMomentum, o.w_momentum);
  o.w_weight_decay = options.number(kWWeightDecay, o.w_weight_decay);
  o.grad_clip = options.number(kGradClip, o.grad_clip);
  o.arch_lr = options.number(kArchLr, o.arch_lr);
  o.arch_weight_decay = options.number(kArchWeightDecay, o.arch_weight_decay);
  if (gdas) {
    o.tau_max = options.number("tau_max", o.tau_max, "Gumbel-softmax temperature at the first epoch");
    o.tau_min = options.number("tau_min", o.tau_min, "Gumbel-softmax temperature at the last epoch");
    options.require(o.tau_min > 0 && o.tau_min <= o.tau_max, "tau_min",
                    "must be in (0, tau_max = " + format_double(o.tau_max) + "], got " + format_double(o.tau_min));
  } else {
    o.order = static_cast<int>(options.integer(kOrder, o.order));
  }
  o.channels = options.integer(kChannels, o.channels);
  o.cells_per_stage = options.integer(kCellsPerStage, o.cells_per_stage);
  o.cost_weight = options.number(kCostWeight, o.cost_weight);
  o.max_skip = options.integer(kMaxSkip, o.max_skip);

  if (!env.objective.defined() || env.objective.is_null()) {
    throw ValueError("the " + name +
                     " strategy trains a supernet on the data of the study's `train` objective; "
                     "this study has no objective: section");
  }
  SectionReader objective(env.objective);
  std::string kind = objective.text("kind", std::nullopt, "objective kind");
  if (kind != "train") {
    throw ValueError("the " + name +
                     " strategy trains a supernet on the data of a `train` objective; this study's "
                     "objective is kind '" +
                     kind + "'");
  }
  TrainConfig train = TrainConfig::from_config(objective, space, env.n_objectives, env.base_dir);
  // The objective's own keys are checked by make_objective; only the dataset and device settings are used here.
  return std::make_unique<DifferentiableSampler>(o, cell_skeleton(*arch), std::move(train), space);
}

}  // namespace

std::unique_ptr<Sampler> make_darts_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                            const StrategyEnv& env) {
  return make_differentiable(options, space, seed, env, /*gdas=*/false);
}

std::unique_ptr<Sampler> make_gdas_sampler(SectionReader& options, const SearchSpace& space, std::uint64_t seed,
                                           const StrategyEnv& env) {
  return make_differentiable(options, space, seed, env, /*gdas=*/true);
}

}  // namespace nasforge
