#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>

namespace gosok {

/// Counter-based random numbers: a value is a hash of its counters (a seed, an id, a step,
/// ...), not the next draw of a stateful generator, so it does not depend on which rank or
/// thread asks, in what order, or on CPU or GPU. mix64 is SplitMix64's finaliser; workloads
/// combine counters by applying it in rounds (mix64(mix64(mix64(seed) ^ a) ^ b)). Good for
/// thermostats and perturbations, not for cryptography.
KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// The 53 high bits of a hash as a double uniform in [0, 1).
KOKKOS_INLINE_FUNCTION double unit_interval(std::uint64_t hash) {
  return static_cast<double>(hash >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace gosok
