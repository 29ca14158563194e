#pragma once

#include <string>

#include "scheduler/sbatch_script.hpp"

namespace gosok::sched {

// Declared only in builds with libslurm (GOSOK_HAVE_LIBSLURM, set when configure finds it);
// without it the Slurm backend runs sbatch for every job.
#if GOSOK_HAVE_LIBSLURM

/// The libslurm version gosok was built against.
std::string libslurm_version();

/// Submits `script` (written at `script_path`) as the job `spec` describes, with the
/// environment, directory and user sbatch would give it, through libslurm in this process;
/// returns the Slurm job id. Throws RunError with Slurm's reason when slurmctld refuses.
std::string submit_with_libslurm(const BatchJobSpec& spec, const std::string& script, const std::string& script_path);

#endif

}  // namespace gosok::sched
