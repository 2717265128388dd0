// Training-throughput benchmark: the C++ half of the "training throughput vs PyTorch" section of bench/run.sh.
// It trains one named network of the chain space through the product's own training path (the one the `train`
// objective takes: to_tensors -> GraphNet -> train_network) and prints one JSON document on stdout with the
// network (genotype, NetGraph JSON, per-node shapes, MACs, params) and images/s. bench/train_bench.py trains the
// same graph in Python PyTorch with the same data, optimizer and batches; bench/report.py compares the two.
//
//   nasforge_train_bench --network small --epochs 2 --train-size 4096 --threads 2 --dump-data small.bin
//
// Timing: TrainResult::images_per_s, i.e. the wall time of the epochs' training steps (shuffle, batch gather and
// normalization, forward, backward, optimizer step, one loss.item() per step); per-epoch validation is excluded.
// Before the timed run, one untimed epoch on --warmup-batches batches of another network built from the same
// graph lets oneDNN create its primitives and the allocator warm up, as a long-running study would have done.

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/json.h"
#include "evaluators/cost/cost_model.h"
#include "evaluators/data/dataset.h"
#include "evaluators/nn/trainer.h"
#include "spaces/architecture.h"
#include "spaces/nn/graph_module.h"

namespace nasforge::bench {

// One chain space for both networks, Fashion-MNIST-shaped input (1x28x28, 10 classes).
constexpr char kChainSpace[] = R"(type: chain
stem: {channels: 16, kernel: 3, stride: 1}
stages:
  - {depth: [1, 2], widths: [16, 24, 32], stride: 1}
  - {depth: [1, 2], widths: [24, 32, 48], stride: 2}
  - {depth: [1, 2], widths: [32, 48, 64], stride: 2}
ops: [conv, dwsep, mbconv, skip]
kernels: [3, 5]
expand: [3, 6]
se: search
activation: relu
head: {channels: 0, dropout: 0.0}
)";

/// A named genotype of kChainSpace.
struct Network {
  const char* name;      ///< --network value.
  const char* genotype;  ///< Chain genotype.
};

// small: ~1.4 MMACs (a stride-1 depthwise-separable stage, then MBConv and dwsep at 14x14 and 7x7); medium:
// ~19 MMACs (MBConv with and without SE at 28x28, then 14x14 and 7x7 stages with a plain 3x3 conv).
constexpr Network kNetworks[] = {
    {"small", "s1:dw_k3_w16|s2:mb3_k3_w24|s3:dw_k3_w32"},
    {"medium", "s1:mb3_k3_w32,mb3_k5_w32_se|s2:mb6_k3_w48,dw_k5_w48|s3:conv_k3_w64,mb3_k3_w64"},
};

constexpr int kClasses = 10;
const Shape kInput{1, 28, 28};

std::string find_genotype(const std::string& name) {
  std::vector<std::string> names;
  for (const auto& n : kNetworks) {
    if (name == n.name) return n.genotype;
    names.push_back(n.name);
  }
  std::string list;
  for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
  throw ValueError("unknown network '" + name + "'; expected one of " + list);
}

// Per-channel mean and population stddev of uint8 images, in pixel units (what load_dataset computes).
void pixel_stats(const Dataset& d, std::vector<float>& mean, std::vector<float>& stddev) {
  const std::int64_t c = d.sample_shape.c, plane = d.sample_shape.h * d.sample_shape.w;
  mean.assign(static_cast<std::size_t>(c), 0.0f);
  stddev.assign(static_cast<std::size_t>(c), 1.0f);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    double s1 = 0, s2 = 0;
    for (std::size_t i = 0; i < d.size(); ++i) {
      const std::uint8_t* p = d.pixels.data() + i * static_cast<std::size_t>(c * plane) + ch * plane;
      for (std::int64_t k = 0; k < plane; ++k) {
        s1 += p[k];
        s2 += static_cast<double>(p[k]) * p[k];
      }
    }
    const double n = static_cast<double>(d.size() * static_cast<std::size_t>(plane));
    const double mu = s1 / n;
    mean[static_cast<std::size_t>(ch)] = static_cast<float>(mu);
    stddev[static_cast<std::size_t>(ch)] = static_cast<float>(std::sqrt(std::max(0.0, s2 / n - mu * mu)));
  }
}

// Raw training split for bench/train_bench.py: uint8 pixels [N, C, H, W] then int64 labels [N], little endian.
void dump_data(const Dataset& d, const std::string& path) {
  std::ofstream f(path, std::ios::binary);
  if (!f) throw DataError("cannot write '" + path + "'");
  f.write(reinterpret_cast<const char*>(d.pixels.data()), static_cast<std::streamsize>(d.pixels.size()));
  std::vector<std::int64_t> labels(d.labels.begin(), d.labels.end());
  f.write(reinterpret_cast<const char*>(labels.data()), static_cast<std::streamsize>(labels.size() * 8));
  if (!f) throw DataError("write to '" + path + "' failed");
}

struct Options {
  std::string network = "small";
  int epochs = 2;
  std::int64_t train_size = 4096;
  std::int64_t val_size = 256;
  std::int64_t batch_size = 128;
  int threads = 0;
  int repeats = 1;
  int warmup_batches = 4;
  std::uint64_t seed = 0;
  std::string schedule = "cosine";
  std::string dump_data_path;
};

Json run(const Options& o) {
  const std::string genotype = find_genotype(o.network);
  auto arch = make_architecture(ConfigNode::parse_string(kChainSpace, "<train bench space>"));
  NetGraph graph = arch->build(genotype, kInput, kClasses);
  CostMetrics costs = analyze_costs(graph);

  const int default_threads = torch::get_num_threads();
  if (o.threads > 0) torch::set_num_threads(o.threads);

  DatasetSplits splits;
  splits.train = make_synthetic(o.train_size, kClasses, kInput, o.seed + 1);
  splits.val = make_synthetic(o.val_size, kClasses, kInput, o.seed + 2);
  pixel_stats(splits.train, splits.mean, splits.stddev);
  if (!o.dump_data_path.empty()) dump_data(splits.train, o.dump_data_path);
  TrainData data = to_tensors(splits, AugmentOptions{}, torch::kCPU);

  TrainHyperparams h;
  h.epochs = o.epochs;
  h.batch_size = o.batch_size;
  h.optimizer = "sgd";
  h.lr = 0.05;
  h.momentum = 0.9;
  h.nesterov = true;
  h.weight_decay = 5e-4;
  h.schedule = o.schedule;
  Monitor monitor;

  if (o.warmup_batches > 0) {
    TrainData warm = data;
    warm.train.x = data.train.x.slice(0, 0, o.warmup_batches * o.batch_size);
    warm.train.y = data.train.y.slice(0, 0, o.warmup_batches * o.batch_size);
    TrainHyperparams hw = h;
    hw.epochs = 1;
    seed_torch(o.seed + 100);
    GraphNet net(graph);
    train_network(net, warm, hw, monitor, 1024, o.seed + 100);
  }

  std::vector<double> rates;
  std::int64_t iterations = 0;
  double last_loss = 0;
  for (int r = 0; r < o.repeats; ++r) {
    seed_torch(o.seed);
    GraphNet net(graph);
    TrainResult res = train_network(net, data, h, monitor, 1024, o.seed);
    rates.push_back(res.images_per_s);
    iterations = res.iterations;
    last_loss = res.best.train_loss;
  }
  std::vector<double> sorted = rates;
  std::sort(sorted.begin(), sorted.end());
  const std::size_t k = sorted.size();
  const double median = k % 2 == 1 ? sorted[k / 2] : 0.5 * (sorted[k / 2 - 1] + sorted[k / 2]);

  Json shapes = Json::array();
  for (const auto& n : graph.nodes()) shapes.push_back({n.out.c, n.out.h, n.out.w});
  return Json{{"impl", "nasforge"},
              {"network", o.network},
              {"genotype", genotype},
              {"space", kChainSpace},
              {"graph", graph.to_json()},
              {"shapes", shapes},
              {"macs", costs.macs},
              {"params", costs.params},
              {"mean", splits.mean},
              {"std", splits.stddev},
              {"train_size", o.train_size},
              {"batch_size", o.batch_size},
              {"epochs", o.epochs},
              {"iterations", iterations},
              {"hyperparameters", h.to_json()},
              {"warmup_batches", o.warmup_batches},
              {"threads", torch::get_num_threads()},
              {"default_threads", default_threads},
              {"torch_version", TORCH_VERSION},
              {"train_loss", last_loss},
              {"images_per_s_runs", rates},
              {"images_per_s", median}};
}

int main(int argc, char** argv) {
  CLI::App app{"nasforge training-throughput benchmark (JSON on stdout)"};
  Options o;
  app.add_option("--network", o.network, "small or medium");
  app.add_option("--epochs", o.epochs, "timed epochs per repeat")->check(CLI::PositiveNumber);
  app.add_option("--train-size", o.train_size, "synthetic training samples")->check(CLI::PositiveNumber);
  app.add_option("--val-size", o.val_size, "synthetic validation samples (not timed)")->check(CLI::PositiveNumber);
  app.add_option("--batch-size", o.batch_size, "training batch size")->check(CLI::PositiveNumber);
  app.add_option("--threads", o.threads, "torch intra-op threads (0: libtorch's default)");
  app.add_option("--repeats", o.repeats, "timed runs in this process (the median is reported)")
      ->check(CLI::PositiveNumber);
  app.add_option("--warmup-batches", o.warmup_batches, "batches of the untimed warm-up epoch (0: none)");
  app.add_option("--seed", o.seed, "seed of data, weights and shuffling");
  app.add_option("--schedule", o.schedule, "cosine or constant");
  app.add_option("--dump-data", o.dump_data_path, "write the training split here for bench/train_bench.py");
  CLI11_PARSE(app, argc, argv);
  try {
    std::cout << run(o).dump() << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "nasforge_train_bench: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace nasforge::bench

int main(int argc, char** argv) {
  return nasforge::bench::main(argc, argv);
}
