#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/param_value.h"
#include "core/registry.h"
#include "spaces/net_graph.h"
#include "spaces/param_spec.h"

namespace nasforge {

/// A family of networks described by ordinary search-space parameters, so that every strategy can search it.
/// A point of the family has a canonical genotype string (stored with each trial) from which the network is
/// built. Implementations are registered by YAML `type` (see make_architecture).
class ArchitectureSpace {
 public:
  virtual ~ArchitectureSpace() = default;

  /// The YAML `type` ("chain", "cell").
  virtual std::string type() const = 0;
  /// The parameters this architecture adds to the search space, parents before conditional children.
  virtual std::vector<ParamSpec> parameters() const = 0;
  /// Canonical genotype of an assignment of (at least) this architecture's active parameters. Throws
  /// ValueError when a parameter is missing or out of its domain, and InvalidArchitecture when the
  /// parameters describe no trainable network (e.g. a cell whose output is disconnected from its input).
  /// `cell`: the NAS-Bench-201 arch string "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|". `chain`: stages joined by '|',
  /// each "s<i>:" and its blocks joined by ',', a block "skip" or "<op>_k<kernel>_w<width>[_se]" with op conv,
  /// dw or mb<expansion>, e.g. "s1:mb6_k3_w24_se,dw_k5_w24|s2:conv_k3_w40,skip" (grammar in chain_space.cc).
  virtual std::string genotype(const ParamMap& params) const = 0;
  /// The active parameters that give `genotype` (the inverse of genotype()); ValueError naming the bad part.
  virtual ParamMap params(const std::string& genotype) const = 0;
  /// The network for `genotype` on samples of shape `input`; InvalidArchitecture when it cannot be built
  /// (e.g. too many stride-2 stages for the image size).
  virtual NetGraph build(const std::string& genotype, const Shape& input, int num_classes) const = 0;
  /// The `architecture:` section as YAML text, so an exported model can be rebuilt without the study file.
  virtual std::string config_yaml() const = 0;
};

/// Builds the architecture space described by an `architecture:` section ({type: chain|cell, ...}); unknown
/// types and keys are ConfigErrors listing the valid ones.
std::shared_ptr<const ArchitectureSpace> make_architecture(const ConfigNode& section);

/// All registered architecture types (YAML `type`).
const Catalog& architecture_catalog();

// Factories of the registered types. Each declares its own keys on `options` (the registry has already declared
// `type` and calls finish() afterwards, so undeclared keys are rejected).

/// `chain` (spaces/chain_space.cc): MobileNet / MnasNet / ProxylessNAS-style stages of searchable blocks.
std::shared_ptr<const ArchitectureSpace> make_chain_architecture(SectionReader& options);
/// `cell` (spaces/cell_space.cc): the NAS-Bench-201 cell repeated in a fixed ResNet-like macro skeleton.
std::shared_ptr<const ArchitectureSpace> make_cell_architecture(SectionReader& options);

}  // namespace nasforge
