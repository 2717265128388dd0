#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nasforge {

/// A CSV file held in memory as text cells: a header line naming the columns, then rows of the same width.
/// Fields are separated by commas; a field may be quoted with "..." ("" inside is a quote) but may not span
/// lines. Blank lines are skipped, spaces around unquoted fields are trimmed, CRLF line ends are accepted.
class CsvTable {
 public:
  /// Reads a plain or gzip-compressed CSV file (detected from its content). Throws NotFoundError when it cannot
  /// be opened and DataError naming file and line for a missing header, a ragged row, a bad quote or a
  /// truncated/corrupt gzip stream.
  static CsvTable read(const std::string& path);
  /// Parses CSV text; `name` stands in for the file name in messages.
  static CsvTable parse(const std::string& text, const std::string& name);
  /// Like read(), but each file is parsed once per process and shared (reloaded if its size or time changes).
  static std::shared_ptr<const CsvTable> load_cached(const std::string& path);

  /// The file name used in messages.
  const std::string& name() const { return name_; }
  /// Column names in file order.
  const std::vector<std::string>& header() const { return header_; }
  /// Index of the column called `column`, if any.
  std::optional<std::size_t> column(const std::string& column) const;
  /// Number of data rows.
  std::size_t rows() const { return lines_.size(); }
  /// Number of columns.
  std::size_t columns() const { return header_.size(); }
  /// The text of one cell (unquoted); valid as long as the table lives.
  std::string_view cell(std::size_t row, std::size_t col) const;
  /// The 1-based line of the file that holds `row`, for messages.
  int line(std::size_t row) const { return lines_[row]; }

 private:
  std::string name_;
  std::vector<std::string> header_;
  std::string text_;               // every cell's text, back to back
  std::vector<std::size_t> ends_;  // end offset in text_ of cell (row * columns + col)
  std::vector<int> lines_;         // file line of each row
};

}  // namespace nasforge
