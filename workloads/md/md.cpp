// md's driver (see md.hpp). One step is LAMMPS' velocity Verlet: half kick and drift; then
// either a neighbour-list build or a refresh of ghost positions; forces (pair, bond,
// angle), ghost forces sent back to their owners; the Langevin forces; the second half
// kick.
#include "md.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/parallel/gather.hpp>
#include <gosok/parallel/reduce.hpp>

namespace gosok::md {

namespace impl {

/// The largest squared displacement of an owned atom since the last build.
struct MaxDisplacement {
  Vec3View x, xhold;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, double& most) const {
    const double dx = x(i, 0) - xhold(i, 0), dy = x(i, 1) - xhold(i, 1), dz = x(i, 2) - xhold(i, 2);
    const double rsq = dx * dx + dy * dy + dz * dz;
    if (rsq > most) most = rsq;
  }
};

}  // namespace impl

Parameters Parameters::read(const Input& in) {
  Parameters p;
  p.pair_style = in.get_string("pair.style");
  p.shift = in.get_bool("pair.shift");
  p.bond_style = in.get_string("bond.style");
  p.angle_style = in.get_string("angle.style");
  p.coeffs = CoeffInput::read(in);
  p.exclude = in.get_bool("special.exclude_bonded");
  p.skin = in.get_real("neighbor.skin");
  p.every = in.get_int("neighbor.every");
  p.delay = in.get_int("neighbor.delay");
  p.check = in.get_bool("neighbor.check");
  p.verlet.dt = in.get_real("dt");
  p.steps = in.get_int("steps");
  p.langevin = in.get_string("ensemble") == "langevin";
  p.thermostat = {in.get_real("langevin.temperature"), in.get_real("langevin.damp"),
                  static_cast<std::uint64_t>(in.get_int("langevin.seed"))};
  p.thermo_every = in.get_int("thermo.every");
  p.trajectory = in.get_string("output.trajectory");
  p.write_data = in.get_string("output.data_file");
  return p;
}

namespace {

System build_system(const Input& in, bool with_angles) {
  const std::string init = in.get_string("init");
  System s;
  if (init == "data") {
    const std::string file = in.get_string("data.file");
    if (file.empty()) throw InputError("init = \"data\" needs data.file (a LAMMPS data file)");
    s = read_lammps_data(file, in.get_string("data.atom_style"));
    log().info("md: read {} atoms, {} bonds, {} angles from {}", s.size(), s.bonds.size(), s.angles.size(), file);
    return s;
  }
  if (init == "lattice") {
    s = make_fcc_lattice(in.get_real("lattice.density"), static_cast<int>(in.get_int("lattice.nx")),
                         static_cast<int>(in.get_int("lattice.ny")), static_cast<int>(in.get_int("lattice.nz")),
                         in.get_real("mass"));
  } else {
    s = make_chain_melt(in.get_int("chains.count"), in.get_int("chains.length"), in.get_real("chains.density"),
                        in.get_real("mass"), with_angles);
  }
  assign_velocities(s, in.get_real("velocity.temperature"), static_cast<std::uint64_t>(in.get_int("velocity.seed")));
  return s;
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Setup

void MolecularDynamics::setup(RunContext& ctx, bool restarting) {
  m_par = Parameters::read(ctx.input);
  if (restarting) return;  // read_checkpoint builds the state
  const System s = build_system(ctx.input, m_par.angle_style != "none");
  std::vector<long> ids = s.id;
  std::sort(ids.begin(), ids.end());
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] != static_cast<long>(k) + 1) {
      throw InputError("md needs atom ids 1..N without gaps (LAMMPS' write_data writes them so)");
    }
  }
  configure(ctx, {s.box, s.atom_types, s.bond_types, s.angle_types, s.mass, topology_of(s), s.size()});
  distribute(s);
  rebuild();
  start(ctx, false);
  open_diagnostics(ctx, false);
}

void MolecularDynamics::configure(RunContext& ctx, const Shape& shape) {
  m_shape = shape;
  const int types = shape.atom_types;
  m_mass.resize(types, false);
  for (int t = 0; t < types; ++t) {
    const double m = shape.mass[static_cast<std::size_t>(t)];
    if (!(m > 0)) throw InputError(fmt::format("atom type {} has no mass", t + 1));
    m_mass.set(t, m);
  }
  m_mass.sync();
  const int bond_types = std::max(shape.bond_types, 1), angle_types = std::max(shape.angle_types, 1);
  const auto bonds = bond_table(m_par.coeffs, bond_types);
  m_fene.c.resize(bond_types, false);
  for (int t = 0; t < bond_types; ++t) m_fene.c.set(t, bonds[static_cast<std::size_t>(t)]);
  m_fene.c.sync();
  const auto angles = angle_table(m_par.coeffs, angle_types);
  m_angle.c.resize(angle_types, false);
  for (int t = 0; t < angle_types; ++t) m_angle.c.set(t, angles[static_cast<std::size_t>(t)]);
  m_angle.c.sync();
  if (shape.bond_types > 0 && m_par.bond_style == "none") {
    throw InputError("the system has bonds but bond.style = \"none\"; set bond.style = \"fene\"");
  }
  if (shape.angle_types > 0 && m_par.angle_style == "none" && shape.topo.max_angles > 0) {
    throw InputError("the system has angles but angle.style = \"none\"; set angle.style = \"harmonic\"");
  }
  if (m_par.angle_style != "none" && shape.topo.max_angles == 0) {
    log().warn("md: angle.style = \"{}\" but the system has no angles", m_par.angle_style);
  }

  const auto pairs = pair_table(m_par.coeffs, types);
  m_pair = all_pair_styles().create(m_par.pair_style);
  m_pair->set_coefficients(types, pairs, m_par.shift);
  m_cutmax = 0;
  for (const auto& c : pairs) m_cutmax = std::max(m_cutmax, c.cutoff);
  const Box3& box = shape.box;
  for (int d = 0; d < 3; ++d) m_image.length[d] = box.length(d);

  m_world = ctx.runtime.comm();
  const long big = 1L << 30;
  m_cart = std::make_unique<CartDecomposition<3>>(m_world, std::array<long, 3>{big, big, big},
                                                  std::array<bool, 3>{true, true, true});
  const double ghost = m_cutmax + m_par.skin;
  m_comm = std::make_unique<Comm>(*m_cart, box, ghost, ctx.mpi_buffers);
  m_list = std::make_unique<NeighborList>(box, m_comm->sub_box(), ghost, ghost);
  const long guess = shape.natoms / m_cart->size() + 64;
  m_p = ParticleArrays(guess * 2, shape.topo.width());
  m_scratch = ParticleArrays(guess * 2, shape.topo.width());
  log().info(
      "md: {} atoms, {} atom types, {} bond types, {} angle types; box {:.6g} x {:.6g} x {:.6g}; {} ranks as "
      "{} x {} x {}; pair cutoff {}, skin {}",
      shape.natoms, types, shape.bond_types, shape.angle_types, box.length(0), box.length(1), box.length(2),
      m_cart->size(), m_cart->dims(0), m_cart->dims(1), m_cart->dims(2), m_cutmax, m_par.skin);
}

void MolecularDynamics::distribute(const System& s) {
  const Topology& t = m_shape.topo;
  const std::vector<long> rows = encode_topology(s, t);
  const auto width = static_cast<std::size_t>(t.width());
  const Box3& box = m_shape.box;
  std::vector<long> mine;
  std::vector<std::array<double, 3>> xw(static_cast<std::size_t>(s.size()));
  std::vector<std::array<int, 3>> img(xw.size());
  for (std::size_t i = 0; i < xw.size(); ++i) {
    xw[i] = s.x[i];
    img[i] = s.image[i];
    for (int d = 0; d < 3; ++d) {
      // Data files may hold unwrapped positions; wrap them the way the run loop does.
      while (xw[i][d] < box.lo[d]) {
        xw[i][d] += box.length(d);
        --img[i][d];
      }
      while (xw[i][d] >= box.hi[d]) {
        xw[i][d] -= box.length(d);
        xw[i][d] = std::max(xw[i][d], box.lo[d]);
        ++img[i][d];
      }
    }
    if (m_comm->owns(xw[i])) mine.push_back(static_cast<long>(i));
  }
  const long n = static_cast<long>(mine.size());
  m_p.reserve(n);
  const auto h = m_p.host_arrays();
  for (long k = 0; k < n; ++k) {
    const auto i = static_cast<std::size_t>(mine[static_cast<std::size_t>(k)]);
    for (int d = 0; d < 3; ++d) {
      h.x(k, d) = xw[i][d];
      h.v(k, d) = s.v[i][d];
      h.image(k, d) = img[i][d];
    }
    h.type(k) = s.type[i];
    h.id(k) = s.id[i];
    for (std::size_t c = 0; c < width; ++c) h.extra(k, static_cast<int>(c)) = rows[i * width + c];
  }
  m_p.upload(h, n);
  const long total = global_sum(m_world, n);
  if (total != s.size()) {
    throw RunError(fmt::format("md: {} of {} atoms were placed on a rank", total, s.size()));
  }
}

void MolecularDynamics::start(RunContext& ctx, bool restarted) {
  compute_forces(true);
  // As LAMMPS' fix langevin does at setup, so that the first half kick is thermostatted.
  if (m_par.langevin && !restarted) m_par.thermostat.add_forces(m_p, m_mass, m_par.verlet.dt, ctx.step);
  const ThermoRow row =
      measure_thermo(m_world, m_p, m_mass, m_tally, m_shape.natoms, m_shape.box.volume(), ctx.step, ctx.time);
  m_first = row;
  m_thermo.open(ctx.output_dir / "thermo.dat", restarted);
  // Reduced LJ units: every value is a pure number in units of sigma, tau, epsilon and the
  // atom mass, which the units module's system says once. The particle data carry no unit
  // attributes: MDAnalysis refuses any unit it does not know (and knows no reduced ones).
  std::optional<H5mdWriter::Keep> keep;
  if (restarted) keep = H5mdWriter::Keep{m_frames, m_thermo.observations()};
  const Box3& box = m_shape.box;
  m_h5md = std::make_unique<H5mdWriter>(m_world, ctx.output_dir / m_par.trajectory, m_shape.natoms,
                                        std::array<double, 3>{box.length(0), box.length(1), box.length(2)},
                                        H5mdWriter::Units{"LJ", "", "", ""}, keep);
  m_h5md->write_provenance("md", ctx.segments, ctx.input.to_toml());
  if (m_h5md->created()) {
    m_frames = 0;
    m_thermo.new_trajectory();
    if (m_shape.topo.present()) {
      const System s = gather_system();
      std::vector<long> pairs;
      for (const auto& b : s.bonds) {
        pairs.push_back(b.a - 1);
        pairs.push_back(b.b - 1);
      }
      m_h5md->write_connectivity("bonds", pairs);
    }
  }
  log().info("md: {:>8} {:>14} {:>14} {:>14} {:>14} {:>14}", "Step", "Temp", "E_pair", "E_mol", "TotEng", "Press");
  if (!restarted) {
    m_thermo.record(row);
    write_frame(ctx);
  } else {
    m_thermo.resume(row);  // already in the files, or not due at this step
    m_last_frame = ctx.step;
  }
}

// ---------------------------------------------------------------------------------------
// Neighbour lists

void MolecularDynamics::rebuild() {
  {
    Kokkos::Profiling::pushRegion("md::migrate");
    m_comm->migrate(exec_space(), m_p);
    Kokkos::Profiling::popRegion();
  }
  // Migration hands an atom to an adjacent rank only; one that crossed a whole sub-box
  // since the last build would be lost.
  if (m_cart->size() > 1 && global_sum(m_world, m_p.n_owned) != m_shape.natoms) {
    throw RunError(
        "md: atoms moved farther than a sub-box between neighbour-list builds and were lost; rebuild more often "
        "(neighbor.check = true, or a smaller neighbor.every) or use fewer ranks");
  }
  m_p.permute(exec_space(), m_list->sort_order(exec_space(), m_p.x, m_p.n_owned), m_scratch);
  {
    Kokkos::Profiling::pushRegion("md::ghosts");
    m_comm->build_ghosts(exec_space(), m_p);
    Kokkos::Profiling::popRegion();
  }
  const Topology& t = m_shape.topo;
  if (t.present()) m_lists.build(m_world, t, m_p, m_shape.natoms);
  if (t.present() && m_par.exclude) {
    m_list->build(exec_space(), m_p.x, m_p.n_owned, m_p.n_total(), ExcludeBonded{m_p.extra, m_p.id});
  } else {
    m_list->build(exec_space(), m_p.x, m_p.n_owned, m_p.n_total());
  }
  if (static_cast<long>(m_xhold.extent(0)) < m_p.n_owned) m_xhold = Vec3View("md::xhold", m_p.capacity());
  const auto owned = std::make_pair(0L, m_p.n_owned);
  Kokkos::deep_copy(Kokkos::subview(m_xhold, owned, Kokkos::ALL), Kokkos::subview(m_p.x, owned, Kokkos::ALL));
  m_ago = 0;
  ++m_builds;
}

bool MolecularDynamics::rebuild_due() {
  ++m_ago;
  if (m_ago < m_par.delay || m_ago % m_par.every != 0) return false;
  if (!m_par.check) return true;
  double moved = 0;
  Kokkos::parallel_reduce("md::check_displacement", RangePolicy(0, m_p.n_owned), impl::MaxDisplacement{m_p.x, m_xhold},
                          Kokkos::Max<double>(moved));
  moved = global_max(m_world, moved);
  return moved > 0.25 * m_par.skin * m_par.skin;
}

// ---------------------------------------------------------------------------------------
// Forces and the step

void MolecularDynamics::compute_forces(bool energy) {
  Kokkos::deep_copy(Kokkos::subview(m_p.f, std::make_pair(0L, m_p.n_total()), Kokkos::ALL), 0.0);
  Tally t;
  m_pair->compute(m_p, *m_list, energy, t);
  const bool topo = m_shape.topo.present();
  const bool fene = topo && m_par.bond_style == "fene";
  if (fene) bond_forces(m_fene, m_image, m_p, m_lists.bonds(), m_lists.nbonds(), t);
  if (topo && m_par.angle_style == "harmonic") {
    angle_forces(m_angle, m_image, m_p, m_lists.angles(), m_lists.nangles(), t);
  }
  Kokkos::Profiling::pushRegion("md::reverse_comm");
  m_comm->reverse_forces(exec_space(), m_p);
  Kokkos::Profiling::popRegion();
  if (fene) {
    const int worst = static_cast<int>(global_max(m_world, static_cast<double>(t.stretched)));
    if (worst >= 2) throw RunError("md: a FENE bond stretched beyond 2 R0 (LAMMPS: 'Bad FENE bond'); the run blew up");
    if (worst == 1) log().warn("md: a FENE bond is close to its maximum length R0");
  }
  m_tally = t;
}

void MolecularDynamics::step(RunContext& ctx) {
  const long step = ctx.step + 1;
  m_par.verlet.initial_integrate(m_p, m_mass);
  if (rebuild_due()) {
    auto r = ctx.region("md::neighbor_build");
    rebuild();
  } else {
    auto r = ctx.region("md::ghost_update");
    m_comm->update_ghosts(exec_space(), m_p);
  }
  const bool energy = (m_par.thermo_every > 0 && step % m_par.thermo_every == 0) || step == m_par.steps;
  {
    auto r = ctx.region("md::forces");
    compute_forces(energy);
  }
  if (m_par.langevin) m_par.thermostat.add_forces(m_p, m_mass, m_par.verlet.dt, step);
  m_par.verlet.final_integrate(m_p, m_mass);
  ctx.time += m_par.verlet.dt;
  if (energy) {
    m_thermo.record(
        measure_thermo(m_world, m_p, m_mass, m_tally, m_shape.natoms, m_shape.box.volume(), step, ctx.time));
  }
}

// ---------------------------------------------------------------------------------------
// Output

void MolecularDynamics::record_thermo(const RunContext& ctx) {
  m_thermo.record(
      measure_thermo(m_world, m_p, m_mass, m_tally, m_shape.natoms, m_shape.box.volume(), ctx.step, ctx.time));
}

void MolecularDynamics::output(RunContext& ctx) {
  auto r = ctx.region("md::output");
  // Every frame gets its thermo row, so that frames and observables share their steps
  // (MDAnalysis pairs the observables with frames by index).
  thermo_between_steps(ctx);
  write_frame(ctx);
}

void MolecularDynamics::thermo_between_steps(const RunContext& ctx) {
  if (m_thermo.last_step() == ctx.step) return;
  const long n = m_p.n_owned;
  if (static_cast<long>(m_fsave.extent(0)) < n) m_fsave = Vec3View("md::saved_forces", m_p.capacity());
  const auto owned = std::make_pair(0L, n);
  Kokkos::deep_copy(Kokkos::subview(m_fsave, owned, Kokkos::ALL), Kokkos::subview(m_p.f, owned, Kokkos::ALL));
  compute_forces(true);
  record_thermo(ctx);
  Kokkos::deep_copy(Kokkos::subview(m_p.f, owned, Kokkos::ALL), Kokkos::subview(m_fsave, owned, Kokkos::ALL));
}

void MolecularDynamics::write_frame(const RunContext& ctx) {
  if (ctx.step == m_last_frame) return;
  m_last_frame = ctx.step;
  ++m_frames;
  const long n = m_p.n_owned;
  const auto h = m_p.download(n);
  std::vector<long> ids(static_cast<std::size_t>(n));
  std::vector<double> pos(static_cast<std::size_t>(3 * n)), vel(pos.size());
  std::vector<int> img(pos.size()), species(ids.size());
  for (long i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    ids[k] = h.id(i) - 1;
    species[k] = h.type(i) + 1;
    for (int c = 0; c < 3; ++c) {
      pos[3 * k + static_cast<std::size_t>(c)] = h.x(i, c);
      vel[3 * k + static_cast<std::size_t>(c)] = h.v(i, c);
      img[3 * k + static_cast<std::size_t>(c)] = h.image(i, c);
    }
  }
  m_h5md->write_frame(ctx.step, ctx.time, n, ids.data(), pos.data(), vel.data(), img.data(), species.data());
  m_thermo.flush(*m_h5md);
}

System MolecularDynamics::gather_system() const {
  const int width = particle_row_fixed + m_shape.topo.width();
  const long n = m_p.n_owned;
  const auto h = m_p.download(n);
  std::vector<double> rows(static_cast<std::size_t>(n * width));
  for (long i = 0; i < n; ++i) pack_particle(h, i, &rows[static_cast<std::size_t>(i * width)]);
  const std::vector<double> all = gather_to_root(m_world, rows);
  System s;
  s.box = m_shape.box;
  s.atom_types = m_shape.atom_types;
  s.bond_types = m_shape.bond_types;
  s.angle_types = m_shape.angle_types;
  s.mass = m_shape.mass;
  const std::size_t count = all.size() / static_cast<std::size_t>(width);
  ParticleArrays::HostArrays one = ParticleArrays(1, m_shape.topo.width()).host_arrays();
  std::vector<std::pair<long, std::size_t>> order;  // (atom id, row)
  for (std::size_t k = 0; k < count; ++k) {
    order.emplace_back(static_cast<long>(all[k * static_cast<std::size_t>(width) + 10]), k);
  }
  std::sort(order.begin(), order.end());
  std::vector<long> topology(static_cast<std::size_t>(m_shape.topo.width()));
  for (const auto& [atom, k] : order) {
    unpack_particle(one, 0, &all[k * static_cast<std::size_t>(width)]);
    s.id.push_back(atom);
    s.type.push_back(one.type(0));
    s.x.push_back({one.x(0, 0), one.x(0, 1), one.x(0, 2)});
    s.v.push_back({one.v(0, 0), one.v(0, 1), one.v(0, 2)});
    s.image.push_back({one.image(0, 0), one.image(0, 1), one.image(0, 2)});
    for (std::size_t c = 0; c < topology.size(); ++c) topology[c] = one.extra(0, static_cast<int>(c));
    decode_topology(m_shape.topo, atom, topology.data(), s);
  }
  return s;
}

void MolecularDynamics::open_diagnostics(const RunContext& ctx, bool restarted) {
  m_series = DiagnosticsSeries(ctx.output_dir / "diagnostics.json",
                               {{"workload", "md"},
                                {"ranks", ctx.runtime.size()},
                                {"segments", segments_json(ctx.segments)},
                                {"natoms", m_shape.natoms}},
                               ctx.runtime.rank() == 0);
  if (restarted) m_series.resume(1);
  if (m_series.records().empty()) m_series.append(m_first.to_json("initial"));
}

// ---------------------------------------------------------------------------------------
// Finish

int MolecularDynamics::finish(RunContext& ctx) {
  thermo_between_steps(ctx);
  write_frame(ctx);
  m_thermo.flush(*m_h5md);
  if (!m_par.write_data.empty()) {
    const System s = gather_system();
    if (ctx.runtime.rank() == 0) {
      const auto path = ctx.output_dir / m_par.write_data;
      write_lammps_data(s, path, fmt::format("gosok md, step {}", ctx.step));
      log().info("md: wrote the final state to {}", path.string());
    }
  }
  const long pairs = global_sum(m_world, m_list->pairs());
  log().info("md: {} neighbour list builds; {} pairs in the last list ({:.2f} per atom)", m_builds, pairs,
             static_cast<double>(pairs) / static_cast<double>(m_shape.natoms));
  const ThermoRow& last = m_thermo.last();
  // The run's summary beside its records: how far the total energy drifted from the first
  // row to the last, the steps and the neighbour-list builds.
  m_series.set_header("energy_rel_change", (last.etotal - m_first.etotal) / std::max(1e-300, std::abs(m_first.etotal)));
  m_series.set_header("steps", ctx.step);
  m_series.set_header("time", ctx.time);
  m_series.set_header("neighbor_builds", m_builds);
  m_series.append(last.to_json("final"));
  return std::isfinite(last.etotal) ? 0 : 1;
}

// The input (keys, defaults, checks) is declared in input.cpp, which the login node shares.
void register_workload(WorkloadRegistry& registry) {
  registry.add("md", [] { return std::make_unique<MolecularDynamics>(); });
}

}  // namespace gosok::md
