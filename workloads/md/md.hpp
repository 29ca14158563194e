#pragma once

// md: classical molecular dynamics in LJ reduced units — Lennard-Jones liquids and
// Kremer–Grest bead-spring polymers — with LAMMPS' definitions throughout, so that a run
// started from a LAMMPS data file reproduces LAMMPS' thermo output (docs/user-guide/md.md).
//
// Vocabulary: the *system* is the whole molecular system on the host (system.hpp), which
// setup() builds or reads and *distributes*: each rank keeps the atoms in its sub-box as
// its owned particles, with their topology rows (topology.hpp). A *neighbour-list build*
// wraps and migrates atoms, sorts them by bin, rebuilds ghosts, the bond and angle lists
// and the half pair list; between builds only ghost positions are refreshed. The *build
// schedule* (neighbor.every, delay, check) decides when to build. The pieces: coefficients
// (coefficients.hpp), pair styles by name (pair_style.hpp), bonded laws and their loops
// (potentials.hpp, forces.hpp), integrators (integrators.hpp), thermo output (thermo.hpp)
// and checkpoints (checkpoint.cpp).

#include <filesystem>
#include <memory>
#include <string>

#include <gosok/io/diagnostics_series.hpp>
#include <gosok/io/h5md.hpp>
#include <gosok/parallel/cart.hpp>
#include <gosok/workload/workload.hpp>
#include "coefficients.hpp"
#include "forces.hpp"
#include "integrators.hpp"
#include "md_types.hpp"
#include "pair_style.hpp"
#include "potentials.hpp"
#include "system.hpp"
#include "thermo.hpp"
#include "topology.hpp"

namespace gosok::md {

/// The input's md keys, read once.
struct Parameters {
  std::string pair_style, bond_style, angle_style;
  bool shift = false;
  CoeffInput coeffs;
  double skin = 0.3;
  long every = 1, delay = 0;
  bool check = true, exclude = true;
  long steps = 0;
  VelocityVerlet verlet;
  bool langevin = false;
  Langevin thermostat;
  long thermo_every = 0;
  std::string trajectory, write_data;

  static Parameters read(const Input& in);
};

class MolecularDynamics final : public Workload {
 public:
  void setup(RunContext& ctx, bool restarting) override;
  void step(RunContext& ctx) override;
  bool finished(const RunContext& ctx) const override { return ctx.step >= m_par.steps; }
  double progress(const RunContext& ctx) const override {
    return m_par.steps > 0 ? static_cast<double>(ctx.step) / static_cast<double>(m_par.steps) : 1.0;
  }
  void output(RunContext& ctx) override;
  void write_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  void read_checkpoint(RunContext& ctx, const std::filesystem::path& path) override;
  int finish(RunContext& ctx) override;

 private:
  /// What sizes the run: the box, the type counts and masses, the topology layout.
  struct Shape {
    Box3 box;
    int atom_types = 1, bond_types = 0, angle_types = 0;
    std::vector<double> mass;
    Topology topo;
    long natoms = 0;
  };

  void configure(RunContext& ctx, const Shape& shape);
  void distribute(const System& s);
  /// Forces and the first thermo row, files opened; `restarted` continues the output.
  void start(RunContext& ctx, bool restarted);
  void rebuild();
  bool rebuild_due();
  void compute_forces(bool energy);
  void record_thermo(const RunContext& ctx);
  /// A thermo row at a step that had none (a frame, the end): energies need a force
  /// evaluation, whose forces are thrown away (the step's own keep their Langevin part).
  void thermo_between_steps(const RunContext& ctx);
  void write_frame(const RunContext& ctx);
  /// diagnostics.json: the run's initial record (kept, or written again from m_first, on a
  /// restart) and, at the end, the final one.
  void open_diagnostics(const RunContext& ctx, bool restarted);
  System gather_system() const;

  Parameters m_par;
  Shape m_shape;
  TypeTable<double> m_mass;
  std::unique_ptr<PairStyle> m_pair;
  double m_cutmax = 0;
  Fene m_fene;
  HarmonicAngle m_angle;
  MinimumImage m_image{};

  // Parallel state.
  MPI_Comm m_world = MPI_COMM_NULL;
  std::unique_ptr<CartDecomposition<3>> m_cart;
  std::unique_ptr<Comm> m_comm;
  std::unique_ptr<NeighborList> m_list;
  ParticleArrays m_p, m_scratch;
  Vec3View m_xhold, m_fsave;
  TopologyLists m_lists;
  long m_ago = 0;     // steps since the last neighbour-list build
  long m_builds = 0;  // builds so far
  Tally m_tally;

  // Output.
  std::unique_ptr<H5mdWriter> m_h5md;
  ThermoLog m_thermo;
  ThermoRow m_first;  // the run's first row, which diagnostics compare the last with
  DiagnosticsSeries m_series;
  long m_last_frame = -1;
  long m_frames = 0;  // trajectory frames written
};

}  // namespace gosok::md
