#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <gosok/parallel/particles.hpp>

namespace gosok::md {

/// A whole molecular system on the host, as a LAMMPS data file holds it: the box, per-type
/// masses, every atom, bonds and angles. Types are 0-based here (LAMMPS counts from 1).
/// Used to build or read the initial state and to write data files; every rank holds the
/// same copy and keeps the atoms in its sub-box.
struct System {
  struct Bond {
    int type;
    long a, b;
  };
  struct Angle {
    int type;
    long a, b, c;  // b is the vertex
  };

  Box3 box;
  int atom_types = 1;
  int bond_types = 0;
  int angle_types = 0;
  std::vector<double> mass;  // per atom type
  std::vector<long> id;
  std::vector<long> molecule;  // empty for atom style atomic
  std::vector<int> type;
  std::vector<std::array<double, 3>> x, v;
  std::vector<std::array<int, 3>> image;
  std::vector<Bond> bonds;
  std::vector<Angle> angles;

  long size() const { return static_cast<long>(id.size()); }
  bool molecular() const { return !molecule.empty(); }
};

/// Reads a LAMMPS data file (orthogonal box; atom style atomic, or bond/angle/molecular
/// (the same columns), named by the `Atoms # style` comment, by `style`, or by the column
/// count; optional
/// Velocities, Bonds and Angles). Coefficient sections are skipped: force-field
/// parameters come from the gosok input. Throws InputError naming file and line.
System read_lammps_data(const std::filesystem::path& path, const std::string& style = "auto");

/// Writes `system` as a LAMMPS data file that `read_data` accepts (full precision).
void write_lammps_data(const System& system, const std::filesystem::path& path, const std::string& title);

/// The fcc lattice of LAMMPS `lattice fcc <density>`: cells nx x ny x nz of 4 atoms,
/// lattice constant (4 / density)^(1/3), ids in LAMMPS create_atoms order.
System make_fcc_lattice(double density, int nx, int ny, int nz, double mass);

/// A Kremer–Grest melt of `chains` chains of `length` beads at number density `density`:
/// the beads follow a serpentine path through a simple cubic lattice filling the box, so no
/// two beads overlap and every bond is one lattice spacing (< 1.06 sigma at density 0.85).
/// Bonds join consecutive beads of a chain; angles every consecutive triple when
/// `with_angles`.
System make_chain_melt(long chains, long length, double density, double mass, bool with_angles);

/// Gaussian velocities from a hash of (seed, atom id), so they do not depend on the rank
/// count; zero total momentum; scaled to `temperature` with 3N - 3 degrees of freedom.
void assign_velocities(System& system, double temperature, std::uint64_t seed);

}  // namespace gosok::md
