#include "evaluators/export/nn/model_bundle.h"

#include <filesystem>
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/fake_trial.h"
#include "evaluators/export/model_bundle.h"
#include "evaluators/nn/train_testing.h"

namespace nasforge {
namespace {

namespace fs = std::filesystem;
using testing::build_objective;
using testing::FakeTrial;
using testing::kFastSettings;
using testing::kTinyData;

class ModelBundleTest : public testing::TrainTest {
 protected:
  static Json read_json(const std::string& path) {
    std::ifstream in(path);
    return Json::parse(in);
  }
  static void write_json(const std::string& path, const Json& j) { std::ofstream(path) << j.dump(2); }
};

constexpr const char* kConv = "s1:conv_k3_w16";

TEST_F(ModelBundleTest, ExportedModelReproducesTheTrialExactly) {
  SearchSpace space = make_space("");
  auto obj = build_objective(
      "kind: train\n"
      "dataset: {format: synthetic, size: 256, classes: 4, shape: [1, 8, 8], val_size: 64, seed: 3,\n"
      "          augment: {crop_padding: 1, hflip: true}}\n"
      "epochs: 2\nbatch_size: 32\neval_batch_size: 50\n" +
          std::string(kFastSettings),
      space);
  FakeTrial trial(params_of(space, kConv), /*seed=*/9, /*number=*/4);
  trial.artifacts = tmp("artifacts/4");
  const double accuracy = obj->evaluate(trial)[0];

  EXPECT_EQ(trial.attrs.at("weights"), tmp("artifacts/4/weights.pt"));
  std::set<std::string> files;
  for (const auto& e : fs::directory_iterator(tmp("artifacts/4"))) files.insert(e.path().filename().string());
  EXPECT_EQ(files, (std::set<std::string>{"model.json", "weights.pt"}));  // no temporary file left behind
  Json model = read_json(tmp("artifacts/4/model.json"));
  EXPECT_EQ(model["genotype"], kConv);
  EXPECT_EQ(model["num_classes"], 4);
  EXPECT_EQ(model["input_shape"], Json::array({1, 8, 8}));
  EXPECT_EQ(model["metrics"]["val_accuracy"].get<double>(), accuracy);
  EXPECT_EQ(model["eval_batch_size"], 50);
  EXPECT_EQ(model["normalization"]["mean"].size(), 1u);
  EXPECT_EQ(NetGraph::from_json(model["graph"]).to_json(),
            space.architecture()->build(kConv, Shape{1, 8, 8}, 4).to_json());

  Json trial_json = {{"number", 4},
                     {"state", "COMPLETE"},
                     {"values", {accuracy}},
                     {"params", {{"s1.depth", 1}}},
                     {"user_attrs", Json(trial.attrs)},
                     {"system_attrs", Json::object()}};
  export_bundle(tmp("artifacts/4"), trial_json, tmp("export/best"));
  Json exported = read_json(tmp("export/best/model.json"));
  EXPECT_EQ(exported["trial"]["number"], 4);
  EXPECT_EQ(exported["trial"]["values"][0].get<double>(), accuracy);
  EXPECT_EQ(exported["trial"]["user_attrs"]["params"], trial.attrs.at("params"));
  EXPECT_FALSE(exported["trial"].contains("system_attrs"));
  EXPECT_EQ(exported["graph"], model["graph"]);

  Json r = evaluate_bundle(tmp("export/best"), "cpu", 1);
  EXPECT_EQ(r["n"], 64);
  EXPECT_EQ(r["val_accuracy"].get<double>(), accuracy);
  EXPECT_EQ(r["val_loss"].get<double>(), trial.attrs.at("val_loss").get<double>());
}

TEST_F(ModelBundleTest, ReloadedNetworkGivesBitwiseIdenticalOutputs) {
  SearchSpace space = make_space("");
  NetGraph graph = space.architecture()->build("s1:dw_k3_w16", Shape{1, 8, 8}, 4);
  seed_torch(1);
  GraphNet net(graph);
  // One SGD step in training mode, so weights and BatchNorm statistics differ from a fresh network.
  torch::optim::SGD sgd(net->parameters(), torch::optim::SGDOptions(0.1));
  net->train();
  torch::Tensor loss = net->forward(torch::randn({8, 1, 8, 8})).logsumexp(1).mean();
  loss.backward();
  sgd.step();
  Json model = {
      {"genotype", "s1:dw_k3_w16"}, {"architecture", space.architecture()->config_yaml()}, {"graph", graph.to_json()}};
  save_bundle(tmp("m"), net, model);

  LoadedBundle b = load_bundle(tmp("m"), torch::kCPU);
  EXPECT_FALSE(b.net->is_training());
  net->eval();
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::randn({5, 1, 8, 8});
  EXPECT_TRUE(torch::equal(b.net->forward(x), net->forward(x)));
  torch::Tensor fresh = GraphNet(graph)->forward(x);
  EXPECT_FALSE(torch::equal(fresh, net->forward(x)));

  // A genotype that builds another network no longer matches the stored graph.
  model["genotype"] = kConv;
  write_json(tmp("m/model.json"), model);
  try {
    load_bundle(tmp("m"), torch::kCPU);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("the stored graph differs from the one its architecture builds"),
              std::string::npos)
        << e.what();
  }
  write_json(tmp("m/model.json"), Json{{"genotype", kConv}});
  try {
    load_bundle(tmp("m"), torch::kCPU);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("model.json: missing field 'graph'"), std::string::npos) << e.what();
  }
}

TEST_F(ModelBundleTest, ExportNamesWhatIsMissing) {
  fs::create_directories(tmp("empty"));
  Json t = {{"number", 2}, {"state", "PRUNED"}};
  try {
    export_bundle(tmp("empty"), t, tmp("out"));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("trial 2 (state PRUNED) saved no model"), std::string::npos) << msg;
    EXPECT_NE(msg.find("lacks weights.pt and model.json"), std::string::npos) << msg;
    EXPECT_NE(msg.find("save_weights"), std::string::npos) << msg;
  }
  EXPECT_FALSE(fs::exists(tmp("out")));
  EXPECT_THROW(export_bundle("", t, tmp("out")), DataError);
}

TEST_F(ModelBundleTest, SaveWeightsOffKeepsNoFiles) {
  SearchSpace space = make_space("");
  auto obj = build_objective(
      std::string("kind: train\n") + kTinyData + kFastSettings + "epochs: 1\nbatch_size: 64\nsave_weights: false\n",
      space);
  FakeTrial trial(params_of(space, kConv));
  trial.artifacts = tmp("a");
  obj->evaluate(trial);
  EXPECT_FALSE(fs::exists(tmp("a/weights.pt")));
  EXPECT_EQ(trial.attrs.count("weights"), 0u);
}

}  // namespace
}  // namespace nasforge
