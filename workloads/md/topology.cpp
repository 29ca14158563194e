#include "topology.hpp"

#include <algorithm>
#include <map>

#include <gosok/core/error.hpp>
#include <gosok/parallel/reduce.hpp>

namespace gosok::md {

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

std::vector<long> encode_topology(const System& s, const Topology& t) {
  const auto width = static_cast<std::size_t>(t.width());
  std::vector<long> rows(static_cast<std::size_t>(s.size()) * width, 0);
  if (!t.present()) return rows;
  std::map<long, long*> row_of;  // atom id -> its row
  for (std::size_t k = 0; k < static_cast<std::size_t>(s.size()); ++k) {
    long* row = &rows[k * width];
    row[Topology::molecule()] = s.molecule[k];
    row_of.emplace(s.id[k], row);
  }
  auto add_special = [&](long a, long b) {
    long* row = row_of.at(a);
    row[Topology::special(static_cast<int>(row[Topology::specials()]++))] = b;
  };
  for (const auto& b : s.bonds) {
    add_special(b.a, b.b);
    add_special(b.b, b.a);
    long* row = row_of.at(b.a);
    const int n = static_cast<int>(row[t.bonds()]++);
    row[t.bond_type(n)] = b.type;
    row[t.bond_partner(n)] = b.b;
  }
  for (const auto& a : s.angles) {
    long* row = row_of.at(a.b);
    const int n = static_cast<int>(row[t.angles()]++);
    row[t.angle_type(n)] = a.type;
    row[t.angle_end1(n)] = a.a;
    row[t.angle_end2(n)] = a.c;
  }
  return rows;
}

void decode_topology(const Topology& t, long atom, const long* row, System& s) {
  if (!t.present()) return;
  s.molecule.push_back(row[Topology::molecule()]);
  for (int b = 0; b < static_cast<int>(row[t.bonds()]); ++b) {
    s.bonds.push_back({static_cast<int>(row[t.bond_type(b)]), atom, row[t.bond_partner(b)]});
  }
  for (int a = 0; a < static_cast<int>(row[t.angles()]); ++a) {
    s.angles.push_back({static_cast<int>(row[t.angle_type(a)]), row[t.angle_end1(a)], atom, row[t.angle_end2(a)]});
  }
}

namespace impl {

using Extra = ParticleArrays::extra_type;
using Ids = ParticleArrays::id_type;

/// map(id) = the highest local index of a ghost image of atom id. The maximum, not
/// whichever thread comes last, so the lists do not depend on the thread schedule.
struct MapGhosts {
  IndexView map;
  Ids id;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const {
    Kokkos::atomic_fetch_max(&map(id(i)), static_cast<int>(i));
  }
};

/// map(id) = the owned atom's index; runs after MapGhosts, so the owned copy wins.
struct MapOwned {
  IndexView map;
  Ids id;
  KOKKOS_INLINE_FUNCTION void operator()(const long i) const { map(id(i)) = static_cast<int>(i); }
};

struct CountOwned {
  Extra extra;
  Topology t;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, long& bonds, long& angles) const {
    bonds += extra(i, t.bonds());
    angles += extra(i, t.angles());
  }
};

struct FillBonds {
  Extra extra;
  Topology t;
  IndexView map;
  BondView bonds;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, long& offset, const bool final) const {
    const int n = static_cast<int>(extra(i, t.bonds()));
    if (final) {
      for (int k = 0; k < n; ++k) {
        bonds(offset + k, 0) = static_cast<int>(i);
        bonds(offset + k, 1) = map(extra(i, t.bond_partner(k)));
        bonds(offset + k, 2) = static_cast<int>(extra(i, t.bond_type(k)));
      }
    }
    offset += n;
  }
};

struct FillAngles {
  Extra extra;
  Topology t;
  IndexView map;
  AngleView angles;
  KOKKOS_INLINE_FUNCTION void operator()(const long i, long& offset, const bool final) const {
    const int n = static_cast<int>(extra(i, t.angles()));
    if (final) {
      for (int k = 0; k < n; ++k) {
        angles(offset + k, 0) = map(extra(i, t.angle_end1(k)));
        angles(offset + k, 1) = static_cast<int>(i);
        angles(offset + k, 2) = map(extra(i, t.angle_end2(k)));
        angles(offset + k, 3) = static_cast<int>(extra(i, t.angle_type(k)));
      }
    }
    offset += n;
  }
};

/// Counts bonds and angles with a partner that is neither owned nor a ghost.
struct CountMissing {
  BondView bonds;
  AngleView angles;
  long nbonds;
  KOKKOS_INLINE_FUNCTION void operator()(const long k, int& missing) const {
    if (k < nbonds) {
      if (bonds(k, 1) < 0) ++missing;
    } else {
      const long a = k - nbonds;
      if (angles(a, 0) < 0 || angles(a, 2) < 0) ++missing;
    }
  }
};

}  // namespace impl

void TopologyLists::build(MPI_Comm world, const Topology& t, const ParticleArrays& p, long natoms) {
  const long ntotal = p.n_total(), nowned = p.n_owned;
  if (static_cast<long>(m_map.extent(0)) < natoms + 1) m_map = IndexView("md::id_map", natoms + 1);
  Kokkos::deep_copy(m_map, -1);
  Kokkos::parallel_for("md::map_ghosts", RangePolicy(nowned, ntotal), impl::MapGhosts{m_map, p.id});
  Kokkos::parallel_for("md::map_owned", RangePolicy(0, nowned), impl::MapOwned{m_map, p.id});
  long nb = 0, na = 0;
  Kokkos::parallel_reduce("md::count_topology", RangePolicy(0, nowned), impl::CountOwned{p.extra, t}, nb, na);
  if (static_cast<long>(m_bonds.extent(0)) < nb) m_bonds = BondView("md::bond_list", nb + nb / 2 + 16);
  if (static_cast<long>(m_angles.extent(0)) < na) m_angles = AngleView("md::angle_list", na + na / 2 + 16);
  Kokkos::parallel_scan("md::bond_list", RangePolicy(0, nowned), impl::FillBonds{p.extra, t, m_map, m_bonds});
  Kokkos::parallel_scan("md::angle_list", RangePolicy(0, nowned), impl::FillAngles{p.extra, t, m_map, m_angles});
  int missing = 0;
  Kokkos::parallel_reduce("md::check_topology", RangePolicy(0, nb + na), impl::CountMissing{m_bonds, m_angles, nb},
                          missing);
  m_nbonds = nb;
  m_nangles = na;
  if (global_sum(world, static_cast<long>(missing)) > 0) {
    throw RunError(
        "md: a bond or angle partner is farther away than the ghost cutoff (pair cutoff + skin); the bonds "
        "stretched too far or the skin is too small");
  }
}

}  // namespace gosok::md
