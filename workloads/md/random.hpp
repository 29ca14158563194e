#pragma once

#include <Kokkos_Core.hpp>
#include <cstdint>

namespace gosok::md {

/// Counter-based random numbers: each value is a hash of (seed, particle id, step,
/// component), so a particle draws the same numbers whichever rank owns it and however
/// many ranks there are, and a restarted run draws what the uninterrupted one drew. The
/// mixer is SplitMix64's finaliser applied in three rounds; it passes the statistical
/// checks our thermostat needs (tests/unit/test_md_physics.cpp), not cryptographic ones.
KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

/// Uniform in [0, 1) with 53 random bits.
KOKKOS_INLINE_FUNCTION double uniform01(std::uint64_t seed, std::uint64_t id, std::uint64_t step, unsigned component) {
  const std::uint64_t h = mix64(mix64(mix64(seed) ^ id) ^ (step * 8 + component));
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

}  // namespace gosok::md
