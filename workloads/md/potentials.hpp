#pragma once

// The bonded force laws of the md workload: each is a plain struct of parameters with
// KOKKOS_INLINE_FUNCTION operators; the loops that apply them live in forces.hpp, the
// pair laws in pair_styles/. Definitions follow LAMMPS (bond fene, angle harmonic) term
// for term, so that a run matches LAMMPS to round-off.

#include <Kokkos_Core.hpp>
#include <cmath>

#include <gosok/core/math.hpp>
#include "coefficients.hpp"
#include "md_types.hpp"

namespace gosok::md {

/// FENE bond with the WCA repulsion (LAMMPS bond fene, Kremer & Grest 1990):
///   E(r) = -K R0^2 / 2 ln(1 - (r/R0)^2) + 4 eps [(sigma/r)^12 - (sigma/r)^6] + eps,
/// the LJ part only for r < 2^(1/6) sigma. Like LAMMPS, a bond stretched so far that
/// 1 - (r/R0)^2 < 0.1 is treated as if it were 0.1 (and counted, so the run can warn);
/// below -3 the run stops.
struct Fene {
  using Coeff = BondCoeff;
  TypeTable<Coeff> c;

  /// F(r) / r; `energy` receives E(r); `stretch` is 0, 1 (overstretched), 2 (broken).
  KOKKOS_INLINE_FUNCTION double force_over_r(double rsq, int type, double& energy, int& stretch) const {
    const Coeff& b = c(type);
    constexpr double two_1_3 = 1.2599210498948732;  // 2^(1/3): WCA cutoff squared / sigma^2
    const double r0sq = b.r0 * b.r0;
    double rlogarg = 1.0 - rsq / r0sq;
    stretch = 0;
    if (rlogarg < 0.1) {
      stretch = rlogarg <= -3.0 ? 2 : 1;
      rlogarg = 0.1;
    }
    double fbond = -b.k / rlogarg;
    energy = -0.5 * b.k * r0sq * math::log(rlogarg);
    if (rsq < two_1_3 * b.sigma * b.sigma) {
      const double sr2 = b.sigma * b.sigma / rsq;
      const double sr6 = sr2 * sr2 * sr2;
      fbond += 48.0 * b.epsilon * sr6 * (sr6 - 0.5) / rsq;
      energy += 4.0 * b.epsilon * sr6 * (sr6 - 1.0) + b.epsilon;
    }
    return fbond;
  }
};

/// Harmonic angle (LAMMPS angle harmonic): E(theta) = K (theta - theta0)^2, theta0 in
/// radians here (degrees in the input, as in LAMMPS).
struct HarmonicAngle {
  using Coeff = AngleCoeff;
  TypeTable<Coeff> c;

  /// Forces on the end atoms f1, f3 (the vertex gets -(f1 + f3)) for bond vectors
  /// d1 = x1 - x2, d2 = x3 - x2; returns the energy.
  KOKKOS_INLINE_FUNCTION double compute(const double d1[3], const double d2[3], int type, double f1[3],
                                        double f3[3]) const {
    const Coeff& a = c(type);
    const double rsq1 = d1[0] * d1[0] + d1[1] * d1[1] + d1[2] * d1[2];
    const double rsq2 = d2[0] * d2[0] + d2[1] * d2[1] + d2[2] * d2[2];
    const double r1 = math::sqrt(rsq1), r2 = math::sqrt(rsq2);
    double cs = (d1[0] * d2[0] + d1[1] * d2[1] + d1[2] * d2[2]) / (r1 * r2);
    cs = cs > 1.0 ? 1.0 : (cs < -1.0 ? -1.0 : cs);
    double s = math::sqrt(1.0 - cs * cs);
    if (s < 0.001) s = 0.001;
    s = 1.0 / s;
    const double dtheta = math::acos(cs) - a.theta0;
    const double tk = a.k * dtheta;
    const double f = -2.0 * tk * s;
    const double a11 = f * cs / rsq1, a12 = -f / (r1 * r2), a22 = f * cs / rsq2;
    for (int d = 0; d < 3; ++d) {
      f1[d] = a11 * d1[d] + a12 * d2[d];
      f3[d] = a22 * d2[d] + a12 * d1[d];
    }
    return tk * dtheta;
  }
};

}  // namespace gosok::md
