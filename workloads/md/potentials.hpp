#pragma once

// The force laws of the md workload: each is a plain struct of parameters with
// KOKKOS_INLINE_FUNCTION operators; the loops that apply them live in forces.hpp.
// Definitions follow LAMMPS (pair lj/cut, bond fene, angle harmonic) term for term, so
// that a run matches LAMMPS to round-off.

#include <Kokkos_Core.hpp>
#include <cmath>

#include <gosok/core/math.hpp>
#include "md_types.hpp"

namespace gosok::md {

/// Coefficients for any number of types, sized at run time: one entry per type (bonds,
/// angles, masses) or per ordered pair of types. Filled on the host with set(), copied to
/// the execution space with sync(); kernels read entries through operator().
template <class Coeff>
class TypeTable {
 public:
  using view_type = Kokkos::View<Coeff*, memory_space>;

  /// `types` entries, or types x types with `pairs`; every entry starts as `fill`.
  void resize(int types, bool pairs, const Coeff& fill = Coeff{}) {
    m_types = types;
    const int n = pairs ? types * types : types;
    m_device = view_type("md::type_table", static_cast<std::size_t>(n));
    m_host = Kokkos::create_mirror_view(m_device);
    for (int i = 0; i < n; ++i) m_host(i) = fill;
  }
  void set(int i, const Coeff& c) { m_host(i) = c; }
  void set(int i, int j, const Coeff& c) { m_host(i * m_types + j) = c; }
  const Coeff& get(int i) const { return m_host(i); }
  void sync() { Kokkos::deep_copy(m_device, m_host); }
  /// The device entries themselves, for lambdas (nvcc's extended lambdas cannot capture
  /// this class by value, a plain View they can).
  const view_type& view() const { return m_device; }

  KOKKOS_INLINE_FUNCTION const Coeff& operator()(int i) const { return m_device(i); }
  KOKKOS_INLINE_FUNCTION const Coeff& operator()(int i, int j) const { return m_device(i * m_types + j); }

 private:
  int m_types = 0;
  view_type m_device;
  typename view_type::HostMirror m_host;
};

/// Lennard-Jones 12-6 with a cutoff, per pair of atom types (LAMMPS pair lj/cut):
///   E(r) = 4 eps [(sigma/r)^12 - (sigma/r)^6] - offset  for r < cutoff,
/// where offset = E_unshifted(cutoff) when shifted (pair_modify shift yes), else 0.
struct LennardJones {
  /// The law for one pair of types: a few numbers, copied into registers by the loop.
  struct Coeff {
    double lj1 = 0, lj2 = 0, lj3 = 0, lj4 = 0, cutsq = 0, offset = 0;
    /// F(r) / r for r^2 = rsq (inside the cutoff).
    KOKKOS_INLINE_FUNCTION double force_over_r(double rsq) const {
      const double r2inv = 1.0 / rsq;
      const double r6inv = r2inv * r2inv * r2inv;
      return r6inv * (lj1 * r6inv - lj2) * r2inv;
    }
    KOKKOS_INLINE_FUNCTION double energy(double rsq) const {
      const double r2inv = 1.0 / rsq;
      const double r6inv = r2inv * r2inv * r2inv;
      return r6inv * (lj3 * r6inv - lj4) - offset;
    }
  };
  TypeTable<Coeff> c;
  int types = 1;

  void resize(int n) {
    types = n;
    c.resize(n, true);
  }
  KOKKOS_INLINE_FUNCTION const Coeff& pair(int ti, int tj) const { return c(ti, tj); }

  void set(int i, int j, double epsilon, double sigma, double cutoff, bool shift) {
    Coeff k;
    k.lj1 = 48.0 * epsilon * std::pow(sigma, 12.0);
    k.lj2 = 24.0 * epsilon * std::pow(sigma, 6.0);
    k.lj3 = 4.0 * epsilon * std::pow(sigma, 12.0);
    k.lj4 = 4.0 * epsilon * std::pow(sigma, 6.0);
    k.cutsq = cutoff * cutoff;
    if (shift && cutoff > 0) {
      const double ratio = sigma / cutoff;
      k.offset = 4.0 * epsilon * (std::pow(ratio, 12.0) - std::pow(ratio, 6.0));
    }
    c.set(i, j, k);
    c.set(j, i, k);
  }
};

/// LAMMPS pair soft: E(r) = A [1 + cos(pi r / cutoff)] for r < cutoff, a gentle repulsion
/// that pushes overlapping atoms apart (e.g. to relax a generated melt). No square-root-free
/// form exists, so it pays one sqrt per listed pair.
struct SoftPair {
  struct Coeff {
    double prefactor = 0, cut = 0, cutsq = 0;
    KOKKOS_INLINE_FUNCTION double force_over_r(double rsq) const {
      const double r = math::sqrt(rsq);
      return r > 0 ? prefactor * math::sin(M_PI * r / cut) * M_PI / cut / r : 0.0;
    }
    KOKKOS_INLINE_FUNCTION double energy(double rsq) const {
      return prefactor * (1.0 + math::cos(M_PI * math::sqrt(rsq) / cut));
    }
  };
  TypeTable<Coeff> c;
  int types = 1;

  void resize(int n) {
    types = n;
    c.resize(n, true);
  }
  KOKKOS_INLINE_FUNCTION const Coeff& pair(int ti, int tj) const { return c(ti, tj); }
  void set(int i, int j, double a, double cutoff) {
    c.set(i, j, Coeff{a, cutoff, cutoff * cutoff});
    c.set(j, i, Coeff{a, cutoff, cutoff * cutoff});
  }
};

/// FENE bond with the WCA repulsion (LAMMPS bond fene, Kremer & Grest 1990):
///   E(r) = -K R0^2 / 2 ln(1 - (r/R0)^2) + 4 eps [(sigma/r)^12 - (sigma/r)^6] + eps,
/// the LJ part only for r < 2^(1/6) sigma. Like LAMMPS, a bond stretched so far that
/// 1 - (r/R0)^2 < 0.1 is treated as if it were 0.1 (and counted, so the run can warn);
/// below -3 the run stops.
struct Fene {
  struct Coeff {
    double k = 0, r0 = 0, epsilon = 0, sigma = 0;
  };
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
  struct Coeff {
    double k = 0, theta0 = 0;
  };
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
    const double dtheta = acos(cs) - a.theta0;
    const double tk = a.k * dtheta;
    const double f = -2.0 * tk * s;
    const double a11 = f * cs / rsq1, a12 = -f / (r1 * r2), a22 = f * cs / rsq2;
    for (int d = 0; d < 3; ++d) {
      f1[d] = a11 * d1[d] + a12 * d2[d];
      f3[d] = a22 * d2[d] + a12 * d1[d];
    }
    return tk * dtheta;
  }

 private:
  // core/math.hpp has no acos yet; the same version switch it uses.
  KOKKOS_INLINE_FUNCTION static double acos(double x) {
#if KOKKOS_VERSION >= 40000
    return Kokkos::acos(x);
#else
    return Kokkos::Experimental::acos(x);
#endif
  }
};

}  // namespace gosok::md
