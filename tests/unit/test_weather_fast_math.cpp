// gosok::math::pow_positive, the branch-free pow the weather flux kernels use in vector
// builds: its accuracy against the C library over the ranges that matter.
#include <catch2/catch_test_macros.hpp>
#include <cmath>

#include <gosok/core/fast_math.hpp>

namespace {

double worst_relative_error(double lo, double hi, double y) {
  double worst = 0;
  for (double x = lo; x < hi; x *= 1.001) {
    const double exact = std::pow(x, y);
    worst = std::max(worst, std::abs(gosok::math::pow_positive(x, y) - exact) / exact);
  }
  return worst;
}

}  // namespace

TEST_CASE("pow_positive: the equation of state's range to a few ulp", "[weather][math]") {
  // rho theta spans about 50..400 kg K m^-3 in the weather cases; gamma = cp / cv. The
  // bound, 2e-15 (9 ulp), comes from the truncated series (< 1e-17) plus the rounding of
  // y log x ~ 8, which the exponential amplifies: |y log x| * 2^-53 ~ 1e-15.
  const double gamma = 1.40027894002789400278940027894;
  CHECK(worst_relative_error(1.0, 1000.0, gamma) < 2e-15);
}

TEST_CASE("pow_positive: wide ranges of x and y", "[weather][math]") {
  // |y log x| up to ~50: relative error ~ 50 * 2^-53 ~ 6e-15 at worst.
  for (double y : {0.5, 1.0 / 1.4, 2.0, 3.5, -1.3}) {
    INFO("y = " << y);
    CHECK(worst_relative_error(1e-6, 1e6, y) < 8e-15);
  }
  CHECK(gosok::math::pow_positive(1.0, 1.4) == 1.0);
  CHECK(gosok::math::pow_positive(0.5, 2.0) == 0.25);
  CHECK(std::abs(gosok::math::pow_positive(300.0, 1.4) / std::pow(300.0, 1.4) - 1) < 2e-15);
}
