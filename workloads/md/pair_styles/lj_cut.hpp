#pragma once

// pair.style = "lj/cut": Lennard-Jones 12-6 with a cutoff (LAMMPS pair lj/cut), term for
// term as LAMMPS computes it, so that a run matches LAMMPS to round-off.

#include <cmath>

#include "../pair_style.hpp"

namespace gosok::md {

/// Per pair of atom types:
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

inline void register_pair_lj_cut(PairStyles& styles, const std::string& name) {
  styles.add<LennardJones>(name, "md::force_lj", [](LennardJones& law, int i, int j, const PairCoeff& k, bool shift) {
    law.set(i, j, k.epsilon, k.sigma, k.cutoff, shift);
  });
}

}  // namespace gosok::md
