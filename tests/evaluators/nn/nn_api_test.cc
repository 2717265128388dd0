#include <gmock/gmock.h>

#include "core/error.h"
#include "core/nn_module.h"
#include "evaluators/nn_api.h"
#include "testing.h"

// A table of a build other than this one's, exported the way libnasforge_nn.so exports its tables.
extern "C" __attribute__((visibility("default"))) const nasforge::NnTable* nasforge_test_stale_table() {
  static const nasforge::NnTable table{41};
  return &table;
}

namespace nasforge {
namespace {

using NnApiTest = testing::NasforgeTest;
using ::testing::HasSubstr;

TEST_F(NnApiTest, FindsTheLinkedInTableOfThisBuild) {
  const EvaluatorNnApi& api = evaluator_nn_api("this test");
  EXPECT_EQ(api.version, kEvaluatorNnApiVersion);
  EXPECT_NE(api.make_train_objective, nullptr);
  EXPECT_NE(api.evaluate_bundle, nullptr);
}

TEST_F(NnApiTest, RefusesATableOfAnotherBuild) {
  try {
    nn_module_table("nasforge_test_stale_table", 42, "this test");
    ADD_FAILURE() << "a version 41 table was accepted for version 42";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("this test needs libtorch"));
    EXPECT_THAT(e.what(), HasSubstr("API version 41, expected 42); rebuild"));
  }
}

TEST_F(NnApiTest, AMissingSymbolNamesWhatNeededItAndWhereItLooked) {
  try {
    nn_module_symbol("nasforge_no_such_table", "the missing feature");
    ADD_FAILURE() << "a symbol nobody defines was found";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the missing feature needs libtorch"));
    EXPECT_THAT(e.what(), HasSubstr("libnasforge_nn.so"));
  }
}

}  // namespace
}  // namespace nasforge
