#include "evaluators/nn/distill.h"

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "evaluators/export/nn/model_bundle.h"

namespace nasforge {

namespace {

namespace F = torch::nn::functional;
namespace fs = std::filesystem;

// val_accuracy stored in a bundle's model.json, or nullopt when the file is missing or unreadable: a trial that is
// being written or was interrupted is simply not a candidate.
std::optional<double> stored_accuracy(const fs::path& dir) {
  std::ifstream in(dir / kBundleModelFile);
  if (!in || !fs::exists(dir / kBundleWeightsFile)) return std::nullopt;
  try {
    Json j = Json::parse(in);
    return j.at("metrics").at("val_accuracy").get<double>();
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::vector<float> floats(const Json& j) {
  return j.get<std::vector<float>>();
}

}  // namespace

torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                const torch::Tensor& labels, double alpha, double temperature, double label_smoothing) {
  torch::Tensor hard =
      F::cross_entropy(student_logits, labels, F::CrossEntropyFuncOptions().label_smoothing(label_smoothing));
  torch::Tensor log_p_student = F::log_softmax(student_logits / temperature, F::LogSoftmaxFuncOptions(1));
  torch::Tensor log_p_teacher = F::log_softmax(teacher_logits / temperature, F::LogSoftmaxFuncOptions(1));
  // KL(teacher || student) summed over classes, averaged over the batch (PyTorch's reduction "batchmean").
  torch::Tensor kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(1).mean();
  return alpha * hard + (1 - alpha) * temperature * temperature * kl;
}

Teacher::Teacher(GraphNet net, std::string source, const TrainData& data, const std::vector<float>& student_mean,
                 const std::vector<float>& student_std, const std::vector<float>& teacher_mean,
                 const std::vector<float>& teacher_std)
    : net_(std::move(net)), source_(std::move(source)) {
  net_->to(data.device);
  net_->eval();
  for (auto& p : net_->parameters()) p.set_requires_grad(false);
  const std::size_t c = static_cast<std::size_t>(data.shape.c);
  auto at = [](const std::vector<float>& v, std::size_t i, float def) { return i < v.size() ? v[i] : def; };
  bool same = true;
  std::vector<float> scale(c), shift(c);
  for (std::size_t i = 0; i < c; ++i) {
    const float ms = at(student_mean, i, 0), ss = at(student_std, i, 1) > 0 ? at(student_std, i, 1) : 1.0f;
    const float mt = at(teacher_mean, i, 0), st = at(teacher_std, i, 1) > 0 ? at(teacher_std, i, 1) : 1.0f;
    scale[i] = ss / st;
    shift[i] = (ms - mt) / st;
    same = same && std::fabs(scale[i] - 1) < 1e-6 && std::fabs(shift[i]) < 1e-6;
  }
  if (!same) {
    const auto c64 = static_cast<std::int64_t>(c);
    scale_ = torch::tensor(scale).view({1, c64, 1, 1}).to(data.device);
    shift_ = torch::tensor(shift).view({1, c64, 1, 1}).to(data.device);
  }
}

torch::Tensor Teacher::logits(const torch::Tensor& x) {
  torch::NoGradGuard no_grad;
  return net_->forward(scale_.defined() ? x * scale_ + shift_ : x);
}

std::optional<Teacher> load_teacher(const DistillOptions& o, const std::string& study_dir, int exclude_trial,
                                    const TrainData& data, const std::vector<float>& mean,
                                    const std::vector<float>& stddev) {
  fs::path dir;
  std::string source;
  if (o.teacher == "best") {
    double best = -1;
    std::error_code ec;
    if (!study_dir.empty() && fs::is_directory(study_dir, ec)) {
      for (const auto& entry : fs::directory_iterator(study_dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("trial_", 0) != 0 || name == "trial_" + std::to_string(exclude_trial)) continue;
        auto acc = stored_accuracy(entry.path());
        // Ties go to the lower trial number, so the choice does not depend on directory order.
        if (acc && (*acc > best || (*acc == best && name < dir.filename().string()))) {
          best = *acc;
          dir = entry.path();
        }
      }
    }
    if (dir.empty()) return std::nullopt;
    source = dir.filename().string();
  } else if (!o.teacher.empty() && std::isdigit(static_cast<unsigned char>(o.teacher[0]))) {
    if (study_dir.empty()) {
      throw ObjectiveError("distill.teacher " + o.teacher + " names a trial, but this study keeps no files");
    }
    dir = fs::path(study_dir) / ("trial_" + o.teacher);
    if (!stored_accuracy(dir)) {
      throw ObjectiveError("distill.teacher: trial " + o.teacher + " has no saved model in " + dir.string() +
                           " (only completed trials save one; save_weights must be on)");
    }
    source = "trial_" + o.teacher;
  } else {
    dir = o.teacher;
    source = o.teacher;
  }
  LoadedBundle b = load_bundle(dir.string(), data.device);
  const NetGraph& g = b.net->graph();
  if (g.input_shape() != data.shape || g.num_classes() != data.num_classes) {
    throw ObjectiveError("distill.teacher " + source + " takes " + g.input_shape().to_string() + " inputs with " +
                         std::to_string(g.num_classes()) + " classes, but the data has " + data.shape.to_string() +
                         " with " + std::to_string(data.num_classes));
  }
  std::vector<float> t_mean, t_std;
  try {
    t_mean = floats(b.model.at("normalization").at("mean"));
    t_std = floats(b.model.at("normalization").at("std"));
  } catch (const std::exception& e) {
    throw DataError((dir / kBundleModelFile).string() + ": field 'normalization' needs float lists 'mean' and 'std'");
  }
  return Teacher(b.net, source, data, mean, stddev, t_mean, t_std);
}

}  // namespace nasforge
