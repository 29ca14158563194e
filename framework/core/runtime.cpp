#include <gosok/core/runtime.hpp>

#include <csignal>
#include <cstring>
#include <vector>

#include <gosok/core/environment.hpp>
#include <gosok/core/logging.hpp>

namespace gosok {

namespace {
sigset_t stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGTERM);
  return set;
}
}  // namespace

Runtime::Runtime(int& argc, char** argv, RuntimeOptions options) : m_options(options) {
  const sigset_t stop = stop_signals();
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    m_owns_mpi = true;
  }
  MPI_Comm_dup(MPI_COMM_WORLD, &m_comm);
  MPI_Comm_rank(m_comm, &m_rank);
  MPI_Comm_size(m_comm, &m_size);
  // Errors inside MPI calls come back as codes we turn into exceptions, which guarded()
  // then turns into a job-wide abort with a message.
  MPI_Comm_set_errhandler(m_comm, MPI_ERRORS_RETURN);

  log().set_rank(m_rank, m_size);
  log().set_level(options.log_level);
  log().set_all_ranks(options.log_all_ranks);
  m_warned_before_start = env(kWalltimeWarningVariable).has_value();
  if (m_warned_before_start) {
    log().info("{} is set: the walltime warning came before the run started; it stops after its first step",
               kWalltimeWarningVariable);
  }

  // Hand Kokkos only its own --kokkos-* arguments; the CLI owns the rest.
  std::vector<char*> kokkos_args;
  kokkos_args.push_back(argc > 0 ? argv[0] : const_cast<char*>("gosok"));
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--kokkos-", 9) == 0) kokkos_args.push_back(argv[i]);
  }
  int kokkos_argc = static_cast<int>(kokkos_args.size());
  kokkos_args.push_back(nullptr);
  Kokkos::initialize(kokkos_argc, kokkos_args.data());
}

Runtime::~Runtime() {
  if (m_options.print_timers && !m_timers.stats().empty()) {
    std::string summary = timer_summary();
    if (m_rank == 0 && log().enabled(LogLevel::info)) log().info("timers:\n{}", summary);
  }
  Kokkos::finalize();
  MPI_Comm_free(&m_comm);
  if (m_owns_mpi) MPI_Finalize();
}

void Runtime::abort(const std::string& message, int code) {
  if (m_size > 1) {
    log().error("fatal error on rank {} of {}: {}; aborting all ranks", m_rank, m_size, message);
  } else {
    log().error("fatal error: {}", message);
  }
  MPI_Abort(MPI_COMM_WORLD, code);
  std::_Exit(code);  // MPI_Abort does not return; this is for the compiler
}

bool Runtime::stop_requested() {
  sigset_t pending;
  sigpending(&pending);
  const int mine =
      m_warned_before_start || sigismember(&pending, SIGUSR1) == 1 || sigismember(&pending, SIGTERM) == 1 ? 1 : 0;
  int any = 0;
  MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, m_comm);
  return any != 0;
}

std::vector<Runtime::RegionStats> Runtime::timer_stats() {
  // Rank 0's region names define the table; others report what they have for those names.
  std::string names;
  if (m_rank == 0) {
    for (const auto& [name, stat] : m_timers.stats()) names += name + '\n';
  }
  int length = static_cast<int>(names.size());
  MPI_Bcast(&length, 1, MPI_INT, 0, m_comm);
  names.resize(static_cast<std::size_t>(length));
  MPI_Bcast(names.data(), length, MPI_CHAR, 0, m_comm);

  std::vector<double> mine;
  std::vector<std::string> order;
  std::size_t start = 0;
  while (start < names.size()) {
    auto end = names.find('\n', start);
    order.push_back(names.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& name : order) {
    auto it = m_timers.stats().find(name);
    mine.push_back(it == m_timers.stats().end() ? 0.0 : it->second.seconds);
  }
  std::vector<double> min(mine.size()), max(mine.size()), sum(mine.size());
  const int n = static_cast<int>(mine.size());
  MPI_Reduce(mine.data(), min.data(), n, MPI_DOUBLE, MPI_MIN, 0, m_comm);
  MPI_Reduce(mine.data(), max.data(), n, MPI_DOUBLE, MPI_MAX, 0, m_comm);
  MPI_Reduce(mine.data(), sum.data(), n, MPI_DOUBLE, MPI_SUM, 0, m_comm);
  std::vector<RegionStats> out;
  if (m_rank != 0) return out;
  for (std::size_t i = 0; i < order.size(); ++i) {
    out.push_back({order[i], m_timers.stats().at(order[i]).calls, min[i], sum[i] / m_size, max[i]});
  }
  return out;
}

std::string Runtime::timer_summary() {
  const auto stats = timer_stats();
  if (m_rank != 0) return {};
  std::vector<double> min, max, avg;
  for (const auto& s : stats) {
    min.push_back(s.min_s);
    max.push_back(s.max_s);
    avg.push_back(s.avg_s);
  }
  return m_timers.summary(min, max, avg);
}

}  // namespace gosok
