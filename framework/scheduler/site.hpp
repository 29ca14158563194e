#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gosok::sched {

/// Vocabulary: a *site* is one machine gosok submits to: its scheduler (`slurm` or
/// `local`), its MPI launcher and its *partitions*. A partition is a set of identical
/// nodes with a GPU count and type, a walltime limit and a *charge factor* (GPU-hours
/// charged per GPU-hour used). Workloads ask for resources; the site says where they fit.
struct Partition {
  std::string name;
  bool is_default = false;
  int nodes = 1;
  int cpus_per_node = 1;
  int gpus_per_node = 0;
  std::string gpu_type;
  std::int64_t max_walltime_s = 0;  // 0: unlimited
  double charge_factor = 1.0;
};

/// A way to run a command in a container image on this site, e.g. pyxis (options of srun:
/// `--container-image={image}`) or Apptainer (a wrapper: `apptainer exec --nv {image}`).
/// `{image}` in either is replaced by the step's image.
struct ContainerRuntime {
  std::string name;
  bool is_default = false;
  std::vector<std::string> launcher_options;  // appended to the site's launcher
  std::vector<std::string> wrapper;           // placed between the launcher and the command
};

struct Site {
  std::string name;
  std::string description;
  std::string source;                 // file it was read from, or "<embedded localhost.toml>"
  std::string scheduler;              // "slurm" | "local"
  std::vector<std::string> launcher;  // e.g. {"srun", "--mpi=pmix"}
  std::string account_format = "{account}";
  std::string template_name = "default.sbatch";
  std::string ledger;              // optional ledger path ("" = user default)
  std::string gosok_path;          // gosok on the compute nodes ("" = this executable)
  std::vector<std::string> setup;  // script lines run before the launch (trusted: admin-written)
  bool example = false;            // an illustrative file: using it warns (find_site)
  std::int64_t overrun_s = 90;     // how long past its time limit a job may run before it is gone
  /// Read from the center's own folders (or the embedded localhost): only such a site prices
  /// a job (see center_site); a file a user points at may shape the script, never the price.
  bool trusted = false;
  /// Seconds before its time limit at which a job is sent SIGUSR1 (sbatch
  /// --signal=B:USR1@<margin>), so that gosok run checkpoints and stops in time; 0: none.
  std::int64_t signal_margin_s = 0;
  /// Variables exported to distributed runs that ask for the rank environment (NCCL's
  /// network settings, say): name, value.
  std::vector<std::pair<std::string, std::string>> rank_environment;
  std::vector<ContainerRuntime> runtimes;
  std::vector<Partition> partitions;

  const Partition& partition(const std::string& name) const;  // "" = the default; throws InputError
  std::string partition_names() const;
  /// The runtime called `name` ("" = the default one); throws InputError naming the site's.
  const ContainerRuntime& runtime(const std::string& name) const;
};

/// Parses and validates a site file; errors name the file, line, key and allowed values.
Site parse_site(const std::string& text, const std::string& source);
Site load_site_file(const std::string& path);

/// Finds a site by name or path: a path (contains '/' or ends in .toml) is read directly;
/// a name is looked up as <dir>/<name>.toml in $GOSOK_SITE_PATH (':'-separated), then the
/// installed and source site_configs folders; `localhost` falls back to the copy embedded
/// in the binary. `name` "" means $GOSOK_SITE or "localhost". A site marked
/// `example = true` is returned with a warning on stderr, each time.
Site find_site(const std::string& name_or_path);

/// Where site files and job templates are searched, in order: $GOSOK_SITE_PATH (or
/// $GOSOK_TEMPLATE_PATH), then the center's folders.
std::vector<std::string> data_dirs(const std::string& kind);  // kind: "site_configs" | "job_templates"
/// The center's folders: the installed <prefix>/share/gosok/<kind> and, in a build tree,
/// the source tree's. A file found there (or embedded) is `trusted`.
std::vector<std::string> center_dirs(const std::string& kind);

/// The center's site of this name, from center_dirs only; InputError when it has none.
Site center_site(const std::string& name);
/// Throws InputError naming the first difference when `site` (a user's file) would price
/// a job otherwise than the center's site of the same name: scheduler, account format,
/// overrun and every partition (nodes, CPUs, GPUs, GPU type, walltime limit, charge factor).
void require_center_pricing(const Site& site);

/// The embedded copies (generated from site_configs/localhost.toml, job_templates/default.sbatch).
const char* embedded_localhost_site();
const char* embedded_default_template();

/// Reads a job template by name or path, falling back to the embedded default.sbatch;
/// `trusted` tells whether it came from the center's folders (or is the embedded one).
std::string load_template(const std::string& name_or_path, std::string* source = nullptr, bool* trusted = nullptr);
/// The center's template of this name (center_dirs or embedded only); InputError otherwise.
std::string center_template(const std::string& name, std::string* source = nullptr);

}  // namespace gosok::sched
