#pragma once

// The dynamical core: the 2-D (x-z) dry compressible Euler equations for the departures
// (rho', rho u, rho w, (rho theta)') from a hydrostatic background, in the finite-volume
// form of miniWeather: 4th-order reconstruction of interface values from four cell
// averages, 4th-order hyperviscosity (beta = 0.05), a 3-stage Runge-Kutta step
//   q* = q + dt/3 L(q),  q** = q + dt/2 L(q*),  q_new = q + dt L(q**)
// per direction, and dimensional splitting whose order (x then z, or z then x) alternates
// every step. x is periodic; the ground and model top are solid walls.
//
// Vocabulary: a *sweep* is the three RK stages in one direction; a *stage* is one
// semi-discrete update out = init + dt L(forcing): fill the ghosts of `forcing`, compute
// the fluxes at every interface, then update the owned cells. The physics here never
// calls MPI: ghosts come from the framework's GridHalo2D, global sums from the caller.

#include <cstdint>
#include <memory>

#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/halo.hpp>
#include "case.hpp"
#include "ensemble.hpp"
#include "types.hpp"

namespace gosok::weather {

/// Local (this rank's) sums and extrema; the caller reduces them over ranks.
struct LocalTotals {
  double mass = 0;  // kg per m of depth (sum of rho dx dz)
  // J per m: rho |u|^2 + rho cv T, miniWeather's definition (its kinetic term has no 1/2), so that
  // the published bound on the thermal case's energy change applies unchanged.
  double energy = 0;
  double max_abs_w = 0;   // m/s
  double theta_min = 0;   // K, theta'
  double theta_max = 0;   // K, theta'
  double non_finite = 0;  // cells holding a NaN or an infinity
};

/// Host views of this rank's owned cells, (k, i), for output; valid until the next
/// Dynamics::output_fields() call, which reuses their memory.
struct OutputFields {
  using Host = Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace>;
  Host dens;                   // rho' (kg/m^3)
  Host uwnd;                   // u (m/s)
  Host wwnd;                   // w (m/s)
  Host theta;                  // theta' (K)
  Host density;                // rho = background + rho' (kg/m^3)
  Host potential_temperature;  // theta = background + theta' (K)
};

class Dynamics {
 public:
  using HostState = Kokkos::View<double***, Kokkos::LayoutRight, Kokkos::HostSpace>;

  /// Sets up the grid of this rank and the case's initial state. `decomp` must outlive
  /// this object (the halo exchange keeps its neighbours); `mpi_buffers` goes to the halo.
  Dynamics(const CartDecomposition<2>& decomp, const CaseInfo& info, const MpiBufferPolicy& mpi_buffers);

  const Grid& grid() const { return m_grid; }
  /// The stable step for the assumed maximum wave speed: min(dx, dz) / 450 m/s * 1.5.
  double stable_dt() const;

  /// Adds an ensemble member's theta' to the owned cells (at t = 0 only).
  void perturb(const EnsemblePerturbation& perturbation);
  /// One full time step of length dt; x is swept first when `x_first`.
  void step(double dt, bool x_first);

  LocalTotals local_totals() const;
  /// Mass that entered through the global x boundary on this rank since construction (or
  /// since set_inflow_mass), kg per m of depth; zero unless the case has an inflow.
  double inflow_mass() const { return m_inflow_mass; }
  void set_inflow_mass(double mass) { m_inflow_mass = mass; }

  /// The output variables of the owned cells, computed on the device into one buffer that
  /// crosses to the host in one copy.
  OutputFields output_fields();
  /// The owned cells of the prognostic state, (var, k, i), for checkpoints.
  HostState owned_state() const;
  void set_owned_state(const HostState& state);

 private:
  void sweep(int direction, double dt);
  // One Runge-Kutta stage in `direction` (0: x, 1: z); its kernels are the named functors
  // of dynamics.cpp, so that these stay private in a CUDA build too.
  void stage(const StateView& init, const StateView& forcing, const StateView& out, double dt, int direction,
             bool last);
  void fill_ghosts(const StateView& q, int direction);

  Grid m_grid;
  CaseFields m_case;
  StateView m_tmp;
  FluxView m_flux_x;
  FluxView m_flux_z;
  StateView m_out;                   // output variables (var, k, i) of the owned cells
  StateView::HostMirror m_out_host;  // its host twin (the same memory on a CPU build)
  std::unique_ptr<GridHalo2D<memory_space>> m_halo;
  double m_inflow_mass = 0;
  long m_block_rows = 1;  // rows per flux + update block (see the constructor)
};

}  // namespace gosok::weather
