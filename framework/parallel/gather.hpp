#pragma once

#include <mpi.h>

#include <vector>

namespace gosok {

/// Collectives for variable-sized per-rank data (particles), complementing reduce.hpp.

/// The sum of `value` over the ranks below this one (0 on rank 0).
long exclusive_scan(MPI_Comm comm, long value);

/// Concatenates every rank's `local` on `root`, in rank order; other ranks get an empty
/// vector.
std::vector<double> gather_to_root(MPI_Comm comm, const std::vector<double>& local, int root = 0);

/// Personalised all-to-all: `outgoing[r]` goes to rank r; returns what every rank sent to
/// this one, concatenated in rank order.
std::vector<double> all_to_all(MPI_Comm comm, const std::vector<std::vector<double>>& outgoing);

}  // namespace gosok
