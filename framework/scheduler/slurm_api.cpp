// Submitting through libslurm: the job description sbatch would build from the same script
// (sbatch_script.cpp), sent with slurm_submit_batch_job from this process. Compiled against
// libslurm's headers when configure finds them (GOSOK_HAVE_LIBSLURM); the library itself is
// opened at run time (GOSOK_LIBSLURM_SONAME), on a background thread when the caller
// prepares early, so that loading it and reading slurm.conf overlap the ledger work.
#include <dlfcn.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <slurm/slurm_version.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <thread>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/slurm_api.hpp>

namespace gosok::sched {

namespace {

// The few libslurm entry points gosok uses, as found in the opened library.
struct LibSlurm {
  void (*init)(const char*) = nullptr;
  void (*init_job_desc_msg)(job_desc_msg_t*) = nullptr;
  int (*submit_batch_job)(job_desc_msg_t*, submit_response_msg_t**) = nullptr;
  void (*free_submit_response)(submit_response_msg_t*) = nullptr;
  int (*get_errno)() = nullptr;
  char* (*strerror)(int) = nullptr;
  std::string error;  // why it is unusable ("" when usable)
};

// The slurm.conf libslurm would read. libslurm ends the process (fatal) when it finds none,
// so gosok looks first; without one (a "configless" login node, say) jobs go through sbatch.
std::string slurm_conf_path(std::string& error) {
  const char* env = std::getenv("SLURM_CONF");
  const std::string path = env && *env ? env : "/etc/slurm/slurm.conf";
  if (::access(path.c_str(), R_OK) != 0) {
    error = env && *env ? "SLURM_CONF=" + path + " is not readable"
                        : "no slurm.conf (SLURM_CONF is not set and /etc/slurm/slurm.conf does not exist)";
    return "";
  }
  return path;
}

LibSlurm open_libslurm() {
  LibSlurm lib;
  const std::string conf = slurm_conf_path(lib.error);
  if (conf.empty()) return lib;
  // GLOBAL: the Slurm plugins libslurm opens later resolve their symbols in it.
  void* handle = ::dlopen(GOSOK_LIBSLURM_SONAME, RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    lib.error = std::string("cannot open ") + GOSOK_LIBSLURM_SONAME + ": " + ::dlerror();
    return lib;
  }
  auto find = [&](auto& fn, const char* name) {
    fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(handle, name));
    if (!fn && lib.error.empty()) lib.error = std::string(GOSOK_LIBSLURM_SONAME) + " has no " + name;
  };
  find(lib.init, "slurm_init");
  find(lib.init_job_desc_msg, "slurm_init_job_desc_msg");
  find(lib.submit_batch_job, "slurm_submit_batch_job");
  find(lib.free_submit_response, "slurm_free_submit_response_response_msg");
  find(lib.get_errno, "slurm_get_errno");
  find(lib.strerror, "slurm_strerror");
  if (lib.error.empty()) lib.init(conf.c_str());
  return lib;
}

std::mutex g_mutex;
std::shared_future<LibSlurm> g_lib;

const LibSlurm& libslurm() {
  prepare_libslurm();
  return g_lib.get();
}

char* c(const std::string& s) { return s.empty() ? nullptr : const_cast<char*>(s.c_str()); }

}  // namespace

void prepare_libslurm() {
  std::lock_guard<std::mutex> lock(g_mutex);
  if (g_lib.valid()) return;
  // A detached thread, not std::async: nothing at exit waits for it (libslurm's fatal() on a
  // broken slurm.conf calls exit() from that thread, which must not wait for itself).
  std::promise<LibSlurm> loaded;
  g_lib = loaded.get_future().share();
  std::thread([loaded = std::move(loaded)]() mutable { loaded.set_value(open_libslurm()); }).detach();
}

bool libslurm_available(std::string* why) {
  const auto& lib = libslurm();
  if (why) *why = lib.error;
  return lib.error.empty();
}

std::string libslurm_name() {
  return std::string("libslurm ") + std::to_string(SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER)) + "." +
         std::to_string(SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER)) + "." +
         std::to_string(SLURM_VERSION_MICRO(SLURM_VERSION_NUMBER)) + " (" + GOSOK_LIBSLURM_SONAME + ")";
}

std::string submit_with_libslurm(const BatchJobSpec& spec, const std::string& script, const std::string& script_path) {
  const LibSlurm& lib = libslurm();
  if (!lib.error.empty()) throw RunError(lib.error);
  const SubmitterState who = current_submitter();
  const std::vector<std::string> env = sbatch_environment(spec, who);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const std::string work_dir = sbatch_work_dir(spec, who);
  char* argv[] = {const_cast<char*>(script_path.c_str()), nullptr};

  job_desc_msg_t d;
  lib.init_job_desc_msg(&d);
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
  d.submit_line = c(who.command_line);
  d.alloc_sid = static_cast<std::uint32_t>(who.session);
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
  if (lib.submit_batch_job(&d, &resp) != SLURM_SUCCESS) {
    const int err = lib.get_errno();
    throw RunError(std::string("Slurm refused the job: ") + lib.strerror(err));
  }
  const std::string id = std::to_string(resp->job_id);
  lib.free_submit_response(resp);
  return id;
}

}  // namespace gosok::sched
