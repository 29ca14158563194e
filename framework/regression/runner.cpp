#include <gosok/regression/runner.hpp>

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <map>
#include <ostream>
#include <thread>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/version.hpp>
#include <gosok/regression/baseline.hpp>
#include <gosok/regression/figures.hpp>
#include <gosok/regression/report.hpp>
#include <gosok/regression/walltime.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::regress {

namespace fs = std::filesystem;

namespace {

/// One job of an instance: its whole run, or one part of a stopped-and-restarted one. On
/// a Slurm site the jobs of one shape (workload, resources, time) are tasks of one array.
struct Job {
  std::size_t instance = 0;
  int part = 0;  // 0: the run (or its first part), 1: the restart
  sched::JobRequest request;
  sched::JobRecord record;
  bool submitted = false;
  std::string failure;  // why it did not run to completion
};

/// An instance with its folder, input and what became of it.
struct Planned {
  Instance inst;
  fs::path dir, results;
  Input input;
  CaseResult result;
  std::optional<RunFacts> facts;
  bool ran = false;  // every job completed
  int array = -1;    // the array its jobs are tasks of (-1: none), and their task index
  int task = -1;
};

/// An array: instances of one shape, task k of each part writing into results/<k>.
struct ArrayGroup {
  fs::path dir;
  std::vector<std::size_t> instances;
};

std::string stamp() {
  std::string s = sched::format_time(sched::now_seconds());
  s.erase(std::remove(s.begin(), s.end(), ':'), s.end());
  s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
  return s;
}

fs::path default_output(const Suite& suite) {
  const auto root = env("GOSOK_OUTPUT_ROOT");
  const fs::path base = root ? fs::path(*root) : fs::current_path() / "gosok-out";
  return fs::absolute(base) / fmt::format("regress-{}-{}-{}", suite.name, stamp(), ::getpid());
}

bool done(const sched::JobRecord& j) { return !j.active() || j.state == "missing"; }

void describe_end(std::ostream* progress, const Job& job, const Planned& p, std::size_t k, std::size_t n) {
  if (!progress) return;
  const auto& r = job.record;
  *progress << fmt::format("[{}/{}] {}{} on {}: {} ({} s, {:.4f} GPU-hours, {})\n", k, n, p.inst.id,
                           !p.inst.restart ? ""
                           : job.part      ? " (restarted)"
                                           : " (first part)",
                           p.result.system, job.failure.empty() ? "done" : "FAILED: " + job.failure, r.elapsed_s,
                           r.charged_gpu_h, r.gosok_id());
  progress->flush();
}

std::string failure_of(const sched::JobRecord& r) {
  if (r.state == "settled" && r.sched_state == "COMPLETED") return {};
  std::string why = r.sched_state.empty() ? r.state : r.sched_state;
  if (!r.note.empty()) why += ": " + r.note;
  return why;
}

/// Submits one array: each task's whole input is a file (its resolved input, written
/// here), read by `gosok run --input <dir>/part<N>-%a.toml`; the tasks' records go back to
/// their jobs. Returns false (every job failed) when the array could not be submitted.
void submit_array(std::vector<Job*>& members, const ArrayGroup& group, int part, const std::vector<Planned>& planned,
                  const sched::Site& site, sched::LedgerStore& ledger, const sched::SubmitOptions& options,
                  const RunnerOptions& opt) {
  sched::JobRequest q = members.front()->request;
  std::string tasks;
  for (Job* job : members) {
    const Planned& p = planned[job->instance];
    const Input input = opt.resolve(job->request.workload, job->request.input_file, job->request.overrides);
    write_file_atomically(group.dir / fmt::format("part{}-{}.toml", part, p.task),
                          "# " + p.inst.id + (part ? " (restarted)" : "") +
                              ", written by gosok regress\nworkload = \"" + q.workload + "\"\n" + input.to_toml());
    tasks += (tasks.empty() ? "" : ",") + std::to_string(p.task);
  }
  q.input_file = (group.dir / fmt::format("part{}-%a.toml", part)).string();
  q.overrides.clear();
  q.array = tasks;
  q.results = (group.dir / "results").string();
  q.job_dir = (group.dir / fmt::format("job-part{}", part)).string();
  q.name = fs::path(group.dir).filename().string().substr(0, 64);
  try {
    const auto outcome = sched::submit_job(q, site, &ledger, options);
    for (Job* job : members) {
      for (const auto& r : outcome.jobs) {
        if (r.array_task == planned[job->instance].task) job->record = r;
      }
      job->request.job_dir = q.job_dir;
      job->submitted = true;
    }
  } catch (const std::exception& e) {
    for (Job* job : members) job->failure = std::string("not submitted: ") + e.what();
  }
}

/// Runs a wave of jobs to their end. Local sites run them one after another (timings stay
/// clean on a shared machine); Slurm sites get them all, the jobs of one shape as one array,
/// then accounting is read until every one has ended, one sacct call per look, less often
/// the longer they run.
void run_wave(std::vector<Job*>& wave, std::vector<Planned>& planned, const std::vector<ArrayGroup>& arrays, int part,
              const sched::Site& site, sched::LedgerStore& ledger, const std::string& ledger_path,
              const RunnerOptions& opt, std::size_t& finished, std::size_t total) {
  std::ostream* progress = opt.progress;
  sched::SubmitOptions options;
  options.ledger_path = ledger_path;
  const bool local = site.scheduler == "local";
  std::map<int, std::vector<Job*>> by_array;
  for (Job* job : wave) {
    if (planned[job->instance].array >= 0) {
      by_array[planned[job->instance].array].push_back(job);
      continue;
    }
    try {
      const auto outcome = sched::submit_job(job->request, site, &ledger, options);
      job->record = outcome.jobs.front();
      job->submitted = true;
      if (local) {
        sched::wait_process(job->record.pid);
        if (auto r = ledger.find_job(job->record.id)) job->record = *r;
      }
    } catch (const std::exception& e) {
      job->failure = std::string("not submitted: ") + e.what();
    }
    if (local || !job->submitted) {
      if (job->submitted) job->failure = failure_of(job->record);
      describe_end(progress, *job, planned[job->instance], ++finished, total);
    }
  }
  for (auto& [index, members] : by_array) {
    submit_array(members, arrays[static_cast<std::size_t>(index)], part, planned, site, ledger, options, opt);
    for (Job* job : members) {
      if (!job->submitted) describe_end(progress, *job, planned[job->instance], ++finished, total);
    }
  }
  if (local) return;
  double interval = 1.0;
  std::vector<Job*> waiting;
  for (Job* job : wave) {
    if (job->submitted) waiting.push_back(job);
  }
  using clock = std::chrono::steady_clock;
  auto last_said = clock::now();
  // On a shared ledger the centre's reconcile settles the jobs; the suite reads what it wrote.
  const bool may_settle = ledger.access().reconcile;
  while (!waiting.empty()) {
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
    interval = std::min(30.0, interval * 1.5);
    if (may_settle) sched::reconcile_jobs(ledger, "");
    // Say now and then what the suite waits for: a queue can hold jobs for hours.
    if (progress && clock::now() - last_said > std::chrono::minutes(5)) {
      last_said = clock::now();
      int pending = 0;
      for (Job* job : waiting) {
        if (auto r = ledger.find_job(job->record.id); r && r->state != "running") ++pending;
      }
      *progress << fmt::format("waiting for {} job(s): {} not started yet, {} running\n", waiting.size(), pending,
                               waiting.size() - static_cast<std::size_t>(pending));
      progress->flush();
    }
    std::vector<Job*> still;
    for (Job* job : waiting) {
      if (auto r = ledger.find_job(job->record.id)) job->record = *r;
      if (done(job->record)) {
        job->failure = failure_of(job->record);
        describe_end(progress, *job, planned[job->instance], ++finished, total);
      } else {
        still.push_back(job);
      }
    }
    waiting = std::move(still);
  }
}

fs::path baseline_path(const fs::path& folder, const Instance& inst) {
  return folder / (inst.baseline_name() + ".json");
}

bool is_baseline_reference(const Instance& inst, const std::vector<Planned>& all) {
  // The first instance of its case variant: first rank count, uninterrupted, first partition.
  for (const auto& p : all) {
    if (p.inst.spec == inst.spec && p.inst.variant == inst.variant) {
      return &p.inst == &inst;
    }
  }
  return false;
}

bool has_baseline_checks(const CaseSpec& spec) {
  return std::any_of(spec.checks.begin(), spec.checks.end(),
                     [](const CheckSpec& k) { return k.against == "baseline"; });
}

}  // namespace

RunnerOutcome run_suite(const Suite& suite, const RunnerOptions& opt) {
  const sched::Site site = sched::find_site(opt.site);
  std::vector<std::string> skipped;
  const std::vector<Instance> instances = expand(suite, site.name, site.partition("").name, opt.only, &skipped);
  if (instances.empty()) {
    throw InputError(
        fmt::format("{}: no case runs on site {} (their systems name other sites)", suite.file.string(), site.name));
  }
  const fs::path out_dir = opt.output_dir.empty() ? default_output(suite) : fs::absolute(opt.output_dir);
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec)) {
    throw InputError(out_dir.string() + ": the output folder exists and is not empty; give another --results folder");
  }
  const fs::path baselines = opt.baselines.empty() ? suite.baselines : fs::absolute(opt.baselines);

  // Everything that can be refused is refused here, before a GPU-hour is reserved.
  std::vector<Planned> planned;
  for (const auto& inst : instances) {
    Planned p;
    p.inst = inst;
    const std::string where = fmt::format("{}: case '{}' ({})", inst.spec->origin, inst.spec->name, inst.id);
    try {
      site.partition(inst.partition);
      if (inst.ranks % inst.spec->nodes != 0) {
        throw InputError(fmt::format("{} ranks do not spread evenly over {} nodes", inst.ranks, inst.spec->nodes));
      }
      p.input = opt.resolve(inst.spec->workload, inst.spec->input, inst.overrides);
      if (inst.restart) {
        const long max_steps = p.input.get_int("run.max_steps");
        if (max_steps > 0 && inst.restart_at >= max_steps) {
          throw InputError(fmt::format("restart_at {} is not before run.max_steps = {}", inst.restart_at, max_steps));
        }
      }
    } catch (const InputError& e) {
      throw InputError(where + ": " + e.what());
    }
    p.dir = out_dir / inst.partition / inst.id;
    p.results = p.dir / "results";
    auto& r = p.result;
    r.instance = inst.id;
    r.case_name = inst.spec->name;
    r.variant = inst.variant ? inst.variant->name : "";
    r.ranks = inst.ranks;
    r.restart = inst.restart;
    r.system = inst.system(site.name);
    r.output_dir = p.results.string();
    planned.push_back(std::move(p));
  }
  std::string grant = opt.grant;
  if (grant.empty()) grant = env("GOSOK_GRANT").value_or("");
  if (grant.empty())
    throw InputError("missing --grant ID (or $GOSOK_GRANT): the evaluation grant the runs are charged to");
  const std::string ledger_path = sched::ledger_location(opt.ledger, site.ledger);
  auto ledger = sched::open_ledger_at(ledger_path, true);
  if (!ledger->find_grant(grant)) throw InputError("no grant '" + grant + "' in the ledger " + ledger->describe());

  SuiteRun run;
  run.suite = suite.name;
  run.suite_file = suite.file.string();
  run.site = site.name;
  run.grant = grant;
  run.user = current_user();
  run.host = current_host();
  run.gosok_version = version();
  run.git_hash = git_hash();
  run.started_at = sched::now_seconds();
  run.output_dir = out_dir.string();
  run.updated_baselines = opt.update_baselines;
  run.skipped = skipped;

  // On a Slurm site, instances of one shape are tasks of one array (one sbatch for many
  // small cases); task k writes into the array's results/<k>, both parts of a restart alike.
  std::vector<ArrayGroup> arrays;
  if (site.scheduler != "local") {
    std::map<std::string, std::vector<std::size_t>> shapes;
    for (std::size_t i = 0; i < planned.size(); ++i) {
      const auto& in = planned[i].inst;
      shapes[fmt::format("{}|{}|{}|{}|{}|{}", in.spec->workload, in.partition, in.spec->nodes, in.ranks,
                         in.spec->gpus_per_task, in.spec->time_s)]
          .push_back(i);
    }
    for (auto& [shape, members] : shapes) {
      if (members.size() < 2) continue;
      ArrayGroup g;
      const auto& first = planned[members.front()].inst;
      g.dir =
          out_dir / first.partition / fmt::format("array{}-{}-np{}", arrays.size(), first.spec->workload, first.ranks);
      g.instances = members;
      for (std::size_t k = 0; k < members.size(); ++k) {
        auto& p = planned[members[k]];
        p.array = static_cast<int>(arrays.size());
        p.task = static_cast<int>(k);
        p.results = g.dir / "results" / std::to_string(k);
        p.result.output_dir = p.results.string();
      }
      arrays.push_back(g);
    }
  }

  // Jobs: each instance's run; a restart instance's first part stops at restart_at with a
  // checkpoint, and its second part (the next wave) continues from it.
  std::vector<Job> jobs;
  for (std::size_t i = 0; i < planned.size(); ++i) {
    const auto& p = planned[i];
    const int parts = p.inst.restart ? 2 : 1;
    for (int part = 0; part < parts; ++part) {
      Job job;
      job.instance = i;
      job.part = part;
      auto& q = job.request;
      q.workload = p.inst.spec->workload;
      q.input_file = p.inst.spec->input;
      q.overrides = p.inst.overrides;
      q.results = p.results.string();  // both parts of a restart write into the same folder
      const long at = p.inst.restart_at;
      if (p.inst.restart && part == 0) {
        q.overrides.push_back("run.max_steps=" + std::to_string(at));
        q.overrides.push_back("run.checkpoint_every=" + std::to_string(at));
      } else if (p.inst.restart) {
        // The continued run keeps checkpointing as its first part did.
        q.overrides.push_back("run.checkpoint_every=" + std::to_string(at));
        q.overrides.push_back("run.restart=" + (p.results / "checkpoint.h5").string());
        const long max_steps = p.input.get_int("run.max_steps");
        if (max_steps > 0) q.overrides.push_back("run.max_steps=" + std::to_string(max_steps - at));
      }
      q.name = p.inst.id.substr(0, 64);
      q.nodes = static_cast<int>(p.inst.spec->nodes);
      q.ntasks = static_cast<int>(p.inst.ranks);
      // GPUs: gpus_per_task for every task, at most what a node of the partition has.
      const long tasks_per_node = p.inst.ranks / p.inst.spec->nodes;
      q.gpus_per_node = static_cast<int>(
          std::min<long>(tasks_per_node * p.inst.spec->gpus_per_task, site.partition(p.inst.partition).gpus_per_node));
      q.time_limit_s = p.inst.spec->time_s;
      q.partition = p.inst.partition;
      q.grant_id = grant;
      q.job_dir = (p.dir / (parts == 1 ? "job" : part == 0 ? "job-first" : "job-restart")).string();
      jobs.push_back(std::move(job));
    }
  }
  std::size_t finished = 0;
  for (int part = 0; part < 2; ++part) {
    std::vector<Job*> wave;
    for (auto& job : jobs) {
      if (job.part != part) continue;
      if (part == 1) {
        // The restart needs its first part's checkpoint.
        const auto first = std::find_if(jobs.begin(), jobs.end(),
                                        [&](const Job& j) { return j.instance == job.instance && j.part == 0; });
        if (!first->failure.empty()) {
          job.failure = "not run: its first part failed";
          continue;
        }
      }
      wave.push_back(&job);
    }
    run_wave(wave, planned, arrays, part, site, *ledger, ledger_path, opt, finished, jobs.size());
  }

  // What each instance's jobs did and cost.
  auto store = open_results_store(results_path(ledger_path));
  for (auto& p : planned) p.ran = true;
  for (const auto& job : jobs) {
    auto& p = planned[job.instance];
    if (job.submitted) {
      p.result.jobs.push_back(job.record.gosok_id());
      p.result.elapsed_s += static_cast<double>(job.record.elapsed_s);
      p.result.gpu_hours += job.record.charged_gpu_h;
    }
    if (!job.failure.empty()) {
      p.ran = false;
      // Where the job's own output went: the local backend's log, or Slurm's output file.
      const std::string log = site.scheduler == "local" ? job.request.job_dir + "/gosok-run.log" : job.request.job_dir;
      p.result.message +=
          fmt::format("{}{} {}{} (log: {})", p.result.message.empty() ? "" : "; ", job.part ? "the restart" : "the run",
                      job.failure, job.submitted ? " as " + job.record.gosok_id() : std::string(), log);
    } else if (!p.inst.restart) {
      // A whole run is a sample of this workload's speed here, for walltime predictions.
      const std::string key = job.record.in_array() ? job.record.tag + "_" + std::to_string(job.record.array_task)
                                                    : job.record.tag;  // an array's tasks share its tag
      if (auto s = sample_from_results(p.results.string(), key, "regress", site.name, p.inst.partition, job.record.gpus,
                                       static_cast<double>(job.record.elapsed_s))) {
        store->record_sample(*s);
      }
    }
  }
  std::map<std::string, std::size_t> by_id;  // instance id on its partition -> index
  for (std::size_t i = 0; i < planned.size(); ++i) by_id[planned[i].inst.partition + "/" + planned[i].inst.id] = i;

  // Facts and figures of every run that completed.
  for (auto& p : planned) {
    if (!p.ran) continue;
    try {
      p.facts = read_run_facts(p.results);
      p.result.backend = p.facts->backend;
      p.result.precision = p.facts->precision;
      p.result.energy_j = p.facts->energy_j;
      p.result.energy_note = p.facts->energy_note;
      auto figures = figures_of(*p.facts);
      figures.push_back({"gpu_hours", p.result.gpu_hours, "GPU-h"});
      for (const auto& f : figures) {
        p.result.figures.push_back(judge_figure(f, find_reference(p.inst, p.result.system, f.name), p.result.system));
      }
      for (const auto& r : p.inst.spec->references) {
        const bool applies = r.system == p.result.system && (!r.ranks || r.ranks == p.inst.ranks) &&
                             (r.variant.empty() || (p.inst.variant && p.inst.variant->name == r.variant));
        const bool known = std::any_of(p.result.figures.begin(), p.result.figures.end(),
                                       [&](const FigureResult& f) { return f.name == r.figure; });
        if (applies && !known) {
          std::string names;
          for (const auto& f : p.result.figures) names += (names.empty() ? "" : ", ") + f.name;
          FigureResult missing;
          missing.name = r.figure;
          missing.unit = r.unit;
          missing.has_reference = true;
          missing.ref_value = r.value;
          missing.status = "fail";
          missing.detail =
              fmt::format("the reference at {} names a figure this run does not have (it has: {})", r.origin, names);
          p.result.figures.push_back(missing);
        }
      }
    } catch (const InputError& e) {
      p.ran = false;
      p.result.message = e.what();
    }
  }

  // Checks, in two passes: everything but baselines, then (after any update) baselines.
  auto evaluate = [&](Planned& p, const CheckSpec& check, const Quantity* expected, const std::string& what) {
    CheckResult out;
    out.name = check.name;
    Tolerance tolerance;
    Bounds bounds;
    check.select(p.facts->backend, p.facts->precision, tolerance, bounds, out.reason);
    try {
      const Quantity actual = read_quantity(p.results, check.source, opt.read_dataset);
      const Outcome o = expected ? compare(actual, *expected, tolerance) : check_bounds(actual, bounds);
      out.status = o.pass ? "pass" : "fail";
      out.detail = check.source.text + ": " + o.detail + what;
    } catch (const InputError& e) {
      out.status = "error";
      out.detail = e.what();
    }
    return out;
  };
  for (auto& p : planned) {
    if (!p.ran) continue;
    if (p.inst.restart) {
      // The harness's own check: the second part continued from the checkpoint instead of
      // running from the start (which would make every comparison pass vacuously).
      const long began = p.facts->last_step - p.facts->steps;
      const long at = p.inst.restart_at;
      p.result.checks.push_back(
          {"restarted at step " + std::to_string(at), began == at ? "pass" : "fail",
           fmt::format("the restarted part ran steps {} to {} (timers.json)", began, p.facts->last_step),
           "a restart must continue from its checkpoint"});
    }
    for (const auto& check : p.inst.spec->checks) {
      if (check.against == "baseline") continue;
      if (check.against.empty()) {
        p.result.checks.push_back(evaluate(p, check, nullptr, ""));
        continue;
      }
      const std::string other = counterpart(p.inst, check, instances);
      if (other.empty()) continue;  // does not apply to this instance (it is the one compared with)
      CheckResult err{check.name, "error", "", check.reason};
      const auto it = by_id.find(p.inst.partition + "/" + other);
      if (it == by_id.end()) {
        err.detail = fmt::format("{} does not run on {}: nothing to compare with", check.against, p.result.system);
        p.result.checks.push_back(err);
        continue;
      }
      const Planned& ref = planned[it->second];
      if (!ref.ran) {
        err.detail = fmt::format("no result from {} to compare with ({})", other, ref.result.message);
        p.result.checks.push_back(err);
        continue;
      }
      try {
        const Quantity expected = read_quantity(ref.results, check.source, opt.read_dataset);
        p.result.checks.push_back(evaluate(p, check, &expected, " (against " + other + ")"));
      } catch (const InputError& e) {
        err.detail = std::string("the run compared with: ") + e.what();
        p.result.checks.push_back(err);
      }
    }
  }
  std::map<std::string, Baseline> loaded;
  std::map<std::string, std::string> unreadable;
  auto failed_so_far = [](const Planned& p) {
    return !p.ran || std::any_of(p.result.checks.begin(), p.result.checks.end(),
                                 [](const CheckResult& c) { return c.status != "pass"; });
  };
  if (opt.update_baselines) {
    for (auto& p : planned) {
      if (!has_baseline_checks(*p.inst.spec) || !is_baseline_reference(p.inst, planned)) continue;
      const fs::path path = baseline_path(baselines, p.inst);
      if (failed_so_far(p)) {
        unreadable[path.string()] =
            fmt::format("{}: not updated: {} did not pass its other checks", path.string(), p.inst.id);
        continue;
      }
      Baseline b;
      b.path = path;
      b.provenance = {{"suite", suite.name},
                      {"case", p.inst.spec->name},
                      {"variant", p.result.variant},
                      {"instance", p.inst.id},
                      {"system", p.result.system},
                      {"backend", p.facts->backend},
                      {"precision", p.facts->precision},
                      {"updated_by", current_user()},
                      {"updated_at", sched::format_time(sched::now_seconds())},
                      {"host", current_host()},
                      {"gosok_version", version()},
                      {"git_hash", git_hash()},
                      {"made_by", "gosok regress --update-baselines"}};
      try {
        for (const auto& check : p.inst.spec->checks) {
          if (check.against == "baseline") {
            b.values[check.source.text] = read_quantity(p.results, check.source, opt.read_dataset);
          }
        }
        write_baseline(b);
        loaded[path.string()] = b;
      } catch (const InputError& e) {
        unreadable[path.string()] = e.what();
      }
    }
  }
  for (auto& p : planned) {
    if (!p.ran || !has_baseline_checks(*p.inst.spec)) continue;
    const fs::path path = baseline_path(baselines, p.inst);
    const std::string key = path.string();
    if (!loaded.count(key) && !unreadable.count(key)) {
      try {
        loaded[key] = read_baseline(path);
      } catch (const InputError& e) {
        unreadable[key] = e.what();
      }
    }
    const bool updated_here = opt.update_baselines && is_baseline_reference(p.inst, planned) && loaded.count(key);
    for (const auto& check : p.inst.spec->checks) {
      if (check.against != "baseline") continue;
      if (updated_here) {
        p.result.checks.push_back(
            {check.name, "updated", check.source.text + ": baseline written to " + key, check.reason});
        continue;
      }
      if (unreadable.count(key)) {
        p.result.checks.push_back({check.name, "error", unreadable[key], check.reason});
        continue;
      }
      const Baseline& b = loaded[key];
      const auto value = b.values.find(check.source.text);
      if (value == b.values.end()) {
        p.result.checks.push_back({check.name, "error",
                                   fmt::format("{}: the baseline has no value for {} (update it deliberately with "
                                               "--update-baselines)",
                                               key, check.source.text),
                                   check.reason});
        continue;
      }
      CheckResult r = evaluate(p, check, &value->second, " (against the baseline " + key + ")");
      // Where the stored answer came from matters when it is disputed.
      if (r.status == "fail") r.detail += "; the baseline was " + b.describe();
      p.result.checks.push_back(r);
    }
  }

  // Verdicts.
  for (auto& p : planned) {
    auto& r = p.result;
    const auto any = [&](const char* status) {
      return std::any_of(r.checks.begin(), r.checks.end(), [&](const CheckResult& c) { return c.status == status; });
    };
    const bool figure_failed =
        std::any_of(r.figures.begin(), r.figures.end(), [](const FigureResult& f) { return f.status == "fail"; });
    const bool verified = !r.checks.empty() || std::any_of(r.figures.begin(), r.figures.end(),
                                                           [](const FigureResult& f) { return f.has_reference; });
    if (!p.ran || any("error")) {
      r.status = "error";
    } else if (any("fail") || figure_failed) {
      r.status = "fail";
    } else {
      r.status = verified ? "pass" : "recorded";
    }
    run.cases.push_back(r);
  }
  run.ended_at = sched::now_seconds();

  RunnerOutcome outcome;
  outcome.results_path = results_path(ledger_path);
  store->save(run);
  FigureHistory history;
  for (const auto& c : run.cases) {
    for (const auto& f : c.figures) {
      history[history_key(c.instance, c.system, f.name)] = store->history(c.instance, f.name, c.system, 30);
    }
  }
  outcome.run = run;
  outcome.junit_path = opt.junit.empty() ? (out_dir / "junit.xml").string() : fs::absolute(opt.junit).string();
  outcome.html_path = opt.html.empty() ? (out_dir / "report.html").string() : fs::absolute(opt.html).string();
  write_file_atomically(outcome.junit_path, junit_xml(run));
  write_file_atomically(outcome.html_path, html_report(run, history));
  return outcome;
}

}  // namespace gosok::regress
