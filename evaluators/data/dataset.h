#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "spaces/net_graph.h"

namespace nasforge {

/// Labelled samples held in memory, torch-free so that readers are testable everywhere (and under ASan).
/// Images keep their raw bytes (4x less memory than floats); numeric tables keep floats.
struct Dataset {
  std::string name;                  ///< Where it came from, for messages ("fashion-mnist train", a CSV path, ...).
  Shape sample_shape;                ///< C x H x W of one sample (C x 1 x 1 for table rows).
  bool is_image = false;             ///< True: `pixels` holds the data (0..255); false: `features` does.
  std::vector<std::uint8_t> pixels;  ///< size() * sample_shape.numel() bytes, sample-major, CHW order.
  std::vector<float> features;       ///< size() * sample_shape.numel() floats, sample-major.
  std::vector<std::int32_t> labels;  ///< One class index in [0, num_classes) per sample.
  int num_classes = 0;               ///< Number of classes.

  /// Number of samples.
  std::size_t size() const { return labels.size(); }
  /// The samples at `indices`, in that order (a subset or a split).
  Dataset select(const std::vector<std::size_t>& indices) const;
};

/// Horizontal flip and random-crop augmentation applied to training batches of image data.
struct AugmentOptions {
  int crop_padding = 0;  ///< Pad by this many pixels (zeros) and crop back at a random offset; 0 = off.
  bool hflip = false;    ///< Flip left-right with probability 1/2.
};

/// How to obtain train and validation data; read from the `dataset:` section of a train objective.
struct DatasetOptions {
  std::string name;             ///< The shorthand it was read from (fashion_mnist, mnist, cifar10), or empty.
  std::string format;           ///< idx | cifar10 | cifar100 | csv | synthetic.
  std::string path;             ///< Folder (idx, cifar) or file (csv); absolute after reading.
  std::string label_column;     ///< csv: the label column's header name or 0-based index (default: the last).
  std::int64_t subset = 0;      ///< Keep at most this many training samples (0 = all), drawn with `seed`.
  double val_fraction = 0.1;    ///< Share of the training file held out for validation (when val_size is 0).
  std::int64_t val_size = 0;    ///< Exact number of held-out validation samples (overrides val_fraction).
  bool use_test_split = false;  ///< Validate on the file's test split instead of holding out training samples.
  bool normalize = true;        ///< Standardize each channel with the training split's mean and std.
  AugmentOptions augment;       ///< Training-time augmentation (images only).
  std::uint64_t seed = 0;       ///< Seed of the split and subset draw (the same data for every trial).
  // synthetic only
  std::int64_t synthetic_size = 512;  ///< Number of samples generated.
  int synthetic_classes = 4;          ///< Number of classes.
  Shape synthetic_shape{1, 8, 8};     ///< Shape of each sample.

  /// Reads a `dataset:` section (keys declared once with docs; unknown keys fail). `name: fashion_mnist` and
  /// `mnist` are shorthands for format idx at the Debian install path (/usr/share/datasets/...), `name: cifar10`
  /// for format cifar10 (a `path` is then required). Relative paths resolve against `base_dir`. ConfigError
  /// with file:line for a bad or contradictory key.
  static DatasetOptions from_config(const ConfigNode& section, const std::string& base_dir);
};

/// Train and validation splits plus the per-channel statistics used to normalize both.
struct DatasetSplits {
  Dataset train;              ///< Training samples (after subset).
  Dataset val;                ///< Validation samples.
  std::vector<float> mean;    ///< Per channel, in the units of the stored data (pixels: 0..255); 0 when off.
  std::vector<float> stddev;  ///< Per channel; 1 when normalization is off.
};

/// The files a dataset is read from: training files, then test files when use_test_split.
struct DatasetFiles {
  std::vector<std::string> train;  ///< e.g. the IDX images and labels files; empty for synthetic data.
  std::vector<std::string> test;   ///< The test split's files (only with use_test_split).
};

/// Finds the files `options` names without reading them, so that a study fails before its first trial when
/// data is missing; NotFoundError listing what was looked for (and the Debian package to install, if any).
DatasetFiles dataset_files(const DatasetOptions& options);

/// Reads the files (or generates synthetic data) and splits them: a permutation drawn from `seed` sends its
/// first val_size (or val_fraction) samples to validation (or the test file validates, with use_test_split) and
/// `subset` draws from the rest; both splits keep file order. NotFoundError listing what was looked for when a
/// file is missing, DataError naming the file and what is wrong when one is truncated or corrupt; the same
/// options and seed always give the same splits.
DatasetSplits load_dataset(const DatasetOptions& options);

/// IDX file (MNIST format; gzipped or not, detected by content): images (idx3, uint8) or labels (idx1).
Dataset read_idx(const std::string& images_path, const std::string& labels_path);
/// CIFAR binary batches (1 label byte + 3072 pixel bytes per record; CIFAR-100 has a coarse label first).
Dataset read_cifar(const std::vector<std::string>& batch_paths, bool cifar100);
/// Numeric CSV with a header row; every column but the label is a float feature, labels are integers
/// or class names (mapped to indices in sorted order).
Dataset read_csv_dataset(const std::string& path, const std::string& label_column);
/// Learnable synthetic images: each class has its own mean pattern plus seeded Gaussian noise.
Dataset make_synthetic(std::int64_t n, int classes, const Shape& shape, std::uint64_t seed);

}  // namespace nasforge
