#include "spaces/trial.h"

#include <cmath>
#include <ctime>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

const char* to_string(TrialState state) {
  switch (state) {
    case TrialState::kRunning: return "RUNNING";
    case TrialState::kComplete: return "COMPLETE";
    case TrialState::kPruned: return "PRUNED";
    case TrialState::kFail: return "FAIL";
    case TrialState::kWaiting: return "WAITING";
  }
  return "UNKNOWN";
}

TrialState parse_trial_state(const std::string& name) {
  const std::vector<std::string> names = {"RUNNING", "COMPLETE", "PRUNED", "FAIL", "WAITING"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == name) return static_cast<TrialState>(i);
  }
  throw ValueError("unknown trial state '" + name + "'; valid states: " + join(names, ", "));
}

bool is_finished(TrialState state) {
  return state == TrialState::kComplete || state == TrialState::kPruned || state == TrialState::kFail;
}

const char* to_string(StudyDirection direction) {
  return direction == StudyDirection::kMinimize ? "minimize" : "maximize";
}

StudyDirection parse_direction(const std::string& name) {
  if (name == "minimize") return StudyDirection::kMinimize;
  if (name == "maximize") return StudyDirection::kMaximize;
  throw ValueError("unknown direction '" + name + "'; use minimize or maximize" +
                   did_you_mean(name, {"minimize", "maximize"}));
}

std::optional<double> FrozenTrial::value() const {
  if (state != TrialState::kComplete || values.size() != 1) return std::nullopt;
  return values[0];
}

std::optional<int> FrozenTrial::last_step() const {
  if (intermediate_values.empty()) return std::nullopt;
  return intermediate_values.rbegin()->first;
}

std::optional<double> FrozenTrial::internal_param(const std::string& name) const {
  auto p = params.find(name);
  auto d = distributions.find(name);
  if (p == params.end() || d == distributions.end()) return std::nullopt;
  return d->second.to_internal(p->second);
}

std::string format_time(Clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%06lld", buf, static_cast<long long>(us % 1000000));
  return out;
}

namespace {

Json number_json(double v) {
  if (std::isfinite(v)) return v;
  return format_double(v);  // JSON has no NaN/inf
}

}  // namespace

Json FrozenTrial::to_json() const {
  Json j;
  j["number"] = number;
  j["state"] = to_string(state);
  Json vals = Json::array();
  for (double v : values) vals.push_back(number_json(v));
  j["values"] = state == TrialState::kComplete ? vals : Json(nullptr);
  Json ps = Json::object();
  for (const auto& [k, v] : params) ps[k] = v.to_json();
  j["params"] = ps;
  Json iv = Json::object();
  for (const auto& [step, v] : intermediate_values) iv[std::to_string(step)] = number_json(v);
  j["intermediate_values"] = iv;
  j["user_attrs"] = Json(user_attrs);
  j["system_attrs"] = Json(system_attrs);
  j["datetime_start"] = datetime_start ? Json(format_time(*datetime_start)) : Json(nullptr);
  j["datetime_complete"] = datetime_complete ? Json(format_time(*datetime_complete)) : Json(nullptr);
  if (datetime_start && datetime_complete) {
    j["duration_s"] = std::chrono::duration<double>(*datetime_complete - *datetime_start).count();
  }
  return j;
}

bool dominates(const std::vector<double>& a, const std::vector<double>& b,
               const std::vector<StudyDirection>& directions) {
  bool strictly = false;
  for (std::size_t i = 0; i < directions.size(); ++i) {
    double x = directions[i] == StudyDirection::kMinimize ? a[i] : -a[i];
    double y = directions[i] == StudyDirection::kMinimize ? b[i] : -b[i];
    // NaN is worse than anything.
    if (std::isnan(x) && !std::isnan(y)) return false;
    if (!std::isnan(x) && std::isnan(y)) {
      strictly = true;
      continue;
    }
    if (x > y) return false;
    if (x < y) strictly = true;
  }
  return strictly;
}

std::vector<FrozenTrial> pareto_front(const std::vector<FrozenTrial>& trials,
                                      const std::vector<StudyDirection>& directions) {
  std::vector<const FrozenTrial*> complete;
  for (const auto& t : trials) {
    if (t.state == TrialState::kComplete && t.values.size() == directions.size()) complete.push_back(&t);
  }
  std::vector<FrozenTrial> front;
  for (const auto* t : complete) {
    bool dominated = false;
    for (const auto* o : complete) {
      if (o != t && dominates(o->values, t->values, directions)) {
        dominated = true;
        break;
      }
    }
    if (!dominated) front.push_back(*t);
  }
  // With one objective every tie is on the front; keep the earliest so "best" is stable.
  if (directions.size() == 1 && front.size() > 1) front.resize(1);
  return front;
}

const ParamValue& TrialContext::param(const std::string& name) const {
  const ParamMap& ps = params();
  auto it = ps.find(name);
  if (it == ps.end()) {
    std::vector<std::string> names;
    for (const auto& [k, v] : ps) names.push_back(k);
    throw NotFoundError("trial " + std::to_string(number()) + " has no parameter '" + name + "'" +
                        did_you_mean(name, names) + "; it has: " + join(names, ", "));
  }
  return it->second;
}

}  // namespace nasforge
