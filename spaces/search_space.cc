#include "spaces/search_space.h"

#include "spaces/architecture.h"

#include <algorithm>
#include <map>
#include <functional>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

const std::vector<std::string> kTypes = {"float", "int", "categorical"};

struct RawParam {
  ParamSpec spec;
  ConfigNode node;
  ConfigNode when_node;
};

std::vector<ConditionClause> read_when(const ConfigNode& when) {
  std::vector<ConditionClause> clauses;
  if (!when.defined() || when.is_null()) return clauses;
  const std::string example = "{optimizer: sgd} or {optimizer: [sgd, rmsprop]}";
  if (!when.is_map()) when.fail("expected a mapping such as " + example + ", got " + when.describe());
  if (when.entries().empty()) {
    when.fail("the condition is empty: name at least one parameter and the value(s) it must take, such as " + example +
              "; for a parameter that is always active, remove when:");
  }
  for (const auto& [parent, values] : when.entries()) {
    ConditionClause c;
    c.parent = parent;
    if (values.is_sequence()) {
      for (const auto& v : values.elements()) c.values.push_back(v.as_param_value());
      if (c.values.empty()) values.fail("the list of values is empty");
    } else {
      c.values.push_back(values.as_param_value());
    }
    clauses.push_back(std::move(c));
  }
  return clauses;
}

// A categorical over the scalars of the list `list`.
Distribution read_choices(const ConfigNode& list) {
  std::vector<ParamValue> choices;
  for (const auto& c : list.elements()) choices.push_back(c.as_param_value());
  try {
    return Distribution::make_categorical(std::move(choices));
  } catch (const InvalidDomain& e) {
    list.fail(e.what());
  }
}

RawParam read_param(const std::string& name, const ConfigNode& node) {
  RawParam raw;
  raw.node = node;
  raw.spec.name = name;
  raw.spec.location = node.location();
  // `x: [a, b, c]` is shorthand for a categorical.
  if (node.is_sequence()) {
    raw.spec.distribution = read_choices(node);
    return raw;
  }
  if (!node.is_map()) {
    node.fail("expected a parameter such as {type: float, low: 0, high: 1} or a list of choices, got " +
              node.describe());
  }
  SectionReader r(node);
  ConfigNode choices_node = r.child("choices", "list", "values of a categorical parameter (any YAML scalars)");
  std::optional<std::string> type = r.optional_text("type", "float, int or categorical (implied by choices)");
  if (!type) {
    if (!choices_node.defined()) {
      node.get("type").fail("is required: add type: float, type: int or type: categorical");
    }
    type = "categorical";
  }
  if (std::find(kTypes.begin(), kTypes.end(), *type) == kTypes.end()) {
    node.get("type").fail("'" + *type + "' is not a parameter type; use one of: " + join(kTypes, ", ") +
                          did_you_mean(*type, kTypes));
  }
  raw.spec.doc = r.optional_text("doc", "free text describing the parameter").value_or("");
  raw.when_node = r.child("when", "mapping", "activate only when other parameters take given values");
  if (*type == "categorical") {
      r.require(choices_node.defined(), "choices", "is required for a categorical parameter");
      if (!choices_node.is_sequence()) choices_node.fail("expected a list of values, got " + choices_node.describe());
      raw.spec.distribution = read_choices(choices_node);
    } else {
      r.require(!choices_node.defined(), "choices", "is only valid with type: categorical");
      bool log = r.flag("log", false, "sample on a log scale (low must be > 0)");
      // The domain error names the argument at fault, so the message points at the key that holds it.
      auto make = [&](auto&& build) {
        try {
          raw.spec.distribution = build();
        } catch (const InvalidDomain& e) {
          ConfigNode at = node.get(e.argument());
          at.fail(std::string(e.what()) + " (value " + at.describe() + ")");
        }
      };
      if (*type == "float") {
        double low = r.number("low", std::nullopt, "lower bound");
        double high = r.number("high", std::nullopt, "upper bound");
        std::optional<double> step = r.optional_number("step", "grid spacing; must divide high - low");
        make([&] { return Distribution::make_float(low, high, log, step); });
      } else {
        std::int64_t low = r.integer("low", std::nullopt, "lower bound");
        std::int64_t high = r.integer("high", std::nullopt, "upper bound");
        std::int64_t step = r.integer("step", 1, "grid spacing; must divide high - low");
        make([&] { return Distribution::make_int(low, high, log, step); });
      }
    }
  r.finish();
  raw.spec.when = read_when(raw.when_node);
  return raw;
}

}  // namespace

SearchSpace SearchSpace::from_config(const ConfigNode& node) {
  if (!node.defined() || node.is_null()) node.fail("is required: declare at least one parameter");
  if (!node.is_map()) node.fail("expected a mapping of parameter names, got " + node.describe());
  std::vector<RawParam> raws;
  for (const auto& [name, child] : node.entries()) raws.push_back(read_param(name, child));
  if (raws.empty()) node.fail("declare at least one parameter");

  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < raws.size(); ++i) index[raws[i].spec.name] = i;
  std::vector<std::string> all_names;
  for (const auto& r : raws) all_names.push_back(r.spec.name);
  for (const auto& r : raws) {
    for (const auto& c : r.spec.when) {
      if (!index.count(c.parent)) {
        r.when_node.get(c.parent).fail("names unknown parameter '" + c.parent + "'" +
                                       did_you_mean(c.parent, all_names) + "; parameters: " + join(all_names, ", "));
      }
      if (c.parent == r.spec.name) r.when_node.get(c.parent).fail("a parameter cannot depend on itself");
    }
  }
  // Stable topological order: YAML order, except that a parent always precedes its children.
  SearchSpace space;
  std::vector<int> mark(raws.size(), 0);  // 0 new, 1 visiting, 2 done
  std::function<void(std::size_t)> visit = [&](std::size_t i) {
    if (mark[i] == 2) return;
    if (mark[i] == 1) raws[i].when_node.fail("conditions form a cycle through '" + raws[i].spec.name + "'");
    mark[i] = 1;
    for (const auto& c : raws[i].spec.when) visit(index[c.parent]);
    mark[i] = 2;
    try {
      space.add(raws[i].spec);
    } catch (const ValueError& e) {
      raws[i].when_node.fail(e.what());
    }
  };
  for (std::size_t i = 0; i < raws.size(); ++i) visit(i);
  return space;
}

void SearchSpace::set_architecture(std::shared_ptr<const ArchitectureSpace> architecture) {
  check(architecture != nullptr, "set_architecture: null architecture");
  check(architecture_ == nullptr, "the search space already has an architecture");
  for (auto& spec : architecture->parameters()) {
    if (const ParamSpec* taken = find(spec.name)) {
      throw ValueError("architecture parameter '" + spec.name + "' clashes with the space parameter of that name (" +
                       taken->location.to_string() + "); rename the space parameter");
    }
    add(std::move(spec));
  }
  architecture_ = std::move(architecture);
}

void SearchSpace::add(ParamSpec spec) {
  if (find(spec.name)) throw ValueError("parameter '" + spec.name + "' is declared twice");
  for (auto& c : spec.when) {
    const ParamSpec* parent = find(c.parent);
    if (!parent) throw ValueError("condition names unknown parameter '" + c.parent + "'");
    for (auto& v : c.values) {
      try {
        double internal = parent->distribution.to_internal(v);
        v = parent->distribution.to_external(internal);  // normalise 1.0 vs 1 for comparisons
      } catch (const ValueError&) {
        throw ValueError("condition value '" + v.to_string() + "' can never be taken by '" + c.parent + "' (" +
                         parent->distribution.describe() + ")");
      }
    }
  }
  params_.push_back(std::move(spec));
}

const ParamSpec* SearchSpace::find(const std::string& name) const {
  for (const auto& p : params_) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const ParamSpec& SearchSpace::at(const std::string& name) const {
  if (const ParamSpec* p = find(name)) return *p;
  throw NotFoundError("unknown parameter '" + name + "'" + did_you_mean(name, names()) +
                      "; parameters: " + join(names(), ", "));
}

std::vector<std::string> SearchSpace::names() const {
  std::vector<std::string> out;
  for (const auto& p : params_) out.push_back(p.name);
  return out;
}

bool SearchSpace::is_active(const ParamSpec& spec, const ParamMap& assigned) const {
  for (const auto& c : spec.when) {
    auto it = assigned.find(c.parent);
    if (it == assigned.end()) return false;
    if (std::find(c.values.begin(), c.values.end(), it->second) == c.values.end()) return false;
  }
  return true;
}

ParamMap SearchSpace::validate(const ParamMap& params, bool require_complete) const {
  for (const auto& [name, value] : params) {
    if (!find(name)) {
      throw ValueError("unknown parameter '" + name + "'" + did_you_mean(name, names()) +
                       "; parameters: " + join(names(), ", "));
    }
  }
  ParamMap out;
  for (const auto& spec : params_) {
    auto it = params.find(spec.name);
    bool active = is_active(spec, out);
    if (it == params.end()) {
      if (active && require_complete) throw ValueError("parameter '" + spec.name + "' is missing");
      continue;
    }
    if (!active) {
      throw ValueError("parameter '" + spec.name + "' is given but inactive: its `when` condition does not hold");
    }
    try {
      out[spec.name] = spec.distribution.to_external(spec.distribution.to_internal(it->second));
    } catch (const ValueError& e) {
      throw ValueError("parameter '" + spec.name + "': " + e.what());
    }
  }
  return out;
}

}  // namespace nasforge
