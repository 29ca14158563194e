// weather: the 2-D (x-z) compressible, non-hydrostatic atmosphere (see dynamics.hpp for the
// numerics, case.hpp for test cases). This file is the driver: input keys, set-up,
// time stepping through the shared run loop, output, diagnostics, checkpoint/restart.
#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/io/checkpoint.hpp>
#include <gosok/io/diagnostics_series.hpp>
#include <gosok/io/gridded_series.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/reduce.hpp>
#include <gosok/workload/workload.hpp>
#include "case_names.hpp"
#include "dynamics.hpp"

namespace gosok::weather {
namespace {

const CheckpointFormat checkpoint_format{"gosok weather checkpoint", "a weather checkpoint", 1};
constexpr const char* output_name = "weather.h5";
constexpr const char* diagnostics_name = "diagnostics.json";

/// Global diagnostics: reductions of the local totals over ranks.
struct Totals {
  double mass = 0, energy = 0, max_abs_w = 0, theta_min = 0, theta_max = 0, non_finite = 0, inflow_mass = 0;
};

// CF-1.8 metadata: standard names where CF has one (the departures from the background
// have none), so that cdo, xarray and other netCDF tools know what each field is.
std::vector<GriddedSeriesFile::Variable> output_variables() {
  return {
      {"dens", "kg m-3", "density departure from the hydrostatic background"},
      {"uwnd", "m s-1", "horizontal wind", {{"standard_name", "x_wind"}}},
      {"wwnd", "m s-1", "vertical wind", {{"standard_name", "upward_air_velocity"}}},
      {"theta", "K", "potential temperature departure from the hydrostatic background"},
      {"density", "kg m-3", "air density", {{"standard_name", "air_density"}}},
      {"potential_temperature", "K", "air potential temperature", {{"standard_name", "air_potential_temperature"}}}};
}

}  // namespace

class Weather final : public Workload {
 public:
  void setup(RunContext& ctx, bool restarting) override;
  void step(RunContext& ctx) override;
  bool finished(const RunContext& ctx) const override { return m_end_time - ctx.time <= 1e-6 * m_dt; }
  double progress(const RunContext& ctx) const override { return m_end_time > 0 ? ctx.time / m_end_time : 1.0; }
  void diagnostics(RunContext& ctx) override { record_diagnostics(ctx, "diagnostics"); }
  void output(RunContext& ctx) override;
  void write_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  void read_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  int finish(RunContext& ctx) override;

 private:
  Totals measure() const;
  Totals record_diagnostics(RunContext& ctx, const std::string& kind);
  void create_output(RunContext& ctx);
  void append_output(RunContext& ctx);
  void write_run_attributes(hid_t object, const RunContext& ctx) const;
  void write_case_attributes(hid_t object) const;

  CaseRegistry m_cases;
  std::string m_case;
  long m_nx = 0, m_nz = 0;
  double m_end_time = 0, m_dt = 0;
  long m_member = 0, m_seed = 0;
  double m_amplitude = 0;
  std::string m_start_date;
  double m_mass0 = 0, m_energy0 = 0;
  std::unique_ptr<CartDecomposition<2>> m_decomp;
  std::unique_ptr<Dynamics> m_dynamics;
  DiagnosticsSeries m_series;
  std::filesystem::path m_output_path;
};

void Weather::setup(RunContext& ctx, bool restarting) {
  const Input& in = ctx.input;
  m_case = in.get_string("case");
  m_nx = in.get_int("nx");
  m_nz = in.get_int("nz");
  m_end_time = in.get_real("end_time");
  m_member = in.get_int("member");
  m_seed = in.get_int("seed");
  m_amplitude = in.get_real("perturbation");
  m_start_date = in.get_string("start_date");
  m_cases = all_cases();
  const CaseInfo& info = m_cases.find(m_case);
  const bool split_z = in.get_string("decomposition") == "xz";

  try {
    m_decomp =
        std::make_unique<CartDecomposition<2>>(ctx.runtime.comm(), std::array<long, 2>{m_nx, m_nz},
                                               std::array<bool, 2>{true, false}, std::array<bool, 2>{true, split_z});
    if (m_decomp->extent(0) < halo || m_decomp->extent(1) < halo) {
      throw std::runtime_error(fmt::format("a rank's block of {} x {} cells is narrower than the halo of {}",
                                           m_decomp->extent(0), m_decomp->extent(1), halo));
    }
  } catch (const std::runtime_error& e) {
    throw InputError(
        fmt::format("weather: nx = {}, nz = {} on {} ranks: {}", m_nx, m_nz, ctx.runtime.size(), e.what()));
  }
  m_dynamics = std::make_unique<Dynamics>(*m_decomp, info, ctx.mpi_buffers);
  m_dt = m_dynamics->stable_dt();
  m_output_path = ctx.output_dir / output_name;
  m_series = DiagnosticsSeries(ctx.output_dir / diagnostics_name,
                               nlohmann::json{{"workload", "weather"},
                                              {"case", m_case},
                                              {"nx", m_nx},
                                              {"nz", m_nz},
                                              {"member", m_member},
                                              {"seed", m_seed},
                                              {"ranks", ctx.runtime.size()},
                                              {"segments", segments_json(ctx.segments)}},
                               ctx.runtime.rank() == 0);
  log().info(
      "weather: case {}, {} x {} cells (dx = {:.1f} m, dz = {:.1f} m) on {} ranks ({} x {}), dt = {:.4f} s, "
      "end time {} s",
      m_case, m_nx, m_nz, m_dynamics->grid().dx, m_dynamics->grid().dz, m_decomp->size(), m_decomp->dims(0),
      m_decomp->dims(1), m_dt, m_end_time);
  if (restarting) return;

  if (m_member > 0) {
    m_dynamics->perturb(
        EnsemblePerturbation{static_cast<std::uint64_t>(m_seed), static_cast<std::uint64_t>(m_member), m_amplitude});
    log().info("weather: ensemble member {} (seed {}), theta' perturbation of amplitude {} K", m_member, m_seed,
               m_amplitude);
  }
  const Totals t0 = measure();
  m_mass0 = t0.mass;
  m_energy0 = t0.energy;
  create_output(ctx);
  append_output(ctx);
  record_diagnostics(ctx, "initial");
}

void Weather::step(RunContext& ctx) {
  const double dt = std::min(m_dt, m_end_time - ctx.time);
  // miniWeather's alternation: x first on even steps, so a restart at any step continues
  // with the same order as an uninterrupted run.
  m_dynamics->step(dt, ctx.step % 2 == 0);
  ctx.time += dt;
}

Totals Weather::measure() const {
  const LocalTotals local = m_dynamics->local_totals();
  MPI_Comm comm = m_decomp->comm();
  std::vector<double> sums{local.mass, local.energy, local.non_finite, m_dynamics->inflow_mass()};
  global_sum_inplace(comm, sums);
  Totals t;
  t.mass = sums[0];
  t.energy = sums[1];
  t.non_finite = sums[2];
  t.inflow_mass = sums[3];
  t.max_abs_w = global_max(comm, local.max_abs_w);
  t.theta_min = global_min(comm, local.theta_min);
  t.theta_max = global_max(comm, local.theta_max);
  return t;
}

Totals Weather::record_diagnostics(RunContext& ctx, const std::string& kind) {
  const Totals t = measure();
  // Mass budget: what the domain holds now against what it held plus what flowed in.
  const double mass_change = (t.mass - m_mass0 - t.inflow_mass) / m_mass0;
  const double energy_change = (t.energy - m_energy0) / m_energy0;
  log().info(
      "weather: step {} t = {:.2f} s  dmass/mass = {:.3e}  denergy/energy = {:.3e}  max|w| = {:.4g} m/s  "
      "theta' in [{:.4g}, {:.4g}] K{}",
      ctx.step, ctx.time, mass_change, energy_change, t.max_abs_w, t.theta_min, t.theta_max,
      t.non_finite > 0 ? fmt::format("  ({} non-finite values)", t.non_finite) : std::string());
  m_series.append(nlohmann::json{{"kind", kind},
                                 {"step", ctx.step},
                                 {"time", ctx.time},
                                 {"mass", t.mass},
                                 {"mass_inflow", t.inflow_mass},
                                 {"mass_rel_change", mass_change},
                                 {"energy", t.energy},
                                 {"energy_rel_change", energy_change},
                                 {"max_abs_w", t.max_abs_w},
                                 {"theta_pert_min", t.theta_min},
                                 {"theta_pert_max", t.theta_max},
                                 {"non_finite", t.non_finite}});
  return t;
}

void Weather::write_run_attributes(hid_t object, const RunContext& ctx) const {
  write_provenance(object, "weather", ctx.segments, ctx.input.to_toml());
  write_case_attributes(object);
}

void Weather::write_case_attributes(hid_t object) const {
  write_attribute(object, "case", m_case);
  write_attribute(object, "nx", static_cast<std::int64_t>(m_nx));
  write_attribute(object, "nz", static_cast<std::int64_t>(m_nz));
  write_attribute(object, "dx", m_dynamics->grid().dx);
  write_attribute(object, "dz", m_dynamics->grid().dz);
  write_attribute(object, "member", static_cast<std::int64_t>(m_member));
  write_attribute(object, "seed", static_cast<std::int64_t>(m_seed));
}

void Weather::create_output(RunContext& ctx) {
  if (ctx.runtime.rank() == 0) std::filesystem::create_directories(ctx.output_dir);
  MPI_Barrier(m_decomp->comm());
  const Grid& g = m_dynamics->grid();
  GriddedSeriesFile::Axis x{"x", "m", "horizontal distance (cell centre)", std::vector<double>(m_nx), {{"axis", "X"}}};
  GriddedSeriesFile::Axis z{"z",
                            "m",
                            "height (cell centre)",
                            std::vector<double>(m_nz),
                            {{"axis", "Z"}, {"positive", "up"}, {"standard_name", "height"}}};
  for (long i = 0; i < m_nx; ++i) x.values[i] = (i + 0.5) * g.dx;
  for (long k = 0; k < m_nz; ++k) z.values[k] = (k + 0.5) * g.dz;
  GriddedSeriesFile::Axis t{"t",
                            "seconds since " + m_start_date,
                            "simulated time",
                            {},
                            {{"axis", "T"}, {"standard_name", "time"}, {"calendar", "standard"}}};
  auto file = GriddedSeriesFile::create(m_decomp->comm(), m_output_path, t, {z, x}, output_variables());
  write_run_attributes(file.file().id(), ctx);
  write_attribute(file.file().id(), "title", std::string("gosok weather: ") + m_case);
  write_attribute(file.file().id(), "Conventions", std::string("CF-1.8"));
  file.close();
}

void Weather::append_output(RunContext& ctx) {
  const OutputFields f = m_dynamics->output_fields();
  const Grid& g = m_dynamics->grid();
  auto file = GriddedSeriesFile::open(m_decomp->comm(), m_output_path, "t", output_variables(),
                                      {static_cast<hsize_t>(m_nz), static_cast<hsize_t>(m_nx)});
  file.append(
      ctx.time, {static_cast<hsize_t>(g.k_beg), static_cast<hsize_t>(g.i_beg)},
      {static_cast<hsize_t>(g.nz), static_cast<hsize_t>(g.nx)},
      {f.dens.data(), f.uwnd.data(), f.wwnd.data(), f.theta.data(), f.density.data(), f.potential_temperature.data()});
  file.close();
}

void Weather::output(RunContext& ctx) {
  append_output(ctx);
  record_diagnostics(ctx, "output");
}

void Weather::write_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  const Dynamics::HostState state = m_dynamics->owned_state();
  const Grid& g = m_dynamics->grid();
  const Totals t = measure();
  hsize_t records = 0;
  {
    auto out = GriddedSeriesFile::open(m_decomp->comm(), m_output_path, "t", output_variables(),
                                       {static_cast<hsize_t>(m_nz), static_cast<hsize_t>(m_nx)});
    records = out.records();
  }
  CheckpointWriter out(m_decomp->comm(), path, checkpoint_format, "weather", ctx.segments, ctx.input.to_toml());
  write_case_attributes(out.file().id());
  out.set("step", ctx.step);
  out.set("time", ctx.time);
  out.set("mass0", m_mass0);
  out.set("energy0", m_energy0);
  out.set("mass_inflow", t.inflow_mass);
  out.set("output_records", records);
  out.set("diagnostics_records", m_series.records().size());
  H5Id dset = out.file().write_block("state", {num_vars, static_cast<hsize_t>(m_nz), static_cast<hsize_t>(m_nx)},
                                     {0, static_cast<hsize_t>(g.k_beg), static_cast<hsize_t>(g.i_beg)},
                                     {num_vars, static_cast<hsize_t>(g.nz), static_cast<hsize_t>(g.nx)}, state.data());
  write_attribute(dset, "long_name",
                  std::string("prognostic state (rho', rho u, rho w, (rho theta)') by variable, z, x"));
  out.close();
}

void Weather::read_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  CheckpointReader in(m_decomp->comm(), path, checkpoint_format);
  const std::string saved_case = in.text("case");
  if (saved_case != m_case) {
    in.fail("the checkpoint is of case '" + saved_case + "' but the input says case = '" + m_case + "'");
  }
  const long nx = in.integer("nx"), nz = in.integer("nz");
  if (nx != m_nx || nz != m_nz) {
    in.fail(
        fmt::format("the checkpoint grid is nx = {}, nz = {} but the input says nx = {}, nz = {}", nx, nz, m_nx, m_nz));
  }
  in.dataset("state", {num_vars, static_cast<hsize_t>(m_nz), static_cast<hsize_t>(m_nx)});
  const Grid& g = m_dynamics->grid();
  Dynamics::HostState state("weather::restart_state", num_vars, g.nz, g.nx);
  in.file().read_block("state", {0, static_cast<hsize_t>(g.k_beg), static_cast<hsize_t>(g.i_beg)},
                       {num_vars, static_cast<hsize_t>(g.nz), static_cast<hsize_t>(g.nx)}, state.data());
  m_dynamics->set_owned_state(state);
  ctx.step = in.integer("step");
  ctx.time = in.real("time");
  m_mass0 = in.real("mass0");
  m_energy0 = in.real("energy0");
  // The global inflow so far lives on rank 0; the others continue from zero.
  const double inflow = in.real("mass_inflow");
  m_dynamics->set_inflow_mass(ctx.runtime.rank() == 0 ? inflow : 0.0);
  const auto records = static_cast<hsize_t>(in.integer("output_records"));
  const auto diagnostics_records = static_cast<std::size_t>(in.integer("diagnostics_records"));
  ctx.segments = continue_segments(in.segments(), ctx.step, ctx.runtime.size());
  in.close();

  // Continue the output series where the checkpoint left it, or start a new one.
  bool continued = false;
  if (std::filesystem::exists(m_output_path)) {
    try {
      auto out = GriddedSeriesFile::open(m_decomp->comm(), m_output_path, "t", output_variables(),
                                         {static_cast<hsize_t>(m_nz), static_cast<hsize_t>(m_nx)});
      if (out.records() >= records) {
        out.truncate(records);
        write_run_attributes(out.file().id(), ctx);  // the segments now include this one
        continued = true;
      }
    } catch (const InputError& e) {
      log().warn("weather: {} cannot be continued ({}); writing a new one", m_output_path.string(), e.what());
    }
  }
  if (!continued) create_output(ctx);
  m_series.set_header("segments", segments_json(ctx.segments));
  m_series.resume(diagnostics_records);
}

int Weather::finish(RunContext& ctx) {
  append_output(ctx);
  const Totals t = record_diagnostics(ctx, "final");
  if (t.non_finite > 0) {
    log().error("weather: the state holds {} non-finite values at t = {} s", t.non_finite, ctx.time);
    return 1;
  }
  return 0;
}

// The input (keys, defaults, checks) is declared in input.cpp, which the login node shares;
// its list of cases comes from the file names, so a case must be registered under its own.
void register_workload(WorkloadRegistry& registry) {
  if (all_cases().names() != case_names()) {
    throw std::logic_error("weather: every file cases/<name>.cpp must register its case as '<name>'");
  }
  registry.add("weather", [] { return std::make_unique<Weather>(); });
}

}  // namespace gosok::weather
