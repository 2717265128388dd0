#include "evaluators/data/csv_table.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/data/gzip_file.h"

namespace nasforge {

namespace {

std::string where(const std::string& name, int line) {
  return name + ":" + std::to_string(line);
}

std::string_view trim_spaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits one line into fields, appending each field's text to `out` and its end offset to `ends`.
// Returns the number of fields.
std::size_t split_line(std::string_view line, const std::string& name, int line_no, std::string& out,
                       std::vector<std::size_t>& ends) {
  std::size_t count = 0;
  std::size_t i = 0;
  while (true) {
    // Leading blanks before a quote are tolerated, like the trimming of unquoted fields.
    std::size_t start = i;
    while (start < line.size() && (line[start] == ' ' || line[start] == '\t')) ++start;
    if (start < line.size() && line[start] == '"') {
      std::size_t j = start + 1;
      while (true) {
        if (j >= line.size()) {
          throw DataError(where(name, line_no) + ": field " + std::to_string(count + 1) +
                          " opens a quote that is not closed on this line (quoted fields cannot span lines)");
        }
        if (line[j] == '"') {
          if (j + 1 < line.size() && line[j + 1] == '"') {
            out.push_back('"');
            j += 2;
            continue;
          }
          ++j;
          break;
        }
        out.push_back(line[j++]);
      }
      while (j < line.size() && (line[j] == ' ' || line[j] == '\t')) ++j;
      if (j < line.size() && line[j] != ',') {
        throw DataError(where(name, line_no) + ": field " + std::to_string(count + 1) +
                        " has text after its closing quote: '" + std::string(line.substr(j, 20)) + "'");
      }
      ends.push_back(out.size());
      ++count;
      if (j >= line.size()) return count;
      i = j + 1;
    } else {
      std::size_t comma = line.find(',', i);
      std::string_view field = line.substr(i, comma == std::string_view::npos ? std::string_view::npos : comma - i);
      field = trim_spaces(field);
      if (field.find('"') != std::string_view::npos) {
        throw DataError(where(name, line_no) + ": field " + std::to_string(count + 1) + " '" + std::string(field) +
                        "' has a quote inside an unquoted field");
      }
      out.append(field.data(), field.size());
      ends.push_back(out.size());
      ++count;
      if (comma == std::string_view::npos) return count;
      i = comma + 1;
    }
  }
}

}  // namespace

CsvTable CsvTable::parse(const std::string& text, const std::string& name) {
  CsvTable table;
  table.name_ = name;
  table.text_.reserve(text.size());
  // Spreadsheet programs start UTF-8 CSVs with a byte-order mark, which would become part of the first column name.
  std::size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  int line_no = 0;
  bool have_header = false;
  std::size_t width = 0;
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string::npos ? text.size() : nl;
    std::string_view line(text.data() + pos, end - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (trim_spaces(line).empty()) continue;
    if (line.find('\0') != std::string_view::npos) {
      throw DataError(where(name, line_no) + ": binary data (a NUL byte); is this really a CSV file?");
    }
    if (!have_header) {
      std::string cells;
      std::vector<std::size_t> ends;
      width = split_line(line, name, line_no, cells, ends);
      std::size_t begin = 0;
      for (std::size_t c = 0; c < width; ++c) {
        std::string column = cells.substr(begin, ends[c] - begin);
        begin = ends[c];
        if (column.empty()) {
          throw DataError(where(name, line_no) + ": column " + std::to_string(c + 1) + " of the header has no name");
        }
        if (parse_double(column)) {
          throw DataError(where(name, line_no) + ": the first line must name the columns, but column " +
                          std::to_string(c + 1) + " is the number '" + column + "' (is the header missing?)");
        }
        if (std::find(table.header_.begin(), table.header_.end(), column) != table.header_.end()) {
          throw DataError(where(name, line_no) + ": column name '" + column + "' appears twice in the header");
        }
        table.header_.push_back(column);
      }
      have_header = true;
      continue;
    }
    std::size_t fields = split_line(line, name, line_no, table.text_, table.ends_);
    if (fields != width) {
      throw DataError(where(name, line_no) + ": row has " + std::to_string(fields) + " fields but the header has " +
                      std::to_string(width) + " columns (" + join(table.header_, ",") + ")");
    }
    table.lines_.push_back(line_no);
  }
  if (!have_header) throw DataError(name + ": empty file; expected a header line naming the columns");
  return table;
}

CsvTable CsvTable::read(const std::string& path) {
  auto line = [&](const std::string& text) {
    return where(path, 1 + static_cast<int>(std::count(text.begin(), text.end(), '\n')));
  };
  return parse(read_maybe_gzip(path, "table", line), path);
}

std::shared_ptr<const CsvTable> CsvTable::load_cached(const std::string& path) {
  require_regular_file(path, "table");
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    throw NotFoundError(path + ": cannot open table: " + std::strerror(errno));
  }
  // Keyed by size and modification time too, so a file rewritten during a long-lived process is read again.
  using Key = std::tuple<std::string, std::int64_t, std::int64_t, std::int64_t>;
  Key key{path, static_cast<std::int64_t>(st.st_size), static_cast<std::int64_t>(st.st_mtim.tv_sec),
          static_cast<std::int64_t>(st.st_mtim.tv_nsec)};
  static std::mutex mutex;
  static std::map<Key, std::shared_ptr<const CsvTable>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  // Holding the lock while parsing keeps parallel workers from each decompressing the same file.
  auto table = std::make_shared<const CsvTable>(read(path));
  for (auto old = cache.begin(); old != cache.end();) {
    old = std::get<0>(old->first) == path ? cache.erase(old) : std::next(old);
  }
  cache.emplace(key, table);
  return table;
}

std::optional<std::size_t> CsvTable::column(const std::string& column) const {
  auto it = std::find(header_.begin(), header_.end(), column);
  if (it == header_.end()) return std::nullopt;
  return static_cast<std::size_t>(it - header_.begin());
}

std::string_view CsvTable::cell(std::size_t row, std::size_t col) const {
  std::size_t i = row * header_.size() + col;
  std::size_t begin = i == 0 ? 0 : ends_[i - 1];
  return std::string_view(text_.data() + begin, ends_[i] - begin);
}

}  // namespace nasforge
