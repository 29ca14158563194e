#pragma once

// Bond topology: which atoms are bonded, and the bond and angle lists the force loops use.
//
// Vocabulary: an atom's *topology row* is the fixed-width integer payload it carries in
// Particles::extra (so it migrates with the atom): its molecule id, its 1-2 *special*
// partners (the atoms bonded to it, which the pair list leaves out), the bonds it *owns*
// and the angles it owns. A bond is owned by its first atom and an angle by its vertex
// (LAMMPS' newton_bond), so each is computed once. `Topology` is the row's layout, sized
// from the system's largest counts; encode_topology writes rows and decode_topology and
// TopologyLists read them, both through Topology's column functions. The *bond list* and
// *angle list* are the interactions of this rank's owned atoms as local indices (owned or
// ghost), rebuilt with the neighbour list.

#include <Kokkos_Core.hpp>
#include <vector>

#include "md_types.hpp"
#include "system.hpp"

namespace gosok::md {

/// The columns of a topology row:
///   [molecule, n12, 1-2 partner ids (max_special), nbond, (type, partner) x max_bonds,
///    nangle, (type, end1, end2) x max_angles]
struct Topology {
  int max_special = 0, max_bonds = 0, max_angles = 0;

  bool present() const { return max_special > 0; }
  int width() const { return present() ? angles() + 1 + 3 * max_angles : 0; }

  KOKKOS_INLINE_FUNCTION static int molecule() { return 0; }
  KOKKOS_INLINE_FUNCTION static int specials() { return 1; }
  KOKKOS_INLINE_FUNCTION static int special(int s) { return 2 + s; }
  KOKKOS_INLINE_FUNCTION int bonds() const { return 2 + max_special; }
  KOKKOS_INLINE_FUNCTION int bond_type(int k) const { return bonds() + 1 + 2 * k; }
  KOKKOS_INLINE_FUNCTION int bond_partner(int k) const { return bonds() + 2 + 2 * k; }
  KOKKOS_INLINE_FUNCTION int angles() const { return bonds() + 1 + 2 * max_bonds; }
  KOKKOS_INLINE_FUNCTION int angle_type(int k) const { return angles() + 1 + 3 * k; }
  KOKKOS_INLINE_FUNCTION int angle_end1(int k) const { return angles() + 2 + 3 * k; }
  KOKKOS_INLINE_FUNCTION int angle_end2(int k) const { return angles() + 3 + 3 * k; }
};

/// The layout that holds every atom's topology (none for an atomic system).
Topology topology_of(const System& s);

/// Every atom's topology row, in the system's atom order (s.size() x t.width()).
std::vector<long> encode_topology(const System& s, const Topology& t);

/// Appends the molecule id, the bonds and the angles that atom `atom` owns, read from its
/// row, to `s`.
void decode_topology(const Topology& t, long atom, const long* row, System& s);

/// Leaves bonded (1-2) partners out of the pair list: LAMMPS' `special_bonds fene`.
struct ExcludeBonded {
  Kokkos::View<long**, Kokkos::LayoutRight, memory_space> extra;
  Kokkos::View<long*, memory_space> id;
  KOKKOS_INLINE_FUNCTION bool operator()(int i, int j) const {
    const long n = extra(i, Topology::specials());
    const long other = id(j);
    for (long s = 0; s < n; ++s) {
      if (extra(i, Topology::special(static_cast<int>(s))) == other) return true;
    }
    return false;
  }
};

/// The bond and angle lists of the owned atoms, built from their rows after the ghosts.
class TopologyLists {
 public:
  /// Throws RunError when a partner is not among the owned atoms or ghosts (collective).
  void build(MPI_Comm world, const Topology& t, const ParticleArrays& p, long natoms);

  const BondView& bonds() const { return m_bonds; }
  const AngleView& angles() const { return m_angles; }
  long nbonds() const { return m_nbonds; }
  long nangles() const { return m_nangles; }

 private:
  IndexView m_map;  // atom id -> local index
  BondView m_bonds;
  AngleView m_angles;
  long m_nbonds = 0, m_nangles = 0;
};

}  // namespace gosok::md
