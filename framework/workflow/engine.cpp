#include <gosok/workflow/engine.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::workflow {

namespace fs = std::filesystem;
using sched::JobRecord;

namespace {

bool is_failure(const std::string& outcome) {
  return outcome == "failed" || outcome == "timed-out" || outcome == "out-of-memory" || outcome == "node-failed" ||
         outcome == "preempted" || outcome == "no-result" || outcome == "lost";
}

bool ended(const JobRecord& j) { return j.state == "settled" || j.state == "released"; }

// A local job whose monitor ended without settling it: nothing will ever settle it.
bool lost(const JobRecord& j) { return j.state == "missing" && j.backend == "local"; }

nlohmann::json read_result(const std::string& results_dir) {
  std::ifstream f(fs::path(results_dir) / kResultFile);
  if (!f) return nullptr;
  const auto doc = nlohmann::json::parse(f, nullptr, false);
  return doc.is_discarded() ? nlohmann::json(nullptr) : doc;
}

// The time a member's run has used: what its jobs that stopped at a checkpoint ran.
std::int64_t time_used(const std::vector<JobRecord>& jobs) {
  std::int64_t used = 0;
  for (const auto& j : jobs) {
    if (j.outcome == "checkpointed") used += j.elapsed_s;
  }
  return used;
}

// Slurm rounds a time limit up to whole minutes: less than this left is no time to continue in.
constexpr std::int64_t kShortestJob = 60;

// One member's jobs (by seq) and what it needs.
struct Member {
  int id = -1;
  std::vector<JobRecord> jobs;
  std::string state;  // see MemberStatus
  const JobRecord* latest() const { return jobs.empty() ? nullptr : &jobs.back(); }
};

// The member's state from its latest job (whose outcome is known once it has ended).
std::string member_state(const Member& m, const Step& s) {
  const JobRecord* j = m.latest();
  if (!j) return "pending";
  if (lost(*j)) return j->attempt <= s.retries ? "retry" : "failed";
  if (j->active()) return j->state == "missing" ? "running" : j->state;
  const std::string& o = j->outcome;
  if (o == "succeeded") return "succeeded";
  if (o == "checkpointed") return "continue";
  if (o == "released") return "pending";
  if (o == "cancelled") return "cancelled";
  // Stopped at a checkpoint with the step's whole time spent: another try would have none.
  if (o == "timed-out" && j->exit_code == kExitCheckpointed) return "failed";
  return is_failure(o) && j->attempt <= s.retries ? "retry" : "failed";
}

bool final_state(const std::string& state) { return state == "failed" || state == "cancelled"; }

std::string member_name(const Step& s, int member) {
  return member < 0 ? s.name : fmt::format("{}[{}]", s.name, member);
}

// "0-3,7,9-10": sbatch's --array list of sorted indices.
std::string array_list(const std::vector<int>& members) {
  std::string out;
  for (std::size_t i = 0; i < members.size();) {
    std::size_t j = i;
    while (j + 1 < members.size() && members[j + 1] == members[j] + 1) ++j;
    out +=
        (out.empty() ? "" : ",") + (j == i ? std::to_string(members[i]) : fmt::format("{}-{}", members[i], members[j]));
    i = j + 1;
  }
  return out;
}

// What one new job of a member is.
struct NewJob {
  int member = -1;
  int seq = 1;
  int attempt = 1;
  int segment = 1;
  std::string why;  // for the event line
  bool restart() const { return segment > 1; }
};

NewJob next_job(const Member& m, const Step& s, const std::string& state) {
  NewJob n;
  n.member = m.id;
  const JobRecord* j = m.latest();
  if (!j) {
    n.why = "submitted";
    return n;
  }
  n.seq = j->seq + 1;
  n.attempt = j->attempt;
  n.segment = j->segment;
  if (state == "continue") {
    n.segment = j->segment + 1;
    n.why = fmt::format("continued from its checkpoint (segment {})", n.segment);
  } else if (state == "retry") {
    n.attempt = j->attempt + 1;
    n.why = fmt::format("retried after {} (try {} of {})", j->outcome.empty() ? j->state : j->outcome, n.attempt,
                        s.retries + 1);
  } else if (state == "pending") {
    n.why = "submitted again (the last submission never ran)";
  } else {  // resume of a failed or cancelled member
    n.attempt = 1;
    n.why = fmt::format("resubmitted by resume after {}", j->outcome);
  }
  return n;
}

// The workflow's jobs by step and member.
using Members = std::map<int, Member>;
std::map<std::string, Members> by_step(const Workflow& w, const std::vector<JobRecord>& jobs) {
  std::map<std::string, Members> out;
  for (const auto& s : w.steps) {
    for (int k : s.member_ids()) out[s.name][k].id = k;
  }
  for (const auto& j : jobs) {
    auto it = out.find(j.step);
    if (it == out.end()) continue;
    it->second[j.member].id = j.member;
    it->second[j.member].jobs.push_back(j);
  }
  for (auto& [name, members] : out) {
    for (auto& [k, m] : members) {
      std::sort(m.jobs.begin(), m.jobs.end(), [](const JobRecord& a, const JobRecord& b) { return a.seq < b.seq; });
    }
  }
  return out;
}

sched::SubmitOptions submit_options(const Engine& e) {
  sched::SubmitOptions opt;
  opt.ledger_path = e.ledger_path;
  opt.gosok_path = e.gosok_path;
  opt.template_name = e.template_name;
  const WorkloadInputs* inputs = &e.inputs;
  opt.check_input = [inputs](const sched::JobPlan& plan) { check_job_input(*inputs, plan); };
  return opt;
}

// The request of one submission of `step` for `jobs` (its members' next jobs).
sched::JobRequest request_for(const Workflow& w, const sched::WorkflowRecord& record, const Step& s,
                              const std::vector<NewJob>& jobs, bool array, std::int64_t time_s, int submission,
                              const std::string& dependency, bool hold) {
  sched::JobRequest r = s.resources;
  r.grant_id = record.grant_id;
  r.name = s.name;
  r.time_limit_s = time_s;
  r.dependency = dependency;
  r.hold = hold;
  r.job_dir = submission_folder(w, s, submission);
  const bool restart = jobs.front().restart();
  if (!s.workload.empty()) {
    r.workload = s.workload;
    r.input_file = s.input;
    for (const auto& a : s.set) r.overrides.push_back(a.key + "=" + a.text);
  } else {
    r.command = s.command;
    r.image = s.image;
    r.runtime = s.runtime;
    r.rank_env = s.rank_env;
    r.walltime_signal = s.walltime_signal;
    r.environment = s.env;
    if (restart) r.environment.emplace_back("GOSOK_RESTART", "1");
  }
  if (s.ensemble() && array) {
    std::vector<int> members;
    for (const auto& j : jobs) members.push_back(j.member);
    r.array = array_list(members);
    if (!s.workload.empty()) r.array_key = s.member_key;
    r.results = step_results(w, s);
    if (restart && !s.workload.empty()) r.overrides.push_back("run.restart=" + r.results + "/%a/checkpoint.h5");
  } else {
    const int member = jobs.front().member;
    r.results = member_results(w, s, member);
    if (member >= 0) {
      if (!s.workload.empty()) r.overrides.push_back(s.member_key + "=" + std::to_string(member));
      if (!s.command.empty()) r.environment.emplace_back("GOSOK_MEMBER", std::to_string(member));
    }
    if (restart && !s.workload.empty()) r.overrides.push_back("run.restart=" + r.results + "/checkpoint.h5");
  }
  return r;
}

// Each job's time limit: what is left of the step's time, at most the partition's limit.
std::int64_t job_time(const Step& s, const sched::Site& site, std::int64_t used) {
  const auto& part = site.partition(s.resources.partition);
  const std::int64_t left = std::max(kShortestJob, s.resources.time_limit_s - used);
  return part.max_walltime_s > 0 ? std::min(left, part.max_walltime_s) : left;
}

void check_continuable(const Step& s, const sched::Site& site) {
  const auto& part = site.partition(s.resources.partition);
  if (part.max_walltime_s > 0 && s.resources.time_limit_s > part.max_walltime_s && s.workload.empty() &&
      !s.walltime_signal) {
    throw InputError(fmt::format(
        "{}: step '{}': time {} is over partition '{}''s limit ({}); a workload runs on in further jobs from "
        "its checkpoint, a command only when it stops at the walltime warning (walltime-signal = true): give a "
        "time of at most {}",
        s.origin, s.name, sched::format_walltime(s.resources.time_limit_s), part.name,
        sched::format_walltime(part.max_walltime_s), sched::format_walltime(part.max_walltime_s)));
  }
  if (part.max_walltime_s > 0 && s.resources.time_limit_s > part.max_walltime_s && site.signal_margin_s == 0) {
    throw InputError(fmt::format(
        "{}: step '{}': time {} is over partition '{}''s limit ({}), and site '{}' sends no walltime warning "
        "(no site.signal_margin), so its jobs cannot stop in time to be continued: give a time of at most {}",
        s.origin, s.name, sched::format_walltime(s.resources.time_limit_s), part.name,
        sched::format_walltime(part.max_walltime_s), site.name, sched::format_walltime(part.max_walltime_s)));
  }
}

// Slurm ids of the jobs a step must wait for: its dependencies' current jobs that have not
// succeeded yet (a whole array by its array job id when all of its tasks are such jobs).
// Returns false when one of them has no Slurm id yet.
bool dependency_of(const Step& s, std::map<std::string, Members>& steps, std::string& out) {
  std::vector<std::string> ids;
  for (const auto& dep : s.after) {
    std::map<std::int64_t, std::pair<int, int>> arrays;  // array id -> (current active tasks, all rows)
    for (const auto& [k, m] : steps.at(dep)) {
      for (const auto& j : m.jobs) {
        if (j.in_array()) ++arrays[j.array_id].second;
      }
    }
    for (const auto& [k, m] : steps.at(dep)) {
      const JobRecord* j = m.latest();
      if (!j || !j->active()) continue;
      if (j->slurm_id.empty()) return false;
      if (j->in_array()) ++arrays[j->array_id].first;
    }
    std::set<std::int64_t> whole;
    for (const auto& [id, counts] : arrays) {
      if (counts.first > 0 && counts.first == counts.second) whole.insert(id);
    }
    std::set<std::string> seen;
    for (const auto& [k, m] : steps.at(dep)) {
      const JobRecord* j = m.latest();
      if (!j || !j->active()) continue;
      const std::string id =
          j->in_array() && whole.count(j->array_id) ? j->slurm_id.substr(0, j->slurm_id.find('_')) : j->slurm_id;
      if (seen.insert(id).second) ids.push_back(id);
    }
  }
  out.clear();
  if (!ids.empty()) {
    out = "afterok";
    for (const auto& id : ids) out += ":" + id;
  }
  return true;
}

// The workflow's pending jobs of one step, one reference per Slurm job (an array, or a job).
std::vector<sched::JobRef> pending_refs(const Members& members) {
  std::map<std::string, sched::JobRef> refs;
  for (const auto& [k, m] : members) {
    const JobRecord* j = m.latest();
    if (!j || j->state != "queued" || j->slurm_id.empty()) continue;
    const std::string id = j->in_array() ? j->slurm_id.substr(0, j->slurm_id.find('_')) : j->slurm_id;
    auto& ref = refs[id];
    ref.scheduler_id = id;
    ref.jobs.push_back(*j);
  }
  std::vector<sched::JobRef> out;
  for (auto& [id, ref] : refs) out.push_back(std::move(ref));
  return out;
}

std::string ids_of(const std::vector<JobRecord>& jobs) {
  const auto& first = jobs.front();
  if (!first.in_array()) return first.gosok_id() + (first.slurm_id.empty() ? "" : " (Slurm " + first.slurm_id + ")");
  const std::string slurm = first.slurm_id.substr(0, first.slurm_id.find('_'));
  return fmt::format("array g{}{}", first.array_id, slurm.empty() ? "" : " (Slurm " + slurm + ")");
}

Advance advance_impl(const Engine& e, const sched::Site& site, sched::WorkflowRecord& record, bool resume, bool hold) {
  Advance report;
  const Workflow w = load_workflow(record);
  const auto backend = sched::make_backend(site.scheduler);
  const bool batch = backend->has_batch_system();
  if (resume && record.state != "running") {
    e.ledger.set_workflow_state(record.id, "running", "");
    record.state = "running";
    record.note.clear();
  }

  // 1. What accounting says: one query for every job of the workflow that has not ended.
  std::vector<JobRecord> jobs = e.ledger.workflow_jobs(record.id);
  std::vector<JobRecord> active;
  for (const auto& j : jobs) {
    if (j.active()) active.push_back(j);
  }
  if (!active.empty()) {
    try {
      const auto rep = sched::reconcile_active(e.ledger, active);
      report.changed = !rep.updates.empty();
    } catch (const RunError& err) {
      report.unreachable = err.what();
      return report;
    }
    jobs = e.ledger.workflow_jobs(record.id);
  }
  std::map<std::int64_t, std::string> before;
  for (const auto& j : active) before[j.id] = j.state;

  // 2. Judge the jobs that have ended.
  auto steps = by_step(w, jobs);
  std::vector<std::pair<std::int64_t, std::string>> outcomes;
  for (const auto& s : w.steps) {
    for (auto& [k, m] : steps[s.name]) {
      for (std::size_t i = 0; i < m.jobs.size(); ++i) {
        auto& j = m.jobs[i];
        if (!j.outcome.empty() || !(ended(j) || lost(j))) continue;
        j.outcome =
            job_outcome(j, s, time_used(std::vector<JobRecord>(m.jobs.begin(), m.jobs.begin() + static_cast<long>(i))));
        outcomes.emplace_back(j.id, j.outcome);
        std::string line = fmt::format("{} {}: {}", j.gosok_id(), member_name(s, k), j.outcome);
        if (!j.sched_state.empty() && j.sched_state != "COMPLETED") line += " (" + j.sched_state + ")";
        if (j.exit_code > 0) line += fmt::format(", exit {}", j.exit_code);
        line += fmt::format(", {} s, charged {:.4f} GPU-h", j.elapsed_s, j.charged_gpu_h);
        report.events.push_back(line);
      }
    }
  }
  e.ledger.set_outcomes(outcomes);
  if (!outcomes.empty()) report.changed = true;
  for (const auto& s : w.steps) {
    for (auto& [k, m] : steps[s.name]) {
      const JobRecord* j = m.latest();
      if (j && before.count(j->id) && before[j->id] != j->state && j->state == "running") {
        report.events.push_back(fmt::format("{} {}: running", j->gosok_id(), member_name(s, k)));
      }
    }
  }

  // 3. Decide, step by step in dependency order, and submit.
  const auto grant = e.ledger.find_grant(record.grant_id);
  if (!grant) throw InputError("workflow " + record.ref() + ": its grant " + record.grant_id + " is not in the ledger");
  const bool may_submit = record.state == "running" || record.state == "held";
  std::string held, failed_note;
  std::set<std::string> blocked, renewed;
  std::set<std::int64_t> submitted_now;  // jobs submitted by this advance: they wait for the right jobs already
  int running_ranks = 0;
  std::map<std::string, int> step_ranks;
  for (const auto& s : w.steps) {
    sched::JobRequest probe = s.resources;
    probe.workload = s.workload.empty() ? "" : s.workload;
    probe.command = s.command;
    probe.grant_id = record.grant_id;
    probe.job_dir = submission_folder(w, s, 1);
    probe.time_limit_s = job_time(s, site, 0);
    step_ranks[s.name] = sched::plan_job(probe, site, *grant, sched::now_seconds()).ntasks;
    for (const auto& [k, m] : steps[s.name]) {
      if (m.latest() && m.latest()->active()) running_ranks += step_ranks[s.name];
    }
  }
  const int cores = std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  bool stop = false;
  for (const auto& s : w.steps) {
    Members& members = steps[s.name];
    bool deps_failed = false, deps_done = true, deps_submitted = true;
    for (const auto& dep : s.after) {
      if (blocked.count(dep)) deps_failed = true;
      for (auto& [k, m] : steps[dep]) {
        const std::string st = member_state(m, w.step(dep));
        deps_failed = deps_failed || final_state(st);
        deps_done = deps_done && st == "succeeded";
        deps_submitted = deps_submitted && (st == "succeeded" || (m.latest() && m.latest()->active()));
      }
    }
    if (deps_failed) {
      blocked.insert(s.name);
      // Its jobs wait for jobs that will never succeed: they would hold their reservations forever.
      for (auto& ref : batch ? pending_refs(members) : std::vector<sched::JobRef>{}) {
        try {
          backend->cancel(ref);
          report.events.push_back(
              fmt::format("{} {}: cancelled, a step it comes after failed", ids_of(ref.jobs), s.name));
        } catch (const std::exception& err) {
          log().warn("could not cancel {}: {}", ref.scheduler_id, err.what());
        }
      }
      continue;
    }
    if (stop || !may_submit) continue;
    std::vector<NewJob> wanted;
    for (auto& [k, m] : members) {
      std::string st = member_state(m, s);
      if (resume && final_state(st)) st = "resume";
      if (st == "pending" || st == "retry" || st == "continue" || st == "resume") wanted.push_back(next_job(m, s, st));
    }
    if (wanted.empty()) continue;
    if (batch ? !deps_submitted : !deps_done) continue;
    std::string dependency;
    if (batch && !dependency_of(s, steps, dependency)) continue;

    // Submissions: on Slurm one per kind of job (fresh, or restarting from checkpoints),
    // an ensemble's as one array; without a batch system one per member, as cores allow.
    std::vector<std::vector<NewJob>> groups;
    if (batch && s.ensemble()) {
      std::vector<NewJob> fresh, restart;
      for (const auto& n : wanted) (n.restart() ? restart : fresh).push_back(n);
      for (auto* g : {&fresh, &restart}) {
        if (!g->empty()) groups.push_back(*g);
      }
    } else {
      for (const auto& n : wanted) groups.push_back({n});
    }
    std::set<std::string> dirs;
    for (const auto& [k, m] : members) {
      for (const auto& j : m.jobs) dirs.insert(j.job_dir);
    }
    int submission = static_cast<int>(dirs.size());
    for (const auto& group : groups) {
      if (!batch && running_ranks > 0 && running_ranks + step_ranks[s.name] > cores) break;
      std::int64_t used = 0;
      for (const auto& n : group) used = std::max(used, time_used(members[n.member].jobs));
      const auto request =
          request_for(w, record, s, group, batch, job_time(s, site, used), ++submission, dependency, hold);
      auto opt = submit_options(e);
      opt.place = [&](JobRecord& job) {
        const int member = job.array_task >= 0 ? job.array_task : group.front().member;
        for (const auto& n : group) {
          if (n.member != member) continue;
          job.workflow_id = record.id;
          job.step = s.name;
          job.member = member;
          job.seq = n.seq;
          job.attempt = n.attempt;
          job.segment = n.segment;
        }
      };
      try {
        auto outcome = sched::submit_job(request, site, &e.ledger, opt);
        report.changed = true;
        renewed.insert(s.name);
        running_ranks += step_ranks[s.name];
        std::string who;
        for (const auto& n : group) who += (who.empty() ? "" : ", ") + member_name(s, n.member);
        report.events.push_back(fmt::format(
            "{}: {} as {}, {:.4f} GPU-h reserved{}",
            group.size() > 3 ? fmt::format("{} ({} members)", s.name, group.size()) : who, group.front().why,
            ids_of(outcome.jobs), outcome.reserved_gpu_h, dependency.empty() ? "" : ", after " + dependency));
        for (auto& j : outcome.jobs) {
          members[j.member].jobs.push_back(j);
          submitted_now.insert(j.id);
        }
      } catch (const sched::AlreadyBooked&) {
        report.events.push_back("another gosok is advancing this workflow at the same moment; leaving it to it");
        return report;
      } catch (const sched::GrantCannotCover& err) {
        held = fmt::format("grant exhausted: step {}: {}", s.name, err.what());
        stop = true;
        break;
      } catch (const sched::SubmitUncertain& err) {
        // The job may exist: its rows stay submitting, and the next advance's accounting
        // binds them by their tag or, once Slurm answers that none carries it, releases
        // them (then the member is submitted again).
        report.events.push_back(fmt::format("{}: {}", s.name, err.what()));
        report.changed = true;
        stop = true;
        break;
      } catch (const std::exception& err) {
        failed_note = fmt::format("step {}: submission refused: {}", s.name, err.what());
        stop = true;
        break;
      }
    }
  }

  // 4. On Slurm, jobs waiting for a job that was retried or continued wait for the new one.
  if (batch) {
    for (const auto& s : w.steps) {
      if (blocked.count(s.name)) continue;
      bool rewire = resume;
      for (const auto& dep : s.after) rewire = rewire || renewed.count(dep);
      if (!rewire) continue;
      auto refs = pending_refs(steps[s.name]);
      refs.erase(std::remove_if(refs.begin(), refs.end(),
                                [&](const sched::JobRef& r) { return submitted_now.count(r.jobs.front().id) != 0; }),
                 refs.end());
      std::string dependency;
      if (refs.empty() || !dependency_of(s, steps, dependency)) continue;
      for (const auto& ref : refs) {
        try {
          backend->set_dependency(ref, dependency);
          report.events.push_back(fmt::format("{} {}: now after {}", ids_of(ref.jobs), s.name,
                                              dependency.empty() ? "nothing (its steps have succeeded)" : dependency));
        } catch (const std::exception& err) {
          log().warn("could not update the dependency of {}: {}", ref.scheduler_id, err.what());
        }
      }
    }
  }

  // 5. The workflow's state.
  bool all_succeeded = true, any_active = false, any_final = false;
  std::string what_failed;
  for (const auto& s : w.steps) {
    for (const auto& [k, m] : steps[s.name]) {
      const std::string st = member_state(m, s);
      all_succeeded = all_succeeded && st == "succeeded";
      any_active = any_active || (m.latest() && m.latest()->active() && !lost(*m.latest()));
      if (final_state(st) || (blocked.count(s.name) && st != "succeeded")) {
        any_final = true;
        if (what_failed.empty()) {
          what_failed = blocked.count(s.name) && !final_state(st)
                            ? fmt::format("step {} cannot run: a step it comes after failed", s.name)
                            : fmt::format("{} {}", member_name(s, k), st);
        }
      }
    }
  }
  std::string state = record.state, note = record.note;
  if (record.state == "cancelled") {
    report.finished = !any_active;
  } else if (all_succeeded) {
    state = "completed";
    note.clear();
    report.finished = true;
  } else if (!failed_note.empty()) {
    state = "failed";
    note = failed_note;
    report.finished = !any_active;
  } else if (record.state == "failed" && !resume) {
    report.finished = !any_active;
  } else if (any_final && !any_active) {
    state = "failed";
    note = what_failed;
    report.finished = true;
  } else if (!held.empty()) {
    state = "held";
    note = held;
  } else {
    state = "running";
    note.clear();
  }
  if (state == "held" && record.state != "held") report.events.push_back("held: " + held);
  if (state != record.state || note != record.note) {
    e.ledger.set_workflow_state(record.id, state, note);
    record.state = state;
    record.note = note;
    report.changed = true;
  }
  return report;
}

}  // namespace

std::string job_outcome(const JobRecord& j, const Step& s, std::int64_t used_s) {
  if (lost(j)) return "lost";
  if (j.state == "released") return "released";
  const std::string& st = j.sched_state;
  if (st == "CANCELLED") return "cancelled";
  if (st == "NODE_FAIL" || st == "BOOT_FAIL") return "node-failed";
  if (st == "OUT_OF_MEMORY") return "out-of-memory";
  if (st == "PREEMPTED") return "preempted";
  // Stopped at the walltime warning: a workload's result file says so, a command's exit status.
  const bool stops = !s.workload.empty() || s.walltime_signal;
  if (stops && j.exit_code == kExitCheckpointed && (st == "FAILED" || st == "COMPLETED")) {
    const auto result = read_result(j.results_dir);
    if (s.workload.empty() || (result.is_object() && result.value("status", "") == "checkpointed")) {
      const std::int64_t left = s.resources.time_limit_s - used_s - j.elapsed_s;
      return left >= kShortestJob ? "checkpointed" : "timed-out";
    }
  }
  if (st == "TIMEOUT" || st == "DEADLINE") return "timed-out";
  if (st != "COMPLETED" || j.exit_code > 0) return "failed";
  if (!s.workload.empty()) {
    const auto result = read_result(j.results_dir);
    return result.is_object() && result.value("status", "") == "completed" && result.value("exit_code", -1) == 0
               ? "succeeded"
               : "no-result";
  }
  if (!s.result.empty()) return fs::exists(fs::path(j.results_dir) / s.result) ? "succeeded" : "no-result";
  return "succeeded";
}

Workflow load_workflow(const sched::WorkflowRecord& record) {
  std::vector<std::string> overrides;
  const auto list = nlohmann::json::parse(record.overrides.empty() ? "[]" : record.overrides, nullptr, false);
  if (list.is_array()) {
    for (const auto& o : list) overrides.push_back(o.get<std::string>());
  }
  Workflow w = parse_workflow(record.spec, record.file, fs::path(record.file).parent_path().string(), overrides);
  place_outputs(w, record.output_dir);
  return w;
}

void check_resources(const Workflow& w, const sched::Site& site) {
  // Any grant of the site's GPU type that is open long enough: only the resources are judged.
  sched::Grant any;
  any.id = "validate";
  any.account = "validate";
  any.site = site.name;
  any.end = sched::now_seconds() + 100LL * 365 * 86400;
  const sched::WorkflowRecord record;
  for (const auto& s : w.steps) {
    try {
      check_continuable(s, site);
      any.gpu_type = site.partition(s.resources.partition).gpu_type;
      NewJob first;
      first.member = s.ensemble() ? 0 : -1;
      sched::plan_job(request_for(w, record, s, {first}, false, job_time(s, site, 0), 1, "", false), site, any,
                      sched::now_seconds());
    } catch (const InputError& e) {
      if (std::string(e.what()).find(s.origin) == 0) throw;
      throw InputError(fmt::format("{}: step '{}': {}", s.origin, s.name, e.what()));
    }
  }
}

Plan plan_workflow(const Workflow& w, const sched::Site& site, const sched::Grant& grant, const Engine& e) {
  Plan plan;
  plan.workflow = w;
  plan.site = site;
  plan.grant = grant;
  check_workloads(plan.workflow, e.inputs);
  const auto backend = sched::make_backend(site.scheduler);
  const bool batch = backend->has_batch_system();
  sched::WorkflowRecord record;
  record.grant_id = grant.id;
  // Dry-run scripts name the jobs a step waits for by a stand-in id, shown as <step>.
  std::map<std::string, std::string> stand_in;
  for (std::size_t i = 0; i < plan.workflow.steps.size(); ++i) {
    stand_in[plan.workflow.steps[i].name] = std::to_string(900000001 + i);
  }
  for (const auto& s : plan.workflow.steps) {
    check_continuable(s, site);
    std::vector<NewJob> first;
    for (int k : s.member_ids()) {
      NewJob n;
      n.member = k;
      first.push_back(n);
    }
    std::string dependency;
    if (batch) {
      for (const auto& dep : s.after) dependency += (dependency.empty() ? "afterok:" : ":") + stand_in[dep];
    }
    PlannedStep p;
    p.step = &s;
    p.job_time_s = job_time(s, site, 0);
    p.segments = static_cast<int>((s.resources.time_limit_s + p.job_time_s - 1) / p.job_time_s);
    // Without a batch system each member is a job of its own; the first stands for all.
    const auto request = request_for(plan.workflow, record, s, batch ? first : std::vector<NewJob>{first.front()},
                                     batch, p.job_time_s, 1, dependency, false);
    auto opt = submit_options(e);
    opt.dry_run = true;
    try {
      auto outcome = sched::submit_job(request, site, &e.ledger, opt);
      p.plan = outcome.plan;
      p.script = outcome.script;
      p.template_source = outcome.script_source;
    } catch (const sched::GrantCannotCover&) {
      // The whole workflow's sum is checked below, with a message about all of it.
      opt.check_input = nullptr;
      p.plan = sched::plan_job(request, site, grant, sched::now_seconds());
      check_job_input(e.inputs, p.plan);
    } catch (const InputError& err) {
      throw InputError(fmt::format("{}: step '{}': {}", s.origin, s.name, err.what()));
    }
    for (const auto& [name, id] : stand_in) {
      for (auto pos = p.script.find(id); pos != std::string::npos; pos = p.script.find(id)) {
        p.script.replace(pos, id.size(), "<" + name + ">");
      }
    }
    // The whole run: every member's GPUs for the step's time, in however many jobs, each
    // reserving the site's overrun too (as submit_job reserves it).
    p.gpu_hours = p.plan.reserved_gpus *
                  (static_cast<double>(s.resources.time_limit_s + p.segments * site.overrun_s) / 3600.0) *
                  p.plan.partition->charge_factor * s.member_count();
    plan.gpu_hours += p.gpu_hours;
    plan.steps.push_back(std::move(p));
  }
  plan.remaining = e.ledger.balance(grant.id, sched::now_seconds()).remaining;
  if (plan.gpu_hours > plan.remaining + 1e-9) {
    std::string parts;
    for (const auto& p : plan.steps)
      parts += fmt::format("{}{} {:.4f}", parts.empty() ? "" : ", ", p.step->name, p.gpu_hours);
    throw sched::GrantCannotCover(fmt::format(
        "grant {} cannot cover workflow {}: its steps need {:.4f} GPU-hours in all ({}), but {:.4f} of {:.4f} remain; "
        "nothing was submitted",
        grant.id, w.name, plan.gpu_hours, parts, std::max(0.0, plan.remaining), grant.gpu_hours));
  }
  return plan;
}

sched::WorkflowRecord submit_workflow(const Plan& plan, const std::string& file, const std::string& spec,
                                      const std::vector<std::string>& overrides, const Engine& e, bool hold,
                                      std::vector<std::string>* events) {
  for (const auto& other : e.ledger.workflows("")) {
    if (fs::path(other.output_dir) == fs::path(plan.workflow.output)) {
      throw InputError(fmt::format("output folder {} is workflow {}'s ({}); give [workflow] output another folder",
                                   plan.workflow.output, other.ref(), other.name));
    }
  }
  sched::WorkflowRecord record;
  record.name = plan.workflow.name;
  record.grant_id = plan.grant.id;
  record.site = plan.site_ref.empty() ? plan.site.name : plan.site_ref;
  record.file = fs::absolute(file).lexically_normal().string();
  record.spec = spec;
  record.overrides = nlohmann::json(overrides).dump();
  record.output_dir = plan.workflow.output;
  record.created_at = sched::now_seconds();
  fs::create_directories(record.output_dir);
  {
    std::ofstream copy(fs::path(record.output_dir) / "workflow.toml");
    copy << spec;
  }
  record.id = e.ledger.add_workflow(record);
  auto report = advance_impl(e, plan.site, record, false, hold);
  if (events) *events = std::move(report.events);
  return record;
}

Advance advance(const Engine& engine, const sched::Site& site, sched::WorkflowRecord& workflow, bool resume) {
  return advance_impl(engine, site, workflow, resume, false);
}

bool follow(const Engine& engine, const sched::Site& site, sched::WorkflowRecord& workflow, double timeout_s,
            const std::function<void(const std::string&)>& on_event, bool resume_first, double longest_poll_s) {
  const bool batch = sched::make_backend(site.scheduler)->has_batch_system();
  const double first = 1.0, longest = longest_poll_s > 0 ? std::max(first, longest_poll_s) : batch ? 30.0 : 5.0;
  double wait = first;
  const auto t0 = std::chrono::steady_clock::now();
  bool resume = resume_first;
  for (;;) {
    const Advance a = advance(engine, site, workflow, resume);
    resume = false;
    for (const auto& line : a.events) on_event(line);
    if (!a.unreachable.empty()) {
      on_event(fmt::format("accounting cannot be asked ({}); asking again in {:.0f} s", a.unreachable, wait));
    }
    if (a.finished) return true;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (timeout_s >= 0 && elapsed > timeout_s) return false;
    wait = a.changed ? first : std::min(longest, wait * 2);
    std::this_thread::sleep_for(std::chrono::duration<double>(
        timeout_s >= 0 ? std::max(0.0, std::min(wait, timeout_s - elapsed + 0.1)) : wait));
  }
}

namespace {

std::vector<sched::JobRef> active_refs(const std::vector<JobRecord>& jobs) {
  std::map<std::string, sched::JobRef> refs;
  for (const auto& j : jobs) {
    if (!j.active()) continue;
    const std::string key = j.backend == "local" ? "local:" + std::to_string(j.id)
                            : j.slurm_id.empty() ? "untracked:" + std::to_string(j.id)
                            : j.in_array()       ? j.slurm_id.substr(0, j.slurm_id.find('_'))
                                                 : j.slurm_id;
    auto& ref = refs[key];
    ref.scheduler_id = j.backend == "local" ? "" : key.rfind("untracked:", 0) == 0 ? "" : key;
    ref.jobs.push_back(j);
  }
  std::vector<sched::JobRef> out;
  for (auto& [k, ref] : refs) out.push_back(std::move(ref));
  return out;
}

}  // namespace

std::vector<std::string> cancel_workflow(const Engine& e, sched::WorkflowRecord& record) {
  std::vector<std::string> done;
  e.ledger.set_workflow_state(record.id, "cancelled", "cancelled by gosok cancel");
  record.state = "cancelled";
  for (const auto& ref : active_refs(e.ledger.workflow_jobs(record.id))) {
    const auto backend = sched::make_backend(ref.jobs.front().backend);
    try {
      backend->cancel(ref);
      done.push_back("cancelled " + ids_of(ref.jobs));
    } catch (const std::exception& err) {
      done.push_back(fmt::format("{}: {}", ids_of(ref.jobs), err.what()));
    }
  }
  return done;
}

std::vector<std::string> release_workflow(const Engine& e, sched::WorkflowRecord& record) {
  std::vector<std::string> done;
  for (const auto& ref : active_refs(e.ledger.workflow_jobs(record.id))) {
    const auto backend = sched::make_backend(ref.jobs.front().backend);
    backend->release(ref);
    done.push_back("released " + ids_of(ref.jobs));
  }
  return done;
}

Status workflow_status(const Engine& e, const sched::WorkflowRecord& record) {
  Status st;
  st.workflow = load_workflow(record);
  auto steps = by_step(st.workflow, e.ledger.workflow_jobs(record.id));
  for (const auto& s : st.workflow.steps) {
    StepStatus ss;
    std::map<std::string, int> counts;
    for (auto& [k, m] : steps[s.name]) {
      MemberStatus ms;
      ms.member = k;
      ms.state = member_state(m, s);
      ms.jobs = m.jobs;
      for (const auto& j : m.jobs) {
        ++st.jobs;
        if (j.state == "settled") st.charged_gpu_h += j.charged_gpu_h;
        if (j.active()) st.reserved_gpu_h += j.reserved_gpu_h;
      }
      ++counts[ms.state];
      ss.members.push_back(std::move(ms));
    }
    std::string summary;
    for (const auto& [state, n] : counts) summary += fmt::format("{}{} {}", summary.empty() ? "" : ", ", n, state);
    ss.state = counts.size() == 1 ? counts.begin()->first : summary;
    ss.step = nullptr;
    st.steps.push_back(std::move(ss));
  }
  for (std::size_t i = 0; i < st.steps.size(); ++i) st.steps[i].step = &st.workflow.steps[i];
  return st;
}

sched::WorkflowRecord find_workflow(sched::LedgerStore& ledger, const std::string& ref) {
  if (ref.size() > 1 && (ref[0] == 'w' || ref[0] == 'W') &&
      ref.find_first_not_of("0123456789", 1) == std::string::npos && ref.size() < 19) {
    if (auto w = ledger.find_workflow(std::stoll(ref.substr(1)))) return *w;
    throw InputError("no workflow " + ref + " in the ledger");
  }
  const auto named = ledger.workflows(ref);
  if (named.empty()) {
    throw InputError("no workflow '" + ref +
                     "' in the ledger (a workflow is w<number> or its name; "
                     "'gosok status --workflows' lists them)");
  }
  return named.front();
}

bool is_workflow_ref(sched::LedgerStore& ledger, const std::string& ref) {
  if (ref.size() > 1 && (ref[0] == 'w' || ref[0] == 'W') &&
      ref.find_first_not_of("0123456789", 1) == std::string::npos) {
    return true;
  }
  return !ledger.workflows(ref).empty();
}

}  // namespace gosok::workflow
