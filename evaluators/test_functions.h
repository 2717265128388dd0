#pragma once

#include <optional>
#include <string>
#include <vector>

namespace nasforge {

/// A synthetic benchmark function to minimize, with its domain and known optimum.
struct TestFunction {
  std::string name;                                            ///< Name used in YAML (`branin`, ...).
  std::optional<std::size_t> fixed_dim;                        ///< Dimension when it is fixed; nullopt = any dim >= 2.
  std::string domain;                                          ///< The usual domain, for messages and docs.
  double optimum = 0;                                          ///< Global minimum value.
  double (*evaluate)(const std::vector<double>& x) = nullptr;  ///< The function itself.
};

/// Branin-Hoo on x0 in [-5, 10], x1 in [0, 15]; minimum 0.397887 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475).
double branin(const std::vector<double>& x);
/// Six-dimensional Hartmann on [0, 1]^6; minimum -3.32237.
double hartmann6(const std::vector<double>& x);
/// Rosenbrock in any dimension >= 2; minimum 0 at (1, ..., 1).
double rosenbrock(const std::vector<double>& x);
/// Ackley in any dimension >= 1; minimum 0 at (0, ..., 0).
double ackley(const std::vector<double>& x);

/// The built-in functions (without the noisy_ prefix).
const std::vector<TestFunction>& test_functions();

}  // namespace nasforge
