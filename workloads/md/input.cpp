// md's input: the keys, defaults, units, bounds and checks that `gosok run md` and, on a
// login node, `gosok submit md` and `gosok validate` read. No Kokkos here: this file is
// linked into the login-node gosok too.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gosok/core/error.hpp>
#include <gosok/workload/input.hpp>

namespace gosok::md {

/// The pair styles' names (generated from pair_styles/ by CMakeLists.txt).
std::vector<std::string> pair_style_names();

namespace {

// The "N atoms" line of a LAMMPS data file's header (the only thing a run's size needs;
// the whole file is read by system.cpp when the run starts).
long data_file_atoms(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError(path + ": cannot read the LAMMPS data file (data.file)");
  std::string line;
  std::getline(in, line);  // the title
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find('#')));
    long count = 0;
    std::string what;
    if (words >> count >> what && what == "atoms") return count;
  }
  throw InputError(path + ": no 'N atoms' line in the header of the LAMMPS data file");
}

}  // namespace

void register_input(WorkloadInputs& inputs) {
  inputs.add({"md", "molecular dynamics: Lennard-Jones liquids and bead-spring polymers (LAMMPS-compatible)",
              [](Schema& s) {
                s.choice("init", "lattice", {"lattice", "data", "chains"},
                         "initial state: an fcc lattice, a LAMMPS data file, or a bead-spring melt");
                s.string("data.file", "", "LAMMPS data file to start from (init = \"data\")");
                s.choice("data.atom_style", "auto", {"auto", "atomic", "bond", "angle", "molecular"},
                         "atom style of the data file (auto: from 'Atoms # style' or the column count)");
                s.real("lattice.density", 0.8442, "fcc lattice: reduced number density").at_least(1e-6);
                s.integer("lattice.nx", 10, "fcc lattice: unit cells in x (4 atoms each)").at_least(1);
                s.integer("lattice.ny", 10, "fcc lattice: unit cells in y").at_least(1);
                s.integer("lattice.nz", 10, "fcc lattice: unit cells in z").at_least(1);
                s.integer("chains.count", 40, "melt: number of chains M").at_least(1);
                s.integer("chains.length", 25, "melt: beads per chain N").at_least(2);
                s.real("chains.density", 0.85, "melt: reduced bead density").at_least(1e-6).at_most(1.0);
                s.real("mass", 1.0, "mass of generated atoms").at_least(1e-300);
                s.real("velocity.temperature", 1.44, "generated systems: initial temperature").at_least(0);
                s.integer("velocity.seed", 87287, "generated systems: velocity seed").at_least(0);
                s.choice("pair.style", "lj/cut", pair_style_names(),
                         "pair law: Lennard-Jones, or soft cosine repulsion (epsilon = its prefactor A)");
                s.real("pair.cutoff", 2.5, "pair cutoff").with_unit("sigma").at_least(1e-6);
                s.real("pair.epsilon", 1.0, "Lennard-Jones epsilon (soft: prefactor A) of every type pair").at_least(0);
                s.real("pair.sigma", 1.0, "Lennard-Jones sigma of every type pair").with_unit("sigma").at_least(1e-6);
                s.boolean("pair.shift", false, "shift the energy to zero at the cutoff (pair_modify shift yes)");
                Schema& pair = s.records(
                    "pair.coeff", "one type pair's coefficients (pair_coeff i j ...); other pairs mix geometrically");
                pair.integer("i", std::nullopt, "first atom type").at_least(1);
                pair.integer("j", std::nullopt, "second atom type").at_least(1);
                pair.real("epsilon", std::nullopt, "Lennard-Jones epsilon (soft: prefactor A)").at_least(0);
                pair.real("sigma", std::nullopt, "Lennard-Jones sigma (default pair.sigma)")
                    .with_unit("sigma")
                    .at_least(1e-6)
                    .optional();
                pair.real("cutoff", std::nullopt, "pair cutoff (default pair.cutoff)")
                    .with_unit("sigma")
                    .at_least(1e-6)
                    .optional();
                s.choice("bond.style", "fene", {"none", "fene"}, "bond potential (used when the system has bonds)");
                Schema& bond =
                    s.records("bond.coeff", "one bond type's coefficients (bond_coeff); others: bond.k, ...");
                bond.integer("type", std::nullopt, "bond type").at_least(1);
                bond.real("k", std::nullopt, "FENE spring constant K (default bond.k)").at_least(0).optional();
                bond.real("r0", std::nullopt, "FENE maximum extent R0 (default bond.r0)")
                    .with_unit("sigma")
                    .at_least(1e-6)
                    .optional();
                bond.real("epsilon", std::nullopt, "FENE WCA epsilon (default bond.epsilon)").at_least(0).optional();
                bond.real("sigma", std::nullopt, "FENE WCA sigma (default bond.sigma)")
                    .with_unit("sigma")
                    .at_least(1e-6)
                    .optional();
                s.real("bond.k", 30.0, "FENE spring constant K").at_least(0);
                s.real("bond.r0", 1.5, "FENE maximum extent R0").with_unit("sigma").at_least(1e-6);
                s.real("bond.epsilon", 1.0, "FENE WCA epsilon").at_least(0);
                s.real("bond.sigma", 1.0, "FENE WCA sigma").with_unit("sigma").at_least(1e-6);
                s.choice("angle.style", "none", {"none", "harmonic"}, "angle potential");
                Schema& angle =
                    s.records("angle.coeff", "one angle type's coefficients (angle_coeff); others: angle.k, ...");
                angle.integer("type", std::nullopt, "angle type").at_least(1);
                angle.real("k", std::nullopt, "harmonic angle constant K (default angle.k)").at_least(0).optional();
                angle.real("theta0", std::nullopt, "rest angle (default angle.theta0)")
                    .with_unit("degree")
                    .at_least(0)
                    .at_most(180)
                    .optional();
                s.real("angle.k", 1.0, "harmonic angle constant K (E = K (theta - theta0)^2)").at_least(0);
                s.real("angle.theta0", 180.0, "harmonic angle rest angle").with_unit("degree").at_least(0).at_most(180);
                s.boolean("special.exclude_bonded", true, "no pair force between bonded atoms (special_bonds fene)");
                s.real("neighbor.skin", 0.3, "neighbour skin added to the cutoff").with_unit("sigma").at_least(0);
                s.integer("neighbor.every", 1, "consider a rebuild every N steps").at_least(1);
                s.integer("neighbor.delay", 0, "no rebuild until N steps after the last").at_least(0);
                s.boolean("neighbor.check", true, "rebuild only when an atom moved more than half the skin");
                s.real("dt", 0.005, "time step").with_unit("tau").at_least(1e-12);
                s.integer("steps", 100, "number of steps").at_least(0);
                s.choice("ensemble", "nve", {"nve", "langevin"}, "velocity Verlet alone or with a Langevin thermostat");
                s.real("langevin.temperature", 1.0, "Langevin target temperature").at_least(0);
                s.real("langevin.damp", 1.0, "Langevin damping time").with_unit("tau").at_least(1e-12);
                s.integer("langevin.seed", 12345, "Langevin random seed").at_least(0);
                s.integer("thermo.every", 0, "thermo output every N steps (0: first and last step)").at_least(0);
                s.string("output.trajectory", "trajectory.h5", "H5MD trajectory file in the output folder");
                s.string("output.data_file", "", "write the final state as a LAMMPS data file (in the output folder)");
                s.add_check([](const Input& in) {
                  if (in.get_string("init") == "data" && in.get_string("data.file").empty()) {
                    throw InputError("init = \"data\" needs data.file (a LAMMPS data file)");
                  }
                });
              },
              "tau",
              [](const Input& in) {
                const std::string init = in.get_string("init");
                long natoms = 0;
                if (init == "lattice") {
                  natoms = 4 * in.get_int("lattice.nx") * in.get_int("lattice.ny") * in.get_int("lattice.nz");
                } else if (init == "chains") {
                  natoms = in.get_int("chains.count") * in.get_int("chains.length");
                } else {
                  natoms = data_file_atoms(in.get_string("data.file"));
                }
                return WorkSize{"atom-steps", static_cast<double>(natoms), in.get_int("steps")};
              }});
}

}  // namespace gosok::md
