#include "evaluators/compression/cluster_step.h"

#include <string>
#include <vector>

namespace nasforge {

namespace {

// The k-means initializations by their to_string() names, which are also their YAML names.
const std::vector<ClusterInit> kClusterInits = {ClusterInit::kLinear, ClusterInit::kRandom, ClusterInit::kDensity};

std::vector<std::string> cluster_init_names() {
  std::vector<std::string> names;
  for (ClusterInit k : kClusterInits) names.emplace_back(to_string(k));
  return names;
}

}  // namespace

ClusterOptions ClusterOptions::from(const SettingValues& values) {
  ClusterOptions o;
  o.clusters = values["clusters"].as_int();
  // Resolved values were checked against cluster_init_names(), so one of them matches.
  for (ClusterInit k : kClusterInits) {
    if (values["init"].as_string() == to_string(k)) o.init = k;
  }
  o.finetune_epochs = values["finetune_epochs"].as_int();
  o.lr = values["lr"].as_double();
  return o;
}

namespace {

void plan_cluster(DeployPlan& plan, const SettingValues& values) { plan.clusters = values["clusters"].as_int(); }

}  // namespace

StepType cluster_step() {
  StepType t;
  t.entry = {"cluster", "weight sharing: each layer's weights clustered into a few shared values (k-means)"};
  t.keys = {
      SettingSpec::integer("clusters", Range::closed(2, 65536), 16, "shared values (centroids) per layer"),
      SettingSpec::choice("init", cluster_init_names(), "linear", "initial centroids: linear, random, or density"),
      SettingSpec::integer("finetune_epochs", Range::closed(0), 0, "epochs fine-tuning the centroids"),
      finetune_lr_key(),
  };
  t.plan = &plan_cluster;
  return t;
}

}  // namespace nasforge
