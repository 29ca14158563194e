#pragma once

// Ensemble perturbations: member k of an ensemble adds a small theta' field that is a pure
// function of (seed, member, global cell index). It uses a counter-based hash
// (core/counter_hash.hpp), not a stateful random generator, so a cell
// gets the same value whichever rank owns it, in whatever order cells are visited, on CPU
// or GPU: the ensemble is reproducible and independent of the rank count.

#include <cstdint>

#include <Kokkos_Core.hpp>

#include <gosok/core/counter_hash.hpp>

namespace gosok::weather {

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
