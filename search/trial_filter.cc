#include "search/trial_filter.h"

#include <algorithm>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

namespace {

std::optional<double> as_number(const Json& j) {
  if (j.is_number()) return j.get<double>();
  if (j.is_boolean()) return j.get<bool>() ? 1.0 : 0.0;
  return std::nullopt;
}

std::string as_text(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

std::string known_keys(const std::vector<FrozenTrial>& trials) {
  std::set<std::string> keys;
  for (const auto& t : trials) {
    for (auto& k : trial_field_names(t)) keys.insert(k);
  }
  return join(std::vector<std::string>(keys.begin(), keys.end()), ", ");
}

void require_known(const std::string& key, const std::vector<FrozenTrial>& trials, const std::string& what) {
  for (const auto& t : trials) {
    if (trial_field(t, key)) return;
  }
  if (trials.empty()) return;
  throw UsageError(what + ": no trial has '" + key + "'; available: " + known_keys(trials));
}

}  // namespace

std::optional<Json> trial_field(const FrozenTrial& trial, const std::string& key) {
  if (key == "number") return Json(trial.number);
  if (key == "value") {
    if (trial.values.size() == 1) return Json(trial.values[0]);
    return std::nullopt;
  }
  if (key.rfind("values[", 0) == 0 && key.back() == ']') {
    auto index = parse_int(key.substr(7, key.size() - 8));
    if (!index || *index < 0 || *index >= static_cast<long long>(trial.values.size())) return std::nullopt;
    return Json(trial.values[static_cast<std::size_t>(*index)]);
  }
  if (auto it = trial.params.find(key); it != trial.params.end()) return it->second.to_json();
  if (auto it = trial.user_attrs.find(key); it != trial.user_attrs.end()) return it->second;
  if (auto it = trial.system_attrs.find(key); it != trial.system_attrs.end()) return it->second;
  return std::nullopt;
}

std::vector<std::string> trial_field_names(const FrozenTrial& trial) {
  std::vector<std::string> out = {"number"};
  if (trial.values.size() == 1) out.push_back("value");
  for (std::size_t i = 0; i < trial.values.size() && trial.values.size() > 1; ++i) {
    out.push_back("values[" + std::to_string(i) + "]");
  }
  for (const auto& [k, v] : trial.params) out.push_back(k);
  for (const auto& [k, v] : trial.user_attrs) out.push_back(k);
  for (const auto& [k, v] : trial.system_attrs) out.push_back(k);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TrialFilter TrialFilter::parse(const std::string& expr) {
  static const char* const kOps[] = {"<=", ">=", "==", "!=", "<", ">"};
  for (const char* op : kOps) {
    std::size_t at = expr.find(op);
    if (at == std::string::npos) continue;
    TrialFilter f;
    f.expr_ = expr;
    f.key_ = trim(expr.substr(0, at));
    f.op_ = op;
    f.rhs_ = trim(expr.substr(at + std::string(op).size()));
    if (f.key_.empty() || f.rhs_.empty()) break;
    f.number_ = parse_double(f.rhs_);
    if (!f.number_ && (f.op_ != "==" && f.op_ != "!=")) {
      throw UsageError("--where '" + expr + "': " + f.op_ + " needs a number on the right, got '" + f.rhs_ + "'");
    }
    return f;
  }
  throw UsageError("--where '" + expr + "': expected KEY OP VALUE with OP one of < <= > >= == != (e.g. "
                   "\"macs<5e6\" or \"optimizer==sgd\")");
}

bool TrialFilter::matches(const FrozenTrial& trial) const {
  auto v = trial_field(trial, key_);
  if (!v) return false;
  auto x = as_number(*v);
  if (number_ && x) {
    if (op_ == "<") return *x < *number_;
    if (op_ == "<=") return *x <= *number_;
    if (op_ == ">") return *x > *number_;
    if (op_ == ">=") return *x >= *number_;
    if (op_ == "==") return *x == *number_;
    return *x != *number_;
  }
  if (op_ == "==") return as_text(*v) == rhs_;
  if (op_ == "!=") return as_text(*v) != rhs_;
  return false;  // an ordering comparison against text never holds
}

TrialOrder TrialOrder::parse(const std::string& text) {
  TrialOrder o;
  std::size_t colon = text.rfind(':');
  o.key = trim(colon == std::string::npos ? text : text.substr(0, colon));
  if (colon != std::string::npos) {
    std::string dir = trim(text.substr(colon + 1));
    if (dir == "desc") {
      o.descending = true;
    } else if (dir != "asc") {
      throw UsageError("--sort '" + text + "': the direction after ':' must be asc or desc, got '" + dir + "'");
    }
  }
  if (o.key.empty()) throw UsageError("--sort '" + text + "': expected KEY, KEY:asc or KEY:desc");
  return o;
}

std::vector<FrozenTrial> filter_trials(const std::vector<FrozenTrial>& trials, const std::vector<TrialFilter>& filters) {
  for (const auto& f : filters) require_known(f.key(), trials, "--where");
  std::vector<FrozenTrial> out;
  for (const auto& t : trials) {
    if (std::all_of(filters.begin(), filters.end(), [&](const TrialFilter& f) { return f.matches(t); })) {
      out.push_back(t);
    }
  }
  return out;
}

void sort_trials(std::vector<FrozenTrial>& trials, const TrialOrder& order) {
  require_known(order.key, trials, "--sort");
  // Rank: 0 = number, 1 = text, 2 = missing; numbers before text, missing last whatever the direction.
  auto rank = [&](const FrozenTrial& t, double& num, std::string& text) {
    auto v = trial_field(t, order.key);
    if (!v) return 2;
    if (auto x = as_number(*v)) {
      num = *x;
      return 0;
    }
    text = as_text(*v);
    return 1;
  };
  std::stable_sort(trials.begin(), trials.end(), [&](const FrozenTrial& a, const FrozenTrial& b) {
    double na = 0, nb = 0;
    std::string ta, tb;
    int ra = rank(a, na, ta), rb = rank(b, nb, tb);
    if (ra != rb) return ra < rb;
    if (ra == 0) return order.descending ? na > nb : na < nb;
    if (ra == 1) return order.descending ? ta > tb : ta < tb;
    return false;
  });
}

}  // namespace nasforge
