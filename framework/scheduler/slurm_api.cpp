// Submitting through libslurm: the job description sbatch would build from the same script
// (sbatch_script.cpp), sent with slurm_submit_batch_job from this process. Built only when
// libslurm is found (GOSOK_HAVE_LIBSLURM); slurm.cpp falls back to running sbatch otherwise.
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <slurm/slurm_version.h>
#include <unistd.h>

#include <fstream>
#include <iterator>
#include <mutex>

#include "core/error.hpp"
#include "scheduler/slurm_api.hpp"

namespace gosok::sched {

namespace {

char* c(const std::string& s) { return s.empty() ? nullptr : const_cast<char*>(s.c_str()); }

std::string own_command_line() {
  std::ifstream f("/proc/self/cmdline", std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  while (!s.empty() && s.back() == '\0') s.pop_back();
  for (auto& ch : s) {
    if (ch == '\0') ch = ' ';
  }
  return s;
}

}  // namespace

std::string libslurm_version() {
  return std::to_string(SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER)) + "." +
         std::to_string(SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER)) + "." +
         std::to_string(SLURM_VERSION_MICRO(SLURM_VERSION_NUMBER));
}

std::string submit_with_libslurm(const BatchJobSpec& spec, const std::string& script, const std::string& script_path) {
  static std::once_flag init;
  std::call_once(init, [] { slurm_init(nullptr); });  // reads slurm.conf ($SLURM_CONF) once

  const SubmitterState who = current_submitter();
  const std::vector<std::string> env = sbatch_environment(spec, who);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string work_dir = spec.chdir.empty() ? who.cwd : spec.chdir;
  const std::string submit_line = own_command_line();
  char* argv[] = {const_cast<char*>(script_path.c_str()), nullptr};

  job_desc_msg_t d;
  slurm_init_job_desc_msg(&d);
  d.name = c(spec.name);
  d.account = c(spec.account);
  d.qos = c(spec.qos);
  d.partition = c(spec.partition);
  d.comment = c(spec.comment);
  d.std_out = c(spec.output);
  d.std_err = c(spec.error);
  d.features = c(spec.constraint);
  d.reservation = c(spec.reservation);
  d.tres_per_node = c(spec.tres_per_node);
  d.work_dir = c(work_dir);
  d.submit_line = c(submit_line);
  d.script = const_cast<char*>(script.c_str());
  d.argc = 1;
  d.argv = argv;
  d.environment = envp.data();
  d.env_size = static_cast<std::uint32_t>(env.size());
  d.user_id = ::getuid();
  d.group_id = ::getgid();
  // sbatch's defaults for what its options leave unset (slurm_opt_create_job_desc).
  d.contiguous = 0;
  d.mail_type = 0;
  d.task_dist = SLURM_DIST_UNKNOWN;
  d.min_cpus = spec.min_cpus();
  if (spec.nodes_set) {
    d.min_nodes = spec.min_nodes;
    if (spec.max_nodes) d.max_nodes = spec.max_nodes;
  }
  if (spec.ntasks_set) {
    d.bitflags |= JOB_NTASKS_SET;
    d.num_tasks = spec.ntasks;
  }
  if (spec.ntasks_per_node) d.ntasks_per_node = static_cast<std::uint16_t>(*spec.ntasks_per_node);
  if (spec.cpus_per_task) {
    d.bitflags |= JOB_CPUS_SET;
    d.cpus_per_task = static_cast<std::uint16_t>(*spec.cpus_per_task);
    d.pn_min_cpus = static_cast<std::uint16_t>(*spec.cpus_per_task);
  }
  if (spec.mem_mb) d.pn_min_memory = *spec.mem_mb;
  if (spec.minutes) d.time_limit = *spec.minutes;
  if (spec.exclusive) d.shared = JOB_SHARED_NONE;
  if (spec.hold) d.priority = 0;

  submit_response_msg_t* resp = nullptr;
  if (slurm_submit_batch_job(&d, &resp) != SLURM_SUCCESS) {
    const int err = slurm_get_errno();
    throw RunError(std::string("Slurm refused the job: ") + slurm_strerror(err));
  }
  const std::string id = std::to_string(resp->job_id);
  slurm_free_submit_response_response_msg(resp);
  return id;
}

}  // namespace gosok::sched
