#pragma once

#include <cstdint>

#include <gosok/core/counter_hash.hpp>

namespace gosok::md {

/// The Langevin thermostat's random numbers: a hash of (seed, particle id, step,
/// component), so a particle draws the same numbers whichever rank owns it and however
/// many ranks there are, and a restarted run draws what the uninterrupted one drew. It
/// passes the statistical checks our thermostat needs (tests/unit/test_md_physics.cpp).
/// Uniform in [0, 1) with 53 random bits.
KOKKOS_INLINE_FUNCTION double uniform01(std::uint64_t seed, std::uint64_t id, std::uint64_t step, unsigned component) {
  return unit_interval(mix64(mix64(mix64(seed) ^ id) ^ (step * 8 + component)));
}

}  // namespace gosok::md
