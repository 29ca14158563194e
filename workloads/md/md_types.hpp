#pragma once

#include <Kokkos_Core.hpp>

#include <gosok/parallel/neighbor_list.hpp>
#include <gosok/parallel/particle_comm.hpp>
#include <gosok/parallel/particles.hpp>

namespace gosok::md {

// The one place the md workload picks where it runs.
using exec_space = Kokkos::DefaultExecutionSpace;
using memory_space = exec_space::memory_space;

using ParticleArrays = Particles<memory_space>;
using Comm = ParticleComm<memory_space>;
using NeighborList = HalfNeighborList<memory_space>;
using Vec3View = ParticleArrays::vec_type;
using IndexView = Kokkos::View<int*, memory_space>;
/// Bonds as (i, j, type) and angles as (i, j, k, type): local particle indices (owned or
/// ghost) of the interaction built at the last neighbour-list build.
using BondView = Kokkos::View<int* [3], Kokkos::LayoutRight, memory_space>;
using AngleView = Kokkos::View<int* [4], Kokkos::LayoutRight, memory_space>;
using RangePolicy = Kokkos::RangePolicy<exec_space>;

}  // namespace gosok::md
