#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

namespace nasforge {

// The NAS-Bench-201 cell encoding, shared by the `cell` architecture space and the tabular objective's
// `key: nasbench201` mode so that both produce byte-identical arch strings.

/// The five NAS-Bench-201 operations: none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3.
const std::vector<std::string>& nasbench201_ops();
/// The six edge parameter names in arch-string order: edge_1_0, edge_2_0, edge_2_1, edge_3_0, edge_3_1, edge_3_2.
const std::vector<std::string>& nasbench201_edges();
/// The arch string "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" of six ops given in nasbench201_edges() order.
std::string nasbench201_arch(const std::vector<std::string>& ops);
/// Position of the edge from node i to node j (0 <= i < j <= 3) in nasbench201_edges() order.
constexpr std::size_t nasbench201_edge_index(int j, int i) {
  return static_cast<std::size_t>(j * (j - 1) / 2 + i);
}
/// Which of the cell's 4 nodes are reachable from node 0 (the cell input) over edges whose op is not `none`,
/// given the six ops in nasbench201_edges() order; node 3 unreachable means a disconnected cell.
std::array<bool, 4> nasbench201_reachable(const std::vector<std::string>& ops);
/// Inverse of nasbench201_arch: the six ops; ValueError quoting the bad token and saying what was expected.
std::vector<std::string> parse_nasbench201_arch(const std::string& arch);

}  // namespace nasforge
