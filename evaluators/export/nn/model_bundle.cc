#include "evaluators/export/nn/model_bundle.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "core/error.h"
#include "evaluators/data/dataset.h"
#include "evaluators/nn/nn_api.h"
#include "evaluators/nn/trainer.h"
#include "spaces/architecture.h"

namespace nasforge {

namespace fs = std::filesystem;

namespace {

Json read_model_json(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path.string() + ": cannot read the model description (is this a model folder?)");
  std::stringstream text;
  text << in.rdbuf();
  Json j = Json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw DataError(path.string() + ": not a JSON object (the file is corrupt)");
  return j;
}

const Json& field(const Json& j, const char* key, const fs::path& path) {
  if (!j.contains(key)) throw DataError(path.string() + ": missing field '" + key + "'");
  return j[key];
}

}  // namespace

void save_bundle(const std::string& dir, GraphNet& net, const Json& model) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create folder " + dir + ": " + ec.message());
  const fs::path weights = fs::path(dir) / kBundleWeightsFile;
  fs::path tmp = weights;
  tmp += ".tmp" + std::to_string(static_cast<long>(::getpid()));
  torch::save(net, tmp.string());
  fs::rename(tmp, weights, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw StorageError("cannot rename " + tmp.string() + " to " + weights.string() + ": " + ec.message());
  }
  write_file_atomically((fs::path(dir) / kBundleModelFile).string(), model.dump(2) + "\n");
}

LoadedBundle load_bundle(const std::string& dir, torch::Device device) {
  const fs::path model_path = fs::path(dir) / kBundleModelFile;
  const fs::path weights_path = fs::path(dir) / kBundleWeightsFile;
  LoadedBundle b;
  b.model = read_model_json(model_path);
  NetGraph graph = [&] {
    try {
      return NetGraph::from_json(field(b.model, "graph", model_path));
    } catch (const DataError& e) {
      throw DataError(model_path.string() + ": field 'graph': " + e.what());
    }
  }();
  const Json& arch = b.model.contains("architecture") ? b.model["architecture"] : Json();
  const Json& genotype = b.model.contains("genotype") ? b.model["genotype"] : Json();
  if (arch.is_string() && !arch.get<std::string>().empty() && genotype.is_string()) {
    NetGraph rebuilt = [&] {
      try {
        auto space = make_architecture(
            ConfigNode::parse_string(arch.get<std::string>(), model_path.string() + " (architecture)"));
        return space->build(genotype.get<std::string>(), graph.input_shape(), graph.num_classes());
      } catch (const Error& e) {
        throw DataError(model_path.string() + ": its architecture and genotype '" + genotype.get<std::string>() +
                        "' no longer build a network: " + e.what());
      }
    }();
    if (rebuilt.to_json() != graph.to_json()) {
      throw DataError(model_path.string() +
                      ": the stored graph differs from the one its architecture builds for "
                      "genotype '" +
                      genotype.get<std::string>() +
                      "' (was the model saved by another nasforge version, or the file edited?)");
    }
  }
  std::error_code ec;
  if (!fs::is_regular_file(weights_path, ec)) {
    throw DataError(dir + ": missing " + std::string(kBundleWeightsFile) + " next to " + kBundleModelFile);
  }
  b.net = GraphNet(std::move(graph));
  try {
    torch::load(b.net, weights_path.string(), device);
  } catch (const c10::Error& e) {
    throw DataError(weights_path.string() +
                    ": cannot load the weights into the stored graph: " + e.what_without_backtrace());
  }
  b.net->to(device);
  b.net->eval();
  return b;
}

Json evaluate_bundle_nn(const std::string& dir, const std::string& device_name, int threads) {
  torch::Device device = resolve_device(device_name);
  if (threads > 0) torch::set_num_threads(threads);
  LoadedBundle b = load_bundle(dir, device);
  const fs::path model_path = fs::path(dir) / kBundleModelFile;
  const Json& ds = field(b.model, "dataset", model_path);
  if (!ds.contains("yaml") || !ds["yaml"].is_string()) {
    throw DataError(model_path.string() + ": field 'dataset' lacks the dataset section ('yaml')");
  }
  std::string base_dir = ds.contains("base_dir") && ds["base_dir"].is_string() ? ds["base_dir"].get<std::string>() : "";
  DatasetOptions options = DatasetOptions::from_config(
      ConfigNode::parse_string(ds["yaml"].get<std::string>(), model_path.string() + " (dataset)"), base_dir);
  DatasetSplits splits = load_dataset(options);
  const Json& norm = field(b.model, "normalization", model_path);
  try {
    splits.mean = norm.at("mean").get<std::vector<float>>();
    splits.stddev = norm.at("std").get<std::vector<float>>();
  } catch (const Json::exception& e) {
    throw DataError(model_path.string() + ": field 'normalization' needs float lists 'mean' and 'std': " + e.what());
  }
  const NetGraph& graph = b.net->graph();
  if (splits.val.sample_shape != graph.input_shape() || splits.val.num_classes != graph.num_classes()) {
    throw DataError(model_path.string() + ": the network takes " + graph.input_shape().to_string() + " samples of " +
                    std::to_string(graph.num_classes()) + " classes, but its dataset now gives " +
                    splits.val.sample_shape.to_string() + " samples of " + std::to_string(splits.val.num_classes) +
                    " classes");
  }
  std::int64_t batch = b.model.value("eval_batch_size", static_cast<std::int64_t>(1024));
  TrainData data = to_tensors(splits, AugmentOptions{}, device);
  EvalResult r;
  try {
    r = evaluate_split(b.net, data, data.val, batch);
  } catch (const c10::Error& e) {
    throw ObjectiveError(std::string("libtorch: ") + e.what_without_backtrace());
  }
  return Json{{"val_accuracy", r.accuracy}, {"val_loss", r.loss}, {"n", r.n}};
}

}  // namespace nasforge
