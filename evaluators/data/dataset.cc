#include "evaluators/data/dataset.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/strings.h"
#include "evaluators/data/csv_table.h"
#include "evaluators/data/gzip_file.h"

namespace nasforge {

namespace {

namespace fs = std::filesystem;

// Larger class indices are almost certainly a wrong label column (an id or a measurement), not classes.
constexpr std::int64_t kMaxClasses = 100000;
constexpr std::size_t kCifarPixels = 3 * 32 * 32;

const std::vector<std::string> kFormats = {"idx", "cifar10", "cifar100", "csv", "synthetic"};

const IntKey kSubset{"subset", Range::closed(0), "keep at most this many training samples, drawn with seed (0 = all)"};

// `name:` shorthands: a format and, where Debian installs the files, their folder.
struct Shorthand {
  std::string name;
  std::string format;
  std::string path;
  std::string install;  // shell command that installs the files, for the not-found message
};

const std::vector<Shorthand> kShorthands = {
    {"fashion_mnist", "idx", "/usr/share/datasets/fashion-mnist", "apt-get install dataset-fashion-mnist"},
    {"mnist", "idx", "/usr/share/datasets/mnist", ""},
    {"cifar10", "cifar10", "", ""},
};

std::string str(std::size_t n) {
  return std::to_string(n);
}

// Draws from the raw 64-bit Mersenne Twister stream only: std::uniform_int_distribution and
// std::normal_distribution differ between standard libraries, and the split must not.
class Stream {
 public:
  explicit Stream(std::uint64_t seed) : gen_(seed) {}

  // Uniform in [0, n), n > 0, by rejection so that no value is favoured.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    while (true) {
      std::uint64_t x = gen_();
      if (x < limit) return x % n;
    }
  }
  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(gen_() >> 11) * 0x1.0p-53; }
  // Standard normal by Box-Muller (both values used).
  double normal() {
    if (have_spare_) {
      have_spare_ = false;
      return spare_;
    }
    double u = uniform();
    while (u <= 0) u = uniform();  // log(0) is -inf
    double v = uniform();
    double r = std::sqrt(-2 * std::log(u));
    constexpr double kTwoPi = 6.283185307179586;
    spare_ = r * std::sin(kTwoPi * v);
    have_spare_ = true;
    return r * std::cos(kTwoPi * v);
  }

 private:
  std::mt19937_64 gen_;
  bool have_spare_ = false;
  double spare_ = 0;
};

// ---------------------------------------------------------------- IDX

std::uint32_t big_endian32(const std::string& data, std::size_t at) {
  auto b = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[at + i])); };
  return (b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3);
}

std::string magic_text(std::uint32_t magic) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", magic);
  return std::string(hex) + " (" + std::to_string(magic) + ")";
}

// An IDX file of unsigned bytes: its dimensions and the offset of the first data byte.
struct IdxFile {
  std::string data;
  std::vector<std::size_t> dims;
  std::size_t offset = 0;
};

// Reads an IDX file of unsigned bytes with `rank` dimensions (3: images, 1: labels) and checks that the data
// that follows the header is exactly as long as the header declares.
IdxFile read_idx_file(const std::string& path, int rank) {
  const std::string kind = rank == 3 ? "image" : "label";
  const std::string expected_kind = rank == 3 ? "uint8 images (idx3-ubyte)" : "uint8 labels (idx1-ubyte)";
  IdxFile f;
  f.data = read_maybe_gzip(path, "IDX " + kind + " file", [&](const std::string& decoded) {
    return path + " (after " + str(decoded.size()) + " decompressed bytes)";
  });
  const std::string& d = f.data;
  if (d.empty()) throw DataError(path + ": empty file; expected an IDX file of " + expected_kind);
  if (d.size() < 4) {
    throw DataError(path + ": only " + str(d.size()) + " bytes, too short for the 4-byte IDX magic number");
  }
  const std::uint32_t expected = 0x800u | static_cast<std::uint32_t>(rank);
  const std::uint32_t magic = big_endian32(d, 0);
  if (magic != expected) {
    std::string msg = path + ": bad magic number " + magic_text(magic) + "; expected " + magic_text(expected) +
                      " for an IDX file of " + expected_kind;
    const std::uint32_t other = rank == 3 ? 0x801u : 0x803u;
    if (magic == other) {
      msg += "; this is an IDX " + std::string(rank == 3 ? "label" : "image") +
             " file: are the image and label files swapped?";
    } else if ((magic & 0xFFFFFF00u) == 0x800u) {
      msg += "; this IDX file holds " + std::to_string(magic & 0xFFu) + "-dimensional data";
    } else if ((magic & 0xFFFF0000u) != 0 || (magic & 0xFF00u) != 0x800u) {
      msg += "; not an IDX file of unsigned bytes";
    }
    throw DataError(msg);
  }
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (d.size() < header) {
    throw DataError(path + ": the file ends inside its header: " + str(d.size()) + " bytes, the IDX header needs " +
                    str(header) + " (truncated file?)");
  }
  std::size_t item = 1;  // bytes per image or label
  for (int i = 0; i < rank; ++i) {
    f.dims.push_back(big_endian32(d, 4 + 4 * static_cast<std::size_t>(i)));
    if (i > 0) item *= f.dims.back();
  }
  f.offset = header;
  const std::size_t count = f.dims[0];
  std::string declared = str(count) + " " + kind + "s";
  if (rank == 3) declared += " of " + str(f.dims[1]) + "x" + str(f.dims[2]) + " pixels";
  if (count == 0 || item == 0) throw DataError(path + ": the header declares " + declared + "; there is no data");
  const std::size_t present = d.size() - header;
  if (item > SIZE_MAX / count || present / item != count || present % item != 0) {
    std::string msg = path + ": the header declares " + declared + " (" +
                      (item > SIZE_MAX / count ? std::string("too many bytes") : str(count * item) + " bytes") +
                      ") but " + str(present) + " bytes of data follow";
    msg += present < count * item ? " (truncated file?)" : " (extra bytes: corrupt file?)";
    throw DataError(msg);
  }
  return f;
}

// ---------------------------------------------------------------- CSV

std::optional<double> parse_number(std::string_view cell) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(cell.data(), cell.data() + cell.size(), v);
  if (ec == std::errc() && ptr == cell.data() + cell.size()) return v;
  return parse_double(std::string(cell));  // "+1", "inf", "nan" spellings
}

std::size_t find_label_column(const CsvTable& table, const std::string& label_column) {
  if (label_column.empty()) return table.columns() - 1;
  if (auto col = table.column(label_column)) return *col;
  if (auto index = parse_int(label_column)) {
    if (*index >= 0 && static_cast<std::size_t>(*index) < table.columns()) return static_cast<std::size_t>(*index);
  }
  throw DataError(table.name() + ": no label column '" + label_column + "'" +
                  did_you_mean(label_column, table.header()) + "; the columns are " + join(table.header(), ", ") +
                  " (or give a 0-based index below " + str(table.columns()) + ")");
}

// ---------------------------------------------------------------- splitting and statistics

std::vector<std::size_t> permutation(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> perm(n);
  std::iota(perm.begin(), perm.end(), std::size_t{0});
  // A different stream from make_synthetic's, which uses the same seed.
  Stream rng(seed ^ 0x9E3779B97F4A7C15ull);
  for (std::size_t i = n; i > 1; --i) std::swap(perm[i - 1], perm[rng.below(i)]);
  return perm;
}

// Per-channel mean and (population) standard deviation of `data` in one pass.
void channel_stats(const Dataset& data, std::vector<float>& mean, std::vector<float>& stddev) {
  const std::size_t channels = static_cast<std::size_t>(data.sample_shape.c);
  const std::size_t plane = static_cast<std::size_t>(data.sample_shape.h * data.sample_shape.w);
  const std::size_t numel = channels * plane;
  const std::size_t n = data.size();
  mean.assign(channels, 0.0f);
  stddev.assign(channels, 1.0f);
  if (n == 0 || plane == 0) return;
  const double count = static_cast<double>(n) * static_cast<double>(plane);
  for (std::size_t c = 0; c < channels; ++c) {
    double mu = 0;
    double var = 0;
    if (data.is_image) {
      // Exact integer sums: a uint64 holds 255^2 * 2^40 pixels.
      std::uint64_t sum = 0;
      std::uint64_t squares = 0;
      for (std::size_t s = 0; s < n; ++s) {
        const std::uint8_t* p = data.pixels.data() + s * numel + c * plane;
        std::uint64_t s1 = 0;
        std::uint64_t s2 = 0;
        for (std::size_t k = 0; k < plane; ++k) {
          const std::uint32_t v = p[k];
          s1 += v;
          s2 += v * v;
        }
        sum += s1;
        squares += s2;
      }
      mu = static_cast<double>(sum) / count;
      var = static_cast<double>(squares) / count - mu * mu;
    } else {
      // Shifted by the first value so that a large mean does not swamp the variance in the difference.
      const double shift = data.features[c * plane];
      double sum = 0;
      double squares = 0;
      for (std::size_t s = 0; s < n; ++s) {
        const float* p = data.features.data() + s * numel + c * plane;
        for (std::size_t k = 0; k < plane; ++k) {
          const double v = static_cast<double>(p[k]) - shift;
          sum += v;
          squares += v * v;
        }
      }
      mu = shift + sum / count;
      var = squares / count - (sum / count) * (sum / count);
    }
    const double sd = std::sqrt(std::max(var, 0.0));
    mean[c] = static_cast<float>(mu);
    // A constant channel carries no information; dividing by 1 maps it to 0 instead of to inf/nan.
    stddev[c] = sd > 0 ? static_cast<float>(sd) : 1.0f;
  }
}

// ---------------------------------------------------------------- locating files

std::string install_hint(const DatasetOptions& options) {
  for (const auto& s : kShorthands) {
    if (s.name == options.name && !s.install.empty()) return "; install it with `" + s.install + "`";
  }
  return "";
}

void require_folder(const std::string& folder, const DatasetOptions& options) {
  std::error_code ec;
  if (!fs::is_directory(folder, ec)) {
    throw NotFoundError(folder + ": " + (fs::exists(folder, ec) ? "not a folder" : "no such folder") + " (the " +
                        options.format + " dataset" + (options.name.empty() ? "" : " '" + options.name + "'") +
                        " is read from it)" + install_hint(options));
  }
}

// Each of `names` in `folder`, also accepted with a ".gz" suffix when `gz`; NotFoundError listing every
// file that is missing.
std::vector<std::string> find_files(const std::string& folder, const std::vector<std::string>& names, bool gz,
                                    const DatasetOptions& options) {
  std::vector<std::string> found;
  std::vector<std::string> missing;
  for (const auto& name : names) {
    std::error_code ec;
    fs::path plain = fs::path(folder) / name;
    if (fs::is_regular_file(plain, ec)) {
      found.push_back(plain.string());
    } else if (gz && fs::is_regular_file(plain.string() + ".gz", ec)) {
      found.push_back(plain.string() + ".gz");
    } else if (fs::exists(plain, ec)) {
      require_regular_file(plain.string(), options.format + " dataset file");  // say what it is instead
    } else {
      missing.push_back(gz ? name + "[.gz]" : name);
    }
  }
  if (!missing.empty()) {
    throw NotFoundError(folder + ": missing " + options.format + " dataset file" + (missing.size() > 1 ? "s " : " ") +
                        join(missing, ", ") + " (looked for " + join(names, ", ") + (gz ? ", each plain or .gz" : "") +
                        ")" + install_hint(options));
  }
  return found;
}

// The folder itself, or the subfolder that the official archive unpacks to when the files are there instead.
std::string cifar_folder(const std::string& folder, const std::string& first_file, const std::string& subfolder) {
  std::error_code ec;
  if (!fs::exists(fs::path(folder) / first_file, ec) && fs::exists(fs::path(folder) / subfolder / first_file, ec)) {
    return (fs::path(folder) / subfolder).string();
  }
  return folder;
}

// Test labels must name classes that the training file knows (IDX class counts come from the labels).
void check_test_labels(const Dataset& train, const Dataset& test, const std::string& test_labels) {
  if (test.sample_shape != train.sample_shape) {
    throw DataError(test_labels + ": test samples are " + test.sample_shape.to_string() + " but training samples are " +
                    train.sample_shape.to_string());
  }
  for (std::size_t i = 0; i < test.size(); ++i) {
    if (test.labels[i] >= train.num_classes) {
      throw DataError(test_labels + ": label " + std::to_string(test.labels[i]) + " of sample " + str(i) +
                      " is out of range: the training labels are 0.." + std::to_string(train.num_classes - 1));
    }
  }
}

std::string source_name(const DatasetOptions& options) {
  if (!options.name.empty()) return options.name;
  if (options.format == "synthetic") return "synthetic";
  return options.path;
}

}  // namespace

// ---------------------------------------------------------------- Dataset

Dataset Dataset::select(const std::vector<std::size_t>& indices) const {
  Dataset out;
  out.name = name;
  out.sample_shape = sample_shape;
  out.is_image = is_image;
  out.num_classes = num_classes;
  const std::size_t numel = static_cast<std::size_t>(sample_shape.numel());
  out.labels.reserve(indices.size());
  if (is_image) {
    out.pixels.resize(indices.size() * numel);
  } else {
    out.features.resize(indices.size() * numel);
  }
  for (std::size_t i = 0; i < indices.size(); ++i) {
    const std::size_t j = indices[i];
    if (j >= size()) {
      throw ValueError("Dataset::select: index " + str(j) + " is out of range; '" + name + "' has " + str(size()) +
                       " samples");
    }
    if (is_image) {
      std::memcpy(out.pixels.data() + i * numel, pixels.data() + j * numel, numel);
    } else {
      std::memcpy(out.features.data() + i * numel, features.data() + j * numel, numel * sizeof(float));
    }
    out.labels.push_back(labels[j]);
  }
  return out;
}

// ---------------------------------------------------------------- readers

Dataset read_idx(const std::string& images_path, const std::string& labels_path) {
  IdxFile images = read_idx_file(images_path, 3);
  IdxFile labels = read_idx_file(labels_path, 1);
  if (images.dims[0] != labels.dims[0]) {
    throw DataError(images_path + " holds " + str(images.dims[0]) + " images but " + labels_path + " holds " +
                    str(labels.dims[0]) + " labels; the two files must match");
  }
  Dataset d;
  d.name = images_path;
  d.is_image = true;
  d.sample_shape = Shape{1, static_cast<std::int64_t>(images.dims[1]), static_cast<std::int64_t>(images.dims[2])};
  d.pixels.assign(images.data.begin() + static_cast<std::ptrdiff_t>(images.offset), images.data.end());
  d.labels.resize(labels.dims[0]);
  for (std::size_t i = 0; i < d.labels.size(); ++i) {
    d.labels[i] = static_cast<unsigned char>(labels.data[labels.offset + i]);  // char may be signed
  }
  d.num_classes = 1 + *std::max_element(d.labels.begin(), d.labels.end());
  return d;
}

Dataset read_cifar(const std::vector<std::string>& batch_paths, bool cifar100) {
  check(!batch_paths.empty(), "read_cifar: no batch files given");
  const std::string kind = cifar100 ? "CIFAR-100" : "CIFAR-10";
  const std::size_t label_bytes = cifar100 ? 2 : 1;
  const std::size_t record = label_bytes + kCifarPixels;
  const std::size_t other_record = (cifar100 ? 1 : 2) + kCifarPixels;
  const int classes = cifar100 ? 100 : 10;
  Dataset d;
  d.name = batch_paths.front();
  d.is_image = true;
  d.sample_shape = Shape{3, 32, 32};
  d.num_classes = classes;
  for (const auto& path : batch_paths) {
    std::string data = read_maybe_gzip(path, kind + " batch");
    if (data.empty()) {
      throw DataError(path + ": empty file; expected " + kind + " records of " + str(record) + " bytes");
    }
    if (data.size() % record != 0) {
      std::string msg = path + ": " + str(data.size()) + " bytes is not a whole number of " + str(record) + "-byte " +
                        kind + " records (" + str(data.size() / record) + " records and " + str(data.size() % record) +
                        " bytes left over; truncated file?)";
      if (data.size() % other_record == 0) {
        msg += "; the size fits " + std::string(cifar100 ? "CIFAR-10" : "CIFAR-100") + " records: wrong format?";
      }
      throw DataError(msg);
    }
    const std::size_t n = data.size() / record;
    const std::size_t base = d.labels.size();
    d.labels.resize(base + n);
    d.pixels.resize((base + n) * kCifarPixels);
    for (std::size_t r = 0; r < n; ++r) {
      const auto* rec = reinterpret_cast<const unsigned char*>(data.data() + r * record);
      if (cifar100 && rec[0] >= 20) {
        throw DataError(path + ": record " + str(r) + " (byte " + str(r * record) + ") has coarse label " +
                        std::to_string(rec[0]) + "; CIFAR-100 coarse labels are 0..19 (is this really CIFAR-100?)");
      }
      const int label = rec[label_bytes - 1];
      if (label >= classes) {
        throw DataError(path + ": record " + str(r) + " (byte " + str(r * record + label_bytes - 1) + ") has label " +
                        std::to_string(label) + "; " + kind + " labels are 0.." + std::to_string(classes - 1) +
                        (cifar100 ? "" : " (is this a CIFAR-100 file?)"));
      }
      d.labels[base + r] = label;
      // The record's 1024 red, 1024 green, then 1024 blue bytes (rows top to bottom) are already CHW.
      std::memcpy(d.pixels.data() + (base + r) * kCifarPixels, rec + label_bytes, kCifarPixels);
    }
  }
  return d;
}

Dataset read_csv_dataset(const std::string& path, const std::string& label_column) {
  CsvTable table = CsvTable::read(path);
  if (table.rows() == 0) throw DataError(path + ": no data rows below the header");
  if (table.columns() < 2) {
    throw DataError(path + ": only the column '" + table.header()[0] +
                    "'; a dataset needs at least one feature column and a label column");
  }
  const std::size_t label_col = find_label_column(table, label_column);
  const std::string label_name = table.header()[label_col];
  const std::size_t n = table.rows();
  const std::size_t width = table.columns() - 1;

  Dataset d;
  d.name = path;
  d.is_image = false;
  d.sample_shape = Shape{static_cast<std::int64_t>(width), 1, 1};
  d.features.resize(n * width);
  auto at = [&](std::size_t row, std::size_t col) {
    return path + ":" + std::to_string(table.line(row)) + ": column '" + table.header()[col] + "' (column " +
           str(col + 1) + ")";
  };
  for (std::size_t row = 0; row < n; ++row) {
    float* out = d.features.data() + row * width;
    for (std::size_t col = 0; col < table.columns(); ++col) {
      if (col == label_col) continue;
      std::string_view cell = table.cell(row, col);
      if (cell.empty()) throw DataError(at(row, col) + ": empty cell; every feature must be a number");
      auto v = parse_number(cell);
      if (!v) throw DataError(at(row, col) + ": '" + std::string(cell) + "' is not a number");
      if (!std::isfinite(*v)) throw DataError(at(row, col) + ": '" + std::string(cell) + "' is not a finite number");
      *out++ = static_cast<float>(*v);
    }
  }

  // Labels are class indices when every one is a whole number, class names otherwise.
  bool numeric = true;
  for (std::size_t row = 0; row < n && numeric; ++row) {
    std::string_view cell = table.cell(row, label_col);
    if (cell.empty()) throw DataError(at(row, label_col) + ": empty label");
    numeric = parse_number(cell).has_value();
  }
  d.labels.resize(n);
  if (numeric) {
    for (std::size_t row = 0; row < n; ++row) {
      std::string_view cell = table.cell(row, label_col);
      double v = *parse_number(cell);
      if (!std::isfinite(v) || v != std::floor(v)) {
        throw DataError(at(row, label_col) + ": label '" + std::string(cell) +
                        "' is not a whole number; labels must be class indices or class names");
      }
      if (v < 0 || v >= static_cast<double>(kMaxClasses)) {
        throw DataError(at(row, label_col) + ": label " + std::string(cell) +
                        " is out of range; class indices are 0.." + std::to_string(kMaxClasses - 1) + " (is '" +
                        label_name + "' really the label column?)");
      }
      d.labels[row] = static_cast<std::int32_t>(v);
    }
    d.num_classes = 1 + *std::max_element(d.labels.begin(), d.labels.end());
  } else {
    std::map<std::string, std::int32_t, std::less<>> classes;
    for (std::size_t row = 0; row < n; ++row) classes.emplace(std::string(table.cell(row, label_col)), 0);
    if (static_cast<std::int64_t>(classes.size()) > kMaxClasses) {
      throw DataError(path + ": label column '" + label_name + "' has " + str(classes.size()) +
                      " distinct values; more than " + std::to_string(kMaxClasses) + " classes (wrong column?)");
    }
    std::int32_t next = 0;
    for (auto& entry : classes) entry.second = next++;  // sorted order
    for (std::size_t row = 0; row < n; ++row) d.labels[row] = classes.find(table.cell(row, label_col))->second;
    d.num_classes = next;
  }
  return d;
}

Dataset make_synthetic(std::int64_t n, int classes, const Shape& shape, std::uint64_t seed) {
  check(n >= 1, "synthetic dataset: size must be >= 1, got " + std::to_string(n));
  check(classes >= 1, "synthetic dataset: classes must be >= 1, got " + std::to_string(classes));
  check(shape.c >= 1 && shape.h >= 1 && shape.w >= 1,
        "synthetic dataset: every dimension of the shape must be >= 1, got " + shape.to_string());
  const std::size_t numel = static_cast<std::size_t>(shape.numel());
  check(static_cast<double>(n) * static_cast<double>(numel) <= 4e9,
        "synthetic dataset: " + std::to_string(n) + " samples of " + shape.to_string() + " is too large");
  Dataset d;
  d.name = "synthetic";
  d.sample_shape = shape;
  d.num_classes = classes;
  d.is_image = shape.h > 1 || shape.w > 1;
  Stream rng(seed);
  // Each class's mean pattern is drawn independently per element; with the noise below the classes overlap
  // per element but are far apart over a whole sample, so even a linear model separates them.
  const double low = d.is_image ? 48 : -1;
  const double high = d.is_image ? 208 : 1;
  const double noise = d.is_image ? 40 : 0.5;
  std::vector<double> patterns(static_cast<std::size_t>(classes) * numel);
  for (double& v : patterns) v = low + (high - low) * rng.uniform();
  const std::size_t count = static_cast<std::size_t>(n);
  d.labels.resize(count);
  if (d.is_image) {
    d.pixels.resize(count * numel);
  } else {
    d.features.resize(count * numel);
  }
  for (std::size_t s = 0; s < count; ++s) {
    const auto label = static_cast<std::int32_t>(s % static_cast<std::size_t>(classes));  // balanced classes
    d.labels[s] = label;
    const double* mean = patterns.data() + static_cast<std::size_t>(label) * numel;
    for (std::size_t k = 0; k < numel; ++k) {
      const double v = mean[k] + noise * rng.normal();
      if (d.is_image) {
        d.pixels[s * numel + k] = static_cast<std::uint8_t>(std::lround(std::clamp(v, 0.0, 255.0)));
      } else {
        d.features[s * numel + k] = static_cast<float>(v);
      }
    }
  }
  return d;
}

// ---------------------------------------------------------------- options

DatasetOptions DatasetOptions::from_config(const ConfigNode& section, const std::string& base_dir) {
  SectionReader r(section);
  DatasetOptions o;
  std::vector<std::string> names;
  for (const auto& s : kShorthands) names.push_back(s.name);
  auto name = r.optional_text("name", "shorthand for a known dataset: " + join(names, ", ") +
                                          " (fashion_mnist and mnist are read from /usr/share/datasets)");
  auto format = r.optional_text("format", "file format: " + join(kFormats, ", ") + " (implied by name)");
  auto path = r.optional_text("path", "folder of the IDX or CIFAR files, or the CSV file; relative to this file");
  auto label_column =
      r.optional_text("label_column", "csv: header name or 0-based index of the label column (default: the last)");
  o.subset = r.integer(kSubset, 0);
  o.val_fraction = r.number("val_fraction", 0.1, "share of the training samples held out for validation");
  auto val_size =
      r.optional_integer("val_size", "exact number of held-out validation samples (overrides val_fraction)");
  o.use_test_split =
      r.flag("use_test_split", false, "validate on the dataset's test files instead of held-out training samples");
  o.normalize = r.flag("normalize", true, "standardize each channel with the training split's mean and stddev");
  ConfigNode augment =
      r.child("augment", "mapping", "images: {crop_padding: pixels, hflip: bool} applied to training batches");
  std::int64_t seed = r.integer("seed", 0, "seed of the validation split and the subset (and of synthetic data)");
  auto size = r.optional_integer("size", "synthetic: number of samples (default 512)");
  auto classes = r.optional_integer("classes", "synthetic: number of classes (default 4)");
  ConfigNode shape = r.child("shape", "[c, h, w]", "synthetic: shape of one sample (default [1, 8, 8])");
  r.finish();

  const Shorthand* shorthand = nullptr;
  if (name) {
    shorthand = &kShorthands[lookup_name(section.get("name"), *name, names, "dataset name")];
    o.name = *name;
    o.format = shorthand->format;
    o.path = shorthand->path;
  }
  if (format) {
    std::string f = kFormats[lookup_name(section.get("format"), *format, kFormats, "dataset format")];
    if (shorthand && f != shorthand->format) {
      section.get("format").fail("format '" + f + "' contradicts name '" + *name + "' (which is format " +
                                 shorthand->format + "); leave one of them out");
    }
    o.format = f;
  }
  if (o.format.empty()) {
    section.fail("needs `name` (" + join(names, ", ") + ") or `format` (" + join(kFormats, ", ") + ")");
  }
  const bool synthetic = o.format == "synthetic";

  if (path) {
    r.require(!synthetic, "path", "is not used by format synthetic (the data is generated)");
    r.require(!path->empty(), "path", "is empty");
    fs::path p(*path);
    if (p.is_relative() && !base_dir.empty()) p = fs::path(base_dir) / p;
    o.path = fs::absolute(p).lexically_normal().string();
  } else if (!synthetic && o.path.empty()) {
    std::string what =
        o.format == "csv"       ? "the CSV file"
        : o.format == "idx"     ? "the folder with train-images-idx3-ubyte[.gz] and the other MNIST-format files"
        : o.format == "cifar10" ? "the folder with data_batch_1.bin .. data_batch_5.bin and test_batch.bin "
                                  "(CIFAR-10 binary version)"
                                : "the folder with train.bin and test.bin (CIFAR-100 binary version)";
    ConfigNode at = name ? section.get("name") : section.get("format");
    at.fail((name ? "name '" + *name + "'" : "format '" + o.format + "'") + " needs `path`: " + what);
  }
  if (label_column) {
    r.require(o.format == "csv", "label_column", "only applies to format csv, not " + o.format);
    o.label_column = *label_column;
  }
  r.require(o.val_fraction > 0 && o.val_fraction < 1, "val_fraction",
            "must be between 0 and 1 (exclusive), got " + format_double(o.val_fraction));
  if (val_size) {
    r.require(*val_size >= 1, "val_size", "must be >= 1, got " + std::to_string(*val_size));
    o.val_size = *val_size;
  }
  if (o.use_test_split) {
    r.require(o.format != "csv" && !synthetic, "use_test_split",
              "format " + o.format + " has no test split; hold out samples with val_fraction or val_size instead");
    r.require(!val_size, "val_size", "has no effect with use_test_split: true (the test split validates)");
    r.require(!section.get("val_fraction").defined(), "val_fraction",
              "has no effect with use_test_split: true (the test split validates)");
  }
  r.require(seed >= 0, "seed", "must be >= 0, got " + std::to_string(seed));
  o.seed = static_cast<std::uint64_t>(seed);

  for (const char* key : {"size", "classes", "shape"}) {
    r.require(synthetic || !section.get(key).defined(), key, "only applies to format synthetic, not " + o.format);
  }
  if (size) {
    r.require(*size >= 2, "size", "must be >= 2 (a training and a validation sample), got " + std::to_string(*size));
    o.synthetic_size = *size;
  }
  if (classes) {
    r.require(*classes >= 2 && *classes <= kMaxClasses, "classes",
              "must be between 2 and " + std::to_string(kMaxClasses) + ", got " + std::to_string(*classes));
    o.synthetic_classes = static_cast<int>(*classes);
  }
  if (shape.defined() && !shape.is_null()) {
    const std::string expected = "expected [channels, height, width] with 3 positive integers, got ";
    if (!shape.is_sequence() || shape.elements().size() != 3) shape.fail(expected + shape.describe());
    std::vector<std::int64_t> dims;
    for (const auto& e : shape.elements()) {
      std::int64_t v = e.as_int();
      if (v < 1 || v > 4096) e.fail("must be between 1 and 4096, got " + std::to_string(v));
      dims.push_back(v);
    }
    o.synthetic_shape = Shape{dims[0], dims[1], dims[2]};
  }

  if (augment.defined() && !augment.is_null()) {
    const bool images = o.format != "csv" && (!synthetic || o.synthetic_shape.h > 1 || o.synthetic_shape.w > 1);
    r.require(images, "augment",
              "only applies to image data; format " + o.format + " here holds feature vectors, not images");
    SectionReader a(augment);
    std::int64_t padding = a.integer("crop_padding", 0, "pad by this many zero pixels and crop back at random");
    o.augment.hflip = a.flag("hflip", false, "flip images left-right with probability 1/2");
    a.finish();
    a.require(padding >= 0 && padding <= 64, "crop_padding",
              "must be between 0 and 64 pixels, got " + std::to_string(padding));
    o.augment.crop_padding = static_cast<int>(padding);
  }
  return o;
}

// ---------------------------------------------------------------- loading

// The files a dataset is read from (none for synthetic data); NotFoundError naming what is missing.
DatasetFiles dataset_files(const DatasetOptions& options) {
  DatasetFiles out;
  const std::string& f = options.format;
  if (f == "idx") {
    require_folder(options.path, options);
    std::vector<std::string> names = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"};
    if (options.use_test_split) {
      names.insert(names.end(), {"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"});
    }
    std::vector<std::string> files = find_files(options.path, names, true, options);
    out.train = {files[0], files[1]};
    if (options.use_test_split) out.test = {files[2], files[3]};
  } else if (f == "cifar10" || f == "cifar100") {
    const bool c100 = f == "cifar100";
    require_folder(options.path, options);
    std::string folder = c100 ? cifar_folder(options.path, "train.bin", "cifar-100-binary")
                              : cifar_folder(options.path, "data_batch_1.bin", "cifar-10-batches-bin");
    std::vector<std::string> names;
    if (c100) {
      names = {"train.bin"};
    } else {
      for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
    }
    if (options.use_test_split) names.push_back(c100 ? "test.bin" : "test_batch.bin");
    out.train = find_files(folder, names, false, options);
    if (options.use_test_split) {
      out.test = {out.train.back()};
      out.train.pop_back();
    }
  } else if (f == "csv") {
    require_regular_file(options.path, "csv dataset");
    out.train = {options.path};
  } else if (f != "synthetic") {
    throw ValueError("dataset: unknown format '" + f + "'" + did_you_mean(f, kFormats) + "; use one of " +
                     join(kFormats, ", "));
  }
  return out;
}

DatasetSplits load_dataset(const DatasetOptions& options) {
  kSubset.check(options.subset);
  check(options.val_size >= 0, "dataset: val_size must be >= 0, got " + std::to_string(options.val_size));
  check(options.use_test_split || options.val_size > 0 || (options.val_fraction > 0 && options.val_fraction < 1),
        "dataset: val_fraction must be between 0 and 1 (exclusive), got " + format_double(options.val_fraction));
  DatasetFiles files = dataset_files(options);
  Dataset train;
  std::optional<Dataset> test;
  const std::string& f = options.format;
  if (f == "idx") {
    train = read_idx(files.train[0], files.train[1]);
    if (options.use_test_split) {
      test = read_idx(files.test[0], files.test[1]);
      check_test_labels(train, *test, files.test[1]);
    }
  } else if (f == "cifar10" || f == "cifar100") {
    train = read_cifar(files.train, f == "cifar100");
    if (options.use_test_split) test = read_cifar(files.test, f == "cifar100");
  } else if (f == "csv") {
    train = read_csv_dataset(files.train[0], options.label_column);
  } else {
    train = make_synthetic(options.synthetic_size, options.synthetic_classes, options.synthetic_shape, options.seed);
  }
  check(!options.use_test_split || test.has_value(), "dataset: format " + f + " has no test split");

  const std::size_t n = train.size();
  std::vector<std::size_t> perm = permutation(n, options.seed);
  std::vector<std::size_t> val_indices;
  std::size_t held_out = 0;
  if (!options.use_test_split) {
    held_out = options.val_size > 0
                   ? static_cast<std::size_t>(options.val_size)
                   : std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(options.val_fraction * n)));
    if (held_out >= n) {
      throw ValueError("dataset " + source_name(options) + ": holding out " + str(held_out) +
                       " validation samples leaves none of its " + str(n) + " samples for training" +
                       (options.val_size > 0 ? "; lower val_size" : "; lower val_fraction"));
    }
    val_indices.assign(perm.begin(), perm.begin() + static_cast<std::ptrdiff_t>(held_out));
  }
  std::vector<std::size_t> train_indices(perm.begin() + static_cast<std::ptrdiff_t>(held_out), perm.end());
  if (options.subset > 0 && static_cast<std::size_t>(options.subset) < train_indices.size()) {
    train_indices.resize(static_cast<std::size_t>(options.subset));
  }
  // File order within each split: deterministic all the same, and copying is sequential.
  std::sort(train_indices.begin(), train_indices.end());
  std::sort(val_indices.begin(), val_indices.end());

  DatasetSplits splits;
  const std::string source = source_name(options);
  splits.train = train.select(train_indices);
  splits.train.name = source + " train";
  if (test) {
    splits.val = std::move(*test);
    splits.val.name = source + " test";
    splits.val.num_classes = train.num_classes;
  } else {
    splits.val = train.select(val_indices);
    splits.val.name = source + " validation";
  }
  if (options.normalize) {
    channel_stats(splits.train, splits.mean, splits.stddev);
  } else {
    const std::size_t channels = static_cast<std::size_t>(train.sample_shape.c);
    splits.mean.assign(channels, 0.0f);
    splits.stddev.assign(channels, 1.0f);
  }
  return splits;
}

}  // namespace nasforge
