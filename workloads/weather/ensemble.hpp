#pragma once

// Ensemble perturbations: member k of an ensemble adds a small theta' field that is a pure
// function of (seed, member, global cell index). It uses a counter-based hash (SplitMix64's
// finaliser applied to the combined counter), not a stateful random generator, so a cell
// gets the same value whichever rank owns it, in whatever order cells are visited, on CPU
// or GPU: the ensemble is reproducible and independent of the rank count.

#include <cstdint>

#include <Kokkos_Core.hpp>

namespace gosok::weather {

KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

struct EnsemblePerturbation {
  std::uint64_t seed = 0;
  std::uint64_t member = 0;
  double amplitude = 0;  // K: theta' is uniform in [-amplitude, amplitude)

  /// Uniform in [-1, 1) from the 53 high bits of the hash of (seed, member, cell).
  KOKKOS_INLINE_FUNCTION double unit(std::uint64_t cell) const {
    const std::uint64_t h = mix64(mix64(mix64(seed) ^ member) ^ cell);
    return 2.0 * static_cast<double>(h >> 11) * 0x1.0p-53 - 1.0;
  }
  KOKKOS_INLINE_FUNCTION double theta(std::uint64_t cell) const { return amplitude * unit(cell); }
};

}  // namespace gosok::weather
