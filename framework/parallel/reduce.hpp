#pragma once

#include <mpi.h>

#include <vector>

namespace gosok {

/// Global reductions of host scalars. Sums are not bitwise reproducible across rank counts
/// (the order of additions changes); tests compare them with a tolerance.
double global_sum(MPI_Comm comm, double value);
double global_min(MPI_Comm comm, double value);
double global_max(MPI_Comm comm, double value);
long global_sum(MPI_Comm comm, long value);
/// Element-wise sum of a vector, in place.
void global_sum_inplace(MPI_Comm comm, std::vector<double>& values);

}  // namespace gosok
