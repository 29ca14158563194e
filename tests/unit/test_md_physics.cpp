// The md force laws against their own energies (F = -dE/dr by central differences), the
// LAMMPS constants they must reproduce, and the counter-based random stream.
#include <catch2/catch_approx.hpp>
#include <catch2/catch_test_macros.hpp>
#include <cmath>

#include "../../workloads/md/pair_styles/lj_cut.hpp"
#include "../../workloads/md/pair_styles/soft.hpp"
#include "../../workloads/md/potentials.hpp"
#include "../../workloads/md/random.hpp"

using Catch::Approx;
using namespace gosok::md;

namespace {
// Central differences with h = 1e-6 have truncation error ~h^2 f''' and round-off
// ~1e-16 E / h; 1e-6 relative covers both for these smooth laws.
constexpr double h = 1e-6;
constexpr double tolerance = 1e-6;
}  // namespace

TEST_CASE("coefficient tables take any number of types", "[md][unit]") {
  LennardJones lj;
  lj.resize(7);  // more types than any fixed-size table would have held
  for (int i = 0; i < 7; ++i) {
    for (int j = i; j < 7; ++j) lj.set(i, j, 1.0 + i, 1.0 + 0.1 * j, 2.5, false);
  }
  lj.c.sync();
  CHECK(lj.pair(6, 5).lj3 == Approx(4.0 * 6.0 * std::pow(1.6, 12.0)));  // set(5, 6): eps 6, sigma 1.6
  CHECK(lj.pair(5, 6).lj3 == lj.pair(6, 5).lj3);
  CHECK(lj.pair(0, 6).lj3 != lj.pair(6, 6).lj3);
}

TEST_CASE("Lennard-Jones force is minus the derivative of its energy", "[md][unit]") {
  LennardJones lj;
  lj.resize(2);
  lj.set(0, 0, 1.0, 1.0, 2.5, true);
  lj.set(0, 1, 0.7, 1.2, 3.0, false);
  lj.c.sync();
  for (double r : {0.95, 1.12246, 1.5, 2.2}) {
    for (auto [ti, tj] : {std::pair{0, 0}, std::pair{1, 0}}) {
      const auto& k = lj.pair(ti, tj);
      const double de = (k.energy((r + h) * (r + h)) - k.energy((r - h) * (r - h))) / (2 * h);
      REQUIRE(k.force_over_r(r * r) * r == Approx(-de).epsilon(tolerance).margin(1e-9));
    }
  }
  // Shifted: zero energy at the cutoff; LAMMPS' offset for eps = sigma = 1, rc = 2.5.
  REQUIRE(std::abs(lj.pair(0, 0).energy(2.5 * 2.5)) < 1e-15);
  REQUIRE(lj.pair(0, 0).offset == Approx(-0.016316891136).epsilon(1e-9));
  REQUIRE(lj.pair(1, 0).offset == 0.0);
}

TEST_CASE("soft pair force is minus the derivative of its energy", "[md][unit]") {
  SoftPair soft;
  soft.resize(1);
  soft.set(0, 0, 20.0, 1.12246);
  soft.c.sync();
  const auto& k = soft.pair(0, 0);
  for (double r : {0.1, 0.5, 0.9, 1.1}) {
    const double de = (k.energy((r + h) * (r + h)) - k.energy((r - h) * (r - h))) / (2 * h);
    REQUIRE(k.force_over_r(r * r) * r == Approx(-de).epsilon(tolerance).margin(1e-9));
  }
  // Zero energy and force at the cutoff; 2A at contact.
  REQUIRE(std::abs(k.energy(k.cutsq)) < 1e-12);
  REQUIRE(std::abs(k.force_over_r(k.cutsq)) < 1e-12);
  REQUIRE(k.energy(1e-12) == Approx(40.0));
}

TEST_CASE("FENE force is minus the derivative of its energy, with the WCA part", "[md][unit]") {
  Fene fene;
  fene.c.resize(1, false, {30.0, 1.5, 1.0, 1.0});
  fene.c.sync();
  for (double r : {0.8, 0.97, 1.1, 1.3}) {
    double e1 = 0, e2 = 0, e = 0;
    int s = 0;
    fene.force_over_r((r + h) * (r + h), 0, e1, s);
    fene.force_over_r((r - h) * (r - h), 0, e2, s);
    const double f = fene.force_over_r(r * r, 0, e, s) * r;
    REQUIRE(s == 0);
    REQUIRE(f == Approx(-(e1 - e2) / (2 * h)).epsilon(tolerance));
  }
  // The Kremer-Grest bond minimum sits near 0.97 sigma.
  double e = 0;
  int s = 0;
  REQUIRE(std::abs(fene.force_over_r(0.9609 * 0.9609, 0, e, s)) < 0.05);
  // Overstretched bonds are flagged as LAMMPS warns (1 - r^2/R0^2 < 0.1) or fails (<= -3).
  fene.force_over_r(1.45 * 1.45, 0, e, s);
  REQUIRE(s == 1);
  fene.force_over_r(3.1 * 3.1, 0, e, s);
  REQUIRE(s == 2);
}

TEST_CASE("harmonic angle forces are minus the gradient of the energy", "[md][unit]") {
  HarmonicAngle angle;
  angle.c.resize(1, false, {3.0, 110.0 * M_PI / 180.0});
  angle.c.sync();
  const double d1[3] = {1.0, 0.2, -0.1}, d2[3] = {-0.3, 0.9, 0.4};
  double f1[3], f3[3];
  angle.compute(d1, d2, 0, f1, f3);
  for (int c = 0; c < 3; ++c) {
    double a[3] = {d1[0], d1[1], d1[2]}, b[3] = {d1[0], d1[1], d1[2]}, g1[3], g3[3];
    a[c] += h;
    b[c] -= h;
    const double de1 = (angle.compute(a, d2, 0, g1, g3) - angle.compute(b, d2, 0, g1, g3)) / (2 * h);
    REQUIRE(f1[c] == Approx(-de1).epsilon(tolerance).margin(1e-8));
    double p[3] = {d2[0], d2[1], d2[2]}, q[3] = {d2[0], d2[1], d2[2]};
    p[c] += h;
    q[c] -= h;
    const double de3 = (angle.compute(d1, p, 0, g1, g3) - angle.compute(d1, q, 0, g1, g3)) / (2 * h);
    REQUIRE(f3[c] == Approx(-de3).epsilon(tolerance).margin(1e-8));
  }
}

TEST_CASE("the counter-based random stream is uniform and keyed by (seed, id, step, component)", "[md][unit]") {
  // Mean 1/2 and variance 1/12 within 5 standard errors of 200,000 draws.
  const int n = 200000;
  double sum = 0, sum2 = 0;
  for (int k = 0; k < n; ++k) {
    const double u = uniform01(7, static_cast<std::uint64_t>(k / 3), 11, static_cast<unsigned>(k % 3));
    REQUIRE(u >= 0.0);
    REQUIRE(u < 1.0);
    sum += u;
    sum2 += u * u;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  REQUIRE(std::abs(mean - 0.5) < 5 * std::sqrt(1.0 / 12 / n));
  REQUIRE(std::abs(var - 1.0 / 12) < 5 * std::sqrt(1.0 / 180 / n));
  // Same key, same value; any part of the key changed, a different value.
  REQUIRE(uniform01(1, 2, 3, 0) == uniform01(1, 2, 3, 0));
  REQUIRE(uniform01(1, 2, 3, 0) != uniform01(2, 2, 3, 0));
  REQUIRE(uniform01(1, 2, 3, 0) != uniform01(1, 3, 3, 0));
  REQUIRE(uniform01(1, 2, 3, 0) != uniform01(1, 2, 4, 0));
  REQUIRE(uniform01(1, 2, 3, 0) != uniform01(1, 2, 3, 1));
}
