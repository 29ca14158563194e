// gosok submit: render a batch script for a workload run, reserve its GPU-hours, submit it.
#include <fmt/format.h>
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include "cmd_sched_common.hpp"
#include "cmd_sched_server.hpp"
#include "commands.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

std::string default_output_dir(const std::string& name) {
  const char* root = std::getenv("GOSOK_OUTPUT_ROOT");
  const std::filesystem::path base =
      root && *root ? std::filesystem::path(root) : std::filesystem::current_path() / "gosok-out";
  std::string stamp = sched::format_time(sched::now_seconds());  // 2026-11-28T20:31:05Z
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  stamp.erase(std::remove(stamp.begin(), stamp.end(), '-'), stamp.end());
  return (std::filesystem::absolute(base) / fmt::format("{}-{}-{}", name, stamp, ::getpid()))
      .lexically_normal()
      .string();
}

int submit_command(const std::vector<std::string>& args) {
  if (!cli::in_submit_server()) {
    if (const auto code = cli::submit_through_server(args)) return *code;
  }
  sched::JobRequest req;
  sched::SubmitOptions opt;
  std::string site_arg, walltime = "00:10:00", ledger_arg;
  bool help = false, json = false;
  po::options_description desc("usage: gosok submit WORKLOAD --grant ID [options]");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("grant,g", po::value(&req.grant_id),
                                                                         "grant to charge (default $GOSOK_GRANT)")(
      "site", po::value(&site_arg), "site name or file (default $GOSOK_SITE or localhost)")(
      "input,i", po::value(&req.input_file), "the workload's TOML input")(
      "set,s", po::value(&req.overrides)->composing(), "input override key=value, passed to gosok run (repeatable)")(
      "partition,p", po::value(&req.partition), "partition (default: the site's default)")(
      "nodes,N", po::value(&req.nodes), "nodes (default 1)")("ranks-per-node,n", po::value(&req.ranks_per_node),
                                                             "MPI ranks per node (default 1)")(
      "gpus-per-node", po::value(&req.gpus_per_node), "GPUs per node (default: one per rank, at most the partition's)")(
      "walltime,t", po::value(&walltime), "walltime: HH:MM:SS, D-HH:MM:SS, minutes, 90min, 2h (default 00:10:00)")(
      "name,J", po::value(&req.name), "job name (default: the workload)")(
      "output-dir,o", po::value(&req.output_dir), "job folder (default ./gosok-out/<name>-<time>-<pid>)")(
      "template", po::value(&opt.template_name), "job template name or file (default: the site's)")(
      "hold", po::bool_switch(&req.hold), "submit held (sbatch --hold)")("wait", po::bool_switch(&opt.wait),
                                                                         "local site: wait for the run to finish")(
      "dry-run", po::bool_switch(&opt.dry_run), "print the script and the charge; submit and book nothing")(
      "json", po::bool_switch(&json), "machine-readable output")("ledger", po::value(&ledger_arg), "ledger path")(
      "workload", po::value(&req.workload), "workload to run");
  po::positional_options_description pos;
  pos.add("workload", 1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
  po::notify(vm);
  if (help) {
    std::cout << desc << "\n";
    return 0;
  }
  if (req.workload.empty()) throw InputError("missing the workload to run, e.g. gosok submit heat --grant ID");
  if (req.grant_id.empty()) {
    const char* g = std::getenv("GOSOK_GRANT");
    if (!g || !*g) throw InputError("missing --grant ID (or $GOSOK_GRANT); 'gosok grants list' shows your grants");
    req.grant_id = g;
  }
  req.walltime_s = sched::parse_walltime(walltime, "--walltime");
  if (!req.input_file.empty()) req.input_file = std::filesystem::absolute(req.input_file).string();
  const sched::Site site = sched::find_site(site_arg);
  // The server serves libslurm submissions only: an sbatch process it started would carry
  // the server's resource limits and nice value, not its client's.
  if (cli::in_submit_server() &&
      (site.scheduler != "slurm" || site.submit_with != "libslurm" || std::getenv("GOSOK_TEST_CRASH_AFTER_SBATCH"))) {
    throw cli::DeclinedByServer{};
  }
  sched::prepare_submit(site, opt);
  if (req.output_dir.empty()) {
    sched::require_token("job name", req.name.empty() ? req.workload : req.name, false, 64);
    req.output_dir = default_output_dir(req.name.empty() ? req.workload : req.name);
  } else {
    req.output_dir = std::filesystem::absolute(req.output_dir).lexically_normal().string();
  }
  auto ledger = cli::open_ledger(ledger_arg, site.ledger, &opt.ledger_path, true);
  const auto outcome = sched::submit_job(req, site, ledger.get(), opt);
  const auto& job = outcome.job;
  // For the next submit; only where a server would take it (it leaves sbatch sites to us).
  if (job.backend == "slurm" && site.submit_with == "libslurm") cli::start_submit_server();
  const std::string submitted_with =
      outcome.submitted_with +
      (cli::in_submit_server() && !outcome.submitted_with.empty() ? ", by the submit server" : "");
  if (opt.dry_run) {
    if (json) {
      std::cout << nlohmann::json({{"script", outcome.script},
                                   {"template", outcome.script_source},
                                   {"reserve_gpu_hours", outcome.reserve_gpu_h},
                                   {"grant", req.grant_id},
                                   {"site", site.name}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << outcome.script;
      std::cout << fmt::format(
          "# dry run: would reserve {:.4f} GPU-hours of grant {} ({} GPU(s) x {} x charge factor {} on {}:{}); "
          "nothing submitted, nothing booked\n",
          outcome.reserve_gpu_h, req.grant_id, job.gpus, sched::format_walltime(job.walltime_s), job.charge_factor,
          site.name, job.partition);
    }
    return 0;
  }
  if (json) {
    auto j = cli::job_json(job);
    if (opt.wait) j["exit_code"] = outcome.exit_code;
    if (!submitted_with.empty()) j["submitted_with"] = submitted_with;
    std::cout << j.dump(2) << "\n";
  } else if (job.backend == "slurm") {
    std::cout << fmt::format(
        "submitted {} as Slurm job {} on {}:{} ({}): reserved {:.4f} GPU-hours of grant {}\n  output: {}\n",
        job.gosok_id(), job.slurm_id, site.name, job.partition, submitted_with, job.reserved_gpu_h, job.grant_id,
        job.output_dir);
  } else if (opt.wait) {
    std::cout << fmt::format(
        "ran {} on {}: {} ({} s), charged {:.4f} GPU-hours of grant {} (reserved {:.4f})\n  output: {}\n",
        job.gosok_id(), site.name, job.sched_state, job.elapsed_s, job.charged_gpu_h, job.grant_id, job.reserved_gpu_h,
        job.output_dir);
  } else {
    std::cout << fmt::format(
        "started {} on {} (local, monitor pid {}): reserved {:.4f} GPU-hours of grant {}\n  output: {}\n",
        job.gosok_id(), site.name, job.pid, job.reserved_gpu_h, job.grant_id, job.output_dir);
  }
  return opt.wait ? (outcome.exit_code == 0 ? 0 : 1) : 0;
}

}  // namespace

void register_submit_command(CommandRegistry& commands) {
  commands.add({"submit", "submit a workload run as a batch job, charged to a grant",
                [](const std::vector<std::string>& args, int&, char**) { return submit_command(args); }});
}

}  // namespace gosok
