#include <charconv>
#include <cmath>
#include <filesystem>
#include <random>
#include <set>
#include <unordered_map>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/data/csv_table.h"
#include "evaluators/data/gzip_file.h"
#include "evaluators/registry.h"
#include "spaces/nasbench201.h"

namespace nasforge {

namespace {

namespace fs = std::filesystem;

// Canonical text of a cell or parameter value, so that 0.0005 == 5e-4, 16 == 16.0 and True == true.
std::string normalize(std::string_view raw) {
  std::string text = trim(std::string(raw));
  if (text.empty()) return text;
  if (auto v = parse_double(text)) {
    if (*v == 0) return "0";  // -0 and 0 are the same configuration
    return format_double(*v);
  }
  if (text == "True" || text == "TRUE") return "true";
  if (text == "False" || text == "FALSE") return "false";
  return text;
}

// Text of a parameter as it would appear in a table; an absent (inactive) parameter matches an empty cell.
std::string normalize_param(const ParamValue* value) {
  if (!value || value->is_null()) return "";
  return normalize(value->to_string());
}

// Fast path for the common case; parse_double handles nan/inf spellings.
std::optional<double> parse_metric(std::string_view cell) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec == std::errc() && ptr == cell.data() + cell.size()) return v;
  return parse_double(std::string(cell));
}

enum class KeyMode { kColumns, kNasBench201 };

// One column of the lookup key: the distinct normalized values of that column, each given a small code.
struct KeyColumn {
  std::string param;  // parameter that feeds it (columns mode)
  std::size_t column = 0;
  std::unordered_map<std::string, std::uint32_t> codes;
};

struct TabularData {
  std::shared_ptr<const CsvTable> table;
  KeyMode mode = KeyMode::kColumns;
  std::vector<KeyColumn> keys;
  std::vector<std::string> edges;  // nasbench201 mode
  std::vector<std::string> metric_names;
  std::size_t n_metrics = 0;
  std::vector<double> metrics;                        // row-major; NaN = missing cell
  std::unordered_map<std::string, std::size_t> rows;  // packed key codes -> row
  bool mean = false;
};

void append_code(std::string& key, std::uint32_t code) {
  key.append(reinterpret_cast<const char*>(&code), 4);
}

class TabularObjective : public Objective {
 public:
  explicit TabularObjective(TabularData data) : d_(std::move(data)) {}

  std::vector<double> evaluate(TrialContext& trial) override {
    std::vector<std::string> texts;
    std::string shown;  // the configuration as the user should see it in errors
    if (d_.mode == KeyMode::kNasBench201) {
      std::vector<std::string> ops;
      for (const auto& edge : d_.edges) {
        const ParamValue* v = find_param(trial, edge);
        if (!v || !v->is_string()) {
          throw ObjectiveError("tabular: edge parameter '" + edge + "' is " +
                               (v ? "'" + v->to_string() + "'" : std::string("not set")) + "; expected one of " +
                               join(nasbench201_ops(), ", "));
        }
        ops.push_back(v->as_string());
      }
      texts.push_back(nasbench201_arch(ops));
      shown = "arch " + texts.back();
      trial.set_user_attr("arch", texts.back());
    } else {
      for (const auto& k : d_.keys) {
        const ParamValue* v = find_param(trial, k.param);
        texts.push_back(normalize_param(v));
        shown += (shown.empty() ? "" : ", ") + k.param + "=" + (v ? v->to_string() : std::string("(inactive)"));
      }
    }
    std::string key;
    for (std::size_t i = 0; i < d_.keys.size(); ++i) {
      auto it = d_.keys[i].codes.find(texts[i]);
      if (it == d_.keys[i].codes.end()) throw missing(shown);
      append_code(key, it->second);
    }
    auto row_it = d_.rows.find(key);
    if (row_it == d_.rows.end()) throw missing(shown);
    std::size_t row = row_it->second;

    std::vector<std::size_t> present;
    double sum = 0;
    for (std::size_t m = 0; m < d_.n_metrics; ++m) {
      double v = d_.metrics[row * d_.n_metrics + m];
      if (std::isnan(v)) continue;
      present.push_back(m);
      sum += v;
    }
    if (present.empty()) {
      throw ObjectiveError("tabular: " + d_.table->name() + ":" + std::to_string(d_.table->line(row)) +
                           ": no value in any of the metric columns " + join(d_.metric_names, ", ") + " for " + shown);
    }
    double mean = sum / static_cast<double>(present.size());
    trial.set_user_attr("mean_metric", mean);
    if (d_.mean) return {mean};
    // The usual tabular protocol: one training run drawn at random, so repeated queries are noisy like real training.
    std::mt19937_64 gen(trial.seed() ^ 0x7461626c65ULL);
    std::size_t pick = present[static_cast<std::size_t>(gen() % present.size())];
    trial.set_user_attr("metric_column", d_.metric_names[pick]);
    return {d_.metrics[row * d_.n_metrics + pick]};
  }

 private:
  static const ParamValue* find_param(const TrialContext& trial, const std::string& name) {
    auto it = trial.params().find(name);
    return it == trial.params().end() ? nullptr : &it->second;
  }

  ObjectiveError missing(const std::string& shown) const {
    return ObjectiveError("tabular: configuration not in " + d_.table->name() + ": " + shown);
  }

  TabularData d_;
};

std::string list_some(const std::set<std::string>& values, std::size_t limit = 20) {
  std::vector<std::string> shown;
  for (const auto& v : values) {
    if (shown.size() == limit) {
      shown.push_back("... (" + std::to_string(values.size()) + " in all)");
      break;
    }
    shown.push_back(v.empty() ? "(empty)" : v);
  }
  return join(shown, ", ");
}

}  // namespace

std::unique_ptr<Objective> make_tabular_objective(SectionReader& options, const SearchSpace& space,
                                                  std::size_t n_objectives, const std::string& base_dir) {
  TabularData d;
  std::string table_text =
      options.text("table", std::nullopt, "path of the CSV or CSV.gz table (relative to the study file)");
  std::string key_mode = options.text("key", "columns",
                                      "how a configuration finds its row: columns (parameter = column of the same "
                                      "name) or nasbench201 (the arch column, assembled from the edges)",
                                      {"columns", "nasbench201"});
  ConfigNode edges_node = options.child("edges", "list of 6 strings",
                                        "nasbench201: parameters naming the ops of edges 1<-0, 2<-0, 2<-1, 3<-0, "
                                        "3<-1, 3<-2 (default edge_1_0 ... edge_3_2)");
  ConfigNode metrics_node =
      options.child("metric_columns", "list of strings", "columns holding the metric, one per seed (default seed*)");
  std::string aggregate =
      options.text("aggregate", "random", "random: each query returns one seed's value; mean: the mean over seeds",
                   {"random", "mean"});
  d.mean = aggregate == "mean";
  d.mode = key_mode == "nasbench201" ? KeyMode::kNasBench201 : KeyMode::kColumns;
  options.require(
      n_objectives == 1, "table",
      "a tabular objective returns 1 value but the study has " + std::to_string(n_objectives) + " directions");

  fs::path path(table_text);
  if (path.is_relative()) path = fs::path(base_dir) / path;
  std::error_code ec;
  try {
    require_regular_file(path.string(), "table");
  } catch (const ValueError& e) {
    options.node().get("table").fail("cannot read table '" + table_text + "': " + e.what());
  }
  d.table = CsvTable::load_cached(fs::weakly_canonical(path, ec).string());
  const CsvTable& table = *d.table;
  if (table.rows() == 0) throw DataError(table.name() + ": the table has a header but no rows");
  const std::vector<std::string>& header = table.header();

  // Metric columns.
  if (metrics_node.defined() && !metrics_node.is_null()) {
    if (!metrics_node.is_sequence() || metrics_node.elements().empty()) {
      metrics_node.fail("expected a non-empty list of column names, got " + metrics_node.describe());
    }
    for (const auto& m : metrics_node.elements()) {
      std::string name = m.as_string();
      if (!table.column(name)) {
        m.fail("column '" + name + "' is not in " + table.name() + did_you_mean(name, header) +
               "; columns: " + join(header, ", "));
      }
      if (std::find(d.metric_names.begin(), d.metric_names.end(), name) != d.metric_names.end()) {
        m.fail("column '" + name + "' is listed twice");
      }
      d.metric_names.push_back(name);
    }
  } else {
    for (const auto& h : header) {
      if (h.rfind("seed", 0) == 0) d.metric_names.push_back(h);
    }
    if (d.metric_names.empty()) {
      options.node().get("table").fail(table.name() +
                                       " has no seed* columns; name the metric columns with "
                                       "metric_columns: (columns: " +
                                       join(header, ", ") + ")");
    }
  }

  // Key columns.
  std::vector<std::string> edge_params;
  if (d.mode == KeyMode::kNasBench201) {
    auto arch = table.column("arch");
    if (!arch) {
      options.node().get("key").fail("key nasbench201 needs an 'arch' column, but " + table.name() +
                                     " has: " + join(header, ", "));
    }
    d.keys.push_back(KeyColumn{"", *arch, {}});
    if (edges_node.defined() && !edges_node.is_null()) {
      if (!edges_node.is_sequence() || edges_node.elements().size() != 6) {
        edges_node.fail("expected a list of 6 parameter names (edges 1<-0, 2<-0, 2<-1, 3<-0, 3<-1, 3<-2), got " +
                        (edges_node.is_sequence() ? std::to_string(edges_node.elements().size()) + " items"
                                                  : edges_node.describe()));
      }
      for (const auto& e : edges_node.elements()) edge_params.push_back(e.as_string());
    } else {
      edge_params = nasbench201_edges();
    }
    std::vector<std::string> missing;
    for (const auto& e : edge_params) {
      if (!space.find(e)) missing.push_back(e);
    }
    if (!missing.empty()) {
      ConfigNode at = edges_node.defined() ? edges_node : options.node().get("key");
      at.fail("key nasbench201 needs the edge parameters " + join(edge_params, ", ") +
              " in the space; missing: " + join(missing, ", ") + "; the space has: " + join(space.names(), ", "));
    }
    for (const auto& e : edge_params) {
      const Distribution& dist = space.at(e).distribution;
      if (dist.kind() != DistributionKind::kCategorical) {
        options.node().get("key").fail("edge parameter '" + e + "' must be categorical over " +
                                       join(nasbench201_ops(), ", ") + ", but it is " + dist.describe());
      }
      for (const auto& choice : dist.choices()) {
        std::string op = choice.to_string();
        if (!choice.is_string() ||
            std::find(nasbench201_ops().begin(), nasbench201_ops().end(), op) == nasbench201_ops().end()) {
          options.node().get("key").fail("edge parameter '" + e + "' has choice '" + op +
                                         "', which is not a NAS-Bench-201 op" + did_you_mean(op, nasbench201_ops()) +
                                         "; ops: " + join(nasbench201_ops(), ", "));
        }
      }
    }
    d.edges = edge_params;
  } else {
    options.require(!edges_node.defined(), "edges", "only applies with key: nasbench201");
    for (const auto& p : space.params()) {
      auto col = table.column(p.name);
      if (!col) {
        options.node().get("key").fail("space parameter '" + p.name + "' is not a column of " + table.name() +
                                       did_you_mean(p.name, header) + "; columns: " + join(header, ", "));
      }
      if (std::find(d.metric_names.begin(), d.metric_names.end(), p.name) != d.metric_names.end()) {
        options.node().get("key").fail("space parameter '" + p.name + "' names a metric column of " + table.name());
      }
      d.keys.push_back(KeyColumn{p.name, *col, {}});
    }
  }

  // Index: each key column's distinct values get a code; a row is found by its packed codes.
  std::vector<std::unordered_map<std::string_view, std::uint32_t>> seen(d.keys.size());
  std::vector<std::uint32_t> row_codes(table.rows() * d.keys.size());
  for (std::size_t k = 0; k < d.keys.size(); ++k) {
    KeyColumn& kc = d.keys[k];
    for (std::size_t r = 0; r < table.rows(); ++r) {
      std::string_view cell = table.cell(r, kc.column);
      auto it = seen[k].find(cell);
      std::uint32_t code;
      if (it != seen[k].end()) {
        code = it->second;
      } else {
        // Several spellings (16 / 16.0) may share one normalized value and so one code.
        std::string norm = d.mode == KeyMode::kNasBench201 ? std::string(cell) : normalize(cell);
        auto [ins, fresh] = kc.codes.emplace(norm, static_cast<std::uint32_t>(kc.codes.size()));
        code = ins->second;
        seen[k].emplace(cell, code);
      }
      row_codes[r * d.keys.size() + k] = code;
    }
  }
  d.rows.reserve(table.rows());
  std::string key;
  for (std::size_t r = 0; r < table.rows(); ++r) {
    key.clear();
    for (std::size_t k = 0; k < d.keys.size(); ++k) append_code(key, row_codes[r * d.keys.size() + k]);
    auto [it, fresh] = d.rows.emplace(key, r);
    if (fresh) continue;
    std::vector<std::string> uncovered;
    for (std::size_t c = 0; c < header.size(); ++c) {
      bool used = std::find(d.metric_names.begin(), d.metric_names.end(), header[c]) != d.metric_names.end();
      for (const auto& kc : d.keys) used = used || kc.column == c;
      if (!used) uncovered.push_back(header[c]);
    }
    std::string lines = "lines " + std::to_string(table.line(it->second)) + " and " + std::to_string(table.line(r));
    if (uncovered.empty()) {
      throw DataError(table.name() + ":" + std::to_string(table.line(r)) + ": duplicate configuration (" + lines +
                      " have the same key)");
    }
    options.node().get("key").fail("the space does not identify the rows of " + table.name() + ": " + lines +
                                   " differ only in columns that are not parameters: " + join(uncovered, ", "));
  }

  // Every categorical choice must appear in its column, or trials with it could never be scored.
  if (d.mode == KeyMode::kColumns) {
    for (const auto& kc : d.keys) {
      const Distribution& dist = space.at(kc.param).distribution;
      if (dist.kind() != DistributionKind::kCategorical) continue;
      for (const auto& choice : dist.choices()) {
        if (kc.codes.count(normalize_param(&choice))) continue;
        std::set<std::string> present;
        for (const auto& [text, code] : kc.codes) present.insert(text);
        options.node().get("key").fail("choice '" + choice.to_string() + "' of parameter '" + kc.param +
                                       "' never appears in column '" + kc.param + "' of " + table.name() +
                                       "; the column has: " + list_some(present));
      }
    }
  }

  // Metrics, parsed once.
  d.n_metrics = d.metric_names.size();
  std::vector<std::size_t> metric_cols;
  for (const auto& m : d.metric_names) metric_cols.push_back(*table.column(m));
  d.metrics.resize(table.rows() * d.n_metrics);
  for (std::size_t r = 0; r < table.rows(); ++r) {
    for (std::size_t m = 0; m < d.n_metrics; ++m) {
      std::string_view cell = table.cell(r, metric_cols[m]);
      double v = std::nan("");
      if (!cell.empty()) {
        auto parsed = parse_metric(cell);
        if (!parsed) {
          throw DataError(table.name() + ":" + std::to_string(table.line(r)) + ": metric column '" + d.metric_names[m] +
                          "' holds '" + std::string(cell) + "', which is not a number");
        }
        v = *parsed;
      }
      d.metrics[r * d.n_metrics + m] = v;
    }
  }
  return std::make_unique<TabularObjective>(std::move(d));
}

}  // namespace nasforge
