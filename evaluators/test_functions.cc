#include "evaluators/test_functions.h"

#include <cmath>

#include "core/error.h"

namespace nasforge {

namespace {

constexpr double kPi = 3.14159265358979323846;

void require_dim(const std::vector<double>& x, std::size_t dim, const char* name) {
  check(x.size() == dim,
        std::string(name) + " takes " + std::to_string(dim) + " coordinates, got " + std::to_string(x.size()));
}

}  // namespace

double branin(const std::vector<double>& x) {
  require_dim(x, 2, "branin");
  const double b = 5.1 / (4 * kPi * kPi), c = 5 / kPi, r = 6, s = 10, t = 1 / (8 * kPi);
  double u = x[1] - b * x[0] * x[0] + c * x[0] - r;
  return u * u + s * (1 - t) * std::cos(x[0]) + s;
}

double hartmann6(const std::vector<double>& x) {
  require_dim(x, 6, "hartmann6");
  // clang-format off
  static const double kAlpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double kA[4][6] = {{10, 3, 17, 3.5, 1.7, 8},
                                  {0.05, 10, 17, 0.1, 8, 14},
                                  {3, 3.5, 1.7, 10, 17, 8},
                                  {17, 8, 0.05, 10, 0.1, 14}};
  static const double kP[4][6] = {{1312, 1696, 5569, 124, 8283, 5886},
                                  {2329, 4135, 8307, 3736, 1004, 9991},
                                  {2348, 1451, 3522, 2883, 3047, 6650},
                                  {4047, 8828, 8732, 5743, 1091, 381}};
  // clang-format on
  double sum = 0;
  for (int i = 0; i < 4; ++i) {
    double inner = 0;
    for (int j = 0; j < 6; ++j) {
      double d = x[j] - kP[i][j] * 1e-4;
      inner += kA[i][j] * d * d;
    }
    sum += kAlpha[i] * std::exp(-inner);
  }
  return -sum;
}

double rosenbrock(const std::vector<double>& x) {
  check(x.size() >= 2, "rosenbrock needs at least 2 coordinates, got " + std::to_string(x.size()));
  double sum = 0;
  for (std::size_t i = 0; i + 1 < x.size(); ++i) {
    double a = x[i + 1] - x[i] * x[i];
    double b = 1 - x[i];
    sum += 100 * a * a + b * b;
  }
  return sum;
}

double ackley(const std::vector<double>& x) {
  check(!x.empty(), "ackley needs at least 1 coordinate");
  double sq = 0, cs = 0;
  for (double v : x) {
    sq += v * v;
    cs += std::cos(2 * kPi * v);
  }
  double n = static_cast<double>(x.size());
  return -20 * std::exp(-0.2 * std::sqrt(sq / n)) - std::exp(cs / n) + 20 + std::exp(1.0);
}

const std::vector<TestFunction>& test_functions() {
  static const std::vector<TestFunction> kFunctions = {
      {"branin", 2, "x0 in [-5, 10], x1 in [0, 15]", 0.397887357729738, &branin},
      {"hartmann6", 6, "x0..x5 in [0, 1]", -3.32236801141551, &hartmann6},
      {"rosenbrock", std::nullopt, "usually [-5, 10] per coordinate; minimum at (1, ..., 1)", 0, &rosenbrock},
      {"ackley", std::nullopt, "usually [-32.768, 32.768] per coordinate; minimum at (0, ..., 0)", 0, &ackley},
  };
  return kFunctions;
}

}  // namespace nasforge
