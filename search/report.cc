#include "search/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iomanip>
#include <set>

#include "core/error.h"
#include "core/strings.h"

namespace nasforge {

OutputFormat parse_format(const std::string& name) {
  if (name == "table") return OutputFormat::kTable;
  if (name == "json") return OutputFormat::kJson;
  if (name == "csv") return OutputFormat::kCsv;
  throw UsageError("unknown --format '" + name + "'; use table, json or csv" +
                   did_you_mean(name, {"table", "json", "csv"}));
}

namespace {

std::string number_text(double v, bool brief) {
  if (!brief || !std::isfinite(v)) return format_double(v);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

std::string format_values(const std::vector<double>& values, bool brief) {
  if (values.empty()) return "-";
  if (values.size() == 1) return number_text(values[0], brief);
  std::vector<std::string> parts;
  for (double v : values) parts.push_back(number_text(v, brief));
  return "[" + join(parts, ", ") + "]";
}

std::string format_params(const ParamMap& params, bool brief) {
  std::vector<std::string> parts;
  for (const auto& [k, v] : params) {
    parts.push_back(k + "=" + (v.is_double() ? number_text(v.as_double(), brief) : v.to_string()));
  }
  return join(parts, ", ");
}

namespace {

std::string csv_escape(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void write_table(std::ostream& out, const std::vector<std::string>& header,
                 const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width(header.size());
  for (std::size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows) {
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto line = [&](const std::vector<std::string>& cells) {
    for (std::size_t i = 0; i < cells.size(); ++i) {
      out << (i ? "  " : "") << std::left << std::setw(static_cast<int>(width[i])) << cells[i];
    }
    out << "\n";
  };
  line(header);
  std::vector<std::string> rule;
  for (auto w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows) line(r);
}

void write_csv(std::ostream& out, const std::vector<std::string>& header,
               const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::string> escaped;
  for (const auto& h : header) escaped.push_back(csv_escape(h));
  out << join(escaped, ",") << "\n";
  for (const auto& r : rows) {
    escaped.clear();
    for (const auto& c : r) escaped.push_back(csv_escape(c));
    out << join(escaped, ",") << "\n";
  }
}

std::string attr_text(const Json& j) { return j.is_string() ? j.get<std::string>() : j.dump(); }

}  // namespace

void write_rows(std::ostream& out, const std::vector<std::string>& header,
                const std::vector<std::vector<std::string>>& rows, OutputFormat format) {
  if (format == OutputFormat::kTable) return write_table(out, header, rows);
  if (format == OutputFormat::kCsv) return write_csv(out, header, rows);
  Json arr = Json::array();
  for (const auto& r : rows) {
    Json o = Json::object();
    for (std::size_t i = 0; i < header.size() && i < r.size(); ++i) {
      if (r[i] == "true" || r[i] == "false") {
        o[header[i]] = r[i] == "true";
      } else if (std::optional<double> v = parse_double(r[i]); v && std::isfinite(*v)) {
        o[header[i]] = *v;
      } else {
        o[header[i]] = r[i];
      }
    }
    arr.push_back(o);
  }
  out << arr.dump(2) << "\n";
}

void write_trials(std::ostream& out, const std::vector<FrozenTrial>& trials,
                  const std::vector<StudyDirection>& directions, OutputFormat format, const TableColumns& columns) {
  if (format == OutputFormat::kJson) {
    Json arr = Json::array();
    for (const auto& t : trials) arr.push_back(t.to_json());
    out << arr.dump(2) << "\n";
    return;
  }
  // Columns: fixed ones, one per objective, one per parameter and user attribute seen in any trial.
  std::vector<std::string> param_names, attr_names;
  std::set<std::string> seen_p, seen_a;
  for (const auto& t : trials) {
    for (const auto& [k, v] : t.params) {
      if (format == OutputFormat::kTable && columns.hide_params.count(k)) continue;
      if (seen_p.insert(k).second) param_names.push_back(k);
    }
    for (const auto& [k, v] : t.user_attrs) {
      if (seen_a.insert(k).second) attr_names.push_back(k);
    }
  }
  std::vector<std::string> header = {"number", "state"};
  if (directions.size() == 1) {
    header.push_back("value");
  } else {
    for (std::size_t i = 0; i < directions.size(); ++i) header.push_back("value_" + std::to_string(i));
  }
  header.push_back("duration_s");
  for (const auto& p : param_names) header.push_back(format == OutputFormat::kCsv ? "params_" + p : p);
  std::vector<std::string> table_attrs;
  if (format == OutputFormat::kTable) {
    for (const auto& a : columns.attrs) {
      if (!a.empty() && a.back() == '*') {
        const std::string prefix = a.substr(0, a.size() - 1);
        for (const auto& name : attr_names) {
          if (name.rfind(prefix, 0) == 0 && name.size() > prefix.size()) table_attrs.push_back(name);
        }
      } else if (seen_a.count(a)) {
        table_attrs.push_back(a);
      }
    }
    for (const auto& a : table_attrs) header.push_back(a);
  }
  if (format == OutputFormat::kCsv) {
    for (const auto& a : attr_names) header.push_back("user_attrs_" + a);
    header.push_back("datetime_start");
    header.push_back("datetime_complete");
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : trials) {
    std::vector<std::string> r = {std::to_string(t.number), to_string(t.state)};
    for (std::size_t i = 0; i < directions.size(); ++i) {
      r.push_back(t.state == TrialState::kComplete && i < t.values.size() ? format_double(t.values[i]) : "");
    }
    std::string duration;
    if (t.datetime_start && t.datetime_complete) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f",
                    std::chrono::duration<double>(*t.datetime_complete - *t.datetime_start).count());
      duration = buf;
    }
    r.push_back(duration);
    for (const auto& p : param_names) {
      auto it = t.params.find(p);
      r.push_back(it == t.params.end() ? "" : it->second.to_string());
    }
    for (const auto& a : table_attrs) {
      auto it = t.user_attrs.find(a);
      r.push_back(it == t.user_attrs.end() ? "" : it->second.is_number_float() ? number_text(it->second.get<double>(), true)
                                                                                : attr_text(it->second));
    }
    if (format == OutputFormat::kCsv) {
      for (const auto& a : attr_names) {
        auto it = t.user_attrs.find(a);
        r.push_back(it == t.user_attrs.end() ? "" : attr_text(it->second));
      }
      r.push_back(t.datetime_start ? format_time(*t.datetime_start) : "");
      r.push_back(t.datetime_complete ? format_time(*t.datetime_complete) : "");
    }
    rows.push_back(std::move(r));
  }
  if (format == OutputFormat::kCsv) {
    write_csv(out, header, rows);
  } else if (rows.empty()) {
    out << "(no trials)\n";
  } else {
    write_table(out, header, rows);
  }
}

void write_studies(std::ostream& out, const std::vector<StudyInfo>& studies, const std::vector<TrialCounts>& counts,
                   const std::vector<std::vector<FrozenTrial>>& bests, OutputFormat format) {
  if (format == OutputFormat::kJson) {
    Json arr = Json::array();
    for (std::size_t i = 0; i < studies.size(); ++i) {
      Json dirs = Json::array();
      for (auto d : studies[i].directions) dirs.push_back(to_string(d));
      const TrialCounts& c = counts[i];
      Json best = Json::array();
      for (const auto& t : bests[i]) best.push_back(t.to_json());
      arr.push_back({{"name", studies[i].name},
                     {"directions", dirs},
                     {"n_trials", c.complete + c.pruned + c.failed + c.running + c.waiting},
                     {"states",
                      {{"COMPLETE", c.complete},
                       {"PRUNED", c.pruned},
                       {"FAIL", c.failed},
                       {"RUNNING", c.running},
                       {"WAITING", c.waiting}}},
                     {"best_trials", best},
                     {"user_attrs", Json(studies[i].user_attrs)}});
    }
    out << arr.dump(2) << "\n";
    return;
  }
  std::vector<std::string> header = {"name", "directions", "trials", "complete", "pruned", "fail", "running",
                                     "waiting", "best"};
  std::vector<std::vector<std::string>> rows;
  for (std::size_t i = 0; i < studies.size(); ++i) {
    std::vector<std::string> dirs;
    for (auto d : studies[i].directions) dirs.push_back(to_string(d));
    const TrialCounts& c = counts[i];
    std::string best;
    if (studies[i].directions.size() == 1 && !bests[i].empty()) {
      best = format_values(bests[i][0].values) + " (#" + std::to_string(bests[i][0].number) + ")";
    } else if (!bests[i].empty()) {
      best = std::to_string(bests[i].size()) + " on Pareto front";
    }
    rows.push_back({studies[i].name, join(dirs, ","),
                    std::to_string(c.complete + c.pruned + c.failed + c.running + c.waiting),
                    std::to_string(c.complete), std::to_string(c.pruned), std::to_string(c.failed),
                    std::to_string(c.running), std::to_string(c.waiting), best});
  }
  if (format == OutputFormat::kCsv) {
    write_csv(out, header, rows);
  } else if (rows.empty()) {
    out << "(no studies)\n";
  } else {
    write_table(out, header, rows);
  }
}

}  // namespace nasforge
