#include "strategies/nn/supernet.h"

#include <cmath>
#include <set>

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/train_config.h"
#include "spaces/architecture.h"
#include "spaces/nasbench201.h"
#include "spaces/nn/graph_module.h"
#include "strategies/nn/differentiable_search.h"
#include "testing.h"

namespace nasforge {
namespace {

namespace F = torch::nn::functional;

class SupernetTest : public testing::NasforgeTest {};
class DartsTest : public testing::NasforgeTest {};
class GdasTest : public testing::NasforgeTest {};

const std::vector<std::string>& all_ops() {
  return nasbench201_ops();
}

CellSkeleton skeleton(std::int64_t channels, std::int64_t cells, std::int64_t stages,
                      std::vector<std::string> ops = nasbench201_ops()) {
  CellSkeleton c;
  c.channels = channels;
  c.cells_per_stage = cells;
  c.stages = stages;
  c.ops = std::move(ops);
  return c;
}

torch::Tensor one_hot_rows(const std::vector<std::int64_t>& index, std::int64_t n) {
  torch::Tensor w = torch::zeros({static_cast<std::int64_t>(index.size()), n});
  for (std::size_t e = 0; e < index.size(); ++e) w[static_cast<std::int64_t>(e)][index[e]] = 1.0;
  return w;
}

TEST_F(SupernetTest, MixedOpWithOneHotWeightsIsThatOp) {
  seed_torch(1);
  MixedOp mixed(4, all_ops());
  torch::Tensor x = torch::randn({3, 4, 6, 6});
  const auto n = static_cast<std::int64_t>(all_ops().size());
  std::vector<torch::Tensor> outs;
  for (std::int64_t k = 0; k < n; ++k) {
    torch::Tensor w = torch::zeros({n});
    w[k] = 1.0;
    torch::Tensor y = mixed->forward(x, w);
    EXPECT_TRUE(torch::allclose(y, mixed->forward_op(x, k), 1e-5, 1e-6)) << all_ops()[static_cast<std::size_t>(k)];
    outs.push_back(mixed->forward_op(x, k));
  }
  // The ops are what NAS-Bench-201 defines, and distinct from each other.
  EXPECT_EQ(outs[0].abs().max().item<float>(), 0.0f);
  EXPECT_TRUE(torch::equal(outs[1], x));
  EXPECT_TRUE(torch::allclose(outs[4], torch::avg_pool2d(x, 3, 1, 1, false, false)));
  EXPECT_FALSE(torch::allclose(outs[2], outs[3]));
  EXPECT_EQ(outs[3].sizes(), x.sizes());
  // A general weight vector mixes linearly.
  torch::Tensor w = torch::tensor({0.1f, 0.2f, 0.3f, 0.15f, 0.25f});
  torch::Tensor expected = torch::zeros_like(x);
  for (std::int64_t k = 0; k < n; ++k) expected += w[k] * outs[static_cast<std::size_t>(k)];
  EXPECT_TRUE(torch::allclose(mixed->forward(x, w), expected, 1e-5, 1e-6));
}

TEST_F(SupernetTest, OneHotArchitectureEqualsTheSampledPathAndLargeLogitsApproachIt) {
  seed_torch(2);
  Supernet net(skeleton(4, 1, 2), Shape{1, 8, 8}, 3);
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({4, 1, 8, 8});
  const std::vector<std::int64_t> index = {3, 1, 2, 4, 0, 1};
  ArchSample mixed{one_hot_rows(index, 5), {}};
  ArchSample path{one_hot_rows(index, 5), index};
  torch::Tensor a = net->forward(x, mixed);
  EXPECT_EQ(a.sizes(), (std::vector<std::int64_t>{4, 3}));
  EXPECT_TRUE(torch::allclose(a, net->forward(x, path), 1e-5, 1e-6));
  net->alpha().copy_(30.0 * one_hot_rows(index, 5));
  EXPECT_TRUE(torch::allclose(net->forward(x, net->softmax_weights(true)), a, 1e-4, 1e-4));
  EXPECT_EQ(net->derive(), "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|avg_pool_3x3~0|none~1|skip_connect~2|");
  // A different architecture computes something else.
  ArchSample other{one_hot_rows({1, 1, 1, 1, 1, 1}, 5), {}};
  EXPECT_FALSE(torch::allclose(net->forward(x, other), a, 1e-3, 1e-3));
}

TEST_F(SupernetTest, GumbelForwardRunsOnlyTheSampledOpAndItsGradientReachesAlpha) {
  seed_torch(3);
  // Two parametric ops, so that "computed" shows as a gradient on that op's conv weights.
  const std::vector<std::string> ops = {"nor_conv_1x1", "nor_conv_3x3"};
  Supernet net(skeleton(4, 1, 1, ops), Shape{1, 6, 6}, 3);
  at::Generator gen = at::detail::createCPUGenerator(7);
  ArchSample s = net->gumbel_sample(1.0, gen);
  ASSERT_EQ(s.sampled.size(), 6u);
  // Hard one-hot values in forward.
  EXPECT_TRUE(torch::allclose(s.weights.detach(), one_hot_rows(s.sampled, 2)));
  torch::Tensor x = torch::randn({4, 1, 6, 6});
  torch::Tensor y = torch::tensor({0, 1, 2, 0}, torch::kLong);
  F::cross_entropy(net->forward(x, s), y).backward();
  int checked = 0;
  for (const auto& item : net->named_parameters()) {
    const std::string& name = item.key();
    for (std::size_t e = 0; e < 6; ++e) {
      for (std::size_t k = 0; k < ops.size(); ++k) {
        const std::string prefix = "cell0." + nasbench201_edges()[e] + ".op" + std::to_string(k) + "_";
        if (name.rfind(prefix, 0) != 0) continue;
        const bool sampled = static_cast<std::size_t>(s.sampled[e]) == k;
        ++checked;
        const torch::Tensor& g = item.value().grad();
        if (sampled) {
          ASSERT_TRUE(g.defined()) << name;
          EXPECT_GT(g.abs().sum().item<double>(), 0) << name;
        } else {
          EXPECT_TRUE(!g.defined() || g.abs().sum().item<double>() == 0) << name << " was computed";
        }
      }
    }
  }
  EXPECT_EQ(checked, 12);  // one conv weight per op and edge (BN without affine parameters)
  ASSERT_TRUE(net->alpha().grad().defined());
  EXPECT_GT(net->alpha().grad().abs().sum().item<double>(), 0);
  // Low temperature with one dominant op samples it nearly always; different draws differ at high temperature.
  {
    torch::NoGradGuard no_grad;
    net->alpha().copy_(torch::tensor({{0.0f, 6.0f}}).repeat({6, 1}));
  }
  int picked = 0;
  for (int i = 0; i < 50; ++i) picked += net->gumbel_sample(0.1, gen).sampled[0] == 1;
  EXPECT_GE(picked, 48);
}

TEST_F(SupernetTest, DeriveTakesTheArgmaxAndAvoidsDisconnectedCells) {
  const auto& ops = all_ops();
  auto probs = [](std::vector<std::int64_t> best) {
    torch::Tensor p = torch::full({6, 5}, 0.1);
    for (std::size_t e = 0; e < 6; ++e) {
      p[static_cast<std::int64_t>(e)][best[e]] = 0.5;
      p[static_cast<std::int64_t>(e)][(best[e] + 2) % 5] = 0.2;  // runner-up
    }
    return p;
  };
  EXPECT_EQ(nasbench201_arch(derive_ops(probs({3, 0, 1, 2, 4, 1}), ops)),
            "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|skip_connect~2|");
  // Every edge leaving node 0 is `none`: the argmax cell is disconnected, so `none` is excluded.
  std::vector<std::string> fixed = derive_ops(probs({0, 0, 3, 0, 3, 3}), ops);
  EXPECT_TRUE(nasbench201_reachable(fixed)[3]);
  EXPECT_EQ(nasbench201_arch(fixed),
            "|nor_conv_1x1~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|");
  EXPECT_FALSE(nasbench201_reachable(
      parse_nasbench201_arch("|none~0|+|none~0|skip_connect~1|+|none~0|skip_connect~1|skip_connect~2|"))[3]);
  // max_skip keeps the skip edges with the highest skip probability.
  torch::Tensor p = probs({1, 1, 1, 3, 3, 3});
  p[1][1] = 0.6;
  p[2][1] = 0.7;
  std::vector<std::string> capped = derive_ops(p, ops, 1);
  EXPECT_EQ(count_skips(capped), 1);
  EXPECT_EQ(capped[2], "skip_connect");
  EXPECT_EQ(capped[0], "nor_conv_3x3");  // runner-up of edge 0 is (1 + 2) % 5 = 3
  EXPECT_EQ(count_skips(derive_ops(p, ops)), 3);
}

TEST_F(SupernetTest, ExpectedMacsMatchAHandCountAndTheCostModel) {
  seed_torch(4);
  const std::vector<std::string> ops = {"none", "nor_conv_1x1", "nor_conv_3x3"};
  // Stage 1: 2 channels at 4x4; stage 2: 4 channels at 2x2.
  Supernet net(skeleton(2, 1, 2, ops), Shape{1, 4, 4}, 3);
  EXPECT_DOUBLE_EQ(net->op_macs(0), 0);
  EXPECT_DOUBLE_EQ(net->op_macs(1), 2 * 2 * 16 + 4 * 4 * 4);        // 64 + 64
  EXPECT_DOUBLE_EQ(net->op_macs(2), 9 * (2 * 2 * 16 + 4 * 4 * 4));  // 576 + 576
  EXPECT_DOUBLE_EQ(net->max_macs(), 6 * 1152.0);
  {
    torch::NoGradGuard no_grad;
    net->alpha().zero_();
  }
  EXPECT_NEAR(net->expected_macs().item<double>(), 6 * (0 + 128 + 1152) / 3.0, 0.05);
  {
    torch::NoGradGuard no_grad;
    net->alpha().copy_(torch::tensor({{0.0f, 1.0f, 2.0f}}).repeat({6, 1}));
  }
  const double z = 1 + std::exp(1.0) + std::exp(2.0);
  EXPECT_NEAR(net->expected_macs().item<double>(), 6 * (128 * std::exp(1.0) + 1152 * std::exp(2.0)) / z, 0.05);
  // The cost term pushes probability from the 3x3 conv to `none`.
  net->expected_macs().backward();
  torch::Tensor g = net->alpha().grad();
  EXPECT_LT(g[0][0].item<double>(), 0);
  EXPECT_GT(g[0][2].item<double>(), 0);
  // The cost model agrees on what the six 3x3 convs of the two cells cost.
  auto arch = make_architecture(ConfigNode::parse_string(
      "type: cell\nchannels: 2\ncells_per_stage: 1\nstages: 2\nops: [none, skip_connect, nor_conv_1x1, nor_conv_3x3]\n",
      "arch.yaml"));
  const std::string convs = nasbench201_arch(std::vector<std::string>(6, "nor_conv_3x3"));
  const std::string skips = nasbench201_arch(std::vector<std::string>(6, "skip_connect"));
  const double diff = static_cast<double>(analyze_costs(arch->build(convs, Shape{1, 4, 4}, 3)).macs -
                                          analyze_costs(arch->build(skips, Shape{1, 4, 4}, 3)).macs);
  EXPECT_DOUBLE_EQ(diff, 6 * net->op_macs(2));
}

TEST_F(SupernetTest, RejectsInputsTooSmallForTheReductions) {
  EXPECT_THROW(Supernet(skeleton(2, 1, 3), Shape{1, 6, 6}, 3), ValueError);  // 6 -> 3 is odd before stage 3
}

TEST_F(DartsTest, SecondOrderStepChangesAlphaAndDiffersFromFirstOrder) {
  seed_torch(5);
  Supernet net(skeleton(4, 1, 2), Shape{1, 8, 8}, 3);
  std::vector<torch::Tensor> weights = net->weight_parameters();
  EXPECT_EQ(weights.size() + 1, net->parameters().size());
  torch::Tensor xw = torch::randn({8, 1, 8, 8}), xa = torch::randn({8, 1, 8, 8});
  torch::Tensor yw = torch::randint(3, {8}, torch::kLong), ya = torch::randint(3, {8}, torch::kLong);
  std::vector<torch::Tensor> before;
  for (const auto& w : weights) before.push_back(w.detach().clone());

  auto [g1, loss1] = darts_alpha_grad(net, weights, xw, yw, xa, ya, 0.1, 3e-4, 1);
  auto [g2, loss2] = darts_alpha_grad(net, weights, xw, yw, xa, ya, 0.1, 3e-4, 2);
  auto [g0, loss0] = darts_alpha_grad(net, weights, xw, yw, xa, ya, 0.0, 3e-4, 2);
  for (std::size_t i = 0; i < weights.size(); ++i) ASSERT_TRUE(torch::equal(weights[i], before[i])) << "weights moved";
  EXPECT_TRUE(torch::isfinite(g2).all().item<bool>());
  EXPECT_GT((g2 - g1).abs().max().item<double>(), 1e-6);
  EXPECT_NE(loss1.item<double>(), loss2.item<double>());  // the unrolled weights give another validation loss
  // With xi = 0 the virtual step does nothing and both orders agree.
  EXPECT_TRUE(torch::allclose(g0, g1, 1e-4, 1e-6));

  torch::Tensor alpha_before = net->alpha().detach().clone();
  torch::optim::Adam opt(std::vector<torch::Tensor>{net->alpha()}, torch::optim::AdamOptions(0.01).betas({0.5, 0.999}));
  net->alpha().mutable_grad() = g2;
  opt.step();
  EXPECT_GT((net->alpha() - alpha_before).abs().max().item<double>(), 1e-3);
}

TEST_F(DartsTest, CollapseGuardStopsAtTooManySkipsAndReturnsThePreviousGenotype) {
  const std::string a = "|nor_conv_3x3~0|+|skip_connect~0|nor_conv_3x3~1|+|none~0|none~1|nor_conv_3x3~2|";
  const std::string b = "|nor_conv_3x3~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|";
  const std::string c = "|skip_connect~0|+|skip_connect~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|";
  EXPECT_FALSE(collapsed(c, -1));
  EXPECT_TRUE(collapsed(c, 2));
  EXPECT_FALSE(collapsed(b, 2));
  CollapseGuard guard(2);
  EXPECT_FALSE(guard.observe(a));
  EXPECT_FALSE(guard.observe(b));
  EXPECT_EQ(guard.result(), b);
  EXPECT_TRUE(guard.observe(c));
  EXPECT_EQ(guard.result(), b);
  EXPECT_EQ(guard.collapse_epoch(), 3);
  CollapseGuard first(0);
  EXPECT_TRUE(first.observe(a));
  EXPECT_EQ(first.result(), "");
  EXPECT_EQ(first.collapse_epoch(), 1);
  CollapseGuard off(-1);
  EXPECT_FALSE(off.observe(c));
  EXPECT_EQ(off.collapse_epoch(), 0);
}

// A tiny search on synthetic 8x8 images: a TrainConfig read from YAML as the sampler does.
struct TinySearch {
  SearchSpace space;
  TrainConfig train;
  CellSkeleton cell;
};

TinySearch tiny_search(const std::string& ops) {
  TinySearch t;
  t.space.set_architecture(make_architecture(ConfigNode::parse_string(
      "type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 2\nops: " + ops + "\n", "arch.yaml")));
  SectionReader reader(ConfigNode::parse_string(
      "kind: train\n"
      "dataset: {format: synthetic, size: 320, classes: 4, shape: [1, 8, 8], val_size: 64, seed: 3}\n"
      "device: cpu\nthreads: 1\n",
      "objective.yaml"));
  reader.text("kind", std::nullopt, "objective kind");
  t.train = TrainConfig::from_config(reader, t.space, 1, ".");
  t.cell = skeleton(4, 1, 2, std::vector<std::string>{});
  ConfigNode node = ConfigNode::parse_string("ops: " + ops + "\n", "ops.yaml");
  for (const auto& op : node.get("ops").elements()) t.cell.ops.push_back(op.as_string());
  return t;
}

void expect_valid_result(const DifferentiableResult& r, const TinySearch& t, int epochs) {
  ParamMap params = t.space.architecture()->params(r.genotype);     // parses and checks the ops
  EXPECT_EQ(t.space.architecture()->genotype(params), r.genotype);  // connected
  ASSERT_TRUE(r.details["epochs"].is_array());
  ASSERT_EQ(r.details["epochs"].size(), static_cast<std::size_t>(epochs));
  for (const auto& e : r.details["epochs"]) {
    for (const char* key :
         {"epoch", "train_loss", "val_accuracy", "genotype", "skip_connects", "probs", "expected_macs"}) {
      EXPECT_TRUE(e.contains(key)) << key;
    }
    EXPECT_TRUE(std::isfinite(e["train_loss"].get<double>()));
    for (const auto& [edge, probs] : e["probs"].items()) {
      double sum = 0;
      for (const auto& [op, p] : probs.items()) sum += p.get<double>();
      EXPECT_NEAR(sum, 1.0, 1e-6) << edge;
    }
    EXPECT_LE(e["expected_macs"].get<double>(), r.details["max_expected_macs"].get<double>());
  }
  EXPECT_EQ(r.details["alpha"].size(), 6u);
  EXPECT_GT(r.search_time_s, 0);
}

TEST_F(DartsTest, TinySearchReturnsAValidGenotypeAndDetails) {
  TinySearch t = tiny_search("[none, skip_connect, nor_conv_3x3, avg_pool_3x3]");
  DifferentiableOptions o;
  o.epochs = 2;
  o.batch_size = 32;
  o.arch_lr = 0.01;
  o.cost_weight = 0.1;
  o.seed = 11;
  std::vector<std::string> lines;
  DifferentiableResult r =
      run_differentiable_search_nn(o, t.cell, t.train, [&](const std::string& m) { lines.push_back(m); });
  expect_valid_result(r, t, 2);
  EXPECT_EQ(lines.size(), 2u);
  EXPECT_EQ(r.details["method"], "darts");
  EXPECT_EQ(r.details["order"], 1);
  EXPECT_FALSE(r.details["stopped_for_collapse"].get<bool>());
  EXPECT_EQ(r.genotype, r.details["epochs"][1]["genotype"]);
  // Training moved alpha away from its ~0 start.
  double spread = 0;
  for (const auto& row : r.details["alpha"]) {
    for (const auto& v : row) spread = std::max(spread, std::abs(v.get<double>()));
  }
  EXPECT_GT(spread, 0.01);

  // Second order runs end to end too, and takes another path.
  o.order = 2;
  o.epochs = 1;
  DifferentiableResult r2 = run_differentiable_search_nn(o, t.cell, t.train, {});
  expect_valid_result(r2, t, 1);
  EXPECT_EQ(r2.details["order"], 2);
  EXPECT_NE(r2.details["alpha"], r.details["alpha"]);
}

TEST_F(GdasTest, TinySearchReturnsAValidGenotypeAndAnnealsTau) {
  TinySearch t = tiny_search("[none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3]");
  DifferentiableOptions o;
  o.gdas = true;
  o.epochs = 3;
  o.batch_size = 32;
  o.arch_lr = 0.01;
  o.tau_max = 10;
  o.tau_min = 1;
  o.seed = 12;
  DifferentiableResult r = run_differentiable_search_nn(o, t.cell, t.train, {});
  expect_valid_result(r, t, 3);
  EXPECT_EQ(r.details["method"], "gdas");
  EXPECT_FALSE(r.details.contains("order"));
  EXPECT_DOUBLE_EQ(r.details["epochs"][0]["tau"].get<double>(), 10);
  EXPECT_DOUBLE_EQ(r.details["epochs"][1]["tau"].get<double>(), 5.5);
  EXPECT_DOUBLE_EQ(r.details["epochs"][2]["tau"].get<double>(), 1);
}

TEST_F(DartsTest, MaxSkipStopsTheSearchWhereTheUnguardedRunCollapses) {
  // Only skip and a conv, so that skip connections appear on this tiny problem.
  TinySearch t = tiny_search("[skip_connect, nor_conv_3x3]");
  // Seed 14 has 1, 1, 2 skip connections per epoch: the remedy stops at epoch 3 and falls back to epoch 2.
  // Seed 13 has 5, 4, 4: max_skip 4 stops at epoch 1, where the excess skips take their next-best op.
  for (std::uint64_t seed : {14, 13}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    DifferentiableOptions o;
    o.epochs = 3;
    o.batch_size = 32;
    o.arch_lr = 0.05;
    o.seed = seed;
    DifferentiableResult free_run = run_differentiable_search_nn(o, t.cell, t.train, {});
    const Json& epochs = free_run.details["epochs"];
    const int first_skips = epochs[0]["skip_connects"].get<int>();
    ASSERT_GE(first_skips, 1) << "setup: expected skip connections in the first epoch";
    // max_skip = the first epoch's count when a later epoch exceeds it, else one below it.
    int later = 0;
    for (std::size_t i = 1; i < epochs.size(); ++i) later = std::max(later, epochs[i]["skip_connects"].get<int>());
    const int limit = later > first_skips ? first_skips : first_skips - 1;
    std::size_t stop = 0;
    while (stop < epochs.size() && epochs[stop]["skip_connects"].get<int>() <= limit) ++stop;
    ASSERT_LT(stop, epochs.size());
    o.max_skip = limit;
    DifferentiableResult guarded = run_differentiable_search_nn(o, t.cell, t.train, {});
    EXPECT_TRUE(guarded.details["stopped_for_collapse"].get<bool>());
    EXPECT_EQ(guarded.details["collapse_epoch"].get<std::size_t>(), stop + 1);
    ASSERT_EQ(guarded.details["epochs"].size(), stop + 1);
    // Same seed, same trajectory up to the stop.
    EXPECT_EQ(guarded.details["epochs"][stop]["genotype"], epochs[stop]["genotype"]);
    EXPECT_EQ(guarded.genotype, guarded.details["genotype"]);
    EXPECT_LE(count_skips(parse_nasbench201_arch(guarded.genotype)), limit);
    if (stop > 0) {
      EXPECT_EQ(guarded.genotype, epochs[stop - 1]["genotype"]);
    } else {
      EXPECT_NE(guarded.genotype, epochs[0]["genotype"]);
    }
  }
}

}  // namespace
}  // namespace nasforge
