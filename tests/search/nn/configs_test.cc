// Every study file shipped in configs/ validates, so a renamed key or a broken example cannot go unnoticed.
#include <filesystem>

#include "search/cli_testing.h"

namespace nasforge {
namespace {

class ConfigsTest : public CliTest {};

TEST_F(ConfigsTest, EveryShippedStudyFileValidates) {
  namespace fs = std::filesystem;
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(fs::path(NASFORGE_SOURCE_DIR) / "configs")) {
    if (entry.path().extension() != ".yaml") continue;
    // configs/targets/ holds device profiles, not studies; TargetCostsTest.EveryShippedProfileLoads reads them.
    if (entry.path().parent_path().filename() == "targets") continue;
    std::string text = slurp(entry.path().string());
    // The HPOLib example reads a table from the team's shared folder outside the repository; without it the
    // file must still fail clearly, naming the missing table.
    bool needs_shared = text.find("../../shared/") != std::string::npos &&
                        !fs::exists(fs::path(NASFORGE_SOURCE_DIR) / ".." / "shared");
    CmdResult r = nasforge({"validate", entry.path().string()});
    if (needs_shared) {
      EXPECT_EQ(r.code, 2) << entry.path();
      EXPECT_NE(r.err.find("shared"), std::string::npos) << r.err;
    } else {
      EXPECT_EQ(r.code, 0) << entry.path() << "\n" << r.err;
    }
    ++checked;
  }
  EXPECT_GE(checked, 10);
}

}  // namespace
}  // namespace nasforge
