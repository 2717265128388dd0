#include "evaluators/compression/nn/step_apply.h"

#include <gtest/gtest.h>

#include "core/error.h"

namespace nasforge {
namespace {

TEST(StepApplyTest, EveryCatalogStepHasItsLibtorchHalf) {
  for (const CatalogEntry& e : step_catalog()) EXPECT_NO_THROW(step_apply(e.name)) << e.name;
  EXPECT_THROW(step_apply("no_such_step"), StateError);
}

}  // namespace
}  // namespace nasforge
