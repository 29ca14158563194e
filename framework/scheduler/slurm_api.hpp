#pragma once

#include <string>

#include <gosok/scheduler/sbatch_script.hpp>

namespace gosok::sched {

// Submitting through libslurm. gosok is built against libslurm's headers when configure
// finds them (GOSOK_HAVE_LIBSLURM) and opens the library at run time, so the gosok binary
// also runs where libslurm is not installed (every Slurm job then goes through sbatch), and
// commands that never submit do not pay for loading it.
#if GOSOK_HAVE_LIBSLURM

/// Starts opening libslurm and reading slurm.conf on a background thread, so that it is
/// done by the time the job is ready to go (the ledger work runs meanwhile). Optional: the
/// first submission does it itself otherwise. Calling it again does nothing.
void prepare_libslurm();

/// Whether libslurm could be opened and initialised; `why` says why not.
bool libslurm_available(std::string* why = nullptr);

/// The libslurm gosok was built against (its version and file name).
std::string libslurm_name();

/// Submits `script` (written at `script_path`) as the job `spec` describes, with the
/// environment, directory and user sbatch would give it, through libslurm in this process;
/// returns the Slurm job id. Throws RunError with Slurm's reason when slurmctld refuses.
std::string submit_with_libslurm(const BatchJobSpec& spec, const std::string& script, const std::string& script_path);

#endif

}  // namespace gosok::sched
