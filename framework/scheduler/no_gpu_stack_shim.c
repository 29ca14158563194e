/* Test shim (LD_PRELOAD): any call to MPI_Init or Kokkos::initialize aborts the process
 * with a message. tests/integration/test_sched_no_mpi_init.sh runs the scheduler commands
 * under it - they must never start MPI or Kokkos - and `gosok run` to prove it bites. */
#include <stdio.h>
#include <stdlib.h>

static void refuse(const char* what) {
  fprintf(stderr, "no-gpu-stack shim: %s was called\n", what);
  fflush(stderr);
  abort();
}

int MPI_Init(int* argc, char*** argv) {
  (void)argc;
  (void)argv;
  refuse("MPI_Init");
  return 1;
}

int MPI_Init_thread(int* argc, char*** argv, int required, int* provided) {
  (void)argc;
  (void)argv;
  (void)required;
  (void)provided;
  refuse("MPI_Init_thread");
  return 1;
}

/* Kokkos::initialize(int&, char**) and Kokkos::initialize(InitArguments) */
void _ZN6Kokkos10initializeERiPPc(void) { refuse("Kokkos::initialize"); }
void _ZN6Kokkos10initializeENS_13InitArgumentsE(void) { refuse("Kokkos::initialize"); }
