#pragma once

// The loops that apply the force laws of potentials.hpp: a pair loop over a half
// neighbour list (Newton's third law: each pair once, both particles updated), and loops
// over the bond and angle lists. Forces go through a ScatterView, which on the host Serial
// backend is a plain view (no atomics, no copies) and on threaded or GPU backends adds
// atomics or per-thread copies as Kokkos decides. Energy and virial are tallied only when
// asked (thermo steps), as LAMMPS does.

#include <Kokkos_Core.hpp>
#include <Kokkos_ScatterView.hpp>

#include "md_types.hpp"
#include "potentials.hpp"

namespace gosok::md {

using ForceScatter = Kokkos::Experimental::ScatterView<double* [3], Kokkos::LayoutRight, exec_space>;

/// This rank's share of the potential energies and of the virial sum_pairs r . f.
struct Tally {
  double pair = 0, bond = 0, angle = 0, virial = 0;
  int stretched = 0;  // worst FENE stretch seen (see Fene)
};

/// Pair forces over a half list. `Law` has `types` and `pair(ti, tj)`, which returns the
/// law for one pair of types with cutsq, force_over_r(rsq) and energy(rsq). With one atom
/// type the pair law is hoisted out of the neighbour loop into registers: the stores to
/// f(j) could otherwise alias its coefficients and force reloads every iteration.
template <class Law, bool Energy>
struct PairLoop {
  Law law;
  Vec3View x;
  IndexView type;
  NeighborList::neighbors_type list;
  IndexView counts;
  ForceScatter f;

  KOKKOS_INLINE_FUNCTION void operator()(const int i, double& energy, double& virial) const {
    if (law.types == 1) {
      const auto k = law.pair(0, 0);
      neighbors(i, energy, virial, [k](int, int) { return k; });
    } else {
      const Law& l = law;
      neighbors(i, energy, virial, [&l](int ti, int tj) { return l.pair(ti, tj); });
    }
  }

  template <class PairOf>
  KOKKOS_INLINE_FUNCTION void neighbors(const int i, double& energy, double& virial, const PairOf& pair_of) const {
    auto fa = f.access();
    const double xi = x(i, 0), yi = x(i, 1), zi = x(i, 2);
    const int ti = type(i);
    double fx = 0, fy = 0, fz = 0;
    const int n = counts(i);
    for (int m = 0; m < n; ++m) {
      const int j = list(i, m);
      const double dx = xi - x(j, 0), dy = yi - x(j, 1), dz = zi - x(j, 2);
      const double rsq = dx * dx + dy * dy + dz * dz;
      const auto k = pair_of(ti, type(j));
      // Branch-free: about a third of the list lies in the skin, at random, and a
      // mispredicted branch costs more than the arithmetic it skips.
      const bool inside = rsq < k.cutsq;
      const double fpair = k.force_over_r(rsq) * static_cast<double>(inside);
      fx += dx * fpair;
      fy += dy * fpair;
      fz += dz * fpair;
      fa(j, 0) -= dx * fpair;
      fa(j, 1) -= dy * fpair;
      fa(j, 2) -= dz * fpair;
      if (Energy && inside) {
        energy += k.energy(rsq);
        virial += rsq * fpair;
      }
    }
    fa(i, 0) += fx;
    fa(i, 1) += fy;
    fa(i, 2) += fz;
  }
};

template <class Law>
void pair_forces(const char* label, const Law& law, const ParticleArrays& p, const NeighborList& list, bool energy,
                 Tally& tally) {
  ForceScatter scatter(p.f);
  const auto policy = Kokkos::RangePolicy<exec_space, Kokkos::IndexType<int>>(0, static_cast<int>(p.n_owned));
  // Without energy the tallies compile away; the reduction of two zeros costs nothing.
  double e = 0, w = 0;
  if (energy) {
    Kokkos::parallel_reduce(label, policy,
                            PairLoop<Law, true>{law, p.x, p.type, list.neighbors(), list.counts(), scatter}, e, w);
  } else {
    Kokkos::parallel_reduce(label, policy,
                            PairLoop<Law, false>{law, p.x, p.type, list.neighbors(), list.counts(), scatter}, e, w);
  }
  tally.pair += e;
  tally.virial += w;
  auto f = p.f;
  Kokkos::Experimental::contribute(f, scatter);
}

/// Minimum-image separation in a periodic box (bond partners may be any image).
struct MinimumImage {
  double length[3];
  KOKKOS_INLINE_FUNCTION void operator()(double d[3]) const {
    for (int c = 0; c < 3; ++c) {
      if (d[c] > 0.5 * length[c]) {
        d[c] -= length[c];
      } else if (d[c] < -0.5 * length[c]) {
        d[c] += length[c];
      }
    }
  }
};

inline void bond_forces(const Fene& law, const MinimumImage& image, const ParticleArrays& p, const BondView& bonds,
                        long nbonds, Tally& tally) {
  ForceScatter scatter(p.f);
  auto x = p.x;
  double e = 0, w = 0;
  int worst = 0;
  Kokkos::parallel_reduce(
      "md::force_fene", RangePolicy(0, nbonds),
      KOKKOS_LAMBDA(const long b, double& energy, double& virial, int& stretch) {
        auto fa = scatter.access();
        const int i = bonds(b, 0), j = bonds(b, 1), t = bonds(b, 2);
        double d[3] = {x(i, 0) - x(j, 0), x(i, 1) - x(j, 1), x(i, 2) - x(j, 2)};
        image(d);
        const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
        double eb = 0;
        int s = 0;
        const double fbond = law.force_over_r(rsq, t, eb, s);
        for (int c = 0; c < 3; ++c) {
          fa(i, c) += d[c] * fbond;
          fa(j, c) -= d[c] * fbond;
        }
        energy += eb;
        virial += rsq * fbond;
        if (s > stretch) stretch = s;
      },
      e, w, Kokkos::Max<int>(worst));
  auto f = p.f;
  Kokkos::Experimental::contribute(f, scatter);
  tally.bond += e;
  tally.virial += w;
  tally.stretched = worst > tally.stretched ? worst : tally.stretched;
}

inline void angle_forces(const HarmonicAngle& law, const MinimumImage& image, const ParticleArrays& p,
                         const AngleView& angles, long nangles, Tally& tally) {
  ForceScatter scatter(p.f);
  auto x = p.x;
  double e = 0, w = 0;
  Kokkos::parallel_reduce(
      "md::force_angle_harmonic", RangePolicy(0, nangles),
      KOKKOS_LAMBDA(const long a, double& energy, double& virial) {
        auto fa = scatter.access();
        const int i1 = angles(a, 0), i2 = angles(a, 1), i3 = angles(a, 2), t = angles(a, 3);
        double d1[3], d2[3], f1[3], f3[3];
        for (int c = 0; c < 3; ++c) {
          d1[c] = x(i1, c) - x(i2, c);
          d2[c] = x(i3, c) - x(i2, c);
        }
        image(d1);
        image(d2);
        energy += law.compute(d1, d2, t, f1, f3);
        for (int c = 0; c < 3; ++c) {
          fa(i1, c) += f1[c];
          fa(i2, c) -= f1[c] + f3[c];
          fa(i3, c) += f3[c];
          virial += d1[c] * f1[c] + d2[c] * f3[c];
        }
      },
      e, w);
  auto f = p.f;
  Kokkos::Experimental::contribute(f, scatter);
  tally.angle += e;
  tally.virial += w;
}

}  // namespace gosok::md
