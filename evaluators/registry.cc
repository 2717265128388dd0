#include "evaluators/registry.h"

#include "core/error.h"
#include "evaluators/nn_api.h"

namespace nasforge {

namespace {

using ObjectiveFactory = std::unique_ptr<Objective> (*)(SectionReader&, const SearchSpace&, std::size_t,
                                                        const std::string&);

// One row per objective kind: its catalog entry and factory. Adding a kind is one file and one row here.
struct ObjectiveRow {
  CatalogEntry entry;
  ObjectiveFactory make;
};

const std::vector<ObjectiveRow> kObjectiveRows = {
    {{"function", "built-in test function (branin, hartmann6, rosenbrock, ackley, noisy_*)"},
     &make_function_objective},
    {{"tabular", "look the configuration up in a CSV benchmark table (NAS-Bench-201, HPOLib)"},
     &make_tabular_objective},
    {{"command", "run your program with the parameters and read the objective from its output"},
     &make_command_objective},
    {{"train", "train the architecture's network with libtorch and return validation and cost metrics"},
     &make_train_objective},
};

}  // namespace

std::unique_ptr<Objective> make_train_objective(SectionReader& options, const SearchSpace& space,
                                                std::size_t n_objectives, const std::string& base_dir) {
  const EvaluatorNnApi* api = nullptr;
  try {
    api = &evaluator_nn_api("objective kind 'train'");
  } catch (const ConfigError& e) {
    options.node().get("kind").fail(e.what());
  }
  return api->make_train_objective(options, space, n_objectives, base_dir);
}

const Catalog& objective_catalog() {
  static const Catalog kCatalog("objective kind", "kind", kObjectiveRows.size(),
                                [](std::size_t i) { return kObjectiveRows[i].entry; });
  return kCatalog;
}

std::unique_ptr<Objective> make_objective(const ConfigNode& section, const SearchSpace& space,
                                          std::size_t n_objectives, const std::string& base_dir) {
  if (!section.defined() || section.is_null()) section.fail("is required: say what to optimize (kind: ...)");
  std::unique_ptr<Objective> objective;
  objective_catalog().build(section, std::nullopt, [&](SectionReader& options, std::size_t i) {
    objective = kObjectiveRows[i].make(options, space, n_objectives, base_dir);
  });
  return objective;
}

}  // namespace nasforge
