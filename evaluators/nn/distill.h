#pragma once

#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "evaluators/compression/compression_config.h"
#include "evaluators/nn/trainer.h"
#include "spaces/nn/graph_module.h"

namespace nasforge {

/// Hinton et al.'s distillation loss: alpha * CE(student, labels) + (1 - alpha) * T^2 * KL(softmax(teacher / T) ||
/// softmax(student / T)), the KL averaged over the batch. The hard term uses `label_smoothing` like plain training.
torch::Tensor distillation_loss(const torch::Tensor& student_logits, const torch::Tensor& teacher_logits,
                                const torch::Tensor& labels, double alpha, double temperature,
                                double label_smoothing = 0);

/// A frozen teacher network and how to feed it the student's (normalized) batches.
class Teacher {
 public:
  /// Wraps `net` (eval mode, on the data's device). When the teacher was trained with a different normalization
  /// (`teacher_mean`/`teacher_std` per channel) than the student's data, inputs are re-normalized on the fly.
  Teacher(GraphNet net, std::string source, const TrainData& data, const std::vector<float>& student_mean,
          const std::vector<float>& student_std, const std::vector<float>& teacher_mean,
          const std::vector<float>& teacher_std);
  /// Teacher logits for a batch of student inputs, without gradients.
  torch::Tensor logits(const torch::Tensor& x);
  /// Where the teacher came from: "trial 3" or a folder.
  const std::string& source() const { return source_; }

 private:
  GraphNet net_;
  std::string source_;
  torch::Tensor scale_, shift_;  // x_teacher = x * scale + shift; undefined when the normalizations agree
};

/// Finds and loads the teacher that `o` names: "best" (the saved model with the highest val_accuracy under
/// `study_dir`, the trial `exclude_trial` left out), a trial number (study_dir/trial_<n>), or an exported model
/// folder. Returns nullopt for "best" when no trial has a saved model yet; ObjectiveError when a named trial has
/// none, or when the teacher's input shape or class count differ from the data's.
std::optional<Teacher> load_teacher(const DistillOptions& o, const std::string& study_dir, int exclude_trial,
                                    const TrainData& data, const std::vector<float>& mean,
                                    const std::vector<float>& stddev);

}  // namespace nasforge
