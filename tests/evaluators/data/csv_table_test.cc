#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/error.h"
#include "evaluators/data/csv_table.h"
#include "evaluators/fake_trial.h"
#include "testing.h"

namespace nasforge::testing {
namespace {

using ::testing::HasSubstr;

class CsvTableTest : public NasforgeTest {
 protected:
  std::string write_gz(const std::string& name, const std::string& text) const {
    return write_gz_file(tmp(name), text);
  }

  // The message of the DataError that reading `path` must raise.
  static std::string data_error(const std::string& path) {
    try {
      CsvTable::read(path);
    } catch (const DataError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no DataError for " << path;
    return "";
  }
};

TEST_F(CsvTableTest, ReadsCellsQuotesBlankLinesAndCrlf) {
  std::string path = write_file("t.csv",
                                "name, value ,note\r\n"
                                "a,1,\"x, y\"\r\n"
                                "\r\n"
                                "b , 2.5,\"say \"\"hi\"\"\"\n"
                                "c,,  \n");
  CsvTable t = CsvTable::read(path);
  ASSERT_EQ(t.columns(), 3u);
  EXPECT_EQ(t.header()[1], "value");
  ASSERT_EQ(t.rows(), 3u);
  EXPECT_EQ(t.cell(0, 2), "x, y");
  EXPECT_EQ(t.cell(1, 0), "b");
  EXPECT_EQ(t.cell(1, 1), "2.5");
  EXPECT_EQ(t.cell(1, 2), "say \"hi\"");
  EXPECT_EQ(t.cell(2, 1), "");
  EXPECT_EQ(t.cell(2, 2), "");
  EXPECT_EQ(t.line(0), 2);
  EXPECT_EQ(t.line(1), 4);  // the blank line still counts
  EXPECT_EQ(t.column("note"), 2u);
  EXPECT_FALSE(t.column("nope"));
}

TEST_F(CsvTableTest, ReadsGzipLikePlain) {
  std::string text = "k,seed0\n";
  for (int i = 0; i < 500; ++i) text += "row" + std::to_string(i) + "," + std::to_string(i * 0.5) + "\n";
  CsvTable plain = CsvTable::read(write_file("t.csv", text));
  CsvTable gz = CsvTable::read(write_gz("t.csv.gz", text));
  ASSERT_EQ(gz.rows(), 500u);
  ASSERT_EQ(plain.rows(), gz.rows());
  for (std::size_t r = 0; r < gz.rows(); r += 37) {
    EXPECT_EQ(gz.cell(r, 0), plain.cell(r, 0));
    EXPECT_EQ(gz.cell(r, 1), plain.cell(r, 1));
  }
  EXPECT_EQ(gz.cell(499, 0), "row499");
}

TEST_F(CsvTableTest, RaggedRowNamesFileAndLine) {
  std::string path = write_file("ragged.csv", "a,b,c\n1,2,3\n4,5\n");
  std::string msg = data_error(path);
  EXPECT_THAT(msg, HasSubstr(path + ":3"));
  EXPECT_THAT(msg, HasSubstr("2 fields but the header has 3 columns"));
}

TEST_F(CsvTableTest, RaggedRowInGzipNamesLine) {
  std::string path = write_gz("ragged.csv.gz", "a,b\n1,2\n3,4\n5,6,7\n");
  EXPECT_THAT(data_error(path), HasSubstr(path + ":4"));
}

TEST_F(CsvTableTest, MissingHeaderIsDetected) {
  std::string path = write_file("noheader.csv", "relu,8,0.5\nrelu,16,0.25\n");
  std::string msg = data_error(path);
  EXPECT_THAT(msg, HasSubstr(path + ":1"));
  EXPECT_THAT(msg, HasSubstr("(is the header missing?)"));
  EXPECT_THAT(data_error(write_file("empty.csv", "\n\n")), HasSubstr("empty file"));
  EXPECT_THAT(data_error(write_file("dup.csv", "a,b,a\n1,2,3\n")), HasSubstr("'a' appears twice"));
  EXPECT_THAT(data_error(write_file("blank.csv", "a,,c\n1,2,3\n")), HasSubstr("column 2 of the header has no name"));
}

TEST_F(CsvTableTest, BadQuotesNameTheLine) {
  std::string path = write_file("quote.csv", "a,b\n1,\"open\n");
  EXPECT_THAT(data_error(path), HasSubstr(path + ":2"));
  EXPECT_THAT(data_error(write_file("after.csv", "a,b\n\"x\"y,2\n")), HasSubstr("after its closing quote"));
}

TEST_F(CsvTableTest, TruncatedGzipIsDataError) {
  std::string text = "k,seed0\n";
  // Incompressible-ish content so that cutting the file loses real data.
  for (int i = 0; i < 4000; ++i) text += "r" + std::to_string(rng_()) + "," + std::to_string(rng_() % 1000) + "\n";
  std::string path = write_gz("cut.csv.gz", text);
  std::filesystem::resize_file(path, std::filesystem::file_size(path) / 2);
  std::string msg = data_error(path);
  EXPECT_THAT(msg, HasSubstr(path + ":"));
  EXPECT_THAT(msg, HasSubstr("truncated"));
}

TEST_F(CsvTableTest, CorruptGzipIsDataError) {
  std::string path = write_gz("bad.csv.gz", "a,b\n1,2\n3,4\n");
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  for (std::size_t i = 12; i < bytes.size() - 8; ++i) bytes[i] = static_cast<char>(0xff);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_THAT(data_error(path), HasSubstr("gzip"));
}

TEST_F(CsvTableTest, LeadingByteOrderMarkIsStripped) {
  // Spreadsheets write it; it made the first column "\xEF\xBB\xBFa" instead of "a".
  CsvTable t = CsvTable::read(write_file("bom.csv",
                                         "\xEF\xBB\xBF"
                                         "a,b\n1,2\n"));
  ASSERT_EQ(t.header().size(), 2u);
  EXPECT_EQ(t.header()[0], "a");
  EXPECT_EQ(t.column("a"), 0u);
  CsvTable gz = CsvTable::read(write_gz("bom.csv.gz",
                                        "\xEF\xBB\xBF"
                                        "a,b\n1,2\n"));
  EXPECT_EQ(gz.header()[0], "a");
}

TEST_F(CsvTableTest, SpecialFilesAreRefusedSayingWhatTheyAre) {
  EXPECT_THAT(data_error("/dev/null"), HasSubstr("/dev/null: not a regular file but a character device"));
  EXPECT_THAT(data_error(tmp_.string()), HasSubstr("not a regular file but a folder"));
  EXPECT_THROW(CsvTable::load_cached("/dev/zero"), DataError);
}

TEST_F(CsvTableTest, MissingFileIsNotFound) {
  EXPECT_THROW(CsvTable::read(tmp("absent.csv")), NotFoundError);
  EXPECT_THROW(CsvTable::load_cached(tmp("absent.csv")), NotFoundError);
}

TEST_F(CsvTableTest, CacheSharesAndNoticesRewrites) {
  std::string path = write_file("c.csv", "a,seed0\nx,1\n");
  auto first = CsvTable::load_cached(path);
  EXPECT_EQ(CsvTable::load_cached(path).get(), first.get());
  write_file("c.csv", "a,seed0\nx,1\ny,2\n");  // different size, so a different cache key
  auto second = CsvTable::load_cached(path);
  EXPECT_EQ(second->rows(), 2u);
  EXPECT_EQ(first->rows(), 1u);  // the old table stays valid for whoever holds it
}

}  // namespace
}  // namespace nasforge::testing
