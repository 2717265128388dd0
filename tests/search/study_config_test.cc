// The study file's architecture: section and its interplay with space:.
#include "search/study_config.h"

#include "core/error.h"
#include "spaces/architecture.h"
#include "testing.h"

namespace nasforge {
namespace {

class StudyConfigTest : public testing::NasforgeTest {};

const char* kCellStudy = R"(study: {name: s, direction: maximize, n_trials: 3}
space:
  lr: {type: float, low: 0.01, high: 0.1}
architecture: {type: cell, channels: 4, cells_per_stage: 1}
)";

/// The message of the ConfigError that parsing `text` raises ("" when it parses).
std::string config_error(const std::string& text, const std::string& file = "s.yaml") {
  try {
    parse_study_config(text, file, "/tmp");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST_F(StudyConfigTest, StudyNamesAreFolderNamesAndTheFileNameDefaultIsCheckedToo) {
  const std::string space = "\nspace:\n  x: {type: float, low: 0, high: 1}\n";
  EXPECT_EQ(config_error("study: {name: my-study.v2_0, n_trials: 1}" + space), "");
  for (const std::string bad : {"'..'", "'.'", "/etc", "'a/b'", "\"a\\x1bb\"", "'a b'", "'-x'", "''"}) {
    std::string e = config_error("study: {name: " + bad + ", n_trials: 1}" + space);
    EXPECT_NE(e.find("s.yaml:1:"), std::string::npos) << bad << ": " << e;
    EXPECT_NE(e.find("study.name"), std::string::npos) << e;
    EXPECT_NE(e.find("not a valid study name"), std::string::npos) << e;
    EXPECT_EQ(e.find('\x1b'), std::string::npos) << "raw ESC in: " << e;
  }
  std::string from_file = config_error("study: {n_trials: 1}" + space, "/x/my study.yaml");
  EXPECT_NE(from_file.find("'my study'"), std::string::npos) << from_file;
  EXPECT_NE(from_file.find("set study.name"), std::string::npos) << from_file;
}

TEST_F(StudyConfigTest, HeartbeatsBelowATenthOfASecondAndTightGracePeriodsAreRefused) {
  const std::string space = "\nspace:\n  x: {type: float, low: 0, high: 1}\n";
  std::string tiny = config_error("study: {n_trials: 1, heartbeat_interval_s: 1e-9}" + space);
  EXPECT_NE(tiny.find("heartbeat_interval_s"), std::string::npos) << tiny;
  EXPECT_NE(tiny.find("at least 0.1"), std::string::npos) << tiny;
  std::string tight = config_error("study: {n_trials: 1, heartbeat_interval_s: 1, grace_period_s: 1.5}" + space);
  EXPECT_NE(tight.find("at least twice"), std::string::npos) << tight;
  EXPECT_EQ(config_error("study: {n_trials: 1, heartbeat_interval_s: 0.1, grace_period_s: 0.2}" + space), "");
  // Durations that would overflow a clock, and a retry count that does not fit an int.
  for (const char* item : {"timeout_s: 1.0e+300", "timeout_s: .inf", "heartbeat_interval_s: 1.0e+300",
                           "grace_period_s: .inf", "max_retry: 9223372036854775807"}) {
    const std::string huge = item;
    std::string e = config_error("study: {n_trials: 1, " + huge + "}" + space);
    EXPECT_NE(e.find(huge.substr(0, huge.find(':'))), std::string::npos) << huge << ": " << e;
    EXPECT_NE(e.find("at most"), std::string::npos) << huge << ": " << e;
  }
}

TEST_F(StudyConfigTest, ArchitectureParametersJoinTheSpaceAfterThePlainOnes) {
  StudyConfig cfg = parse_study_config(kCellStudy, "s.yaml", "/tmp");
  std::vector<std::string> expected = {"lr",       "edge_1_0", "edge_2_0", "edge_2_1",
                                       "edge_3_0", "edge_3_1", "edge_3_2"};
  EXPECT_EQ(cfg.space.names(), expected);
  ASSERT_NE(cfg.space.architecture(), nullptr);
  EXPECT_EQ(cfg.space.architecture()->type(), "cell");
}

TEST_F(StudyConfigTest, ArchitectureAloneNeedsNoSpaceSection) {
  StudyConfig cfg = parse_study_config("study: {n_trials: 2}\narchitecture: {type: cell}\n", "s.yaml", "/tmp");
  EXPECT_EQ(cfg.space.names().size(), 6u);
  // Without an architecture, an empty study still has to declare parameters.
  try {
    parse_study_config("study: {n_trials: 2}\n", "s.yaml", "/tmp");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("space"), std::string::npos) << e.what();
  }
}

TEST_F(StudyConfigTest, ParameterNameClashWithTheArchitectureNamesBoth) {
  try {
    parse_study_config("study: {n_trials: 2}\nspace:\n  edge_1_0: [a, b]\narchitecture: {type: cell}\n", "s.yaml",
                       "/tmp");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("s.yaml:4"), std::string::npos) << msg;
    EXPECT_NE(msg.find("edge_1_0"), std::string::npos) << msg;
    EXPECT_NE(msg.find("s.yaml:3"), std::string::npos) << msg;  // where the clashing space parameter is
  }
}

TEST_F(StudyConfigTest, UnknownArchitectureTypeListsTheValidOnes) {
  try {
    parse_study_config("study: {n_trials: 2}\narchitecture: {type: chian}\n", "s.yaml", "/tmp");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("s.yaml:2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chian"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chain"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cell"), std::string::npos) << msg;
  }
}

TEST_F(StudyConfigTest, MisspeltNTrialsIsAnUnknownKeyAndAMissingOneIsRequired) {
  auto message = [](const std::string& yaml) {
    try {
      parse_study_config(yaml, "s.yaml", "/tmp");
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string misspelt = message("study: {n_trails: 2}\nspace:\n  x: {type: float, low: 0, high: 1}\n");
  EXPECT_NE(misspelt.find("unknown key 'n_trails'"), std::string::npos) << misspelt;
  EXPECT_NE(misspelt.find("did you mean 'n_trials'"), std::string::npos) << misspelt;
  std::string missing = message("study: {name: s}\nspace:\n  x: {type: float, low: 0, high: 1}\n");
  EXPECT_NE(missing.find("is required unless timeout_s is given"), std::string::npos) << missing;
}

}  // namespace
}  // namespace nasforge
