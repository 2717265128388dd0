#include "evaluators/data/dataset.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/config.h"
#include "core/error.h"
#include "evaluators/fake_trial.h"
#include "testing.h"

namespace nasforge::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Bytes = std::vector<std::uint8_t>;

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

// An IDX file of unsigned bytes: magic, dimensions, data.
std::string idx(std::uint32_t magic, const std::vector<std::uint32_t>& dims, const Bytes& data) {
  std::string out = be32(magic);
  for (auto d : dims) out += be32(d);
  out.append(data.begin(), data.end());
  return out;
}

std::string idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w, const Bytes& pixels) {
  return idx(0x803, {n, h, w}, pixels);
}

std::string idx_labels(const Bytes& labels) {
  return idx(0x801, {static_cast<std::uint32_t>(labels.size())}, labels);
}

// One CIFAR record: label byte(s), then 3072 pixels whose value encodes (record tag + position).
std::string cifar_record(const Bytes& label_bytes, std::uint8_t tag) {
  std::string rec(label_bytes.begin(), label_bytes.end());
  for (int i = 0; i < 3072; ++i) rec.push_back(static_cast<char>((tag + i) & 0xff));
  return rec;
}

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

class DatasetTest : public NasforgeTest {
 protected:
  // Writes a tiny MNIST-format folder: 4 train images of 2x3, 2 test images; labels as given.
  std::string write_idx_folder(const std::string& name, bool gz, const Bytes& train_labels = {2, 0, 1, 0},
                               const Bytes& test_labels = {1, 2}) {
    std::string dir = tmp(name);
    fs::create_directories(dir);
    Bytes train_pixels(train_labels.size() * 6);
    for (std::size_t i = 0; i < train_pixels.size(); ++i) train_pixels[i] = static_cast<std::uint8_t>(10 * i);
    Bytes test_pixels(test_labels.size() * 6, 7);
    auto put = [&](const std::string& file, const std::string& bytes) {
      if (gz) {
        write_gz_file(dir + "/" + file + ".gz", bytes);
      } else {
        std::ofstream(dir + "/" + file, std::ios::binary) << bytes;
      }
    };
    put("train-images-idx3-ubyte", idx_images(static_cast<std::uint32_t>(train_labels.size()), 2, 3, train_pixels));
    put("train-labels-idx1-ubyte", idx_labels(train_labels));
    put("t10k-images-idx3-ubyte", idx_images(static_cast<std::uint32_t>(test_labels.size()), 2, 3, test_pixels));
    put("t10k-labels-idx1-ubyte", idx_labels(test_labels));
    return dir;
  }

  // A CSV of `n` rows: id (0..n-1), a constant, a value with a large offset, and a class name label.
  std::string write_rows_csv(const std::string& name, int n) const {
    const char* const kAnimals[] = {"cat", "ant", "bee"};
    std::string text = "id,const,big,label\n";
    for (int i = 0; i < n; ++i) {
      text += std::to_string(i) + ",7," + std::to_string(10000 + 0.5 * (i % 7)) + "," + kAnimals[i % 3] + "\n";
    }
    return write_file(name, text);
  }

  static std::string data_error(const std::function<void()>& fn) {
    try {
      fn();
    } catch (const DataError& e) {
      return e.what();
    } catch (const Error& e) {
      ADD_FAILURE() << "not a DataError: " << e.what();
      return "";
    }
    ADD_FAILURE() << "no DataError thrown";
    return "";
  }

  static std::string config_error(const std::string& yaml, const std::string& base = "/base") {
    try {
      DatasetOptions::from_config(ConfigNode::parse_string(yaml, "exp.yaml").get("dataset"), base);
    } catch (const ConfigError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no ConfigError for:\n" << yaml;
    return "";
  }

  static DatasetOptions options(const std::string& yaml, const std::string& base) {
    return DatasetOptions::from_config(ConfigNode::parse_string(yaml, "exp.yaml").get("dataset"), base);
  }
};

// ---------------------------------------------------------------- IDX

TEST_F(DatasetTest, ReadsIdxPlainAndGzipToTheSameBytes) {
  Bytes pixels = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255, 9, 8, 7, 6, 5, 4};
  Bytes labels = {2, 0, 9};
  std::string img = idx_images(3, 2, 3, pixels);
  std::string lab = idx_labels(labels);
  for (bool gz : {false, true}) {
    std::string ip = gz ? write_gz_file(tmp("i.gz"), img) : write_file("i", img);
    std::string lp = gz ? write_gz_file(tmp("l.gz"), lab) : write_file("l", lab);
    Dataset d = read_idx(ip, lp);
    EXPECT_TRUE(d.is_image);
    EXPECT_EQ(d.sample_shape, (Shape{1, 2, 3}));
    EXPECT_EQ(d.size(), 3u);
    EXPECT_EQ(d.pixels, pixels);
    EXPECT_EQ(d.labels, (std::vector<std::int32_t>{2, 0, 9}));
    EXPECT_EQ(d.num_classes, 10);
    EXPECT_TRUE(d.features.empty());
  }
}

TEST_F(DatasetTest, IdxBadMagicNamesValueFoundAndExpected) {
  std::string lab = write_file("labels", idx_labels({1, 2}));
  std::string msg = data_error([&] { read_idx(lab, lab); });  // a label file where images belong
  EXPECT_THAT(msg, HasSubstr(lab + ": bad magic number 0x00000801 (2049); expected 0x00000803 (2051)"));
  EXPECT_THAT(msg, HasSubstr("swapped"));

  std::string junk = write_file("junk", "hello world, not idx");
  msg = data_error([&] { read_idx(junk, lab); });
  EXPECT_THAT(msg, HasSubstr(junk + ": bad magic number 0x68656C6C"));
  EXPECT_THAT(msg, HasSubstr("expected 0x00000803 (2051)"));

  std::string img = write_file("img", idx_images(2, 1, 1, {1, 2}));
  msg = data_error([&] { read_idx(img, img); });
  EXPECT_THAT(msg, HasSubstr(img + ": bad magic number 0x00000803 (2051); expected 0x00000801 (2049)"));
}

TEST_F(DatasetTest, IdxDeclaredCountVersusBytesPresent) {
  std::string lab = write_file("labels", idx_labels({0, 1, 2}));
  std::string short_img = write_file("short", idx_images(3, 2, 3, Bytes(17, 1)));
  std::string msg = data_error([&] { read_idx(short_img, lab); });
  EXPECT_THAT(msg, HasSubstr(short_img + ": the header declares 3 images of 2x3 pixels (18 bytes) but 17 bytes"));
  EXPECT_THAT(msg, HasSubstr("truncated"));

  std::string long_img = write_file("long", idx_images(3, 2, 3, Bytes(19, 1)));
  EXPECT_THAT(data_error([&] { read_idx(long_img, lab); }), HasSubstr("(18 bytes) but 19 bytes of data follow"));

  std::string cut_header = write_file("cut", idx_images(3, 2, 3, {}).substr(0, 10));
  msg = data_error([&] { read_idx(cut_header, lab); });
  EXPECT_THAT(msg, HasSubstr(cut_header + ": the file ends inside its header: 10 bytes, the IDX header needs 16"));

  std::string no_data = write_file("zero", idx_images(0, 28, 28, {}));
  EXPECT_THAT(data_error([&] { read_idx(no_data, lab); }), HasSubstr("declares 0 images of 28x28 pixels"));
}

TEST_F(DatasetTest, IdxImageAndLabelCountsMustMatch) {
  std::string img = write_file("img", idx_images(3, 1, 2, Bytes(6, 0)));
  std::string lab = write_file("lab", idx_labels({0, 1}));
  std::string msg = data_error([&] { read_idx(img, lab); });
  EXPECT_THAT(msg, HasSubstr(img + " holds 3 images but " + lab + " holds 2 labels"));
}

TEST_F(DatasetTest, IdxEmptyMissingAndBadGzipFiles) {
  std::string lab = write_file("lab", idx_labels({0}));
  std::string empty = write_file("empty", "");
  EXPECT_THAT(data_error([&] { read_idx(empty, lab); }), HasSubstr(empty + ": empty file"));
  EXPECT_THAT(data_error([&] { read_idx(write_file("tiny", "ab"), lab); }), HasSubstr("too short"));

  std::string absent = tmp("absent-idx3-ubyte");
  EXPECT_THAT(message_of([&] { read_idx(absent, lab); }), HasSubstr(absent + ": cannot open"));
  EXPECT_THROW(read_idx(absent, lab), NotFoundError);

  // A gzip stream whose body is overwritten: the header still says gzip, the deflate data is garbage.
  Bytes pixels(4000);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<std::uint8_t>(rng_());
  std::string bad = write_gz_file(tmp("bad.gz"), idx_images(1000, 2, 2, pixels));
  std::string bytes;
  {
    std::ifstream in(bad, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t i = 12; i < bytes.size() - 8; ++i) bytes[i] = static_cast<char>(0xff);
  std::ofstream(bad, std::ios::binary | std::ios::trunc) << bytes;
  std::string msg = data_error([&] { read_idx(bad, lab); });
  EXPECT_THAT(msg, HasSubstr(bad));
  EXPECT_THAT(msg, HasSubstr("gzip"));

  std::string cut = write_gz_file(tmp("cut.gz"), idx_images(1000, 2, 2, pixels));
  fs::resize_file(cut, fs::file_size(cut) / 2);
  msg = data_error([&] { read_idx(cut, lab); });
  EXPECT_THAT(msg, HasSubstr(cut));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

// ---------------------------------------------------------------- CIFAR

TEST_F(DatasetTest, ReadsCifar10BatchesInOrder) {
  std::string b1 = write_file("b1.bin", cifar_record({3}, 0) + cifar_record({9}, 100));
  std::string b2 = write_file("b2.bin", cifar_record({0}, 200));
  Dataset d = read_cifar({b1, b2}, false);
  EXPECT_EQ(d.sample_shape, (Shape{3, 32, 32}));
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{3, 9, 0}));
  ASSERT_EQ(d.pixels.size(), 3u * 3072);
  EXPECT_EQ(d.pixels[0], 0);
  EXPECT_EQ(d.pixels[1024], 0);  // first green pixel of record 0: (0 + 1024) & 0xff
  EXPECT_EQ(d.pixels[3071], 3071 & 0xff);
  EXPECT_EQ(d.pixels[3072], 100);  // record 1 starts right after record 0's pixels
  EXPECT_EQ(d.pixels[2 * 3072 + 5], 205);
}

TEST_F(DatasetTest, ReadsCifar100FineLabels) {
  std::string b = write_file("train.bin", cifar_record({19, 99}, 1) + cifar_record({0, 42}, 2));
  Dataset d = read_cifar({b}, true);
  EXPECT_EQ(d.num_classes, 100);
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{99, 42}));
  EXPECT_EQ(d.pixels[0], 1);
  EXPECT_EQ(d.pixels[3072], 2);
}

TEST_F(DatasetTest, CifarCorruptFilesNameFileAndProblem) {
  std::string cut = write_file("cut.bin", cifar_record({1}, 0) + cifar_record({2}, 0).substr(0, 100));
  std::string msg = data_error([&] { read_cifar({cut}, false); });
  EXPECT_THAT(msg, HasSubstr(cut + ": 3173 bytes is not a whole number of 3073-byte CIFAR-10 records"));
  EXPECT_THAT(msg, HasSubstr("1 records and 100 bytes left over"));

  std::string bad_label = write_file("label.bin", cifar_record({1}, 0) + cifar_record({10}, 0));
  msg = data_error([&] { read_cifar({bad_label}, false); });
  EXPECT_THAT(msg, HasSubstr(bad_label + ": record 1 (byte 3073) has label 10; CIFAR-10 labels are 0..9"));

  std::string bad_fine = write_file("fine.bin", cifar_record({1, 100}, 0));
  EXPECT_THAT(data_error([&] { read_cifar({bad_fine}, true); }),
              HasSubstr("has label 100; CIFAR-100 labels are 0..99"));
  std::string bad_coarse = write_file("coarse.bin", cifar_record({20, 5}, 0));
  EXPECT_THAT(data_error([&] { read_cifar({bad_coarse}, true); }), HasSubstr("has coarse label 20"));

  // Two CIFAR-100 records read as CIFAR-10 do not fit, and the message says which format would.
  std::string c100 = write_file("c100.bin", cifar_record({1, 2}, 0) + cifar_record({1, 2}, 0));
  EXPECT_THAT(data_error([&] { read_cifar({c100}, false); }), HasSubstr("fits CIFAR-100 records"));

  std::string empty = write_file("empty.bin", "");
  EXPECT_THAT(data_error([&] { read_cifar({empty}, false); }), HasSubstr(empty + ": empty file"));
}

TEST_F(DatasetTest, LoadsCifar10FolderFromArchiveSubfolder) {
  std::string sub = tmp("cifar/cifar-10-batches-bin");
  fs::create_directories(sub);
  for (int i = 1; i <= 5; ++i) {
    write_file("cifar/cifar-10-batches-bin/data_batch_" + std::to_string(i) + ".bin",
               cifar_record({static_cast<std::uint8_t>(i)}, static_cast<std::uint8_t>(i)) +
                   cifar_record({static_cast<std::uint8_t>(i - 1)}, 0));
  }
  write_file("cifar/cifar-10-batches-bin/test_batch.bin", cifar_record({7}, 77));
  DatasetOptions o = options("dataset: {name: cifar10, path: cifar, use_test_split: true}", tmp_.string());
  DatasetSplits s = load_dataset(o);
  EXPECT_EQ(s.train.size(), 10u);
  EXPECT_EQ(s.train.labels, (std::vector<std::int32_t>{1, 0, 2, 1, 3, 2, 4, 3, 5, 4}));
  ASSERT_EQ(s.val.size(), 1u);
  EXPECT_EQ(s.val.labels[0], 7);
  EXPECT_EQ(s.val.pixels[0], 77);
  EXPECT_EQ(s.train.name, "cifar10 train");
  EXPECT_EQ(s.val.name, "cifar10 test");

  fs::remove(sub + "/data_batch_3.bin");
  std::string msg = message_of([&] { load_dataset(o); });
  EXPECT_THAT(msg, HasSubstr(sub + ": missing cifar10 dataset file data_batch_3.bin"));
  EXPECT_THAT(msg, HasSubstr("looked for data_batch_1.bin, data_batch_2.bin"));
  EXPECT_THROW(load_dataset(o), NotFoundError);
}

// ---------------------------------------------------------------- CSV

TEST_F(DatasetTest, ReadsCsvWithIntegerOrNamedLabels) {
  std::string ints = write_file("i.csv", "a,b,y\n1.5,-2,1\n0,3e2,0\n4,5,3\n");
  Dataset d = read_csv_dataset(ints, "");
  EXPECT_FALSE(d.is_image);
  EXPECT_EQ(d.sample_shape, (Shape{2, 1, 1}));
  EXPECT_EQ(d.features, (std::vector<float>{1.5f, -2.f, 0.f, 300.f, 4.f, 5.f}));
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{1, 0, 3}));
  EXPECT_EQ(d.num_classes, 4);

  // Named labels map to indices in sorted order; the label column can sit anywhere, by name or index.
  std::string named = write_file("n.csv", "species,len,width\nsetosa,1,2\nvirginica,3,4\nversicolor,5,6\nsetosa,7,8\n");
  for (const char* column : {"species", "0"}) {
    Dataset n = read_csv_dataset(named, column);
    EXPECT_EQ(n.labels, (std::vector<std::int32_t>{0, 2, 1, 0})) << column;
    EXPECT_EQ(n.num_classes, 3);
    EXPECT_EQ(n.features, (std::vector<float>{1, 2, 3, 4, 5, 6, 7, 8}));
  }
  // Whole numbers spelled as floats are class indices too.
  EXPECT_EQ(read_csv_dataset(write_file("f.csv", "x,y\n1,2.0\n2,0\n"), "y").labels, (std::vector<std::int32_t>{2, 0}));
}

TEST_F(DatasetTest, CsvErrorsNameFileLineColumnAndValue) {
  std::string text = write_file("t.csv", "a,b,y\n1,2,0\n3,abc,1\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(text, "y"); }),
              HasSubstr(text + ":3: column 'b' (column 2): 'abc' is not a number"));

  std::string ragged = write_file("r.csv", "a,b,y\n1,2,0\n3,1\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(ragged, ""); }),
              HasSubstr(ragged + ":3: row has 2 fields but the header has 3 columns"));

  std::string unknown = write_file("u.csv", "a,b,label\n1,2,0\n");
  std::string msg = data_error([&] { read_csv_dataset(unknown, "lable"); });
  EXPECT_THAT(msg, HasSubstr(unknown + ": no label column 'lable' (did you mean 'label'?)"));
  EXPECT_THAT(msg, HasSubstr("the columns are a, b, label"));
  EXPECT_THAT(data_error([&] { read_csv_dataset(unknown, "3"); }), HasSubstr("no label column '3'"));

  std::string negative = write_file("neg.csv", "a,y\n1,0\n2,-1\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(negative, ""); }),
              HasSubstr(negative + ":3: column 'y' (column 2): label -1 is out of range"));
  std::string fraction = write_file("frac.csv", "a,y\n1,0.5\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(fraction, ""); }), HasSubstr("label '0.5' is not a whole number"));

  std::string empty_cell = write_file("e.csv", "a,b,y\n1,,0\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(empty_cell, ""); }),
              HasSubstr(empty_cell + ":2: column 'b' (column 2): empty cell"));
  std::string inf = write_file("inf.csv", "a,y\ninf,0\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(inf, ""); }), HasSubstr("'inf' is not a finite number"));

  std::string empty = write_file("empty.csv", "");
  EXPECT_THAT(data_error([&] { read_csv_dataset(empty, ""); }), HasSubstr(empty + ": empty file"));
  std::string header_only = write_file("h.csv", "a,y\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(header_only, ""); }), HasSubstr(header_only + ": no data rows"));
  std::string one_column = write_file("one.csv", "y\n1\n");
  EXPECT_THAT(data_error([&] { read_csv_dataset(one_column, ""); }), HasSubstr("at least one feature column"));

  EXPECT_THROW(read_csv_dataset(tmp("absent.csv"), ""), NotFoundError);
}

// ---------------------------------------------------------------- synthetic

TEST_F(DatasetTest, SyntheticIsDeterministicBalancedAndLearnable) {
  Dataset a = make_synthetic(400, 4, Shape{1, 8, 8}, 5);
  Dataset b = make_synthetic(400, 4, Shape{1, 8, 8}, 5);
  Dataset c = make_synthetic(400, 4, Shape{1, 8, 8}, 6);
  ASSERT_TRUE(a.is_image);
  EXPECT_EQ(a.pixels.size(), 400u * 64);
  EXPECT_EQ(a.pixels, b.pixels);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_NE(a.pixels, c.pixels);
  EXPECT_EQ(a.num_classes, 4);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(std::count(a.labels.begin(), a.labels.end(), k), 100);
  // Nearest class mean, fitted on the first half, classifies the second half almost perfectly.
  std::vector<double> means(4 * 64, 0.0);
  for (std::size_t s = 0; s < 200; ++s) {
    for (int k = 0; k < 64; ++k) means[a.labels[s] * 64 + k] += a.pixels[s * 64 + k] / 50.0;
  }
  int correct = 0;
  for (std::size_t s = 200; s < 400; ++s) {
    int best = -1;
    double best_d = 1e300;
    for (int cl = 0; cl < 4; ++cl) {
      double d = 0;
      for (int k = 0; k < 64; ++k) d += std::pow(a.pixels[s * 64 + k] - means[cl * 64 + k], 2);
      if (d < best_d) best_d = d, best = cl;
    }
    correct += best == a.labels[s];
  }
  EXPECT_GE(correct, 190);
  // Within one class samples still differ (there is noise).
  EXPECT_FALSE(std::equal(a.pixels.begin(), a.pixels.begin() + 64, a.pixels.begin() + 4 * 64));

  Dataset f = make_synthetic(10, 3, Shape{5, 1, 1}, 1);
  EXPECT_FALSE(f.is_image);
  EXPECT_EQ(f.features.size(), 50u);
  EXPECT_TRUE(f.pixels.empty());
  EXPECT_THROW(make_synthetic(0, 3, Shape{1, 2, 2}, 1), ValueError);
}

// ---------------------------------------------------------------- splits

TEST_F(DatasetTest, SplitIsSeededDisjointAndSized) {
  DatasetOptions o;
  o.format = "csv";
  o.path = write_rows_csv("rows.csv", 100);
  o.val_fraction = 0.25;
  o.seed = 3;
  auto ids = [](const Dataset& d) {
    std::vector<int> out;
    for (std::size_t i = 0; i < d.size(); ++i) out.push_back(static_cast<int>(d.features[i * 3]));
    return out;
  };
  DatasetSplits s = load_dataset(o);
  ASSERT_EQ(s.val.size(), 25u);
  ASSERT_EQ(s.train.size(), 75u);
  std::vector<int> train_ids = ids(s.train);
  std::vector<int> val_ids = ids(s.val);
  EXPECT_TRUE(std::is_sorted(train_ids.begin(), train_ids.end()));
  std::set<int> all(train_ids.begin(), train_ids.end());
  all.insert(val_ids.begin(), val_ids.end());
  EXPECT_EQ(all.size(), 100u);  // disjoint and complete
  for (std::size_t i = 0; i < s.train.size(); ++i) {
    EXPECT_EQ(s.train.labels[i], train_ids[i] % 3 == 0 ? 2 : train_ids[i] % 3 == 1 ? 0 : 1);  // ant bee cat
  }
  EXPECT_EQ(s.train.num_classes, 3);

  EXPECT_EQ(ids(load_dataset(o).val), val_ids);  // same seed, same split
  o.seed = 4;
  EXPECT_NE(ids(load_dataset(o).val), val_ids);

  o.val_size = 10;  // overrides the fraction
  o.subset = 30;
  DatasetSplits t = load_dataset(o);
  EXPECT_EQ(t.val.size(), 10u);
  EXPECT_EQ(t.train.size(), 30u);
  std::set<int> overlap;
  for (int id : ids(t.train)) overlap.insert(id);
  for (int id : ids(t.val)) EXPECT_EQ(overlap.count(id), 0u) << id;
  // The subset draws from what is left after validation, so the validation set does not depend on it.
  o.subset = 0;
  EXPECT_EQ(ids(load_dataset(o).val), ids(t.val));
  EXPECT_EQ(load_dataset(o).train.size(), 90u);

  o.val_size = 100;
  EXPECT_THAT(message_of([&] { load_dataset(o); }), HasSubstr("leaves none of its 100 samples for training"));
}

TEST_F(DatasetTest, NormalizationStatsPerChannel) {
  // Two 1x2x2 images 0,10,...,70: mean 35, population variance (35^2+25^2+15^2+5^2)*2/8 = 525.
  std::string dir = tmp("idx");
  fs::create_directories(dir);
  write_file("idx/train-images-idx3-ubyte", idx_images(2, 2, 2, {0, 10, 20, 30, 40, 50, 60, 70}));
  write_file("idx/train-labels-idx1-ubyte", idx_labels({0, 1}));
  write_file("idx/t10k-images-idx3-ubyte", idx_images(1, 2, 2, {1, 2, 3, 4}));
  write_file("idx/t10k-labels-idx1-ubyte", idx_labels({1}));
  DatasetOptions o;
  o.format = "idx";
  o.path = dir;
  o.use_test_split = true;
  DatasetSplits s = load_dataset(o);
  ASSERT_EQ(s.mean.size(), 1u);
  EXPECT_FLOAT_EQ(s.mean[0], 35.0f);
  EXPECT_FLOAT_EQ(s.stddev[0], static_cast<float>(std::sqrt(525.0)));
  EXPECT_EQ(s.val.pixels, (Bytes{1, 2, 3, 4}));  // the test split is not normalized in place
  o.normalize = false;
  s = load_dataset(o);
  EXPECT_EQ(s.mean, (std::vector<float>{0.0f}));
  EXPECT_EQ(s.stddev, (std::vector<float>{1.0f}));

  // Three channels: CIFAR records whose channels are constant 10, 0/200 and 50/150.
  auto record = [](std::uint8_t label, std::uint8_t r, std::uint8_t g, std::uint8_t b) {
    std::string rec(1, static_cast<char>(label));
    rec += std::string(1024, static_cast<char>(r)) + std::string(1024, static_cast<char>(g)) +
           std::string(1024, static_cast<char>(b));
    return rec;
  };
  std::string c = tmp("c100");
  fs::create_directories(c);
  write_file("c100/data_batch_1.bin", record(0, 10, 0, 50) + record(1, 10, 200, 150));
  for (int i = 2; i <= 5; ++i) write_file("c100/data_batch_" + std::to_string(i) + ".bin", "");
  o.format = "cifar10";
  o.path = c;
  o.use_test_split = false;
  o.normalize = true;
  EXPECT_THAT(data_error([&] { load_dataset(o); }), HasSubstr(c + "/data_batch_2.bin: empty file"));
  for (int i = 2; i <= 5; ++i) write_file("c100/data_batch_" + std::to_string(i) + ".bin", record(0, 10, 0, 50));
  write_file("c100/data_batch_5.bin", record(1, 10, 200, 150));
  o.val_size = 1;
  s = load_dataset(o);
  ASSERT_EQ(s.train.size(), 5u);
  // The held-out record is one of the two kinds; count the kinds left in training to get the expected stats.
  int bright = 0;
  for (std::size_t i = 0; i < 5; ++i) bright += s.train.pixels[i * 3072 + 1024] == 200;
  const double n = 5;
  const double g_mean = 200.0 * bright / n;
  const double b_mean = (150.0 * bright + 50.0 * (n - bright)) / n;
  EXPECT_FLOAT_EQ(s.mean[0], 10.0f);
  EXPECT_FLOAT_EQ(s.stddev[0], 1.0f);  // constant channel: 1, not 0
  EXPECT_FLOAT_EQ(s.mean[1], static_cast<float>(g_mean));
  EXPECT_FLOAT_EQ(s.stddev[1], static_cast<float>(std::sqrt(200.0 * 200.0 * bright / n - g_mean * g_mean)));
  EXPECT_FLOAT_EQ(s.mean[2], static_cast<float>(b_mean));
  EXPECT_FLOAT_EQ(s.stddev[2], static_cast<float>(50.0 * std::sqrt(4.0 * bright * (n - bright)) / n));
}

TEST_F(DatasetTest, CsvStatsPerFeatureWithLargeOffsets) {
  DatasetOptions o;
  o.format = "csv";
  o.path = write_rows_csv("rows.csv", 50);
  o.val_size = 8;
  DatasetSplits s = load_dataset(o);
  ASSERT_EQ(s.mean.size(), 3u);
  // Two-pass reference over the training split.
  for (std::size_t c = 0; c < 3; ++c) {
    double sum = 0;
    for (std::size_t i = 0; i < s.train.size(); ++i) sum += s.train.features[i * 3 + c];
    double mean = sum / s.train.size();
    double sq = 0;
    for (std::size_t i = 0; i < s.train.size(); ++i) sq += std::pow(s.train.features[i * 3 + c] - mean, 2);
    double sd = std::sqrt(sq / s.train.size());
    EXPECT_NEAR(s.mean[c], mean, 1e-6 * std::abs(mean)) << c;
    EXPECT_NEAR(s.stddev[c], sd > 0 ? sd : 1.0, 1e-5) << c;
  }
  EXPECT_EQ(s.stddev[1], 1.0f);  // the constant column
  EXPECT_GT(s.stddev[2], 0.5f);
}

TEST_F(DatasetTest, LoadsIdxFolderPlainOrGzipped) {
  for (bool gz : {false, true}) {
    DatasetOptions o;
    o.format = "idx";
    o.path = write_idx_folder(gz ? "gz" : "plain", gz);
    o.use_test_split = true;
    DatasetSplits s = load_dataset(o);
    EXPECT_EQ(s.train.size(), 4u);
    EXPECT_EQ(s.train.labels, (std::vector<std::int32_t>{2, 0, 1, 0}));
    EXPECT_EQ(s.train.pixels[6], 60);
    EXPECT_EQ(s.val.size(), 2u);
    EXPECT_EQ(s.val.labels, (std::vector<std::int32_t>{1, 2}));
    EXPECT_EQ(s.val.num_classes, 3);
    EXPECT_EQ(s.val.sample_shape, (Shape{1, 2, 3}));
  }
}

TEST_F(DatasetTest, IdxTestLabelOutsideTrainingClassesIsDataError) {
  DatasetOptions o;
  o.format = "idx";
  o.path = write_idx_folder("idx", false, {0, 1, 1, 0}, {1, 5});
  o.use_test_split = true;
  EXPECT_THAT(data_error([&] { load_dataset(o); }),
              HasSubstr(o.path + "/t10k-labels-idx1-ubyte: label 5 of sample 1 is out of range: the training "
                                 "labels are 0..1"));
  o.use_test_split = false;  // the test files are not read then
  EXPECT_EQ(load_dataset(o).train.size() + load_dataset(o).val.size(), 4u);
}

TEST_F(DatasetTest, DataPathsThatAreNoRegularFileSayWhatTheyAre) {
  // /dev/null read as an empty file or was reported as missing.
  std::string lab = write_file("lab", idx_labels({0}));
  EXPECT_THAT(data_error([&] { read_idx("/dev/null", lab); }),
              HasSubstr("/dev/null: not a regular file but a character device"));
  EXPECT_THAT(data_error([&] { read_csv_dataset("/dev/null", ""); }), HasSubstr("not a regular file"));
  DatasetOptions o = options("dataset: {format: csv, path: /dev/null}", tmp_.string());
  EXPECT_THAT(data_error([&] { load_dataset(o); }), HasSubstr("the csv dataset must be a file"));
  std::string dir = write_idx_folder("idx", false);
  fs::remove(dir + "/train-labels-idx1-ubyte");
  fs::create_symlink("/dev/null", dir + "/train-labels-idx1-ubyte");
  o = options("dataset: {format: idx, path: idx}", tmp_.string());
  EXPECT_THAT(data_error([&] { load_dataset(o); }),
              HasSubstr(dir + "/train-labels-idx1-ubyte: not a regular file but a character device"));
}

TEST_F(DatasetTest, CsvByteOrderMarkIsIgnored) {
  std::string path = write_file("bom.csv",
                                "\xEF\xBB\xBF"
                                "a,y\n1,0\n2,1\n");
  Dataset d = read_csv_dataset(path, "y");
  EXPECT_EQ(d.labels, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(d.features, (std::vector<float>{1, 2}));
}

TEST_F(DatasetTest, MissingIdxFilesListWhatWasLookedFor) {
  std::string dir = write_idx_folder("idx", true);
  fs::remove(dir + "/t10k-images-idx3-ubyte.gz");
  DatasetOptions o = options("dataset: {name: fashion_mnist, path: idx, use_test_split: true}", tmp_.string());
  std::string msg = message_of([&] { load_dataset(o); });
  EXPECT_THAT(msg, HasSubstr(dir + ": missing idx dataset file t10k-images-idx3-ubyte[.gz]"));
  EXPECT_THAT(msg, HasSubstr("looked for train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                             "t10k-labels-idx1-ubyte, each plain or .gz"));
  EXPECT_THAT(msg, HasSubstr("apt-get install dataset-fashion-mnist"));
  EXPECT_THROW(load_dataset(o), NotFoundError);

  o.path = tmp("nowhere");
  msg = message_of([&] { load_dataset(o); });
  EXPECT_THAT(msg, HasSubstr(o.path + ": no such folder"));
  EXPECT_THAT(msg, HasSubstr("apt-get install dataset-fashion-mnist"));
  o.name.clear();
  EXPECT_THAT(message_of([&] { load_dataset(o); }), Not(HasSubstr("apt-get")));
}

TEST_F(DatasetTest, SelectCopiesSamplesInOrder) {
  Dataset d = make_synthetic(5, 2, Shape{2, 2, 1}, 9);
  Dataset s = d.select({4, 0, 4});
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s.labels, (std::vector<std::int32_t>{0, 0, 0}));
  EXPECT_TRUE(std::equal(s.pixels.begin(), s.pixels.begin() + 4, d.pixels.begin() + 16));
  EXPECT_TRUE(std::equal(s.pixels.begin() + 4, s.pixels.begin() + 8, d.pixels.begin()));
  EXPECT_EQ(s.num_classes, 2);
  EXPECT_EQ(s.sample_shape, d.sample_shape);
  EXPECT_THAT(message_of([&] { d.select({5}); }), HasSubstr("index 5 is out of range"));
  Dataset f = make_synthetic(3, 2, Shape{2, 1, 1}, 9);
  EXPECT_EQ(f.select({2}).features, (std::vector<float>{f.features[4], f.features[5]}));
}

TEST_F(DatasetTest, FashionMnistFromDebianPackage) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir + "/train-images-idx3-ubyte.gz") && !fs::exists(dir + "/train-images-idx3-ubyte")) {
    GTEST_SKIP() << "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)";
  }
  DatasetOptions o = options("dataset: {name: fashion_mnist, use_test_split: true}", "/");
  EXPECT_EQ(o.path, dir);
  auto start = std::chrono::steady_clock::now();
  DatasetSplits s = load_dataset(o);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 5.0);
  ASSERT_EQ(s.train.size(), 60000u);
  ASSERT_EQ(s.val.size(), 10000u);
  EXPECT_EQ(s.train.num_classes, 10);
  EXPECT_EQ(s.train.sample_shape, (Shape{1, 28, 28}));
  for (int k = 0; k < 10; ++k) EXPECT_EQ(std::count(s.train.labels.begin(), s.train.labels.end(), k), 6000) << k;
  for (int k = 0; k < 10; ++k) EXPECT_EQ(std::count(s.val.labels.begin(), s.val.labels.end(), k), 1000) << k;
  // The published statistics: mean 0.2860 and std 0.3530 of the [0, 1] range.
  EXPECT_NEAR(s.mean[0] / 255, 0.2860, 5e-4);
  EXPECT_NEAR(s.stddev[0] / 255, 0.3530, 5e-4);
}

// ---------------------------------------------------------------- from_config

TEST_F(DatasetTest, FromConfigReadsEveryKey) {
  DatasetOptions o = options(
      "dataset:\n"
      "  format: csv\n"
      "  path: data/t.csv\n"
      "  label_column: species\n"
      "  subset: 100\n"
      "  val_size: 20\n"
      "  normalize: false\n"
      "  seed: 7\n",
      "/exp");
  EXPECT_EQ(o.format, "csv");
  EXPECT_EQ(o.path, "/exp/data/t.csv");
  EXPECT_EQ(o.label_column, "species");
  EXPECT_EQ(o.subset, 100);
  EXPECT_EQ(o.val_size, 20);
  EXPECT_FALSE(o.normalize);
  EXPECT_EQ(o.seed, 7u);

  o = options("dataset: {name: fashion_mnist, val_fraction: 0.2, augment: {crop_padding: 2, hflip: true}}", "/x");
  EXPECT_EQ(o.name, "fashion_mnist");
  EXPECT_EQ(o.format, "idx");
  EXPECT_EQ(o.path, "/usr/share/datasets/fashion-mnist");
  EXPECT_DOUBLE_EQ(o.val_fraction, 0.2);
  EXPECT_EQ(o.augment.crop_padding, 2);
  EXPECT_TRUE(o.augment.hflip);
  EXPECT_TRUE(o.normalize);

  o = options("dataset: {format: synthetic, size: 64, classes: 3, shape: [3, 4, 5]}", "/x");
  EXPECT_EQ(o.synthetic_size, 64);
  EXPECT_EQ(o.synthetic_classes, 3);
  EXPECT_EQ(o.synthetic_shape, (Shape{3, 4, 5}));
  EXPECT_EQ(options("dataset: {name: mnist, path: /data/m}", "/x").path, "/data/m");

  // A synthetic dataset loads end to end without files.
  o.val_size = 16;
  DatasetSplits s = load_dataset(o);
  EXPECT_EQ(s.train.size(), 48u);
  EXPECT_EQ(s.val.size(), 16u);
  EXPECT_EQ(s.mean.size(), 3u);
  EXPECT_EQ(s.train.name, "synthetic train");
}

TEST_F(DatasetTest, FromConfigErrorsNameFileLineAndKey) {
  std::string msg = config_error("dataset:\n  name: fashion_mnist\n  val_fractoin: 0.2\n");
  EXPECT_THAT(msg, HasSubstr("exp.yaml:3:"));
  EXPECT_THAT(msg, HasSubstr("unknown key 'val_fractoin' (did you mean 'val_fraction'?)"));

  msg = config_error("dataset:\n  format: cifar\n  path: x\n");
  EXPECT_THAT(msg, HasSubstr("exp.yaml:2:"));
  EXPECT_THAT(msg, HasSubstr("dataset.format"));
  EXPECT_THAT(msg, HasSubstr("unknown dataset format 'cifar'"));
  EXPECT_THAT(msg, HasSubstr("available: idx, cifar10, cifar100, csv, synthetic"));

  EXPECT_THAT(config_error("dataset:\n  name: fashion-mnist\n"),
              HasSubstr("unknown dataset name 'fashion-mnist' (did you mean 'fashion_mnist'?)"));
  EXPECT_THAT(config_error("dataset:\n  seed: 1\n"), HasSubstr("needs `name`"));
  EXPECT_THAT(config_error("dataset:\n  name: cifar10\n"), HasSubstr("exp.yaml:2:"));
  EXPECT_THAT(config_error("dataset:\n  name: cifar10\n"),
              HasSubstr("name 'cifar10' needs `path`: the folder with data_batch_1.bin"));
  EXPECT_THAT(config_error("dataset:\n  format: csv\n"), HasSubstr("format 'csv' needs `path`: the CSV file"));
  EXPECT_THAT(config_error("dataset: {name: mnist, format: csv}"), HasSubstr("contradicts name 'mnist'"));

  msg = config_error("dataset:\n  name: mnist\n  val_fraction: 1.5\n");
  EXPECT_THAT(msg, HasSubstr("exp.yaml:3:"));
  EXPECT_THAT(msg, HasSubstr("must be between 0 and 1 (exclusive), got 1.5"));
  EXPECT_THAT(config_error("dataset: {name: mnist, val_fraction: 0}"), HasSubstr("got 0"));
  EXPECT_THAT(config_error("dataset: {name: mnist, subset: -1}"), HasSubstr("must be >= 0"));
  EXPECT_THAT(config_error("dataset: {name: mnist, val_size: 0}"), HasSubstr("must be >= 1"));
  EXPECT_THAT(config_error("dataset: {name: mnist, use_test_split: true, val_size: 5}"),
              HasSubstr("has no effect with use_test_split"));
  EXPECT_THAT(config_error("dataset: {format: csv, path: a.csv, use_test_split: true}"),
              HasSubstr("format csv has no test split"));
  EXPECT_THAT(config_error("dataset: {name: mnist, label_column: y}"), HasSubstr("only applies to format csv"));
  EXPECT_THAT(config_error("dataset: {name: mnist, size: 10}"), HasSubstr("only applies to format synthetic"));
  EXPECT_THAT(config_error("dataset: {format: synthetic, path: x}"), HasSubstr("is not used by format synthetic"));
  EXPECT_THAT(config_error("dataset: {format: synthetic, shape: [1, 8]}"),
              HasSubstr("expected [channels, height, width]"));
  EXPECT_THAT(config_error("dataset: {format: synthetic, shape: [1, 0, 8]}"), HasSubstr("between 1 and 4096, got 0"));
  EXPECT_THAT(config_error("dataset: {format: synthetic, classes: 1}"), HasSubstr("must be between 2"));
  EXPECT_THAT(config_error("dataset: {format: csv, path: a.csv, augment: {hflip: true}}"),
              HasSubstr("only applies to image data"));
  msg = config_error("dataset:\n  name: mnist\n  augment:\n    crop_padding: 2\n    flip: true\n");
  EXPECT_THAT(msg, HasSubstr("exp.yaml:5:"));
  EXPECT_THAT(msg, HasSubstr("unknown key 'flip' (did you mean 'hflip'?)"));
  EXPECT_THAT(config_error("dataset: {name: mnist, augment: {crop_padding: -1}}"), HasSubstr("got -1"));
}

}  // namespace
}  // namespace nasforge::testing
