// gosok submit: check a workload run's input, render its batch script, reserve its
// GPU-hours (every task of an array), hand it to sbatch. Options that sbatch also has take
// sbatch's names and meanings; what gosok cannot honour is refused by name.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include <gosok/workflow/workflow.hpp>
#include <gosok/workload/input.hpp>
#include "cmd_sched_common.hpp"
#include "cmd_sched_walltime.hpp"
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

std::string default_job_dir(const std::string& name) {
  const auto root = env("GOSOK_OUTPUT_ROOT");
  const std::filesystem::path base =
      root ? std::filesystem::path(*root) : std::filesystem::current_path() / "gosok-out";
  std::string stamp = sched::format_time(sched::now_seconds());  // 2026-11-28T20:31:05Z
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  stamp.erase(std::remove(stamp.begin(), stamp.end(), '-'), stamp.end());
  return (std::filesystem::absolute(base) / fmt::format("{}-{}-{}", name, stamp, ::getpid()))
      .lexically_normal()
      .string();
}

// sbatch options gosok does not take, and what to do instead.
const std::map<std::string, std::string> kNotTaken = {
    {"account", "the grant gives the job its account (--grant ID)"},
    {"A", "the grant gives the job its account (--grant ID)"},
    {"qos", "the grant gives the job its QOS (--grant ID)"},
    {"q", "the grant gives the job its QOS (--grant ID)"},
    {"gres", "ask for GPUs with -G/--gpus, --gpus-per-node or --gpus-per-task"},
    {"chdir", "the job runs in its job folder (--job-dir DIR)"},
    {"D", "the job runs in its job folder (--job-dir DIR)"},
    {"wrap", "gosok submit runs a workload: gosok submit WORKLOAD"},
    {"mem-per-cpu", "give the memory per node with --mem"},
    {"mem-per-gpu", "give the memory per node with --mem"},
    {"oversubscribe", "gosok reserves the GPUs it asks for; shared nodes are the site's choice"},
    {"s", "gosok reserves the GPUs it asks for; shared nodes are the site's choice"},
};
// Other sbatch options: refused by name too (gosok cannot honour them), with the list above.
const char* kSbatchOptions[] = {
    "acctg-freq",
    "batch",
    "bb",
    "bbf",
    "clusters",
    "M",
    "comment",
    "contiguous",
    "core-spec",
    "cores-per-socket",
    "cpu-freq",
    "cpus-per-gpu",
    "deadline",
    "delay-boot",
    "distribution",
    "m",
    "exclude",
    "x",
    "extra-node-info",
    "B",
    "get-user-env",
    "gid",
    "gpu-bind",
    "gpu-freq",
    "gres-flags",
    "hint",
    "ignore-pbs",
    "input",
    "i",
    "kill-on-invalid-dep",
    "licenses",
    "L",
    "mcs-label",
    "mem-bind",
    "mincpus",
    "network",
    "nice",
    "no-kill",
    "k",
    "nodefile",
    "F",
    "nodelist",
    "w",
    "ntasks-per-core",
    "ntasks-per-gpu",
    "ntasks-per-socket",
    "open-mode",
    "overcommit",
    "O",
    "power",
    "priority",
    "profile",
    "propagate",
    "quiet",
    "Q",
    "reboot",
    "reservation",
    "signal",
    "sockets-per-node",
    "spread-job",
    "switches",
    "test-only",
    "thread-spec",
    "threads-per-core",
    "time-min",
    "tmp",
    "uid",
    "use-min-nodes",
    "verbose",
    "v",
    "wckey",
    "cluster-constraint",
    "container",
    "prefer",
    "tres-per-task",
};

[[noreturn]] void refuse_unknown(const po::unknown_option& e) {
  std::string name = e.get_option_name();
  name = name.substr(0, name.find('='));
  const std::string bare = name.substr(name.find_first_not_of('-'));
  if (const auto it = kNotTaken.find(bare); it != kNotTaken.end()) {
    throw InputError(fmt::format("{} is sbatch's, but not one gosok submit takes: {}", name, it->second));
  }
  for (const char* o : kSbatchOptions) {
    if (bare == o) {
      throw InputError(
          fmt::format("{} is sbatch's, but not one gosok submit can honour; the sbatch options it "
                      "takes are listed by 'gosok submit --help'",
                      name));
    }
  }
  throw InputError(fmt::format("unknown option {} (see 'gosok submit --help')", name));
}

// sbatch's [type:]count: the count; a type must be the partition's GPU type.
int gpu_count(const std::string& option, const std::string& value, std::string& type) {
  const auto colon = value.rfind(':');
  const std::string n = colon == std::string::npos ? value : value.substr(colon + 1);
  if (colon != std::string::npos) {
    const std::string t = value.substr(0, colon);
    if (!type.empty() && sched::lower(type) != sched::lower(t)) {
      throw InputError(fmt::format("{} {}: the GPU options name two GPU types ({} and {})", option, value, type, t));
    }
    type = t;
  }
  if (n.empty() || n.size() > 6 || n.find_first_not_of("0123456789") != std::string::npos || std::stoi(n) == 0) {
    throw InputError(fmt::format("{} '{}' is not a GPU count: use [type:]N with N >= 1", option, value));
  }
  return std::stoi(n);
}

int submit_command(const std::vector<std::string>& args) {
  sched::JobRequest req;
  sched::SubmitOptions opt;
  std::string site_arg, time = "00:10:00", ledger_arg, nodes, gpus, gpus_per_node, gpus_per_task;
  bool help = false, json = false, parsable = false, wait = false, requeue = false, no_requeue = false;
  bool no_wait = false;
  std::string poll_text = "0";
  po::options_description ours("gosok's options");
  ours.add_options()("help,h", po::bool_switch(&help), "show this help")("grant", po::value(&req.grant_id),
                                                                         "grant to charge (default $GOSOK_GRANT)")(
      "site", po::value(&site_arg), "site name or file (default $GOSOK_SITE or localhost)")(
      "input", po::value(&req.input_file), "the workload's TOML input (as gosok run --input)")(
      "set", po::value(&req.overrides)->composing(), "input override key=value, as gosok run --set (repeatable)")(
      "set-from-array", po::value(&req.array_key), "with --array: each task's index is this input key")(
      "results", po::value(&req.results),
      "results folder, as gosok run --results (default JOBDIR/results; an array task's: RESULTS/<index>)")(
      "job-dir", po::value(&req.job_dir),
      "gosok's job folder: the script, Slurm's output (default ./gosok-out/<name>-<time>-<pid>); a workflow's "
      "folder, for [workflow] output")("template", po::value(&opt.template_name),
                                       "job template name or file (default: the site's)")(
      "dry-run", po::bool_switch(&opt.dry_run), "print the script and the charge; submit and book nothing")(
      "no-wait", po::bool_switch(&no_wait),
      "a workflow on a site without a batch system: return at once (gosok status WORKFLOW goes on)")(
      "poll", po::value(&poll_text),
      "a workflow it waits for: the longest wait between polls, in seconds (default 30; 5 without a batch system)")(
      "json", po::bool_switch(&json), "machine-readable output")("ledger", po::value(&ledger_arg),
                                                                 "ledger: a file or a postgresql:// URI");
  po::options_description slurm("sbatch's options (the same names and meanings as in sbatch)");
  slurm.add_options()("nodes,N", po::value(&nodes), "nodes (default: enough for the tasks)")(
      "ntasks,n", po::value(&req.ntasks), "tasks (MPI ranks) in all (default: nodes x ntasks-per-node)")(
      "ntasks-per-node", po::value(&req.ntasks_per_node), "tasks per node")(
      "cpus-per-task,c", po::value(&req.cpus_per_task), "CPUs per task")("gpus,G", po::value(&gpus),
                                                                         "[type:]GPUs in all")(
      "gpus-per-node", po::value(&gpus_per_node), "[type:]GPUs per node")("gpus-per-task", po::value(&gpus_per_task),
                                                                          "[type:]GPUs per task")(
      "time,t", po::value(&time),
      "time limit: MM, MM:SS, HH:MM:SS, D-HH[:MM[:SS]] (default 00:10:00), or auto: predicted from past runs")(
      "job-name,J", po::value(&req.name), "job name (default: the workload)")(
      "partition,p", po::value(&req.partition), "partition (default: the site's default)")(
      "output,o", po::value(&req.output), "Slurm's stdout file (default JOBDIR/slurm-%j.out, arrays %A_%a)")(
      "error,e", po::value(&req.error), "Slurm's stderr file (default: with stdout)")(
      "array,a", po::value(&req.array), "job array: task indices (0-999, 1,3,5-7, 0-15:4%2); each task is reserved")(
      "dependency,d", po::value(&req.dependency), "after other jobs: afterok:ID[:ID...] (Slurm or gosok ids)")(
      "hold,H", po::bool_switch(&req.hold), "submit held; 'gosok release JOB' lets it start")(
      "begin,b", po::value(&req.begin), "start no earlier than YYYY-MM-DD[THH:MM[:SS]] or now+N[minutes|hours|...]")(
      "mail-type", po::value(&req.mail_type), "NONE, BEGIN, END, FAIL, ALL, ... (comma-separated)")(
      "mail-user", po::value(&req.mail_user), "who gets the mail")("exclusive", po::bool_switch(&req.exclusive),
                                                                   "whole nodes (every GPU of them is reserved)")(
      "constraint,C", po::value(&req.constraint), "node features")("mem", po::value(&req.mem), "memory per node")(
      "export", po::value(&req.export_env), "environment passed to the job: ALL, NONE or NAME[=value],...")(
      "requeue", po::bool_switch(&requeue), "Slurm may requeue the job (every run is charged)")(
      "no-requeue", po::bool_switch(&no_requeue), "Slurm never requeues the job (e.g. after a node failure)")(
      "parsable", po::bool_switch(&parsable), "print the job id only (Slurm's, or gosok's on a local site)")(
      "wait,W", po::bool_switch(&wait), "return when the job has finished and is settled; exit 1 unless COMPLETED");
  po::options_description hidden;
  hidden.add_options()("workload", po::value(&req.workload), "workload to run");
  po::options_description all;
  all.add(ours).add(slurm).add(hidden);
  po::positional_options_description pos;
  pos.add("workload", 1);
  po::variables_map vm;
  try {
    vm = cli::parse_options(args, all, &pos);
  } catch (const po::unknown_option& e) {
    refuse_unknown(e);
  }
  if (help) {
    std::cout
        << "usage: gosok submit WORKLOAD --grant ID [options]\n"
           "       gosok submit WORKFLOW.toml [--grant ID] [--site SITE] [--set PARAMETER=VALUE]... [--dry-run]\n\n"
        << ours << "\n"
        << slurm << "\n";
    return 0;
  }
  const double poll = cli::seconds_option("--poll", poll_text, 1e7);
  if (cli::is_workflow_file(req.workload)) {
    // A workflow gives each step its resources and input; only these options apply to it.
    const std::set<std::string> workflow_options = {"workload", "grant", "site",   "set",  "template",
                                                    "dry-run",  "json",  "ledger", "hold", "wait",
                                                    "no-wait",  "poll",  "job-dir"};
    for (const auto& o : all.options()) {
      const std::string& name = o->long_name();
      if (vm.count(name) && !vm[name].defaulted() && !workflow_options.count(name)) {
        throw InputError(
            fmt::format("--{} applies to a workload job; a workflow gives each step its own "
                        "(in {}), and --set sets its [parameters]",
                        name, req.workload));
      }
    }
    if (json && parsable) throw InputError("--json and --parsable: give one of them");
    cli::WorkflowSubmitArgs a;
    a.file = req.workload;
    a.site = site_arg;
    a.grant = req.grant_id;
    a.ledger = ledger_arg;
    a.template_name = opt.template_name;
    a.parameters = req.overrides;
    a.dry_run = opt.dry_run;
    a.json = json;
    a.hold = req.hold;
    a.wait = wait;
    a.no_wait = no_wait;
    a.poll = poll;
    a.output = req.job_dir;
    if (a.dry_run && (a.wait || a.hold))
      throw InputError("--wait and --hold with --dry-run: a dry run submits nothing");
    return cli::submit_workflow_file(a);
  }
  if (no_wait) throw InputError("--no-wait is for workflows; a job on a local site runs in the background already");
  if (poll > 0) throw InputError("--poll is for workflows; -W/--wait of a job polls as gosok status --wait does");
  if (json && parsable) throw InputError("--json and --parsable: give one of them");
  if (requeue && no_requeue) throw InputError("--requeue and --no-requeue: give one of them");
  if (requeue) req.requeue = "yes";
  if (no_requeue) req.requeue = "no";
  if (opt.dry_run && (parsable || wait)) {
    throw InputError(std::string(parsable ? "--parsable" : "-W/--wait") + " with --dry-run: a dry run submits no job");
  }
  if (req.workload.empty()) throw InputError("missing the workload to run, e.g. gosok submit heat --grant ID");
  if (req.grant_id.empty()) {
    const auto g = env("GOSOK_GRANT");
    if (!g) throw InputError("missing --grant ID (or $GOSOK_GRANT); 'gosok grants list' shows your grants");
    req.grant_id = *g;
  }
  if (!nodes.empty()) {
    if (nodes.find_first_not_of("0123456789") != std::string::npos || nodes.size() > 6 || std::stoi(nodes) == 0) {
      throw InputError("-N/--nodes '" + nodes +
                       "': gosok reserves the GPUs of a fixed node count; give one number >= 1 (no MIN-MAX range)");
    }
    req.nodes = std::stoi(nodes);
  }
  std::string gpu_type;
  if (!gpus.empty()) req.gpus = gpu_count("-G/--gpus", gpus, gpu_type);
  if (!gpus_per_node.empty()) req.gpus_per_node = gpu_count("--gpus-per-node", gpus_per_node, gpu_type);
  if (!gpus_per_task.empty()) req.gpus_per_task = gpu_count("--gpus-per-task", gpus_per_task, gpu_type);
  const bool auto_time = time == "auto";
  req.time_limit_s = auto_time ? 60 : sched::parse_walltime(time, "-t/--time");  // auto: a placeholder to plan with
  if (!req.input_file.empty()) req.input_file = std::filesystem::absolute(req.input_file).string();
  if (!req.results.empty()) req.results = std::filesystem::absolute(req.results).lexically_normal().string();
  const sched::Site site = sched::find_site(site_arg);
  if (!gpu_type.empty()) {
    const auto& part = site.partition(req.partition);
    if (sched::lower(gpu_type) != sched::lower(part.gpu_type)) {
      throw InputError(fmt::format("GPU type '{}' is not what partition '{}' has ({})", gpu_type, part.name,
                                   part.gpu_type.empty() ? "no GPUs" : part.gpu_type));
    }
  }
  if (req.job_dir.empty()) {
    sched::require_token("job name", req.name.empty() ? req.workload : req.name, false, 64);
    req.job_dir = default_job_dir(req.name.empty() ? req.workload : req.name);
  } else {
    req.job_dir = std::filesystem::absolute(req.job_dir).lexically_normal().string();
  }
  // The workload's own schema and checks, as `gosok run` will apply them inside the job:
  // a job whose input would be refused is refused here, before anything is reserved.
  opt.check_input = [](const sched::JobPlan& plan) {
    WorkloadInputs inputs;
    register_builtin_workload_inputs(inputs);
    workflow::check_job_input(inputs, plan);
  };
  auto ledger = cli::open_ledger(ledger_arg, site.ledger, &opt.ledger_path, true);
  // --time auto takes the time limit predicted from past runs; a dry run shows it beside the
  // one given. The prediction needs the job's plan (its partition and task count).
  std::optional<cli::WalltimeAdvice> advice;
  if (auto_time || opt.dry_run) {
    if (const auto grant = ledger->find_grant(req.grant_id)) {
      try {
        advice = cli::advise_walltime(sched::plan_job(req, site, *grant, sched::now_seconds()), site, opt.ledger_path);
      } catch (const InputError&) {
        throw;
      } catch (const std::exception& e) {
        if (auto_time) throw;
        advice = cli::WalltimeAdvice{std::nullopt, 0, e.what()};
      }
      if (auto_time && !advice->prediction) {
        throw InputError("-t/--time auto: " + advice->why_not + "; give the time limit (-t HH:MM:SS)");
      }
      if (auto_time) req.time_limit_s = advice->time_limit_s;
    }
  }
  auto outcome = sched::submit_job(req, site, ledger.get(), opt);
  auto& jobs = outcome.jobs;
  const auto& plan = outcome.plan;
  const std::int64_t now = sched::now_seconds();
  // What a time limit reserves for one task of this job.
  const auto reserves = [&](std::int64_t time_limit_s) {
    return plan.reserved_gpus * (static_cast<double>(time_limit_s) / 3600.0) * plan.partition->charge_factor;
  };
  nlohmann::json prediction_json = nullptr;
  std::string prediction_text;
  if (advice && advice->prediction) {
    const auto& p = *advice->prediction;
    prediction_json = {{"time_limit", sched::format_walltime(advice->time_limit_s)},
                       {"time_limit_s", advice->time_limit_s},
                       {"predicted_s", p.seconds},
                       {"reserved_gpu_hours", reserves(advice->time_limit_s) * plan.task_count()},
                       {"samples", p.samples},
                       {"basis", p.basis}};
    if (auto_time) {
      prediction_text =
          fmt::format("time limit {} predicted from {}", sched::format_walltime(advice->time_limit_s), p.basis);
    } else {
      const double extra = (reserves(req.time_limit_s) - reserves(advice->time_limit_s)) * plan.task_count();
      prediction_json["given_locks_extra_gpu_hours"] = extra;
      prediction_text = fmt::format(
          "time limit {} given, {} predicted from {}; the given one reserves {:.4f} GPU-hours, the prediction "
          "{:.4f}: {:.4f} GPU-hours {} locked until the job ends",
          sched::format_walltime(req.time_limit_s), sched::format_walltime(advice->time_limit_s), p.basis,
          outcome.reserved_gpu_h, reserves(advice->time_limit_s) * plan.task_count(), std::abs(extra),
          extra >= 0 ? "more" : "fewer");
    }
  } else if (advice) {
    prediction_text = "no time limit prediction: " + advice->why_not;
  }

  if (opt.dry_run) {
    if (json) {
      std::cout << cli::json_document({{"dry_run", true},
                                       {"script", outcome.script},
                                       {"template", outcome.script_source},
                                       {"reserved_gpu_hours", outcome.reserved_gpu_h},
                                       {"tasks", plan.task_count()},
                                       {"time_prediction", prediction_json},
                                       {"grant", req.grant_id},
                                       {"site", site.name},
                                       {"jobs", nlohmann::json::array()}})
                       .dump(2)
                << "\n";
    } else {
      std::cout << outcome.script;
      std::cout << fmt::format(
          "# dry run: would reserve {:.4f} GPU-hours of grant {} ({}{} GPU(s) x ({} + {} s overrun) x charge factor "
          "{} on {}:{}); nothing submitted, nothing booked\n",
          outcome.reserved_gpu_h, req.grant_id,
          plan.array.tasks.empty() ? "" : fmt::format("{} tasks x ", plan.task_count()), plan.reserved_gpus,
          sched::format_walltime(plan.request.time_limit_s), site.overrun_s, plan.partition->charge_factor, site.name,
          plan.partition->name);
      if (!prediction_text.empty()) std::cout << "# " << prediction_text << "\n";
    }
    return 0;
  }
  const auto& first = jobs.front();
  const bool array = first.in_array();
  const std::string slurm_job = first.slurm_id.substr(0, first.slurm_id.find('_'));
  const std::string gosok_job = array ? "g" + std::to_string(first.array_id) : first.gosok_id();
  if (parsable) {
    std::cout << (first.backend == "slurm" ? slurm_job : gosok_job) << "\n";
  } else if (!json) {
    if (auto_time) std::cout << prediction_text << "\n";
    const std::string what = array ? fmt::format("array {} ({} tasks, {} .. {})", gosok_job, jobs.size(),
                                                 first.gosok_id(), jobs.back().gosok_id())
                                   : gosok_job;
    const std::string reserved =
        array ? fmt::format("{:.4f} GPU-hours ({:.4f} per task)", outcome.reserved_gpu_h, first.reserved_gpu_h)
              : fmt::format("{:.4f} GPU-hours", outcome.reserved_gpu_h);
    if (first.backend == "slurm") {
      std::cout << fmt::format("submitted {} as Slurm {} {} on {}:{}: reserved {} of grant {}\n", what,
                               array ? "array job" : "job", slurm_job, site.name, first.partition, reserved,
                               first.grant_id);
    } else {
      std::cout << fmt::format("started {} on {} (local{}, monitor pid {}): reserved {} of grant {}\n", what, site.name,
                               req.hold ? ", held" : "", first.pid, reserved, first.grant_id);
    }
    std::cout << "  job folder: " << first.job_dir << "\n  results: " << plan.results << "\n";
  }
  int exit_code = 0;
  if (wait) {
    if (first.backend == "local") {
      sched::wait_process(first.pid);
      if (auto updated = ledger->find_job(first.id)) jobs = {*updated};
    } else {
      cli::wait_for_jobs(*ledger, opt.ledger_path, jobs, -1);
    }
    for (const auto& j : jobs) {
      if (j.sched_state != "COMPLETED") exit_code = 1;
    }
    if (!json && !parsable) {
      for (const auto& j : jobs) {
        std::cout << fmt::format("{} {}: {} s, charged {:.4f} GPU-hours of grant {} (reserved {:.4f}){}\n",
                                 j.gosok_id(), j.sched_state.empty() ? j.state : j.sched_state, j.elapsed_s,
                                 j.charged_gpu_h, j.grant_id, j.reserved_gpu_h, j.note.empty() ? "" : "; " + j.note);
      }
    }
  }
  if (json) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& j : jobs) list.push_back(cli::job_json(j, now));
    std::cout << cli::json_document({{"dry_run", false},
                                     {"script", outcome.script},
                                     {"template", outcome.script_source},
                                     {"reserved_gpu_hours", outcome.reserved_gpu_h},
                                     {"tasks", plan.task_count()},
                                     {"time_prediction", prediction_json},
                                     {"grant", req.grant_id},
                                     {"site", site.name},
                                     {"jobs", list}})
                     .dump(2)
              << "\n";
  }
  return exit_code;
}

}  // namespace

void register_submit_command(CommandRegistry& commands) {
  commands.add({"submit", "submit a workload run as a batch job (or array), charged to a grant",
                [](const std::vector<std::string>& args, int&, char**) { return submit_command(args); }});
}

}  // namespace gosok
