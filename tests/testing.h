#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include <gtest/gtest.h>

namespace nasforge::testing {

/// Seed every test starts from, so failures reproduce.
inline constexpr std::uint64_t kTestSeed = 20261122;

/// The one fixture all suites derive from: seeds the RNGs and gives each test a private temporary folder.
class NasforgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rng_.seed(kTestSeed);
    std::srand(static_cast<unsigned>(kTestSeed));
    std::string tmpl = (std::filesystem::temp_directory_path() / "nasforge-test-XXXXXX").string();
    char* made = mkdtemp(tmpl.data());
    ASSERT_NE(made, nullptr);
    tmp_ = made;
  }
  void TearDown() override {
    std::error_code ec;
    if (!::testing::Test::HasFailure()) std::filesystem::remove_all(tmp_, ec);
  }

  /// A path inside this test's temporary folder.
  std::string tmp(const std::string& name) const { return (tmp_ / name).string(); }

  /// Writes `text` to a file in the temporary folder and returns its path.
  std::string write_file(const std::string& name, const std::string& text) const {
    std::string path = tmp(name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  std::mt19937_64 rng_{kTestSeed};  ///< Seeded generator for test data.
  std::filesystem::path tmp_;       ///< This test's temporary folder.
};

}  // namespace nasforge::testing
