// md: classical molecular dynamics in LJ reduced units — Lennard-Jones liquids and
// Kremer–Grest bead-spring polymers — with LAMMPS' definitions throughout, so that a run
// started from a LAMMPS data file reproduces LAMMPS' thermo output (docs/user-guide/md.md).
//
// One step is LAMMPS' velocity Verlet: half kick and drift; then either a neighbour-list
// rebuild (wrap and migrate atoms, sort them by bin, rebuild ghosts, bond lists and the
// half list) or a refresh of ghost positions; forces (pair, bond, angle), ghost forces sent
// back to their owners; the Langevin forces; the second half kick.
#include <fmt/format.h>

#include <Kokkos_Core.hpp>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <unordered_map>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/io/atomic_file.hpp>
#include <gosok/io/h5md.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/parallel/gather.hpp>
#include <gosok/parallel/reduce.hpp>
#include <gosok/workload/workload.hpp>
#include "forces.hpp"
#include "md_types.hpp"
#include "random.hpp"
#include "system.hpp"

namespace gosok::md {

/// Where the bond topology sits in Particles::extra, per atom:
///   [molecule, n12, 1-2 partner ids (max_special), nbond, (type, partner) x max_bonds,
///    nangle, (type, end1, end2) x max_angles]
/// A bond is stored with its first atom, an angle with its vertex (LAMMPS' newton_bond).
struct Topology {
  int max_special = 0, max_bonds = 0, max_angles = 0;
  bool present() const { return max_special > 0; }
  int special() const { return 1; }
  int bonds() const { return 2 + max_special; }
  int angles() const { return bonds() + 1 + 2 * max_bonds; }
  int width() const { return present() ? angles() + 1 + 3 * max_angles : 0; }
};

/// Leaves bonded (1-2) partners out of the pair list: LAMMPS' `special_bonds fene`.
struct ExcludeBonded {
  Kokkos::View<long**, Kokkos::LayoutRight, memory_space> extra;
  Kokkos::View<long*, memory_space> id;
  int offset;
  KOKKOS_INLINE_FUNCTION bool operator()(int i, int j) const {
    const long n = extra(i, offset);
    const long other = id(j);
    for (long s = 0; s < n; ++s) {
      if (extra(i, offset + 1 + s) == other) return true;
    }
    return false;
  }
};

struct ThermoRow {
  long step = 0;
  double time = 0, temp = 0, epair = 0, emol = 0, etotal = 0, press = 0, ke = 0;
};

namespace {

std::vector<double> to_vector(const ThermoRow& r) {
  return {static_cast<double>(r.step), r.time, r.temp, r.epair, r.emol, r.etotal, r.press, r.ke};
}

ThermoRow from_vector(const std::vector<double>& v) {
  return {static_cast<long>(v.at(0)), v.at(1), v.at(2), v.at(3), v.at(4), v.at(5), v.at(6), v.at(7)};
}

}  // namespace

class MolecularDynamics final : public Workload {
 public:
  void setup(RunContext& ctx, bool restarting) override;
  void step(RunContext& ctx) override;
  bool finished(const RunContext& ctx) const override { return ctx.step >= m_steps; }
  double progress(const RunContext& ctx) const override {
    return m_steps > 0 ? static_cast<double>(ctx.step) / static_cast<double>(m_steps) : 1.0;
  }
  void output(RunContext& ctx) override;
  void write_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  void read_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  int finish(RunContext& ctx) override;

  // Public only because CUDA's extended lambdas may not live in private member functions.
  void read_parameters(const Input& in);
  System build_system(const Input& in) const;
  void configure(RunContext& ctx, const Box3& box, int atom_types, const std::vector<double>& mass, int bond_types,
                 int angle_types, const Topology& topo, long natoms);
  void distribute(const System& s);
  void start(RunContext& ctx, bool restarted);
  void rebuild();
  void sort_owned();
  void build_topology_lists();
  bool decide_rebuild();
  void compute_forces(bool energy);
  void integrate_initial();
  void integrate_final();
  void langevin(long step);
  ThermoRow thermo(const RunContext& ctx);
  void print_thermo(const ThermoRow& row);
  void thermo_between_steps(const RunContext& ctx);
  void flush_observables();
  void write_frame(const RunContext& ctx);
  System gather_system() const;

 private:
  // Parameters.
  std::string m_pair_style, m_pair_coeffs, m_bond_coeffs, m_angle_coeffs;
  double m_eps = 1, m_sigma = 1, m_cut = 2.5;
  bool m_shift = false;
  std::string m_bond_style, m_angle_style;
  double m_skin = 0.3;
  long m_every = 1, m_delay = 0;
  bool m_check = true, m_exclude = true;
  double m_dt = 0.005;
  long m_steps = 0;
  bool m_langevin = false;
  double m_t_target = 1, m_damp = 1;
  std::uint64_t m_seed = 0;
  long m_thermo_every = 0;
  std::string m_trajectory, m_write_data;
  Fene m_fene;
  HarmonicAngle m_angle;

  // System.
  LennardJones m_lj;
  SoftPair m_soft;
  double m_cutmax = 0;
  Box3 m_box;
  long m_natoms = 0;
  int m_types = 1, m_bond_types = 0, m_angle_types = 0;
  std::vector<double> m_mass;
  TypeTable<double> m_mass_k;
  Fene::Coeff m_bond_default;
  HarmonicAngle::Coeff m_angle_default;
  Topology m_topo;
  MinimumImage m_image{};

  // Parallel state.
  MPI_Comm m_world = MPI_COMM_NULL;
  std::unique_ptr<CartDecomposition<3>> m_cart;
  std::unique_ptr<Comm> m_comm;
  std::unique_ptr<NeighborList> m_list;
  ParticleArrays m_p, m_scratch;
  Vec3View m_xhold, m_fsave;
  IndexView m_map;
  BondView m_bondlist;
  AngleView m_anglelist;
  long m_nbonds = 0, m_nangles = 0;
  long m_ago = 0;
  long m_builds = 0;
  Tally m_tally;

  // Output.
  std::unique_ptr<H5mdWriter> m_h5md;
  std::vector<ThermoRow> m_pending;  // thermo rows not yet in the H5MD file
  long m_last_frame = -1;
  long m_last_thermo = -1;
  long m_frames = 0;        // trajectory frames written
  long m_thermo_rows = 0;   // rows in thermo.dat
  long m_observations = 0;  // entries of each observable in the trajectory
  ThermoRow m_first, m_last;
  std::filesystem::path m_thermo_path;
};

// ---------------------------------------------------------------------------------------
// Input

void MolecularDynamics::read_parameters(const Input& in) {
  m_eps = in.get_real("pair.epsilon");
  m_sigma = in.get_real("pair.sigma");
  m_cut = in.get_real("pair.cutoff");
  m_shift = in.get_bool("pair.shift");
  m_pair_style = in.get_string("pair.style");
  m_pair_coeffs = in.get_string("pair.coeffs");
  m_bond_coeffs = in.get_string("bond.coeffs");
  m_angle_coeffs = in.get_string("angle.coeffs");
  m_bond_style = in.get_string("bond.style");
  m_angle_style = in.get_string("angle.style");
  m_bond_default = {in.get_real("bond.k"), in.get_real("bond.r0"), in.get_real("bond.epsilon"),
                    in.get_real("bond.sigma")};
  m_angle_default = {in.get_real("angle.k"), in.get_real("angle.theta0") * M_PI / 180.0};
  m_exclude = in.get_bool("special.exclude_bonded");
  m_skin = in.get_real("neighbor.skin");
  m_every = in.get_int("neighbor.every");
  m_delay = in.get_int("neighbor.delay");
  m_check = in.get_bool("neighbor.check");
  m_dt = in.get_real("dt");
  m_steps = in.get_int("steps");
  m_langevin = in.get_string("ensemble") == "langevin";
  m_t_target = in.get_real("langevin.temperature");
  m_damp = in.get_real("langevin.damp");
  m_seed = static_cast<std::uint64_t>(in.get_int("langevin.seed"));
  m_thermo_every = in.get_int("thermo.every");
  m_trajectory = in.get_string("output.trajectory");
  m_write_data = in.get_string("output.data_file");
}

System MolecularDynamics::build_system(const Input& in) const {
  const std::string init = in.get_string("init");
  System s;
  if (init == "data") {
    const std::string file = in.get_string("data.file");
    if (file.empty()) throw InputError("init = \"data\" needs data.file (a LAMMPS data file)");
    s = read_lammps_data(file, in.get_string("data.atom_style"));
    log().info("md: read {} atoms, {} bonds, {} angles from {}", s.size(), s.bonds.size(), s.angles.size(), file);
  } else if (init == "lattice") {
    s = make_fcc_lattice(in.get_real("lattice.density"), static_cast<int>(in.get_int("lattice.nx")),
                         static_cast<int>(in.get_int("lattice.ny")), static_cast<int>(in.get_int("lattice.nz")),
                         in.get_real("mass"));
  } else {
    s = make_chain_melt(in.get_int("chains.count"), in.get_int("chains.length"), in.get_real("chains.density"),
                        in.get_real("mass"), m_angle_style != "none");
  }
  if (init != "data") {
    assign_velocities(s, in.get_real("velocity.temperature"), static_cast<std::uint64_t>(in.get_int("velocity.seed")));
  }
  return s;
}

namespace {

Topology topology_of(const System& s) {
  Topology t;
  if (!s.molecular()) return t;
  std::map<long, int> special, bonds, angles;
  for (const auto& b : s.bonds) {
    ++special[b.a];
    ++special[b.b];
    ++bonds[b.a];
  }
  for (const auto& a : s.angles) ++angles[a.b];
  t.max_special = 1;  // a molecular system always carries the molecule id and counts
  for (const auto& [id, n] : special) t.max_special = std::max(t.max_special, n);
  for (const auto& [id, n] : bonds) t.max_bonds = std::max(t.max_bonds, n);
  for (const auto& [id, n] : angles) t.max_angles = std::max(t.max_angles, n);
  return t;
}

/// Parses "type v1 v2 ...; type v1 v2 ..." (LAMMPS *_coeff lines) into per-type values.
std::map<int, std::vector<double>> per_type_coeffs(const std::string& key, const std::string& text, int types,
                                                   std::size_t values) {
  std::map<int, std::vector<double>> out;
  std::istringstream entries(text);
  std::string entry;
  while (std::getline(entries, entry, ';')) {
    if (entry.find_first_not_of(" \t") == std::string::npos) continue;
    std::istringstream e(entry);
    int t = 0;
    std::vector<double> v(values);
    bool ok = static_cast<bool>(e >> t);
    for (auto& x : v) ok = ok && static_cast<bool>(e >> x);
    std::string rest;
    if (!ok || (e >> rest)) {
      throw InputError(fmt::format("{}: '{}' is not 'type' and {} numbers", key, entry, values));
    }
    if (t < 1 || t > types) throw InputError(fmt::format("{}: type {} is outside 1..{}", key, t, types));
    out[t - 1] = v;
  }
  return out;
}

}  // namespace

void MolecularDynamics::configure(RunContext& ctx, const Box3& box, int atom_types, const std::vector<double>& mass,
                                  int bond_types, int angle_types, const Topology& topo, long natoms) {
  m_box = box;
  m_types = atom_types;
  m_mass = mass;
  m_bond_types = bond_types;
  m_angle_types = angle_types;
  m_topo = topo;
  m_natoms = natoms;
  // Any number of atom, bond and angle types: the tables are sized here.
  m_mass_k.resize(atom_types, false);
  for (int t = 0; t < atom_types; ++t) {
    if (!(mass[static_cast<std::size_t>(t)] > 0)) throw InputError(fmt::format("atom type {} has no mass", t + 1));
    m_mass_k.set(t, mass[static_cast<std::size_t>(t)]);
  }
  m_mass_k.sync();
  m_fene.c.resize(std::max(bond_types, 1), false, m_bond_default);
  for (const auto& [t, v] : per_type_coeffs("bond.coeffs", m_bond_coeffs, std::max(bond_types, 1), 4)) {
    m_fene.c.set(t, {v[0], v[1], v[2], v[3]});
  }
  m_fene.c.sync();
  m_angle.c.resize(std::max(angle_types, 1), false, m_angle_default);
  for (const auto& [t, v] : per_type_coeffs("angle.coeffs", m_angle_coeffs, std::max(angle_types, 1), 2)) {
    m_angle.c.set(t, {v[0], v[1] * M_PI / 180.0});
  }
  m_angle.c.sync();
  if (bond_types > 0 && m_bond_style == "none") {
    throw InputError("the system has bonds but bond.style = \"none\"; set bond.style = \"fene\"");
  }
  if (angle_types > 0 && m_angle_style == "none" && m_topo.max_angles > 0) {
    throw InputError("the system has angles but angle.style = \"none\"; set angle.style = \"harmonic\"");
  }
  if (m_angle_style != "none" && m_topo.max_angles == 0) {
    log().warn("md: angle.style = \"{}\" but the system has no angles", m_angle_style);
  }

  // Pair coefficients: defaults for every type, then "i j epsilon sigma [cutoff]" entries
  // of pair.coeffs; unset i != j pairs mix geometrically (LAMMPS' default).
  std::vector<double> eps(static_cast<std::size_t>(atom_types), m_eps), sig(eps.size(), m_sigma),
      cut(eps.size(), m_cut);
  std::map<std::pair<int, int>, std::array<double, 3>> explicit_pairs;
  std::istringstream entries(m_pair_coeffs);
  std::string entry;
  while (std::getline(entries, entry, ';')) {
    std::istringstream e(entry);
    int i = 0, j = 0;
    double ep = 0, sg = 0, ct = m_cut;
    if (entry.find_first_not_of(" \t") == std::string::npos) continue;
    if (!(e >> i >> j >> ep >> sg)) {
      throw InputError("pair.coeffs: '" + entry + "' is not 'i j epsilon sigma [cutoff]'");
    }
    e >> ct;
    if (i < 1 || j < 1 || i > atom_types || j > atom_types) {
      throw InputError(fmt::format("pair.coeffs: types {} {} are outside 1..{}", i, j, atom_types));
    }
    if (i > j) std::swap(i, j);
    explicit_pairs[{i - 1, j - 1}] = {ep, sg, ct};
    if (i == j) {
      eps[static_cast<std::size_t>(i - 1)] = ep;
      sig[static_cast<std::size_t>(i - 1)] = sg;
      cut[static_cast<std::size_t>(i - 1)] = ct;
    }
  }
  m_lj.resize(atom_types);
  m_soft.resize(atom_types);
  m_cutmax = 0;
  for (int i = 0; i < atom_types; ++i) {
    for (int j = i; j < atom_types; ++j) {
      const auto ui = static_cast<std::size_t>(i), uj = static_cast<std::size_t>(j);
      std::array<double, 3> c{std::sqrt(eps[ui] * eps[uj]), std::sqrt(sig[ui] * sig[uj]), std::sqrt(cut[ui] * cut[uj])};
      auto it = explicit_pairs.find({i, j});
      if (it != explicit_pairs.end()) c = it->second;
      m_lj.set(i, j, c[0], c[1], c[2], m_shift);
      m_soft.set(i, j, c[0], c[2]);
      m_cutmax = std::max(m_cutmax, c[2]);
    }
  }
  m_lj.c.sync();
  m_soft.c.sync();
  for (int d = 0; d < 3; ++d) m_image.length[d] = box.length(d);

  m_world = ctx.runtime.comm();
  const long big = 1L << 30;
  m_cart = std::make_unique<CartDecomposition<3>>(m_world, std::array<long, 3>{big, big, big},
                                                  std::array<bool, 3>{true, true, true});
  const double ghost = m_cutmax + m_skin;
  m_comm = std::make_unique<Comm>(*m_cart, box, ghost, ctx.mpi_buffers);
  m_list = std::make_unique<NeighborList>(box, m_comm->sub_box(), ghost, ghost);
  const long guess = natoms / m_cart->size() + 64;
  m_p = ParticleArrays(guess * 2, topo.width());
  m_scratch = ParticleArrays(guess * 2, topo.width());
  m_thermo_path = ctx.output_dir / "thermo.dat";
  log().info(
      "md: {} atoms, {} atom types, {} bond types, {} angle types; box {:.6g} x {:.6g} x {:.6g}; {} ranks as "
      "{} x {} x {}; pair cutoff {}, skin {}",
      natoms, atom_types, bond_types, angle_types, box.length(0), box.length(1), box.length(2), m_cart->size(),
      m_cart->dims(0), m_cart->dims(1), m_cart->dims(2), m_cutmax, m_skin);
}

void MolecularDynamics::distribute(const System& s) {
  // Per-atom topology rows, by atom id.
  std::map<long, std::vector<long>> rows;
  const Topology& t = m_topo;
  if (t.present()) {
    for (long k = 0; k < s.size(); ++k) {
      std::vector<long> row(static_cast<std::size_t>(t.width()), 0);
      row[0] = s.molecule[static_cast<std::size_t>(k)];
      rows.emplace(s.id[static_cast<std::size_t>(k)], std::move(row));
    }
    auto add_special = [&](long a, long b) {
      auto& r = rows.at(a);
      r[static_cast<std::size_t>(t.special() + 1 + r[static_cast<std::size_t>(t.special())])] = b;
      ++r[static_cast<std::size_t>(t.special())];
    };
    for (const auto& b : s.bonds) {
      add_special(b.a, b.b);
      add_special(b.b, b.a);
      auto& r = rows.at(b.a);
      const auto n = static_cast<std::size_t>(r[static_cast<std::size_t>(t.bonds())]);
      r[static_cast<std::size_t>(t.bonds()) + 1 + 2 * n] = b.type;
      r[static_cast<std::size_t>(t.bonds()) + 2 + 2 * n] = b.b;
      ++r[static_cast<std::size_t>(t.bonds())];
    }
    for (const auto& a : s.angles) {
      auto& r = rows.at(a.b);
      const auto n = static_cast<std::size_t>(r[static_cast<std::size_t>(t.angles())]);
      r[static_cast<std::size_t>(t.angles()) + 1 + 3 * n] = a.type;
      r[static_cast<std::size_t>(t.angles()) + 2 + 3 * n] = a.a;
      r[static_cast<std::size_t>(t.angles()) + 3 + 3 * n] = a.c;
      ++r[static_cast<std::size_t>(t.angles())];
    }
  }
  std::vector<long> mine;
  std::vector<std::array<double, 3>> xw(static_cast<std::size_t>(s.size()));
  std::vector<std::array<int, 3>> img(xw.size());
  for (long k = 0; k < s.size(); ++k) {
    const auto i = static_cast<std::size_t>(k);
    xw[i] = s.x[i];
    img[i] = s.image[i];
    for (int d = 0; d < 3; ++d) {
      // Data files may hold unwrapped positions; wrap them the way the run loop does.
      while (xw[i][d] < m_box.lo[d]) {
        xw[i][d] += m_box.length(d);
        --img[i][d];
      }
      while (xw[i][d] >= m_box.hi[d]) {
        xw[i][d] -= m_box.length(d);
        xw[i][d] = std::max(xw[i][d], m_box.lo[d]);
        ++img[i][d];
      }
    }
    if (m_comm->owns(xw[i])) mine.push_back(k);
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
    if (t.present()) {
      const auto& r = rows.at(s.id[i]);
      for (int c = 0; c < t.width(); ++c) h.extra(k, c) = r[static_cast<std::size_t>(c)];
    }
  }
  m_p.upload(h, n);
  const long total = global_sum(m_world, n);
  if (total != s.size()) {
    throw RunError(fmt::format("md: {} of {} atoms were placed on a rank", total, s.size()));
  }
}

// ---------------------------------------------------------------------------------------
// Setup and restart

void MolecularDynamics::setup(RunContext& ctx, bool restarting) {
  read_parameters(ctx.input);
  if (restarting) return;  // read_checkpoint builds the state
  const System s = build_system(ctx.input);
  std::vector<long> ids = s.id;
  std::sort(ids.begin(), ids.end());
  for (std::size_t k = 0; k < ids.size(); ++k) {
    if (ids[k] != static_cast<long>(k) + 1) {
      throw InputError("md needs atom ids 1..N without gaps (LAMMPS' write_data writes them so)");
    }
  }
  configure(ctx, s.box, s.atom_types, s.mass, s.bond_types, s.angle_types, topology_of(s), s.size());
  distribute(s);
  rebuild();
  start(ctx, false);
}

void MolecularDynamics::start(RunContext& ctx, bool restarted) {
  compute_forces(true);
  // As LAMMPS' fix langevin does at setup, so that the first half kick is thermostatted.
  if (m_langevin && !restarted) langevin(ctx.step);
  const ThermoRow row = thermo(ctx);
  m_first = row;
  const std::string header = "# Step Time Temp E_pair E_mol TotEng Press\n";
  if (ctx.runtime.rank() == 0) {
    if (!restarted) {
      std::ofstream(m_thermo_path) << header;
    } else {
      // Keep the rows that existed at the checkpoint; the interrupted run may have
      // written more (its last state, rows past the checkpoint).
      std::ifstream in(m_thermo_path);
      std::string text = header, line;
      long rows = 0;
      while (std::getline(in, line) && rows < m_thermo_rows) {
        if (line.empty() || line[0] == '#') continue;
        text += line + "\n";
        ++rows;
      }
      in.close();
      std::ofstream(m_thermo_path) << text;
    }
  }
  const std::filesystem::path traj = ctx.output_dir / m_trajectory;
  // Reduced LJ units: every value is a pure number in units of sigma, tau, epsilon and the
  // atom mass, which the units module's system says once. The particle data carry no unit
  // attributes: MDAnalysis refuses any unit it does not know (and knows no reduced ones).
  std::optional<H5mdWriter::Keep> keep;
  if (restarted) keep = H5mdWriter::Keep{m_frames, m_observations};
  m_h5md = std::make_unique<H5mdWriter>(m_world, traj, m_natoms,
                                        std::array<double, 3>{m_box.length(0), m_box.length(1), m_box.length(2)},
                                        H5mdWriter::Units{"LJ", "", "", ""}, keep);
  m_h5md->write_provenance("md", ctx.segments, ctx.input.to_toml());
  if (m_h5md->created()) {
    m_frames = 0;
    m_observations = 0;
    if (m_topo.present()) {
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
    print_thermo(row);
    write_frame(ctx);
  } else {
    m_last_thermo = ctx.step;  // already in the files, or not due at this step
    m_last_frame = ctx.step;
    m_last = row;
    m_pending.clear();
  }
}

// ---------------------------------------------------------------------------------------
// Neighbour lists and topology

void MolecularDynamics::sort_owned() {
  const long n = m_p.n_owned;
  auto order = m_list->sort_order(exec_space(), m_p.x, n);
  m_scratch.reserve(n);
  auto src = m_p;
  auto dst = m_scratch;
  const int width = m_p.extra_width();
  Kokkos::parallel_for(
      "md::sort_gather", RangePolicy(0, n), KOKKOS_LAMBDA(const long k) {
        const int i = order(k);
        for (int c = 0; c < 3; ++c) {
          dst.x(k, c) = src.x(i, c);
          dst.v(k, c) = src.v(i, c);
          dst.f(k, c) = src.f(i, c);
          dst.image(k, c) = src.image(i, c);
        }
        dst.type(k) = src.type(i);
        dst.id(k) = src.id(i);
        for (int c = 0; c < width; ++c) dst.extra(k, c) = src.extra(i, c);
      });
  Kokkos::parallel_for(
      "md::sort_scatter", RangePolicy(0, n), KOKKOS_LAMBDA(const long k) {
        for (int c = 0; c < 3; ++c) {
          src.x(k, c) = dst.x(k, c);
          src.v(k, c) = dst.v(k, c);
          src.f(k, c) = dst.f(k, c);
          src.image(k, c) = dst.image(k, c);
        }
        src.type(k) = dst.type(k);
        src.id(k) = dst.id(k);
        for (int c = 0; c < width; ++c) src.extra(k, c) = dst.extra(k, c);
      });
}

void MolecularDynamics::rebuild() {
  {
    Kokkos::Profiling::pushRegion("md::migrate");
    m_comm->migrate(exec_space(), m_p);
    Kokkos::Profiling::popRegion();
  }
  // Migration hands an atom to an adjacent rank only; one that crossed a whole sub-box
  // since the last build would be lost.
  if (m_cart->size() > 1 && global_sum(m_world, m_p.n_owned) != m_natoms) {
    throw RunError(
        "md: atoms moved farther than a sub-box between neighbour-list builds and were lost; rebuild more often "
        "(neighbor.check = true, or a smaller neighbor.every) or use fewer ranks");
  }
  sort_owned();
  {
    Kokkos::Profiling::pushRegion("md::ghosts");
    m_comm->build_ghosts(exec_space(), m_p);
    Kokkos::Profiling::popRegion();
  }
  if (m_topo.present()) build_topology_lists();
  if (m_topo.present() && m_exclude) {
    m_list->build(exec_space(), m_p.x, m_p.n_owned, m_p.n_total(), ExcludeBonded{m_p.extra, m_p.id, m_topo.special()});
  } else {
    m_list->build(exec_space(), m_p.x, m_p.n_owned, m_p.n_total());
  }
  if (static_cast<long>(m_xhold.extent(0)) < m_p.n_owned) m_xhold = Vec3View("md::xhold", m_p.capacity());
  auto xhold = m_xhold;
  auto x = m_p.x;
  Kokkos::parallel_for(
      "md::save_positions", RangePolicy(0, m_p.n_owned), KOKKOS_LAMBDA(const long i) {
        for (int c = 0; c < 3; ++c) xhold(i, c) = x(i, c);
      });
  m_ago = 0;
  ++m_builds;
}

void MolecularDynamics::build_topology_lists() {
  const long ntotal = m_p.n_total(), nowned = m_p.n_owned;
  if (static_cast<long>(m_map.extent(0)) < m_natoms + 1) m_map = IndexView("md::id_map", m_natoms + 1);
  auto map = m_map;
  auto id = m_p.id;
  Kokkos::deep_copy(map, -1);
  // Ghost images first, then owned atoms, so that an owned copy wins. An atom may have
  // several ghost images; the highest index wins, whichever thread gets there first.
  Kokkos::parallel_for(
      "md::map_ghosts", RangePolicy(nowned, ntotal),
      KOKKOS_LAMBDA(const long i) { Kokkos::atomic_fetch_max(&map(id(i)), static_cast<int>(i)); });
  Kokkos::parallel_for(
      "md::map_owned", RangePolicy(0, nowned), KOKKOS_LAMBDA(const long i) { map(id(i)) = static_cast<int>(i); });
  auto extra = m_p.extra;
  const int bo = m_topo.bonds(), ao = m_topo.angles();
  long nb = 0, na = 0;
  Kokkos::parallel_reduce(
      "md::count_topology", RangePolicy(0, nowned),
      KOKKOS_LAMBDA(const long i, long& b, long& a) {
        b += extra(i, bo);
        a += extra(i, ao);
      },
      nb, na);
  if (static_cast<long>(m_bondlist.extent(0)) < nb) m_bondlist = BondView("md::bond_list", nb + nb / 2 + 16);
  if (static_cast<long>(m_anglelist.extent(0)) < na) m_anglelist = AngleView("md::angle_list", na + na / 2 + 16);
  auto bonds = m_bondlist;
  auto angles = m_anglelist;
  int missing = 0;
  Kokkos::parallel_scan(
      "md::bond_list", RangePolicy(0, nowned), KOKKOS_LAMBDA(const long i, long& offset, const bool final) {
        const long n = extra(i, bo);
        if (final) {
          for (long k = 0; k < n; ++k) {
            bonds(offset + k, 0) = static_cast<int>(i);
            bonds(offset + k, 1) = map(extra(i, bo + 2 + 2 * k));
            bonds(offset + k, 2) = static_cast<int>(extra(i, bo + 1 + 2 * k));
          }
        }
        offset += n;
      });
  Kokkos::parallel_scan(
      "md::angle_list", RangePolicy(0, nowned), KOKKOS_LAMBDA(const long i, long& offset, const bool final) {
        const long n = extra(i, ao);
        if (final) {
          for (long k = 0; k < n; ++k) {
            angles(offset + k, 0) = map(extra(i, ao + 2 + 3 * k));
            angles(offset + k, 1) = static_cast<int>(i);
            angles(offset + k, 2) = map(extra(i, ao + 3 + 3 * k));
            angles(offset + k, 3) = static_cast<int>(extra(i, ao + 1 + 3 * k));
          }
        }
        offset += n;
      });
  Kokkos::parallel_reduce(
      "md::check_topology", RangePolicy(0, nb),
      KOKKOS_LAMBDA(const long k, int& m) {
        if (bonds(k, 1) < 0) ++m;
      },
      missing);
  int missing_angles = 0;
  Kokkos::parallel_reduce(
      "md::check_angles", RangePolicy(0, na),
      KOKKOS_LAMBDA(const long k, int& m) {
        if (angles(k, 0) < 0 || angles(k, 2) < 0) ++m;
      },
      missing_angles);
  m_nbonds = nb;
  m_nangles = na;
  if (global_sum(m_world, static_cast<long>(missing + missing_angles)) > 0) {
    throw RunError(
        "md: a bond or angle partner is farther away than the ghost cutoff (pair cutoff + skin); the bonds "
        "stretched too far or the skin is too small");
  }
}

bool MolecularDynamics::decide_rebuild() {
  ++m_ago;
  if (m_ago < m_delay || m_ago % m_every != 0) return false;
  if (!m_check) return true;
  auto x = m_p.x;
  auto xhold = m_xhold;
  double moved = 0;
  Kokkos::parallel_reduce(
      "md::check_displacement", RangePolicy(0, m_p.n_owned),
      KOKKOS_LAMBDA(const long i, double& most) {
        const double dx = x(i, 0) - xhold(i, 0), dy = x(i, 1) - xhold(i, 1), dz = x(i, 2) - xhold(i, 2);
        const double rsq = dx * dx + dy * dy + dz * dz;
        if (rsq > most) most = rsq;
      },
      Kokkos::Max<double>(moved));
  moved = global_max(m_world, moved);
  return moved > 0.25 * m_skin * m_skin;
}

// ---------------------------------------------------------------------------------------
// Forces and integration

void MolecularDynamics::compute_forces(bool energy) {
  Kokkos::deep_copy(Kokkos::subview(m_p.f, std::make_pair(0L, m_p.n_total()), Kokkos::ALL), 0.0);
  Tally t;
  if (m_pair_style == "soft") {
    pair_forces("md::force_soft", m_soft, m_p, *m_list, energy, t);
  } else {
    pair_forces("md::force_lj", m_lj, m_p, *m_list, energy, t);
  }
  if (m_topo.present() && m_bond_style == "fene") bond_forces(m_fene, m_image, m_p, m_bondlist, m_nbonds, t);
  if (m_topo.present() && m_angle_style == "harmonic") angle_forces(m_angle, m_image, m_p, m_anglelist, m_nangles, t);
  Kokkos::Profiling::pushRegion("md::reverse_comm");
  m_comm->reverse_forces(exec_space(), m_p);
  Kokkos::Profiling::popRegion();
  if (m_topo.present() && m_bond_style == "fene") {
    const int worst = static_cast<int>(global_max(m_world, static_cast<double>(t.stretched)));
    if (worst >= 2) throw RunError("md: a FENE bond stretched beyond 2 R0 (LAMMPS: 'Bad FENE bond'); the run blew up");
    if (worst == 1) log().warn("md: a FENE bond is close to its maximum length R0");
  }
  m_tally = t;
}

void MolecularDynamics::integrate_initial() {
  auto x = m_p.x;
  auto v = m_p.v;
  auto f = m_p.f;
  auto type = m_p.type;
  const auto mass = m_mass_k.view();
  const double dtf = 0.5 * m_dt, dtv = m_dt;
  Kokkos::parallel_for(
      "md::integrate_initial", RangePolicy(0, m_p.n_owned), KOKKOS_LAMBDA(const long i) {
        const double dtfm = dtf / mass(type(i));
        for (int c = 0; c < 3; ++c) {
          v(i, c) += dtfm * f(i, c);
          x(i, c) += dtv * v(i, c);
        }
      });
}

void MolecularDynamics::integrate_final() {
  auto v = m_p.v;
  auto f = m_p.f;
  auto type = m_p.type;
  const auto mass = m_mass_k.view();
  const double dtf = 0.5 * m_dt;
  Kokkos::parallel_for(
      "md::integrate_final", RangePolicy(0, m_p.n_owned), KOKKOS_LAMBDA(const long i) {
        const double dtfm = dtf / mass(type(i));
        for (int c = 0; c < 3; ++c) v(i, c) += dtfm * f(i, c);
      });
}

void MolecularDynamics::langevin(long step) {
  // LAMMPS fix langevin: F += -m/damp v + sqrt(24 kT m / (damp dt)) (u - 1/2), u uniform.
  auto v = m_p.v;
  auto f = m_p.f;
  auto type = m_p.type;
  auto id = m_p.id;
  const auto mass = m_mass_k.view();
  const double damp = m_damp, scale = std::sqrt(24.0 * m_t_target / m_damp / m_dt);
  const std::uint64_t seed = m_seed;
  const auto s = static_cast<std::uint64_t>(step);
  Kokkos::parallel_for(
      "md::langevin", RangePolicy(0, m_p.n_owned), KOKKOS_LAMBDA(const long i) {
        const double m = mass(type(i));
        const double gamma1 = -m / damp;
        const double gamma2 = math::sqrt(m) * scale;
        const auto tag = static_cast<std::uint64_t>(id(i));
        for (int c = 0; c < 3; ++c) {
          f(i, c) += gamma1 * v(i, c) + gamma2 * (uniform01(seed, tag, s, static_cast<unsigned>(c)) - 0.5);
        }
      });
}

void MolecularDynamics::step(RunContext& ctx) {
  const long step = ctx.step + 1;
  integrate_initial();
  if (decide_rebuild()) {
    auto r = ctx.region("md::neighbor_build");
    rebuild();
  } else {
    auto r = ctx.region("md::ghost_update");
    m_comm->update_ghosts(exec_space(), m_p);
  }
  const bool energy = (m_thermo_every > 0 && step % m_thermo_every == 0) || step == m_steps;
  {
    auto r = ctx.region("md::forces");
    compute_forces(energy);
  }
  if (m_langevin) langevin(step);
  integrate_final();
  ctx.time += m_dt;
  if (energy) {
    RunContext next = ctx;
    next.step = step;
    const ThermoRow row = thermo(next);
    print_thermo(row);
  }
}

// ---------------------------------------------------------------------------------------
// Thermo and output

ThermoRow MolecularDynamics::thermo(const RunContext& ctx) {
  auto v = m_p.v;
  auto type = m_p.type;
  const auto mass = m_mass_k.view();
  double mv2 = 0;
  Kokkos::parallel_reduce(
      "md::kinetic", RangePolicy(0, m_p.n_owned),
      KOKKOS_LAMBDA(const long i, double& sum) {
        sum += mass(type(i)) * (v(i, 0) * v(i, 0) + v(i, 1) * v(i, 1) + v(i, 2) * v(i, 2));
      },
      mv2);
  std::vector<double> sums{mv2, m_tally.pair, m_tally.bond + m_tally.angle, m_tally.virial};
  global_sum_inplace(m_world, sums);
  const double n = static_cast<double>(m_natoms);
  const double dof = 3.0 * n - 3.0;
  ThermoRow row;
  row.step = ctx.step;
  row.time = ctx.time;
  // LAMMPS: temp = sum m v^2 / (dof k_B); pe per atom (thermo_modify norm yes in lj
  // units); press = (dof k_B T + virial) / (3 V) with dof k_B T = sum m v^2.
  row.temp = sums[0] / dof;
  row.ke = 0.5 * row.temp * dof / n;
  row.epair = sums[1] / n;
  row.emol = sums[2] / n;
  row.etotal = row.ke + row.epair + row.emol;
  row.press = (row.temp * dof + sums[3]) / (3.0 * m_box.volume());
  return row;
}

void MolecularDynamics::print_thermo(const ThermoRow& row) {
  if (row.step == m_last_thermo) return;
  m_last_thermo = row.step;
  ++m_thermo_rows;
  m_last = row;
  m_pending.push_back(row);
  log().info("md: {:>8} {:>14.8g} {:>14.8g} {:>14.8g} {:>14.8g} {:>14.8g}", row.step, row.temp, row.epair, row.emol,
             row.etotal, row.press);
  if (log().rank() == 0) {
    std::ofstream out(m_thermo_path, std::ios::app);
    out << fmt::format("{} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g} {:.17g}\n", row.step, row.time, row.temp, row.epair,
                       row.emol, row.etotal, row.press);
  }
}

void MolecularDynamics::flush_observables() {
  std::vector<long> steps;
  std::vector<double> times;
  std::vector<std::vector<double>> values(6);
  for (const auto& r : m_pending) {
    steps.push_back(r.step);
    times.push_back(r.time);
    values[0].push_back(r.temp);
    values[1].push_back(r.epair);
    values[2].push_back(r.emol);
    values[3].push_back(r.etotal);
    values[4].push_back(r.press);
    values[5].push_back(r.ke);
  }
  m_h5md->write_observables(
      {"temperature", "pair_energy", "molecular_energy", "total_energy", "pressure", "kinetic_energy"}, steps, times,
      values, {"epsilon k_B-1", "epsilon", "epsilon", "epsilon", "epsilon sigma-3", "epsilon"});
  m_observations += static_cast<long>(m_pending.size());
  m_pending.clear();
}

void MolecularDynamics::write_frame(const RunContext& ctx) {
  if (ctx.step == m_last_frame) return;
  m_last_frame = ctx.step;
  ++m_frames;
  const long n = m_p.n_owned;
  const auto h = m_p.download(n);
  const auto &x = h.x, &v = h.v;
  const auto& im = h.image;
  const auto& type = h.type;
  const auto& id = h.id;
  std::vector<long> ids(static_cast<std::size_t>(n));
  std::vector<double> pos(static_cast<std::size_t>(3 * n)), vel(pos.size());
  std::vector<int> img(pos.size()), species(ids.size());
  for (long i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    ids[k] = id(i) - 1;
    species[k] = type(i) + 1;
    for (int c = 0; c < 3; ++c) {
      pos[3 * k + static_cast<std::size_t>(c)] = x(i, c);
      vel[3 * k + static_cast<std::size_t>(c)] = v(i, c);
      img[3 * k + static_cast<std::size_t>(c)] = im(i, c);
    }
  }
  m_h5md->write_frame(ctx.step, ctx.time, n, ids.data(), pos.data(), vel.data(), img.data(), species.data());
  flush_observables();
}

void MolecularDynamics::output(RunContext& ctx) {
  auto r = ctx.region("md::output");
  // Every frame gets its thermo row, so that frames and observables share their steps
  // (MDAnalysis pairs the observables with frames by index).
  thermo_between_steps(ctx);
  write_frame(ctx);
}

void MolecularDynamics::thermo_between_steps(const RunContext& ctx) {
  if (m_last_thermo == ctx.step) return;
  // Energies need a force evaluation; the forces of this step (with their Langevin part,
  // which cannot be recomputed) are kept, so the trajectory does not change.
  const long n = m_p.n_owned;
  if (static_cast<long>(m_fsave.extent(0)) < n) m_fsave = Vec3View("md::saved_forces", m_p.capacity());
  const auto owned = std::make_pair(0L, n);
  Kokkos::deep_copy(Kokkos::subview(m_fsave, owned, Kokkos::ALL), Kokkos::subview(m_p.f, owned, Kokkos::ALL));
  compute_forces(true);
  print_thermo(thermo(ctx));
  Kokkos::deep_copy(Kokkos::subview(m_p.f, owned, Kokkos::ALL), Kokkos::subview(m_fsave, owned, Kokkos::ALL));
}

System MolecularDynamics::gather_system() const {
  const int width = 11 + m_topo.width();
  const long n = m_p.n_owned;
  const auto h = m_p.download(n);
  const auto &x = h.x, &v = h.v;
  const auto& im = h.image;
  const auto& type = h.type;
  const auto& id = h.id;
  const auto& extra = h.extra;
  std::vector<double> rows;
  rows.reserve(static_cast<std::size_t>(n * width));
  for (long i = 0; i < n; ++i) {
    rows.push_back(static_cast<double>(id(i)));
    rows.push_back(static_cast<double>(type(i)));
    for (int c = 0; c < 3; ++c) rows.push_back(x(i, c));
    for (int c = 0; c < 3; ++c) rows.push_back(v(i, c));
    for (int c = 0; c < 3; ++c) rows.push_back(static_cast<double>(im(i, c)));
    for (int c = 0; c < m_topo.width(); ++c) rows.push_back(static_cast<double>(extra(i, c)));
  }
  const std::vector<double> all = gather_to_root(m_world, rows);
  System s;
  s.box = m_box;
  s.atom_types = m_types;
  s.bond_types = m_bond_types;
  s.angle_types = m_angle_types;
  s.mass = m_mass;
  const std::size_t count = all.size() / static_cast<std::size_t>(width);
  std::vector<std::size_t> order(count);
  for (std::size_t k = 0; k < count; ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return all[a * static_cast<std::size_t>(width)] < all[b * static_cast<std::size_t>(width)];
  });
  for (std::size_t k : order) {
    const double* r = &all[k * static_cast<std::size_t>(width)];
    const long atom = static_cast<long>(r[0]);
    s.id.push_back(atom);
    s.type.push_back(static_cast<int>(r[1]));
    s.x.push_back({r[2], r[3], r[4]});
    s.v.push_back({r[5], r[6], r[7]});
    s.image.push_back({static_cast<int>(r[8]), static_cast<int>(r[9]), static_cast<int>(r[10])});
    if (m_topo.present()) {
      const double* e = r + 11;
      s.molecule.push_back(static_cast<long>(e[0]));
      const int bo = m_topo.bonds(), ao = m_topo.angles();
      for (long b = 0; b < static_cast<long>(e[bo]); ++b) {
        s.bonds.push_back({static_cast<int>(e[bo + 1 + 2 * b]), atom, static_cast<long>(e[bo + 2 + 2 * b])});
      }
      for (long a = 0; a < static_cast<long>(e[ao]); ++a) {
        s.angles.push_back({static_cast<int>(e[ao + 1 + 3 * a]), static_cast<long>(e[ao + 2 + 3 * a]), atom,
                            static_cast<long>(e[ao + 3 + 3 * a])});
      }
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------
// Checkpoints

namespace {
constexpr const char* checkpoint_kind = "gosok md checkpoint";
}

void MolecularDynamics::write_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  // Thermo rows up to this step go to the trajectory first, so a restart finds them.
  flush_observables();
  const long n = m_p.n_owned;
  const int w = m_topo.width();
  const int size = m_cart->size();
  const long first = exclusive_scan(m_world, n);
  std::vector<double> counts(static_cast<std::size_t>(size), 0.0);
  counts[static_cast<std::size_t>(ctx.runtime.rank())] = static_cast<double>(n);
  global_sum_inplace(m_world, counts);

  const auto h = m_p.download(n);
  const auto &x = h.x, &v = h.v, &f = h.f;
  const auto& im = h.image;
  const auto& type = h.type;
  const auto& id = h.id;
  const auto& extra = h.extra;
  // The positions at the last list build: owned rows only, one copy.
  const auto xhold = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(),
                                                         Kokkos::subview(m_xhold, std::make_pair(0L, n), Kokkos::ALL));
  // Per-atom rows: id, type, image 3, extra w (exact in doubles up to 2^53).
  const int iw = 5 + w;
  std::vector<double> ints(static_cast<std::size_t>(n * iw));
  for (long i = 0; i < n; ++i) {
    double* r = &ints[static_cast<std::size_t>(i * iw)];
    r[0] = static_cast<double>(id(i));
    r[1] = static_cast<double>(type(i));
    for (int c = 0; c < 3; ++c) r[2 + c] = static_cast<double>(im(i, c));
    for (int c = 0; c < w; ++c) r[5 + c] = static_cast<double>(extra(i, c));
  }
  H5File file = H5File::create(m_world, path);
  write_provenance(file.id(), "md", ctx.segments, ctx.input.to_toml());
  write_attribute(file.id(), "kind", std::string(checkpoint_kind));
  write_attribute(file.id(), "step", static_cast<std::int64_t>(ctx.step));
  write_attribute(file.id(), "time", ctx.time);
  write_attribute(file.id(), "natoms", static_cast<std::int64_t>(m_natoms));
  write_attribute(file.id(), "ranks", static_cast<std::int64_t>(size));
  write_attribute(file.id(), "atom_types", static_cast<std::int64_t>(m_types));
  write_attribute(file.id(), "bond_types", static_cast<std::int64_t>(m_bond_types));
  write_attribute(file.id(), "angle_types", static_cast<std::int64_t>(m_angle_types));
  write_attribute(file.id(), "max_special", static_cast<std::int64_t>(m_topo.max_special));
  write_attribute(file.id(), "max_bonds", static_cast<std::int64_t>(m_topo.max_bonds));
  write_attribute(file.id(), "max_angles", static_cast<std::int64_t>(m_topo.max_angles));
  write_attribute(file.id(), "box_lo", std::vector<double>(m_box.lo.begin(), m_box.lo.end()));
  write_attribute(file.id(), "box_hi", std::vector<double>(m_box.hi.begin(), m_box.hi.end()));
  write_attribute(file.id(), "mass", m_mass);
  // The neighbour-list schedule: steps since the last build and the builds so far.
  write_attribute(file.id(), "neighbor_ago", static_cast<std::int64_t>(m_ago));
  write_attribute(file.id(), "neighbor_builds", static_cast<std::int64_t>(m_builds));
  // The run's first thermo row, which diagnostics.json compares the last one with, and
  // how much output existed (a restart cuts thermo.dat and the trajectory back to it).
  write_attribute(file.id(), "first_thermo", to_vector(m_first));
  write_attribute(file.id(), "thermo_rows", static_cast<std::int64_t>(m_thermo_rows));
  write_attribute(file.id(), "trajectory_frames", static_cast<std::int64_t>(m_frames));
  write_attribute(file.id(), "trajectory_observations", static_cast<std::int64_t>(m_observations));
  file.write_vector("counts", counts);
  const auto N = static_cast<hsize_t>(m_natoms), start = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(n);
  file.write_block("x", {N, 3}, {start, 0}, {cnt, 3}, x.data());
  file.write_block("v", {N, 3}, {start, 0}, {cnt, 3}, v.data());
  file.write_block("f", {N, 3}, {start, 0}, {cnt, 3}, f.data());
  // Positions at the last build (the displacement check's reference): a restart rebuilds
  // from them, which reproduces the last build's ghosts, bond lists and pair list.
  file.write_block("x_at_build", {N, 3}, {start, 0}, {cnt, 3}, xhold.data());
  file.write_block("atoms", {N, static_cast<hsize_t>(iw)}, {start, 0}, {cnt, static_cast<hsize_t>(iw)}, ints.data());
  file.close();
}

void MolecularDynamics::read_checkpoint(RunContext& ctx, const std::filesystem::path& path) {
  H5File file = H5File::open_read(ctx.runtime.comm(), path);
  const std::string name = path.string();
  if (!has_attribute(file.id(), "kind") || read_string_attribute(file.id(), "kind") != checkpoint_kind) {
    throw InputError(name + ": not an md checkpoint (no kind = \"" + checkpoint_kind + "\")");
  }
  for (const char* key : {"step",
                          "time",
                          "natoms",
                          "ranks",
                          "atom_types",
                          "bond_types",
                          "angle_types",
                          "max_special",
                          "max_bonds",
                          "max_angles",
                          "box_lo",
                          "box_hi",
                          "mass",
                          "neighbor_ago",
                          "neighbor_builds",
                          "first_thermo",
                          "thermo_rows",
                          "trajectory_frames",
                          "trajectory_observations",
                          "mpi_ranks"}) {
    if (!has_attribute(file.id(), key)) throw InputError(name + ": checkpoint attribute '" + key + "' is missing");
  }
  for (const char* dset : {"counts", "x", "v", "f", "x_at_build", "atoms"}) {
    if (!file.exists(dset)) throw InputError(name + ": checkpoint dataset '" + std::string(dset) + "' is missing");
  }
  auto read_vec = [&](const char* key) {
    H5Id attr(H5Aopen(file.id(), key, H5P_DEFAULT));
    H5Id space(H5Aget_space(attr));
    std::vector<double> out(static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)));
    if (H5Aread(attr, H5T_NATIVE_DOUBLE, out.data()) < 0) throw InputError(name + ": cannot read " + key);
    return out;
  };
  const long natoms = read_int_attribute(file.id(), "natoms");
  const int ranks = static_cast<int>(read_int_attribute(file.id(), "ranks"));
  Topology topo;
  topo.max_special = static_cast<int>(read_int_attribute(file.id(), "max_special"));
  topo.max_bonds = static_cast<int>(read_int_attribute(file.id(), "max_bonds"));
  topo.max_angles = static_cast<int>(read_int_attribute(file.id(), "max_angles"));
  const auto lo = read_vec("box_lo"), hi = read_vec("box_hi");
  if (lo.size() != 3 || hi.size() != 3) throw InputError(name + ": box_lo/box_hi must have 3 entries");
  Box3 box;
  for (int d = 0; d < 3; ++d) {
    box.lo[d] = lo[static_cast<std::size_t>(d)];
    box.hi[d] = hi[static_cast<std::size_t>(d)];
  }
  const auto mass = read_vec("mass");
  const int types = static_cast<int>(read_int_attribute(file.id(), "atom_types"));
  if (static_cast<int>(mass.size()) != types) throw InputError(name + ": mass has the wrong length");
  const int w = topo.width(), iw = 5 + w;
  const auto shape = file.dataset_shape("atoms");
  if (shape.size() != 2 || static_cast<long>(shape[0]) != natoms || static_cast<int>(shape[1]) != iw ||
      static_cast<long>(file.dataset_shape("x")[0]) != natoms) {
    throw InputError(name + ": checkpoint datasets do not match natoms = " + std::to_string(natoms));
  }
  configure(ctx, box, types, mass, static_cast<int>(read_int_attribute(file.id(), "bond_types")),
            static_cast<int>(read_int_attribute(file.id(), "angle_types")), topo, natoms);

  // The state is rebuilt as it was at the last neighbour-list build: atoms placed at their
  // positions of that build, then migrated, sorted, given ghosts and lists exactly as that
  // build did; then they move to where they are now and the build schedule continues.
  // On the same rank count each rank reads back its own block in its own order, so the
  // continuation is bitwise identical; otherwise every rank reads all atoms and keeps
  // those in its sub-box (the same physics; sums in another order).
  const auto counts = file.read_vector("counts");
  const int size = m_cart->size(), rank = ctx.runtime.rank();
  const bool same_ranks = ranks == size && static_cast<int>(counts.size()) == size;
  long first = 0, n = natoms;
  if (same_ranks) {
    for (int r = 0; r < rank; ++r) first += static_cast<long>(counts[static_cast<std::size_t>(r)]);
    n = static_cast<long>(counts[static_cast<std::size_t>(rank)]);
  } else {
    log().warn("md: checkpoint written on {} ranks, restarting on {}: the continuation is not bitwise identical", ranks,
               size);
  }
  std::vector<double> x(static_cast<std::size_t>(3 * n)), v(x.size()), f(x.size()), xhold(x.size()),
      ints(static_cast<std::size_t>(n * iw));
  const auto offset = static_cast<hsize_t>(first), cnt = static_cast<hsize_t>(n);
  file.read_block("x", {offset, 0}, {cnt, 3}, x.data());
  file.read_block("v", {offset, 0}, {cnt, 3}, v.data());
  file.read_block("f", {offset, 0}, {cnt, 3}, f.data());
  file.read_block("x_at_build", {offset, 0}, {cnt, 3}, xhold.data());
  file.read_block("atoms", {offset, 0}, {cnt, static_cast<hsize_t>(iw)}, ints.data());
  ctx.step = read_int_attribute(file.id(), "step");
  ctx.time = read_double_attribute(file.id(), "time");
  const long ago = read_int_attribute(file.id(), "neighbor_ago");
  const long builds = read_int_attribute(file.id(), "neighbor_builds");
  const auto first_thermo = read_vec("first_thermo");
  m_thermo_rows = read_int_attribute(file.id(), "thermo_rows");
  m_frames = read_int_attribute(file.id(), "trajectory_frames");
  m_observations = read_int_attribute(file.id(), "trajectory_observations");
  ctx.segments = continue_segments(read_segments(file.id()), ctx.step, size);
  if (first_thermo.size() != to_vector(ThermoRow{}).size()) {
    throw InputError(name + ": first_thermo has the wrong length");
  }
  file.close();

  std::unordered_map<long, std::size_t> row_of;  // atom id -> row read from the file
  std::vector<long> keep;
  for (long i = 0; i < n; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const long atom = static_cast<long>(ints[k * static_cast<std::size_t>(iw)]);
    if (atom < 1 || atom > natoms || !row_of.emplace(atom, k).second) {
      throw InputError(name + ": checkpoint holds an invalid or repeated atom id");
    }
    if (same_ranks || m_comm->owns({xhold[3 * k], xhold[3 * k + 1], xhold[3 * k + 2]})) keep.push_back(i);
  }
  const long nk = static_cast<long>(keep.size());
  m_p.reserve(nk);
  const auto h = m_p.host_arrays();
  for (long j = 0; j < nk; ++j) {
    const auto i = static_cast<std::size_t>(keep[static_cast<std::size_t>(j)]);
    const double* r = &ints[i * static_cast<std::size_t>(iw)];
    for (int c = 0; c < 3; ++c) {
      h.x(j, c) = xhold[3 * i + static_cast<std::size_t>(c)];
      h.v(j, c) = v[3 * i + static_cast<std::size_t>(c)];
      h.image(j, c) = static_cast<int>(r[2 + c]);
    }
    h.id(j) = static_cast<long>(r[0]);
    h.type(j) = static_cast<int>(r[1]);
    if (h.type(j) < 0 || h.type(j) >= types) throw InputError(name + ": checkpoint holds an atom with an invalid type");
    for (int c = 0; c < w; ++c) h.extra(j, c) = static_cast<long>(r[5 + c]);
  }
  m_p.upload(h, nk);
  if (global_sum(m_world, nk) != natoms) throw InputError(name + ": checkpoint atoms do not add up to natoms");
  rebuild();
  m_ago = ago;
  m_builds = builds;

  // Current positions and the stored forces, by atom id in the rebuilt order. The forces
  // include the Langevin forces of the checkpoint step, which cannot be recomputed from
  // positions and velocities; they replace the recomputed ones.
  const long owned = m_p.n_owned;
  auto ids = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), m_p.id);
  Kokkos::View<double*[3], Kokkos::LayoutRight, Kokkos::HostSpace> now("md::restart_x", owned),
      stored("md::restart_f", owned);
  for (long i = 0; i < owned; ++i) {
    const auto it = row_of.find(ids(i));
    if (it == row_of.end()) throw RunError(fmt::format("md: restart lost atom {} on rank {}", ids(i), rank));
    for (int c = 0; c < 3; ++c) {
      now(i, c) = x[3 * it->second + static_cast<std::size_t>(c)];
      stored(i, c) = f[3 * it->second + static_cast<std::size_t>(c)];
    }
  }
  Kokkos::deep_copy(Kokkos::subview(m_p.x, std::make_pair(0L, owned), Kokkos::ALL), now);
  m_comm->update_ghosts(exec_space(), m_p);
  start(ctx, true);
  Kokkos::deep_copy(Kokkos::subview(m_p.f, std::make_pair(0L, owned), Kokkos::ALL), stored);
  m_first = from_vector(first_thermo);
}

// ---------------------------------------------------------------------------------------
// Finish

int MolecularDynamics::finish(RunContext& ctx) {
  thermo_between_steps(ctx);
  write_frame(ctx);
  flush_observables();
  if (!m_write_data.empty()) {
    const System s = gather_system();
    if (ctx.runtime.rank() == 0) {
      const auto path = ctx.output_dir / m_write_data;
      write_lammps_data(s, path, fmt::format("gosok md, step {}", ctx.step));
      log().info("md: wrote the final state to {}", path.string());
    }
  }
  const long pairs = global_sum(m_world, m_list->pairs());
  log().info("md: {} neighbour list builds; {} pairs in the last list ({:.2f} per atom)", m_builds, pairs,
             static_cast<double>(pairs) / static_cast<double>(m_natoms));
  const double drift = (m_last.etotal - m_first.etotal) / std::max(1e-300, std::abs(m_first.etotal));
  if (ctx.runtime.rank() == 0) {
    auto row_json = [](const ThermoRow& r) {
      return nlohmann::json{{"step", r.step},  {"time", r.time},     {"temp", r.temp},   {"e_pair", r.epair},
                            {"e_mol", r.emol}, {"etotal", r.etotal}, {"press", r.press}, {"ke", r.ke}};
    };
    nlohmann::json j{
        {"workload", "md"},           {"ranks", ctx.runtime.size()}, {"segments", segments_json(ctx.segments)},
        {"natoms", m_natoms},         {"steps", ctx.step},           {"time", ctx.time},
        {"first", row_json(m_first)}, {"last", row_json(m_last)},    {"relative_energy_change", drift},
        {"neighbor_builds", m_builds}};
    write_text_atomically(ctx.output_dir / "diagnostics.json", j.dump(2) + "\n");
  }
  return std::isfinite(m_last.etotal) ? 0 : 1;
}

// ---------------------------------------------------------------------------------------
// Registration

// The input (keys, defaults, checks) is declared in input.cpp, which the login node shares.
void register_workload(WorkloadRegistry& registry) {
  registry.add("md", [] { return std::make_unique<MolecularDynamics>(); });
}

}  // namespace gosok::md
