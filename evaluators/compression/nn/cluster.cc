#include "evaluators/compression/nn/cluster.h"

#include <vector>

#include "core/error.h"
#include "evaluators/compression/clustering.h"

namespace nasforge {

TrainResult cluster_weights(CompressedNet& c, const ClusterOptions& o, const StepContext& ctx) {
  if (o.clusters < 1) throw ValueError("cluster: clusters must be >= 1, got " + std::to_string(o.clusters));
  fold_batch_norm(c);
  {
    torch::NoGradGuard no_grad;
    for (int node : c.weight_nodes()) {
      torch::Tensor w = c.weight(node);
      torch::Tensor flat = w.detach().to(torch::kCPU, torch::kFloat).contiguous().reshape({-1});
      const std::int64_t n = flat.numel();
      torch::Tensor live = torch::ones({n}, torch::kBool);
      auto m = c.masks.find(node);
      if (m != c.masks.end()) live = m->second.detach().to(torch::kCPU).reshape({-1}).ne(0).contiguous();
      const float* values = flat.data_ptr<float>();
      const bool* is_live = live.data_ptr<bool>();
      std::vector<float> kept;
      std::vector<std::int64_t> where;
      kept.reserve(static_cast<std::size_t>(n));
      where.reserve(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        if (!is_live[i]) continue;
        kept.push_back(values[i]);
        where.push_back(i);
      }
      if (kept.empty()) continue;  // a fully pruned layer has nothing to share
      KMeansResult r =
          kmeans_1d(kept.data(), kept.size(), o.clusters, o.init, ctx.seed + static_cast<std::uint64_t>(node));
      const std::int64_t k = static_cast<std::int64_t>(r.centroids.size());
      // Pruned weights point past the centroids, at the fixed zero slot.
      torch::Tensor assignment = torch::full({n}, k, torch::kLong);
      torch::Tensor snapped = torch::zeros({n}, torch::kFloat);
      std::int64_t* a = assignment.data_ptr<std::int64_t>();
      float* s = snapped.data_ptr<float>();
      for (std::size_t j = 0; j < kept.size(); ++j) {
        a[where[j]] = r.assignment[j];
        s[where[j]] = r.centroids[static_cast<std::size_t>(r.assignment[j])];
      }
      ClusterState state;
      state.assignment = assignment.view(w.sizes()).to(w.device());
      state.k = k;
      state.zero_slot = static_cast<std::int64_t>(kept.size()) < n;
      c.clusters[node] = state;
      w.copy_(snapped.view(w.sizes()).to(w.device(), w.scalar_type()));
    }
  }
  return finetune(c, o.finetune_epochs, o.lr, ctx);
}

}  // namespace nasforge
