#pragma once

// Time integration: LAMMPS' velocity Verlet (fix nve) and its Langevin thermostat (fix
// langevin).
//
// Vocabulary: the *initial* half of a step kicks the velocities by half a step of force
// and drifts the positions a whole step; the *final* half kicks again with the new forces.
// The *Langevin force* is added to the new forces before the final half: a drag -m/damp v
// and a random kick whose variance sets the target temperature, drawn from a counter-based
// hash (random.hpp) so it does not depend on the rank count or a restart. Only owned atoms
// are integrated.

#include <cmath>
#include <cstdint>

#include <gosok/core/math.hpp>
#include "coefficients.hpp"
#include "md_types.hpp"
#include "random.hpp"

namespace gosok::md {

namespace impl {

using Masses = TypeTable<double>::view_type;

struct VerletInitial {
  Vec3View x, v, f;
  IndexView type;
  Masses mass;
  double dtf, dtv;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    const double dtfm = dtf / mass(type(i));
    for (int c = 0; c < 3; ++c) {
      v(i, c) += dtfm * f(i, c);
      x(i, c) += dtv * v(i, c);
    }
  }
};

struct VerletFinal {
  Vec3View v, f;
  IndexView type;
  Masses mass;
  double dtf;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    const double dtfm = dtf / mass(type(i));
    for (int c = 0; c < 3; ++c) v(i, c) += dtfm * f(i, c);
  }
};

/// F += -m/damp v + sqrt(24 kT m / (damp dt)) (u - 1/2), u uniform in [0, 1).
struct LangevinForce {
  Vec3View v, f;
  IndexView type;
  ParticleArrays::id_type id;
  Masses mass;
  double damp, scale;
  std::uint64_t seed, step;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    const double m = mass(type(i));
    const double gamma1 = -m / damp;
    const double gamma2 = math::sqrt(m) * scale;
    const auto tag = static_cast<std::uint64_t>(id(i));
    for (int c = 0; c < 3; ++c) {
      f(i, c) += gamma1 * v(i, c) + gamma2 * (uniform01(seed, tag, step, static_cast<unsigned>(c)) - 0.5);
    }
  }
};

}  // namespace impl

struct VelocityVerlet {
  double dt = 0.005;

  void initial_integrate(const ParticleArrays& p, const TypeTable<double>& mass) const {
    Kokkos::parallel_for("md::integrate_initial", RangePolicy(0, p.n_owned),
                         impl::VerletInitial{p.x, p.v, p.f, p.type, mass.view(), 0.5 * dt, dt});
  }
  void final_integrate(const ParticleArrays& p, const TypeTable<double>& mass) const {
    Kokkos::parallel_for("md::integrate_final", RangePolicy(0, p.n_owned),
                         impl::VerletFinal{p.v, p.f, p.type, mass.view(), 0.5 * dt});
  }
};

struct Langevin {
  double temperature = 1, damp = 1;
  std::uint64_t seed = 0;

  /// Adds the Langevin forces of step `step` to the owned atoms' forces.
  void add_forces(const ParticleArrays& p, const TypeTable<double>& mass, double dt, long step) const {
    const double scale = std::sqrt(24.0 * temperature / damp / dt);
    Kokkos::parallel_for(
        "md::langevin", RangePolicy(0, p.n_owned),
        impl::LangevinForce{p.v, p.f, p.type, p.id, mass.view(), damp, scale, seed, static_cast<std::uint64_t>(step)});
  }
};

}  // namespace gosok::md
