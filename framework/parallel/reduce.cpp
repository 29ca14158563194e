#include <gosok/parallel/reduce.hpp>

namespace gosok {
namespace {
double reduce(MPI_Comm comm, double value, MPI_Op op) {
  double out = 0;
  MPI_Allreduce(&value, &out, 1, MPI_DOUBLE, op, comm);
  return out;
}
}  // namespace

double global_sum(MPI_Comm comm, double value) { return reduce(comm, value, MPI_SUM); }
double global_min(MPI_Comm comm, double value) { return reduce(comm, value, MPI_MIN); }
double global_max(MPI_Comm comm, double value) { return reduce(comm, value, MPI_MAX); }

long global_sum(MPI_Comm comm, long value) {
  long out = 0;
  MPI_Allreduce(&value, &out, 1, MPI_LONG, MPI_SUM, comm);
  return out;
}

void global_sum_inplace(MPI_Comm comm, std::vector<double>& values) {
  MPI_Allreduce(MPI_IN_PLACE, values.data(), static_cast<int>(values.size()), MPI_DOUBLE, MPI_SUM, comm);
}

}  // namespace gosok
