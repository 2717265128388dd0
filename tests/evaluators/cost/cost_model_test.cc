#include "evaluators/cost/cost_model.h"

#include "core/config.h"
#include "core/error.h"
#include "spaces/architecture.h"
#include "spaces/nasbench201.h"
#include "testing.h"

namespace nasforge {
namespace {

class CostModelTest : public testing::NasforgeTest {};

TEST_F(CostModelTest, ConvDepthwisePoolLinear) {
  NetGraph g(Shape{3, 8, 8}, 10);                                  // n0: 3x8x8 = 192 floats
  int x = g.conv(0, 4, 3, 1, 1, true, Activation::kReLU, "conv");  // n1: 4x8x8 = 256
  x = g.conv(x, 4, 3, 2, 4, true, Activation::kReLU, "dw");        // n2: 4x4x4 = 64
  x = g.global_avg_pool(x, "pool");                                // n3: 4
  g.linear(x, 10, true, Activation::kNone, "fc");                  // n4: 10
  CostMetrics m = analyze_costs(g);
  // params: conv 4*3*3*3 = 108 + BN 2*4 = 116; dw 4*1*3*3 = 36 + BN 8 = 44; fc 4*10 + 10 = 50 -> 210.
  EXPECT_EQ(m.params, 210);
  // MACs: conv 4*8*8 * 3*3*3 = 6912; dw 4*4*4 * 1*3*3 = 576; fc 4*10 = 40 -> 7528.
  EXPECT_EQ(m.macs, 7528);
  // Folded: conv 108 + 4 bias; dw 36 + 4; fc 50 -> 202 floats = 808 bytes.
  EXPECT_EQ(m.size_bytes, 808);
  // Live sets: n0 192; n1 192 + 256 = 448; n2 256 + 64 = 320; n3 64 + 4; n4 4 + 10. Peak 448 floats.
  EXPECT_EQ(m.peak_activation_bytes, 448 * 4);
  EXPECT_EQ(m.to_json(), (Json{{"params", 210}, {"macs", 7528}, {"size_bytes", 808}, {"peak_mem_bytes", 1792}}));
}

TEST_F(CostModelTest, ResidualGraphCountsLiveTensorsAndInPlaceOps) {
  NetGraph g(Shape{4, 4, 4}, 3);                                         // n0: 64 floats, read again by the add
  int r = g.activation(0, Activation::kReLU, "relu");                    // n1: 64, not in place (n0 still needed)
  int a = g.conv(r, 8, 1, 1, 1, true, Activation::kNone, "expand");      // n2: 8x4x4 = 128
  a = g.activation(a, Activation::kReLU6, "relu6");                      // n3: in place on n2
  a = g.conv(a, 4, 3, 1, 4, false, Activation::kNone, "grouped", true);  // n4: 4x4x4 = 64, groups 4, bias
  int s = g.add({0, a}, "add");                                          // n5: 64
  s = g.batch_norm(s, "bn");                                             // n6: in place on n5
  s = g.global_avg_pool(s, "pool");                                      // n7: 4
  g.linear(s, 3, false, Activation::kNone, "fc");                        // n8: 3
  CostMetrics m = analyze_costs(g);
  // params: expand 8*4*1*1 = 32 + BN 16 = 48; grouped 4*(8/4)*3*3 = 72 + bias 4 = 76; bn 2*4 = 8; fc 4*3 = 12.
  EXPECT_EQ(m.params, 48 + 76 + 8 + 12);
  // MACs: expand 8*4*4 * 4 = 512; grouped 4*4*4 * 2*3*3 = 1152; fc 12.
  EXPECT_EQ(m.macs, 512 + 1152 + 12);
  // Folded: expand 32 + 8; grouped 72 + 4 (its own bias); bn 8; fc 12 -> 136 floats.
  EXPECT_EQ(m.size_bytes, 136 * 4);
  // Live sets (floats): n0 64; n1 64 + 64 = 128; n2 n0 + n1 + 128 = 256; n3 n0 + n2's buffer = 192;
  // n4 n0 + n3 128 + 64 = 256; n5 n0 + n4 + 64 = 192; n6 in place 64; n7 64 + 4; n8 4 + 3. Peak 256.
  EXPECT_EQ(m.peak_activation_bytes, 256 * 4);
}

TEST_F(CostModelTest, InPlaceOnlyWhenTheInputIsNotReadLater) {
  // The same activation costs a buffer when its input is read again afterwards.
  NetGraph g(Shape{2, 2, 2}, 2);                       // n0: 8 floats
  int r = g.activation(0, Activation::kReLU, "relu");  // n1: 8, n0 read later -> 16 live
  int s = g.add({0, r}, "add");                        // n2: 8 -> 24 live
  g.dropout(s, 0.5, "drop");                           // n3: in place -> 8 live
  EXPECT_EQ(analyze_costs(g).peak_activation_bytes, 24 * 4);
  NetGraph h(Shape{2, 2, 2}, 2);
  h.activation(0, Activation::kReLU, "relu");  // in place on the input: 8 live
  EXPECT_EQ(analyze_costs(h).peak_activation_bytes, 8 * 4);
  EXPECT_EQ(analyze_costs(h).params, 0);
}

TEST_F(CostModelTest, NasBench201CellByHand) {
  auto arch = make_architecture(
      ConfigNode::parse_string("type: cell\nchannels: 4\ncells_per_stage: 1\nstages: 1\n", "cell.yaml"));
  // Node 1 = conv3x3(relu(node 0)); node 2 is a dead end (edge_3_2 is none), so edge_2_1 is not built;
  // node 3 = node 0 + avg_pool(node 1).
  std::string g = nasbench201_arch({"nor_conv_3x3", "none", "nor_conv_1x1", "skip_connect", "avg_pool_3x3", "none"});
  NetGraph net = arch->build(g, Shape{3, 4, 4}, 2);
  // n0 input 3x4x4 (48) | n1 stem conv 4x4x4 (64) | n2 relu0 (64) | n3 e1_0 conv (64) | n4 e3_1 pool (64) |
  // n5 n3 = add(n1, n4) (64) | n6 head.bn | n7 head.relu | n8 pool (4) | n9 linear (2)
  ASSERT_EQ(net.nodes().size(), 10u);
  CostMetrics m = analyze_costs(net);
  // params: stem 4*3*9 = 108 + 8 = 116; e1_0 4*4*9 = 144 + 8 = 152; head.bn 8; linear 4*2 + 2 = 10 -> 286.
  EXPECT_EQ(m.params, 286);
  // MACs: stem 4*4*4 * 27 = 1728; e1_0 4*4*4 * 36 = 2304; linear 8 -> 4040.
  EXPECT_EQ(m.macs, 4040);
  // Folded: stem 108 + 4; e1_0 144 + 4; head.bn 8; linear 10 -> 278 floats.
  EXPECT_EQ(m.size_bytes, 278 * 4);
  // Live sets: n1 48 + 64; n2 n1 + 64 (n1 is read again by the add) = 128; n3 n1 + n2 + 64 = 192;
  // n4 n1 + n3 + 64 = 192; n5 n1 + n4 + 64 = 192; then in-place BN/ReLU at 64. Peak 192 floats.
  EXPECT_EQ(m.peak_activation_bytes, 192 * 4);
}

TEST_F(CostModelTest, BudgetNamesEveryExceededLimit) {
  CostBudget b = CostBudget::from_config(ConfigNode::parse_string("macs: 1000\nparams: 50\n"));
  EXPECT_FALSE(b.empty());
  CostMetrics m;
  m.params = 50;
  m.macs = 1000;
  EXPECT_EQ(b.violation(m), std::nullopt);  // limits are inclusive
  m.macs = 1001;
  EXPECT_EQ(b.violation(m), std::optional<std::string>("macs 1001 > budget 1000"));
  m.params = 51;
  m.peak_activation_bytes = 1 << 30;  // no limit set on it
  EXPECT_EQ(b.violation(m), std::optional<std::string>("params 51 > budget 50, macs 1001 > budget 1000"));
  EXPECT_TRUE(CostBudget::from_config(ConfigNode()).empty());
}

TEST_F(CostModelTest, BudgetRejectsUnknownKeysAndNonPositiveLimits) {
  try {
    CostBudget::from_config(ConfigNode::parse_string("mac: 1000\n"));
    FAIL() << "unknown key accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("macs"), std::string::npos) << e.what();  // suggests the valid key
  }
  try {
    CostBudget::from_config(ConfigNode::parse_string("size_bytes: -5\n"));
    FAIL() << "negative limit accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("-5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace nasforge
