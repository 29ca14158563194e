#include "dynamics.hpp"

#include <algorithm>
#include <limits>

#include <gosok/core/math.hpp>
#include <gosok/parallel/loops.hpp>

namespace gosok::weather {
namespace {

using namespace constants;

/// Interface value and third-derivative estimate from four cell averages s0..s3 around an
/// interface (between s1 and s2): 4th-order reconstruction, and the d3 term that scales
/// the hyperviscosity.
struct Reconstruction {
  double value;
  double d3;
};
KOKKOS_INLINE_FUNCTION Reconstruction reconstruct(double s0, double s1, double s2, double s3) {
  return {(-s0 + 7.0 * (s1 + s2) - s3) * (1.0 / 12.0), (s3 - s0) + 3.0 * (s1 - s2)};
}

/// Fluxes through the x-interfaces (k, i), i = 0..nx: interface i lies between owned
/// cells i-1 and i. (Every functor here is written out per variable, without a loop over
/// variables, so that the compiler vectorises the loop over i around it.)
struct FluxX {
  StateView q;
  FluxView f;
  ColumnView dens_cell, rhot_cell;
  double hv_coef;

  KOKKOS_INLINE_FUNCTION Reconstruction along_x(int v, long kk, long i) const {
    return reconstruct(q(v, kk, i), q(v, kk, i + 1), q(v, kk, i + 2), q(v, kk, i + 3));
  }
  KOKKOS_INLINE_FUNCTION void operator()(const long k, const long i) const {
    const long kk = k + halo;
    const Reconstruction cr = along_x(dens, kk, i), cu = along_x(umom, kk, i), cw = along_x(wmom, kk, i),
                         ct = along_x(rhot, kk, i);
    const double r = cr.value + dens_cell(kk);
    const double inv_r = 1.0 / r;
    const double u = cu.value * inv_r;
    const double w = cw.value * inv_r;
    const double t = (ct.value + rhot_cell(kk)) * inv_r;
    const double p = pressure(r * t);
    f(dens, k, i) = r * u - hv_coef * cr.d3;
    f(umom, k, i) = r * u * u + p - hv_coef * cu.d3;
    f(wmom, k, i) = r * u * w - hv_coef * cw.d3;
    f(rhot, k, i) = r * u * t - hv_coef * ct.d3;
  }
};

/// Fluxes through the z-interfaces (k, i), k = 0..nz. At the ground and the model top the
/// wall allows no normal wind and no hyperviscous mass flux, so mass is conserved exactly.
struct FluxZ {
  StateView q;
  FluxView f;
  ColumnView dens_int, rhot_int, pressure_int;
  double hv_coef;
  long nz;
  bool bottom, top;

  KOKKOS_INLINE_FUNCTION Reconstruction along_z(int v, long k, long ii) const {
    return reconstruct(q(v, k, ii), q(v, k + 1, ii), q(v, k + 2, ii), q(v, k + 3, ii));
  }
  KOKKOS_INLINE_FUNCTION void operator()(const long k, const long i) const {
    const long ii = i + halo;
    const Reconstruction cr = along_z(dens, k, ii), cu = along_z(umom, k, ii), cw = along_z(wmom, k, ii),
                         ct = along_z(rhot, k, ii);
    const double r = cr.value + dens_int(k);
    const double inv_r = 1.0 / r;
    const double u = cu.value * inv_r;
    const double t = (ct.value + rhot_int(k)) * inv_r;
    const double p = pressure(r * t) - pressure_int(k);
    // k is the same along a row: this choice is uniform over the vectorised loop.
    const bool wall = (k == 0 && bottom) || (k == nz && top);
    const double w = wall ? 0.0 : cw.value * inv_r;
    const double d3_dens = wall ? 0.0 : cr.d3;
    f(dens, k, i) = r * w - hv_coef * d3_dens;
    f(umom, k, i) = r * w * u - hv_coef * cu.d3;
    f(wmom, k, i) = r * w * w + p - hv_coef * cw.d3;
    f(rhot, k, i) = r * w * t - hv_coef * ct.d3;
  }
};

/// out = init + dt * (flux divergence + sources) on the owned cells. Direction 1 (z) adds
/// gravity on w-momentum; a case's steady w-source is added in both directions. Whether
/// there is a source is a template parameter, not a run-time flag: a vectorised loop turns
/// `if (flag) x += source(k, i)` into a masked load from the (empty) source, which costs a
/// microcode assist per vector on some CPUs even when the mask is all false.
template <int Direction, bool Source>
struct Update {
  StateView init, forcing, out;
  FluxView f;
  CellView w_source;
  double dt, inv_d;

  KOKKOS_INLINE_FUNCTION double divergence(int v, long k, long i) const {
    return Direction == 0 ? -(f(v, k, i + 1) - f(v, k, i)) * inv_d : -(f(v, k + 1, i) - f(v, k, i)) * inv_d;
  }
  KOKKOS_INLINE_FUNCTION void operator()(const long k, const long i) const {
    const long kk = k + halo, ii = i + halo;
    const double t_dens = divergence(dens, k, i), t_umom = divergence(umom, k, i), t_rhot = divergence(rhot, k, i);
    double t_wmom = divergence(wmom, k, i);
    if (Direction == 1) t_wmom -= forcing(dens, kk, ii) * grav;
    if constexpr (Source) t_wmom += w_source(k, i);
    out(dens, kk, ii) = init(dens, kk, ii) + dt * t_dens;
    out(umom, kk, ii) = init(umom, kk, ii) + dt * t_umom;
    out(wmom, kk, ii) = init(wmom, kk, ii) + dt * t_wmom;
    out(rhot, kk, ii) = init(rhot, kk, ii) + dt * t_rhot;
  }
};

/// The inflow jet's ghost cells left of the global x = 0 edge, (k, i) over the rows with
/// their ghosts and the halo columns: inside the jet, u and theta are the jet's.
struct InflowGhosts {
  StateView q;
  ColumnView dens_cell, rhot_cell;
  Inflow jet;
  long k_beg;
  double dz;

  KOKKOS_INLINE_FUNCTION void operator()(const long k, const long i) const {
    const double z = (k_beg + k - halo + 0.5) * dz;
    if (math::fabs(z - jet.z_center) > jet.half_width) return;
    const double r = q(dens, k, i) + dens_cell(k);
    q(umom, k, i) = r * jet.u;
    q(rhot, k, i) = r * jet.theta - rhot_cell(k);
  }
};

/// The ghost rows at the bottom and top walls, (g, i): no flow through them (w = 0), the
/// other variables mirrored flat, u-momentum scaled with the background density so that u
/// is mirrored.
struct WallGhosts {
  StateView q;
  ColumnView dens_cell;
  long nz;
  bool bottom, top;

  KOKKOS_INLINE_FUNCTION void mirror(long k, long inner, long i) const {
    q(dens, k, i) = q(dens, inner, i);
    q(umom, k, i) = q(umom, inner, i) / dens_cell(inner) * dens_cell(k);
    q(wmom, k, i) = 0.0;
    q(rhot, k, i) = q(rhot, inner, i);
  }
  KOKKOS_INLINE_FUNCTION void operator()(const long g, const long i) const {
    if (bottom) mirror(g, halo, i);
    if (top) mirror(nz + halo + g, nz + halo - 1, i);
  }
};

/// The mass flux into the rank's part of the domain through the global x edges it owns,
/// summed over its rows k (kg per m of depth and second).
struct InflowBudget {
  FluxView f;
  long nx;
  bool low, high;

  KOKKOS_INLINE_FUNCTION void operator()(const long k, double& sum) const {
    if (low) sum += f(dens, k, 0);
    if (high) sum -= f(dens, k, nx);
  }
};

}  // namespace

Dynamics::Dynamics(const CartDecomposition<2>& decomp, const CaseInfo& info, const MpiBufferPolicy& mpi_buffers) {
  m_grid.nx_glob = decomp.global(0);
  m_grid.nz_glob = decomp.global(1);
  m_grid.nx = decomp.extent(0);
  m_grid.nz = decomp.extent(1);
  m_grid.i_beg = decomp.offset(0);
  m_grid.k_beg = decomp.offset(1);
  m_grid.dx = xlen / static_cast<double>(m_grid.nx_glob);
  m_grid.dz = zlen / static_cast<double>(m_grid.nz_glob);
  m_grid.low_x_edge = m_grid.i_beg == 0;
  m_grid.high_x_edge = m_grid.i_beg + m_grid.nx == m_grid.nx_glob;
  m_grid.bottom = decomp.at_low_wall(1);
  m_grid.top = decomp.at_high_wall(1);

  info.initialize(m_grid, m_case);
  const long nx = m_grid.nx, nz = m_grid.nz;
  m_tmp = StateView("weather::state_tmp", num_vars, nz + 2 * halo, nx + 2 * halo);
  m_flux_x = FluxView("weather::flux_x", num_vars, nz, nx + 1);
  m_flux_z = FluxView("weather::flux_z", num_vars, nz + 1, nx);
  m_halo = std::make_unique<GridHalo2D<memory_space>>(decomp, halo, num_vars, mpi_buffers);
  // On a CPU, flux and update kernels run on blocks of rows whose fluxes and state (about
  // 128 bytes per cell) stay in a 256 KiB share of the cache between the two kernels; on a
  // device one block covers the grid, so each kernel is one launch.
  constexpr bool host = Kokkos::SpaceAccessibility<exec_space, Kokkos::HostSpace>::accessible;
  m_block_rows = host ? std::max(4L, (256L << 10) / (128L * (nx + 2 * halo))) : nz + 1;
}

double Dynamics::stable_dt() const { return weather::stable_dt(m_grid.nx_glob, m_grid.nz_glob); }

void Dynamics::perturb(const EnsemblePerturbation& perturbation) {
  if (perturbation.amplitude == 0) return;
  auto q = m_case.state;
  auto dens_cell = m_case.dens_cell;
  const long nx_glob = m_grid.nx_glob, i_beg = m_grid.i_beg, k_beg = m_grid.k_beg;
  for_each_cell(
      "weather::ensemble_perturbation", exec_space(), 0, m_grid.nz, 0, m_grid.nx,
      KOKKOS_LAMBDA(const long k, const long i) {
        const auto cell = static_cast<std::uint64_t>((k_beg + k) * nx_glob + (i_beg + i));
        const long kk = k + halo, ii = i + halo;
        q(rhot, kk, ii) += (q(dens, kk, ii) + dens_cell(kk)) * perturbation.theta(cell);
      });
  exec_space().fence();
}

void Dynamics::step(double dt, bool x_first) {
  sweep(x_first ? 0 : 1, dt);
  sweep(x_first ? 1 : 0, dt);
}

void Dynamics::sweep(int direction, double dt) {
  const StateView q = m_case.state;
  stage(q, q, m_tmp, dt / 3, direction, false);
  stage(q, m_tmp, m_tmp, dt / 2, direction, false);
  stage(q, m_tmp, q, dt, direction, true);
}

void Dynamics::fill_ghosts(const StateView& q, int direction) {
  using Kokkos::ALL;
  const exec_space exec;
  m_halo->exchange_dimension(exec, direction, Kokkos::subview(q, 0, ALL, ALL), Kokkos::subview(q, 1, ALL, ALL),
                             Kokkos::subview(q, 2, ALL, ALL), Kokkos::subview(q, 3, ALL, ALL));
  const long nx = m_grid.nx, nz = m_grid.nz;
  if (direction == 0) {
    if (!m_case.inflow.active || !m_grid.low_x_edge) return;
    for_each_cell("weather::inflow_ghosts", exec, halo, nz + halo, 0, halo,
                  InflowGhosts{q, m_case.dens_cell, m_case.rhot_cell, m_case.inflow, m_grid.k_beg, m_grid.dz});
    return;
  }
  if (!m_grid.bottom && !m_grid.top) return;
  for_each_cell("weather::wall_ghosts", exec, 0, halo, 0, nx + 2 * halo,
                WallGhosts{q, m_case.dens_cell, nz, m_grid.bottom, m_grid.top});
}

void Dynamics::stage(const StateView& init, const StateView& forcing, const StateView& out, double dt, int direction,
                     bool last) {
  const exec_space exec;
  fill_ghosts(forcing, direction);
  const long nx = m_grid.nx, nz = m_grid.nz;
  const bool has_source = m_case.w_forcing.extent(0) > 0;
  if (direction == 0) {
    const double hv_coef = -hv_beta * m_grid.dx / (16 * dt);
    const FluxX flux{forcing, m_flux_x, m_case.dens_cell, m_case.rhot_cell, hv_coef};
    // A row's x-fluxes depend on that row only: blocks of rows are independent.
    auto sweep_rows = [&](const auto& update) {
      for (long k0 = 0; k0 < nz; k0 += m_block_rows) {
        const long k1 = std::min(k0 + m_block_rows, nz);
        for_each_cell("weather::flux_x", exec, k0, k1, 0, nx + 1, flux);
        for_each_cell("weather::update_x", exec, k0, k1, 0, nx, update);
      }
    };
    const double inv_dx = 1.0 / m_grid.dx;
    if (has_source) {
      sweep_rows(Update<0, true>{init, forcing, out, m_flux_x, m_case.w_forcing, dt, inv_dx});
    } else {
      sweep_rows(Update<0, false>{init, forcing, out, m_flux_x, m_case.w_forcing, dt, inv_dx});
    }
    // Mass through the global x = 0 seam: zero for a periodic flow (both sides compute the
    // same flux from the same values), the jet's inflow otherwise. The last stage's fluxes
    // are the ones the step applies.
    if (last && m_case.inflow.active && (m_grid.low_x_edge || m_grid.high_x_edge)) {
      double net = 0;
      Kokkos::parallel_reduce("weather::inflow_budget", Kokkos::RangePolicy<exec_space>(exec, 0, nz),
                              InflowBudget{m_flux_x, nx, m_grid.low_x_edge, m_grid.high_x_edge}, net);
      m_inflow_mass += dt * m_grid.dz * net;
    }
  } else {
    const double hv_coef = -hv_beta * m_grid.dz / (16 * dt);
    const FluxZ flux{forcing, m_flux_z, m_case.dens_int, m_case.rhot_int, m_case.pressure_int,
                     hv_coef, nz,       m_grid.bottom,   m_grid.top};
    // Interface k reads cells k-2 .. k+1, and `out` may be `forcing`: a cell is updated only
    // once every interface that reads it is computed, i.e. two rows behind the fluxes.
    auto sweep_rows = [&](const auto& update) {
      long flux_end = 0, update_end = 0;
      while (update_end < nz) {
        const long next_flux = std::min(flux_end + m_block_rows, nz + 1);
        for_each_cell("weather::flux_z", exec, flux_end, next_flux, 0, nx, flux);
        flux_end = next_flux;
        const long next_update = flux_end == nz + 1 ? nz : std::max(update_end, flux_end - 2);
        for_each_cell("weather::update_z", exec, update_end, next_update, 0, nx, update);
        update_end = next_update;
      }
    };
    const double inv_dz = 1.0 / m_grid.dz;
    if (has_source) {
      sweep_rows(Update<1, true>{init, forcing, out, m_flux_z, m_case.w_forcing, dt, inv_dz});
    } else {
      sweep_rows(Update<1, false>{init, forcing, out, m_flux_z, m_case.w_forcing, dt, inv_dz});
    }
  }
  exec.fence();
}

LocalTotals Dynamics::local_totals() const {
  auto q = m_case.state;
  auto dens_cell = m_case.dens_cell, rhot_cell = m_case.rhot_cell;
  const double area = m_grid.dx * m_grid.dz;
  LocalTotals t;
  t.theta_min = std::numeric_limits<double>::max();
  t.theta_max = std::numeric_limits<double>::lowest();
  using policy = Kokkos::MDRangePolicy<exec_space, Kokkos::Rank<2>, Kokkos::IndexType<long>>;
  Kokkos::parallel_reduce(
      "weather::totals", policy({halo, halo}, {m_grid.nz + halo, m_grid.nx + halo}),
      KOKKOS_LAMBDA(const long k, const long i, double& mass, double& energy, double& max_w, double& th_min,
                    double& th_max, double& bad) {
        const double r = q(dens, k, i) + dens_cell(k);
        const double u = q(umom, k, i) / r;
        const double w = q(wmom, k, i) / r;
        const double th = (q(rhot, k, i) + rhot_cell(k)) / r;
        const double p = pressure(r * th);
        const double temperature = th / math::pow(p0 / p, rd / cp);
        mass += r * area;
        energy += (r * (u * u + w * w) + r * cv * temperature) * area;
        max_w = math::fmax(max_w, math::fabs(w));
        const double th_pert = th - rhot_cell(k) / dens_cell(k);
        th_min = math::fmin(th_min, th_pert);
        th_max = math::fmax(th_max, th_pert);
        for (int v = 0; v < num_vars; ++v) {
          if (!math::isfinite(q(v, k, i))) bad += 1;
        }
      },
      t.mass, t.energy, Kokkos::Max<double>(t.max_abs_w), Kokkos::Min<double>(t.theta_min),
      Kokkos::Max<double>(t.theta_max), t.non_finite);
  return t;
}

OutputFields Dynamics::output_fields() {
  const long nx = m_grid.nx, nz = m_grid.nz;
  // One buffer for the six output variables, computed on the device, copied in one piece.
  constexpr int output_vars = 6;
  if (m_out.extent(0) == 0) {
    m_out = StateView(Kokkos::view_alloc(Kokkos::WithoutInitializing, "weather::output_fields"), output_vars, nz, nx);
    m_out_host = Kokkos::create_mirror_view(m_out);
  }
  auto out = m_out;
  auto q = m_case.state;
  auto dens_cell = m_case.dens_cell, rhot_cell = m_case.rhot_cell;
  for_each_cell(
      "weather::output_fields", exec_space(), 0, nz, 0, nx, KOKKOS_LAMBDA(const long k, const long i) {
        const long kk = k + halo, ii = i + halo;
        const double r = q(dens, kk, ii) + dens_cell(kk);
        out(0, k, i) = q(dens, kk, ii);
        out(1, k, i) = q(umom, kk, ii) / r;
        out(2, k, i) = q(wmom, kk, ii) / r;
        out(3, k, i) = (q(rhot, kk, ii) + rhot_cell(kk)) / r - rhot_cell(kk) / dens_cell(kk);
        out(4, k, i) = r;
        out(5, k, i) = (q(rhot, kk, ii) + rhot_cell(kk)) / r;
      });
  exec_space().fence();
  Kokkos::deep_copy(m_out_host, m_out);
  using Kokkos::ALL;
  return OutputFields{Kokkos::subview(m_out_host, 0, ALL, ALL), Kokkos::subview(m_out_host, 1, ALL, ALL),
                      Kokkos::subview(m_out_host, 2, ALL, ALL), Kokkos::subview(m_out_host, 3, ALL, ALL),
                      Kokkos::subview(m_out_host, 4, ALL, ALL), Kokkos::subview(m_out_host, 5, ALL, ALL)};
}

Dynamics::HostState Dynamics::owned_state() const {
  const long nx = m_grid.nx, nz = m_grid.nz;
  StateView owned("weather::owned_state", num_vars, nz, nx);
  auto q = m_case.state;
  for_each_cell(
      "weather::gather_owned", exec_space(), 0, nz, 0, nx, KOKKOS_LAMBDA(const long k, const long i) {
        for (int v = 0; v < num_vars; ++v) owned(v, k, i) = q(v, k + halo, i + halo);
      });
  exec_space().fence();
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), owned);
}

void Dynamics::set_owned_state(const HostState& host) {
  const long nx = m_grid.nx, nz = m_grid.nz;
  auto owned = Kokkos::create_mirror_view_and_copy(memory_space(), host);
  auto q = m_case.state;
  for_each_cell(
      "weather::scatter_owned", exec_space(), 0, nz, 0, nx, KOKKOS_LAMBDA(const long k, const long i) {
        for (int v = 0; v < num_vars; ++v) q(v, k + halo, i + halo) = owned(v, k, i);
      });
  exec_space().fence();
}

}  // namespace gosok::weather
