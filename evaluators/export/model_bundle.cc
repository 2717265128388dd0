#include "evaluators/export/model_bundle.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <unistd.h>

#include "core/error.h"
#include "evaluators/nn_api.h"
#include "core/strings.h"

namespace nasforge {

namespace fs = std::filesystem;

void write_file_atomically(const std::string& path, const std::string& text) {
  fs::path target(path);
  // Unique per process, so concurrent workers writing the same folder never share a temporary file.
  fs::path tmp = target;
  tmp += ".tmp" + std::to_string(static_cast<long>(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw StorageError("cannot write " + tmp.string() + ": " + std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    throw StorageError("cannot rename " + tmp.string() + " to " + target.string() + ": " + ec.message());
  }
}

void export_bundle(const std::string& artifact_dir, const Json& trial_json, const std::string& out_dir) {
  const std::string trial = "trial " + (trial_json.contains("number") ? trial_json["number"].dump() : "?");
  const std::string state = trial_json.contains("state") && trial_json["state"].is_string()
                                ? " (state " + trial_json["state"].get<std::string>() + ")"
                                : "";
  const std::string why =
      "; only trials that finished training with save_weights: true and a file-backed storage keep a model";
  if (artifact_dir.empty()) throw DataError(trial + state + " has no artifact folder" + why);
  std::vector<std::string> missing;
  std::error_code ec;
  for (const char* name : {kBundleWeightsFile, kBundleModelFile}) {
    if (!fs::is_regular_file(fs::path(artifact_dir) / name, ec)) missing.emplace_back(name);
  }
  if (!missing.empty()) {
    throw DataError(trial + state + " saved no model: " + artifact_dir + " lacks " + join(missing, " and ") +
                    " (was it pruned or failed, or was save_weights off?)" + why);
  }
  const fs::path model_path = fs::path(artifact_dir) / kBundleModelFile;
  std::ifstream in(model_path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  Json model = Json::parse(text.str(), nullptr, false);
  if (model.is_discarded() || !model.is_object()) {
    throw DataError(model_path.string() + ": not a JSON object (the file is corrupt)");
  }
  Json t = Json::object();
  for (const char* key : {"number", "state", "values", "params", "user_attrs"}) {
    if (trial_json.contains(key)) t[key] = trial_json[key];
  }
  model["trial"] = t;

  fs::create_directories(out_dir, ec);
  if (ec) throw StorageError("cannot create folder " + out_dir + ": " + ec.message());
  const fs::path weights_tmp = fs::path(out_dir) / (std::string(kBundleWeightsFile) + ".tmp");
  fs::copy_file(fs::path(artifact_dir) / kBundleWeightsFile, weights_tmp, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::rename(weights_tmp, fs::path(out_dir) / kBundleWeightsFile, ec);
  if (ec) throw StorageError("cannot copy the weights of " + trial + " into " + out_dir + ": " + ec.message());
  write_file_atomically((fs::path(out_dir) / kBundleModelFile).string(), model.dump(2) + "\n");
}

Json evaluate_bundle(const std::string& dir, const std::string& device, int threads) {
  return evaluator_nn_api("evaluating a saved model").evaluate_bundle(dir, device, threads);
}

}  // namespace nasforge
