#include <gosok/parallel/gather.hpp>

#include <string>

#include <gosok/core/error.hpp>

namespace gosok {
namespace {

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) throw RunError(std::string("MPI ") + what + " failed");
}

}  // namespace

long exclusive_scan(MPI_Comm comm, long value) {
  long below = 0;
  check(MPI_Exscan(&value, &below, 1, MPI_LONG, MPI_SUM, comm), "Exscan");
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  return rank == 0 ? 0 : below;  // MPI leaves rank 0's result undefined
}

std::vector<double> gather_to_root(MPI_Comm comm, const std::vector<double>& local, int root) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  int count = static_cast<int>(local.size());
  std::vector<int> counts(static_cast<std::size_t>(size)), displs(static_cast<std::size_t>(size));
  check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, comm), "Gather");
  std::vector<double> all;
  if (rank == root) {
    int total = 0;
    for (int r = 0; r < size; ++r) {
      displs[static_cast<std::size_t>(r)] = total;
      total += counts[static_cast<std::size_t>(r)];
    }
    all.resize(static_cast<std::size_t>(total));
  }
  check(MPI_Gatherv(local.data(), count, MPI_DOUBLE, all.data(), counts.data(), displs.data(), MPI_DOUBLE, root, comm),
        "Gatherv");
  return all;
}

std::vector<double> all_to_all(MPI_Comm comm, const std::vector<std::vector<double>>& outgoing) {
  int size = 1;
  MPI_Comm_size(comm, &size);
  const auto n = static_cast<std::size_t>(size);
  std::vector<int> send_counts(n), recv_counts(n), send_displs(n), recv_displs(n);
  std::vector<double> send;
  for (std::size_t r = 0; r < n; ++r) {
    send_displs[r] = static_cast<int>(send.size());
    send_counts[r] = static_cast<int>(outgoing[r].size());
    send.insert(send.end(), outgoing[r].begin(), outgoing[r].end());
  }
  check(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, comm), "Alltoall");
  int total = 0;
  for (std::size_t r = 0; r < n; ++r) {
    recv_displs[r] = total;
    total += recv_counts[r];
  }
  std::vector<double> received(static_cast<std::size_t>(total));
  check(MPI_Alltoallv(send.data(), send_counts.data(), send_displs.data(), MPI_DOUBLE, received.data(),
                      recv_counts.data(), recv_displs.data(), MPI_DOUBLE, comm),
        "Alltoallv");
  return received;
}

}  // namespace gosok
