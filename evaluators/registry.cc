#include "evaluators/registry.h"

#include "core/error.h"
#include "evaluators/nn_library.h"

namespace nasforge {

namespace {

using ObjectiveFactory = std::unique_ptr<Objective> (*)(SectionReader&, const SearchSpace&, std::size_t,
                                                        const std::string&);

struct ObjectiveEntry {
  ObjectiveInfo info;
  ObjectiveFactory make;
};

const std::vector<ObjectiveEntry>& entries() {
  static const std::vector<ObjectiveEntry> kEntries = {
      {{"function", "built-in test function (branin, hartmann6, rosenbrock, ackley, noisy_*)"},
       &make_function_objective},
      {{"tabular", "look the configuration up in a CSV benchmark table (NAS-Bench-201, HPOLib)"},
       &make_tabular_objective},
      {{"command", "run your program with the parameters and read the objective from its output"},
       &make_command_objective},
      {{"train", "train the architecture's network with libtorch and return validation and cost metrics"},
       &make_train_objective},
  };
  return kEntries;
}

}  // namespace

std::unique_ptr<Objective> make_train_objective(SectionReader& options, const SearchSpace& space,
                                                std::size_t n_objectives, const std::string& base_dir) {
  const NnApi* api = nullptr;
  try {
    api = &nn_api("objective kind 'train'");
  } catch (const ConfigError& e) {
    options.node().get("kind").fail(e.what());
  }
  return api->make_train_objective(options, space, n_objectives, base_dir);
}

std::unique_ptr<Objective> make_objective(const ConfigNode& section, const SearchSpace& space,
                                          std::size_t n_objectives, const std::string& base_dir) {
  if (!section.defined() || section.is_null()) section.fail("is required: say what to optimize (kind: ...)");
  SectionReader options(section);
  std::string kind = options.text("kind", std::nullopt, "objective kind");
  std::vector<std::string> names;
  for (const auto& e : entries()) names.push_back(e.info.name);
  const ObjectiveEntry& entry = entries()[lookup_name(section.get("kind"), kind, names, "objective kind")];
  std::unique_ptr<Objective> objective;
  try {
    objective = entry.make(options, space, n_objectives, base_dir);
  } catch (const ConfigError&) {
    throw;
  } catch (const ValueError& e) {
    section.fail(e.what());
  }
  options.finish();
  return objective;
}

std::vector<ObjectiveInfo> objective_catalog() {
  std::vector<ObjectiveInfo> out;
  for (const auto& e : entries()) out.push_back(e.info);
  return out;
}

}  // namespace nasforge
