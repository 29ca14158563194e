// heat: the 2-D heat equation u_t = alpha (u_xx + u_yy) on a periodic square, the template a
// center copies to add a workload (docs/porting.md walks through it).
//
// The initial state u = 1 + sin(kx x) sin(ky y) has the analytic solution
//   u = 1 + exp(-alpha (kx^2 + ky^2) t) sin(kx x) sin(ky y),
// which finish() compares against. The scheme is second order in space (5-point
// Laplacian) and first order in time (forward Euler), stable for alpha dt / dx^2 <= 1/4.
#include <fmt/format.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/core/math.hpp>
#include <gosok/io/checkpoint.hpp>
#include <gosok/io/diagnostics_series.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/halo.hpp>
#include <gosok/parallel/reduce.hpp>
#include <gosok/workload/workload.hpp>

namespace gosok::heat {

namespace {
// Version 2: the checkpoint says how many diagnostics records existed.
const CheckpointFormat checkpoint_format{"gosok heat checkpoint", "a heat checkpoint", 2};
}  // namespace

// The one place this workload picks where it runs.
using exec_space = Kokkos::DefaultExecutionSpace;
using memory_space = exec_space::memory_space;
using Field = Kokkos::View<double**, Kokkos::LayoutRight, memory_space>;  // (j, i) with ghosts
using Range2D = Kokkos::MDRangePolicy<exec_space, Kokkos::Rank<2>>;

/// The physics: one explicit Euler update of the 5-point Laplacian.
struct HeatStencil {
  double coef;  // alpha dt / dx^2 (dx == dy)
  KOKKOS_INLINE_FUNCTION double operator()(const Field& u, long j, long i) const {
    return u(j, i) + coef * (u(j, i + 1) + u(j, i - 1) + u(j + 1, i) + u(j - 1, i) - 4.0 * u(j, i));
  }
};

/// The analytic solution, also the initial condition at t = 0.
struct Analytic {
  double kx, ky, alpha;
  KOKKOS_INLINE_FUNCTION double operator()(double x, double y, double t) const {
    return 1.0 + math::exp(-alpha * (kx * kx + ky * ky) * t) * math::sin(kx * x) * math::sin(ky * y);
  }
};

/// What measure() finds: the error against the analytic solution and the total "mass".
struct Errors {
  double max_abs;
  double rel_l2;
  double mass;
};

namespace impl {

/// Sums over the owned cells (j, i in [1, n]) of this rank, whose first cell is cell
/// (i0, j0) of the grid: the largest error, the squared error, the squared decaying part
/// of the solution (the error's natural scale) and u itself.
struct ErrorSums {
  Field u;
  Analytic exact;
  long i0, j0;
  double dx, t;
  KOKKOS_INLINE_FUNCTION void operator()(const long j, const long i, double& most, double& err2, double& ref2,
                                         double& mass) const {
    const double ref = exact((i0 + i - 1 + 0.5) * dx, (j0 + j - 1 + 0.5) * dx, t);
    const double diff = u(j, i) - ref;
    most = math::fmax(most, math::fabs(diff));
    err2 += diff * diff;
    ref2 += (ref - 1.0) * (ref - 1.0);
    mass += u(j, i);
  }
};

}  // namespace impl

class Heat final : public Workload {
 public:
  void setup(RunContext& ctx, bool restarting) override;
  void step(RunContext& ctx) override;
  bool finished(const RunContext& ctx) const override { return ctx.time >= m_end_time * (1 - 1e-14); }
  double progress(const RunContext& ctx) const override { return ctx.time / m_end_time; }
  void diagnostics(RunContext& ctx) override;
  void output(RunContext& ctx) override;
  void write_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  void read_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  int finish(RunContext& ctx) override;

 private:
  Errors measure(const RunContext& ctx) const;
  /// Appends a diagnostics record of kind `kind` ("diagnostics", "final") and returns it.
  Errors record(const RunContext& ctx, const std::string& kind);
  /// The grid and the field u, collectively, with `step`/`time`, into `file`.
  void write_field(RunContext& ctx, hid_t root, H5File& file);
  /// The owned cells of u, without the ghost frame.
  auto owned_cells() const {
    return Kokkos::subview(m_u, std::make_pair(1L, m_decomp->extent(1) + 1),
                           std::make_pair(1L, m_decomp->extent(0) + 1));
  }

  long m_nx = 0, m_ny = 0;
  double m_dx = 0, m_dt = 0, m_end_time = 0, m_alpha = 0;
  Analytic m_exact{};
  double m_mass0 = 0;
  std::unique_ptr<CartDecomposition<2>> m_decomp;
  std::unique_ptr<GridHalo2D<memory_space>> m_halo;
  Field m_u, m_next;
  DiagnosticsSeries m_series;
};

void Heat::setup(RunContext& ctx, bool restarting) {
  const Input& in = ctx.input;
  m_nx = in.get_int("nx");
  m_ny = in.get_int("ny");
  const double length = in.get_real("length");
  m_alpha = in.get_real("alpha");
  m_end_time = in.get_real("end_time");
  m_dx = length / static_cast<double>(m_nx);  // square cells: input.cpp checks ny = nx
  m_dt = in.get_real("cfl") * m_dx * m_dx / m_alpha;
  const double two_pi = 2.0 * M_PI / length;
  m_exact = Analytic{two_pi * static_cast<double>(in.get_int("mode_x")),
                     two_pi * static_cast<double>(in.get_int("mode_y")), m_alpha};

  m_decomp = std::make_unique<CartDecomposition<2>>(ctx.runtime.comm(), std::array<long, 2>{m_nx, m_ny},
                                                    std::array<bool, 2>{true, true});
  m_halo = std::make_unique<GridHalo2D<memory_space>>(*m_decomp, 1, 1, ctx.mpi_buffers);
  const long lx = m_decomp->extent(0), ly = m_decomp->extent(1);
  m_u = Field("heat::u", ly + 2, lx + 2);
  m_next = Field("heat::next", ly + 2, lx + 2);
  log().info("heat: {} x {} cells on {} ranks ({} x {}), dt = {:.3e}, end time {}", m_nx, m_ny, m_decomp->size(),
             m_decomp->dims(0), m_decomp->dims(1), m_dt, m_end_time);
  m_series = DiagnosticsSeries(ctx.output_dir / "diagnostics.json",
                               {{"workload", "heat"},
                                {"ranks", ctx.runtime.size()},
                                {"nx", m_nx},
                                {"ny", m_ny},
                                {"segments", segments_json(ctx.segments)}},
                               ctx.runtime.rank() == 0);
  if (restarting) return;

  const long i0 = m_decomp->offset(0), j0 = m_decomp->offset(1);
  const double dx = m_dx;
  const Analytic exact = m_exact;
  auto u = m_u;
  Kokkos::parallel_for(
      "heat::init", Range2D({1, 1}, {ly + 1, lx + 1}), KOKKOS_LAMBDA(const long j, const long i) {
        u(j, i) = exact((i0 + i - 1 + 0.5) * dx, (j0 + j - 1 + 0.5) * dx, 0.0);
      });
  m_mass0 = measure(ctx).mass;
}

void Heat::step(RunContext& ctx) {
  const double dt = std::min(m_dt, m_end_time - ctx.time);
  m_halo->exchange(exec_space(), m_u);
  const HeatStencil stencil{m_alpha * dt / (m_dx * m_dx)};
  auto u = m_u;
  auto next = m_next;
  Kokkos::parallel_for(
      "heat::update", Range2D({1, 1}, {static_cast<long>(u.extent(0)) - 1, static_cast<long>(u.extent(1)) - 1}),
      KOKKOS_LAMBDA(const long j, const long i) { next(j, i) = stencil(u, j, i); });
  std::swap(m_u, m_next);
  ctx.time += dt;
}

Errors Heat::measure(const RunContext& ctx) const {
  const long lx = m_decomp->extent(0), ly = m_decomp->extent(1);
  double max_abs = 0, err2 = 0, ref2 = 0, mass = 0;
  Kokkos::parallel_reduce("heat::errors", Range2D({1, 1}, {ly + 1, lx + 1}),
                          impl::ErrorSums{m_u, m_exact, m_decomp->offset(0), m_decomp->offset(1), m_dx, ctx.time},
                          Kokkos::Max<double>(max_abs), err2, ref2, mass);
  MPI_Comm comm = m_decomp->comm();
  return Errors{global_max(comm, max_abs), std::sqrt(global_sum(comm, err2) / global_sum(comm, ref2)),
                global_sum(comm, mass) * m_dx * m_dx};
}

Errors Heat::record(const RunContext& ctx, const std::string& kind) {
  const Errors e = measure(ctx);
  m_series.append({{"kind", kind},
                   {"step", ctx.step},
                   {"time", ctx.time},
                   {"max_abs_error", e.max_abs},
                   {"rel_l2_error", e.rel_l2},
                   {"mass", e.mass},
                   {"mass_rel_change", (e.mass - m_mass0) / m_mass0}});
  return e;
}

void Heat::diagnostics(RunContext& ctx) {
  const Errors e = record(ctx, "diagnostics");
  log().info("heat: step {} t = {:.5f}  max |u - exact| = {:.3e}  rel L2 = {:.3e}", ctx.step, ctx.time, e.max_abs,
             e.rel_l2);
}

void Heat::write_field(RunContext& ctx, hid_t root, H5File& file) {
  const long lx = m_decomp->extent(0), ly = m_decomp->extent(1);
  // Owned cells, contiguous on the host, for the collective write.
  Kokkos::View<double**, Kokkos::LayoutRight, memory_space> owned("heat::owned", ly, lx);
  Kokkos::deep_copy(owned, owned_cells());
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), owned);

  write_attribute(root, "step", static_cast<std::int64_t>(ctx.step));
  write_attribute(root, "time", ctx.time);
  write_attribute(root, "nx", static_cast<std::int64_t>(m_nx));
  write_attribute(root, "ny", static_cast<std::int64_t>(m_ny));
  H5Id dset = file.write_block("u", {static_cast<hsize_t>(m_ny), static_cast<hsize_t>(m_nx)},
                               {static_cast<hsize_t>(m_decomp->offset(1)), static_cast<hsize_t>(m_decomp->offset(0))},
                               {static_cast<hsize_t>(ly), static_cast<hsize_t>(lx)}, host.data());
  write_attribute(dset, "long_name", std::string("temperature-like field u(y, x)"));
  write_attribute(dset, "units", std::string("1"));
}

void Heat::output(RunContext& ctx) {
  if (ctx.runtime.rank() == 0) std::filesystem::create_directories(ctx.output_dir);
  H5File file = H5File::create(m_decomp->comm(), ctx.output_dir / fmt::format("heat_{:06d}.h5", ctx.step));
  write_provenance(file.id(), "heat", ctx.segments, ctx.input.to_toml());
  write_attribute(file.id(), "kind", std::string("gosok heat output"));
  write_field(ctx, file.id(), file);
  file.close();
}

void Heat::write_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  CheckpointWriter out(m_decomp->comm(), path, checkpoint_format, "heat", ctx.segments, ctx.input.to_toml());
  out.set("mass0", m_mass0);
  out.set("diagnostics_records", m_series.records().size());
  write_field(ctx, out.file().id(), out.file());
  out.close();
}

void Heat::read_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  CheckpointReader in(m_decomp->comm(), path, checkpoint_format);
  const long nx = in.integer("nx"), ny = in.integer("ny");
  if (nx != m_nx || ny != m_ny) {
    in.fail(fmt::format("checkpoint grid {} x {} does not match the input's nx = {}, ny = {}", nx, ny, m_nx, m_ny));
  }
  in.dataset("u", {static_cast<hsize_t>(m_ny), static_cast<hsize_t>(m_nx)});
  const long lx = m_decomp->extent(0), ly = m_decomp->extent(1);
  Kokkos::View<double**, Kokkos::LayoutRight, Kokkos::HostSpace> host("heat::restart", ly, lx);
  in.file().read_block("u", {static_cast<hsize_t>(m_decomp->offset(1)), static_cast<hsize_t>(m_decomp->offset(0))},
                       {static_cast<hsize_t>(ly), static_cast<hsize_t>(lx)}, host.data());
  auto owned = Kokkos::create_mirror_view_and_copy(memory_space(), host);
  Kokkos::deep_copy(owned_cells(), owned);
  ctx.step = in.integer("step");
  ctx.time = in.real("time");
  m_mass0 = in.real("mass0");
  const auto records = static_cast<std::size_t>(in.integer("diagnostics_records"));
  ctx.segments = continue_segments(in.segments(), ctx.step, ctx.runtime.size());
  m_series.set_header("segments", segments_json(ctx.segments));
  m_series.resume(records);
}

int Heat::finish(RunContext& ctx) {
  output(ctx);
  const Errors e = record(ctx, "final");
  log().info(
      "heat: t = {:.6f} after {} steps: max |u - exact| = {:.3e}, relative L2 error = {:.3e}, "
      "relative mass change = {:.3e}",
      ctx.time, ctx.step, e.max_abs, e.rel_l2, (e.mass - m_mass0) / m_mass0);
  return std::isfinite(e.rel_l2) ? 0 : 1;
}

// The input (keys, defaults, checks) is declared in input.cpp, which the login node shares.
void register_workload(WorkloadRegistry& registry) {
  registry.add("heat", [] { return std::make_unique<Heat>(); });
}

}  // namespace gosok::heat
