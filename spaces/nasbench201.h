#pragma once

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
/// Inverse of nasbench201_arch: the six ops; ValueError quoting the bad token and saying what was expected.
std::vector<std::string> parse_nasbench201_arch(const std::string& arch);

}  // namespace nasforge
