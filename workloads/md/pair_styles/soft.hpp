#pragma once

// pair.style = "soft": LAMMPS pair soft, a gentle repulsion that pushes overlapping atoms
// apart (e.g. to relax a generated melt). Its prefactor A is the pair's epsilon.

#include "../pair_style.hpp"

namespace gosok::md {

/// E(r) = A [1 + cos(pi r / cutoff)] for r < cutoff. No square-root-free form exists, so
/// it pays one sqrt per listed pair.
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

inline void register_pair_soft(PairStyles& styles, const std::string& name) {
  styles.add<SoftPair>(name, "md::force_soft", [](SoftPair& law, int i, int j, const PairCoeff& k, bool) {
    law.set(i, j, k.epsilon, k.cutoff);
  });
}

}  // namespace gosok::md
