#pragma once

// Force-field coefficients per atom, bond and angle type, sized at run time.
//
// Vocabulary: a *type table* holds one coefficient struct per type (masses, bonds, angles)
// or per ordered pair of atom types, filled on the host and copied to the execution space.
// The input gives *defaults* (pair.epsilon, bond.k, ...) and *explicit* coefficients, one
// `[[pair.coeff]]`, `[[bond.coeff]]` or `[[angle.coeff]]` record each (LAMMPS' pair_coeff,
// bond_coeff, angle_coeff lines); a type pair i != j without a record is *mixed*
// geometrically from the i-i and j-j coefficients (LAMMPS' default mixing).

#include <Kokkos_Core.hpp>
#include <string>
#include <vector>

#include <gosok/core/config.hpp>
#include "md_types.hpp"

namespace gosok::md {

/// Coefficients for any number of types: one entry per type or per ordered pair of types.
/// Filled on the host with set(), copied to the execution space with sync(); kernels read
/// entries through operator().
template <class Coeff>
class TypeTable {
 public:
  using view_type = Kokkos::View<Coeff*, memory_space>;

  /// `types` entries, or types x types with `pairs`; every entry starts as `fill`.
  void resize(int types, bool pairs, const Coeff& fill = Coeff{}) {
    m_types = types;
    const int n = pairs ? types * types : types;
    m_device = view_type("md::type_table", static_cast<std::size_t>(n));
    m_host = Kokkos::create_mirror_view(m_device);
    for (int i = 0; i < n; ++i) m_host(i) = fill;
  }
  void set(int i, const Coeff& c) { m_host(i) = c; }
  void set(int i, int j, const Coeff& c) { m_host(i * m_types + j) = c; }
  const Coeff& get(int i) const { return m_host(i); }
  void sync() { Kokkos::deep_copy(m_device, m_host); }
  /// The device entries themselves, for kernels that need only the view.
  const view_type& view() const { return m_device; }

  KOKKOS_INLINE_FUNCTION const Coeff& operator()(int i) const { return m_device(i); }
  KOKKOS_INLINE_FUNCTION const Coeff& operator()(int i, int j) const { return m_device(i * m_types + j); }

 private:
  int m_types = 0;
  view_type m_device;
  typename view_type::HostMirror m_host;
};

/// The coefficients of one pair of atom types, whichever pair style reads them (a soft
/// pair reads epsilon as its prefactor A and ignores sigma).
struct PairCoeff {
  double epsilon = 1, sigma = 1, cutoff = 2.5;
};

/// FENE bond coefficients (see Fene) and harmonic angle coefficients (theta0 in radians).
struct BondCoeff {
  double k = 0, r0 = 0, epsilon = 0, sigma = 0;
};
struct AngleCoeff {
  double k = 0, theta0 = 0;
};

/// One explicit record, 0-based types (j only for pairs), with where it came from.
template <class Coeff>
struct TypedCoeff {
  int i = 0, j = 0;
  Coeff c;
  std::string origin;
};

/// The coefficients the input gives, read before the system (and so its type counts) is
/// known; the tables check the records' types against the system's.
struct CoeffInput {
  PairCoeff pair_default;
  BondCoeff bond_default;
  AngleCoeff angle_default;
  std::vector<TypedCoeff<PairCoeff>> pairs;
  std::vector<TypedCoeff<BondCoeff>> bonds;
  std::vector<TypedCoeff<AngleCoeff>> angles;

  static CoeffInput read(const Input& in);
};

/// Every type pair's coefficients (types x types, symmetric): explicit records, else mixed.
std::vector<PairCoeff> pair_table(const CoeffInput& in, int types);
/// Every bond (angle) type's coefficients: explicit records, else the defaults.
std::vector<BondCoeff> bond_table(const CoeffInput& in, int types);
std::vector<AngleCoeff> angle_table(const CoeffInput& in, int types);

}  // namespace gosok::md
