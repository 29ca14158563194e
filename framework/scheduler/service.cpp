#include <gosok/scheduler/service.hpp>

#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/private_files.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

namespace fs = std::filesystem;

namespace {

bool digits_only(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

}  // namespace

std::string resolve_dependency(LedgerStore& ledger, const std::string& dependency) {
  // TYPE:ID[+TIME][:ID...] entries separated by ',' (all) or '?' (any); "singleton" has no ids.
  std::string out;
  std::size_t pos = 0;
  while (pos <= dependency.size()) {
    const auto sep = dependency.find_first_of(",?", pos);
    const std::string item = dependency.substr(pos, sep == std::string::npos ? std::string::npos : sep - pos);
    auto words = split(item, ':');
    for (std::size_t i = 1; i < words.size(); ++i) {
      const auto plus = words[i].find('+');
      const std::string id = words[i].substr(0, plus);
      if (id.size() > 1 && (id[0] == 'g' || id[0] == 'G')) {
        const JobRef ref = find_job_ref(ledger, id);
        if (ref.scheduler_id.empty()) {
          throw InputError(
              fmt::format("--dependency {}: {} has no Slurm job id (it is not a Slurm job, or its "
                          "submission was interrupted: 'gosok reconcile' finds it)",
                          dependency, id));
        }
        words[i] = ref.scheduler_id + (plus == std::string::npos ? "" : words[i].substr(plus));
      }
    }
    std::string rebuilt;
    for (const auto& w : words) rebuilt += (rebuilt.empty() ? "" : ":") + w;
    out += rebuilt;
    if (sep == std::string::npos) break;
    out += dependency[sep];
    pos = sep + 1;
  }
  return out;
}

namespace {

// The folder a job file is written to, checked like the job folder (-o/-e, --results).
std::string folder_of(const std::string& pattern, const std::string& job_dir) {
  fs::path p(pattern);
  if (p.is_relative()) p = fs::path(job_dir) / p;
  return p.parent_path().string();
}

}  // namespace

SubmitOutcome submit_job(const JobRequest& request, const Site& site, LedgerStore* ledger,
                         const SubmitOptions& options) {
  const auto site_backend = make_backend(site.scheduler);
  const auto backend = options.dry_run ? make_backend("dry-run") : make_backend(site.scheduler);
  if (!ledger) throw InputError("submitting needs the ledger that holds the grant");
  const std::int64_t now = now_seconds();
  const auto grant = ledger->find_grant(request.grant_id);
  if (!grant) {
    throw InputError("no grant '" + request.grant_id + "' in the ledger (import it with 'gosok grants import FILE')");
  }
  // What a job costs comes from the center's site configuration, whatever file the user
  // named; a dry run may try any site file.
  if (backend->books()) require_center_pricing(site);
  JobRequest req = request;
  if (!req.dependency.empty()) req.dependency = resolve_dependency(*ledger, req.dependency);
  SubmitOutcome outcome;
  outcome.plan = plan_job(req, site, *grant, now);
  const JobPlan& plan = outcome.plan;
  // Everything that could refuse the job happens before anything is reserved.
  site_backend->check(plan);
  if (options.check_input) options.check_input(plan);
  outcome.reserved_gpu_h = plan.total_reserve_gpu_h();
  bool template_trusted = false;
  const std::string template_text =
      load_template(options.template_name.empty() ? site.template_name : options.template_name, &outcome.script_source,
                    &template_trusted);
  const auto env_gosok = env("GOSOK_EXECUTABLE");
  const std::string gosok = !options.gosok_path.empty() ? options.gosok_path
                            : !site.gosok_path.empty()  ? site.gosok_path
                            : env_gosok                 ? *env_gosok
                                                        : self_executable();
  std::vector<JobRecord> jobs(plan.task_count());
  const std::string user = current_user();
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    JobRecord& job = jobs[i];
    job.grant_id = grant->id;
    job.site = site.name;
    job.partition = plan.partition->name;
    job.backend = backend->name();
    job.name = plan.request.name;
    job.workload = plan.request.workload.empty() ? "command" : plan.request.workload;
    job.nodes = plan.nodes;
    job.gpus = plan.reserved_gpus;
    job.time_limit_s = plan.request.time_limit_s;
    job.charge_factor = plan.partition->charge_factor;
    job.reserved_gpu_h = plan.reserve_gpu_h;
    job.submitted_at = now;
    job.job_dir = plan.request.job_dir;
    job.results_dir = plan.results;
    job.user = user;
    job.account = plan.account;
    if (!plan.array.tasks.empty()) {
      job.array_task = plan.array.tasks[i];
      job.results_dir.replace(job.results_dir.size() - 2, 2, std::to_string(job.array_task));  // ".../%a"
    }
    if (options.place) options.place(job);
  }

  // Rendering is pure; doing it before the reservation turns a bad template into a refusal
  // that books nothing.
  outcome.script = render_script(plan, site, template_text, outcome.script_source, "gosok:dry-run:0", gosok);
  if (!template_trusted && backend->books()) {
    std::string center_source;
    const Site center = center_site(site.name);
    const std::string reference_text = center_template(center.template_name, &center_source);
    check_script_price(outcome.script, outcome.script_source,
                       render_script(plan, center, reference_text, center_source, "gosok:dry-run:0", gosok),
                       center_source);
  }
  if (!backend->books()) {
    // A dry run books nothing, but tells the truth about the balance.
    const double remaining = ledger->balance(grant->id, now).remaining;
    if (!covers(remaining, outcome.reserved_gpu_h)) {
      throw GrantCannotCover(refusal_message(*grant, outcome.reserved_gpu_h, remaining, jobs.size()));
    }
    return outcome;
  }
  // Folders another user could swap files in are refused before anything is reserved: the
  // job folder (created private below), Slurm's output files and the results folder.
  require_safe_folder(plan.request.job_dir, "job folder");
  for (const auto& [option, pattern] :
       {std::pair<const char*, const std::string&>{"-o/--output", req.output}, {"-e/--error", req.error}}) {
    if (!pattern.empty())
      require_safe_folder(folder_of(pattern, plan.request.job_dir), fmt::format("{} folder", option));
  }
  require_safe_folder(fs::path(plan.results).parent_path().string(), "the results folder");

  // Balance check and reservation of every task: one transaction, under the write lock.
  ledger->reserve(jobs);
  JobRecord& first = jobs.front();
  std::vector<std::int64_t> ids;
  for (const auto& job : jobs) ids.push_back(job.id);
  std::string scheduler_id;
  struct Closer {
    int fd = -1;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } dir;
  try {
    outcome.script = render_script(plan, site, template_text, outcome.script_source, first.tag, gosok);
    dir.fd = open_private_folder(plan.request.job_dir, "job folder");
    // A command is told where to write (GOSOK_RESULTS); gosok run makes a workload's folder itself.
    if (!plan.request.command.empty()) {
      for (const auto& job : jobs) fs::create_directories(job.results_dir);
    }
    const std::string script_path = plan.request.job_dir + "/job.sbatch";
    write_private_file(dir.fd, "job.sbatch", outcome.script, script_path);
    SubmitContext ctx{
        plan, site, first, outcome.script, script_path, launch_argv(plan, site, gosok), options.ledger_path, gosok};
    scheduler_id = backend->submit(ctx);
  } catch (const SubmitUncertain& e) {
    // The scheduler may have the job: the reservation stays until reconcile knows.
    ledger->note_unsubmitted(ids, std::string("submission outcome unknown: ") + e.what());
    throw SubmitUncertain(fmt::format(
        "{}\nThe job may still have reached Slurm, so its reservation of {:.4f} GPU-hours stays on grant {} "
        "({} is 'submitting'): 'gosok reconcile' finds it by its tag, or releases the reservation once Slurm "
        "answers that no job carries it",
        e.what(), outcome.reserved_gpu_h, grant->id, first.gosok_id()));
  } catch (const std::exception& e) {
    ledger->release_unsubmitted(ids, std::string("submission failed: ") + e.what());
    throw;
  }
  Booking booking = Booking::kept;
  try {
    booking = ledger->set_submitted(first.id, scheduler_id, first.pid);
  } catch (const std::exception& e) {
    throw RunError(fmt::format(
        "Slurm accepted the job as {}{}, but the ledger could not record it: {}\nThe job exists and its "
        "reservation is held ({} 'submitting'); 'gosok reconcile' books it by its tag once the ledger can be "
        "written again",
        scheduler_id.empty() ? "a local run" : "job " + scheduler_id,
        first.pid > 0 ? fmt::format(" (monitor pid {})", first.pid) : "", e.what(), first.gosok_id()));
  }
  if (booking == Booking::refused) {
    JobRef ref;
    ref.jobs = jobs;
    ref.jobs.front().slurm_id = scheduler_id;
    ref.jobs.front().pid = first.pid;
    ref.scheduler_id = scheduler_id;
    std::string cancelled = "cancelled";
    try {
      backend->cancel(ref);
    } catch (const std::exception& e) {
      cancelled = std::string("could not be cancelled (") + e.what() + "): cancel it yourself";
    }
    throw RunError(fmt::format(
        "grant {} no longer covers {}: its submission took so long that a reconcile released the reservation, and "
        "other jobs have used it since; Slurm job {} {}",
        grant->id, first.gosok_id(), scheduler_id.empty() ? "(local)" : scheduler_id, cancelled));
  }
  for (auto& job : jobs) {
    job.slurm_id =
        scheduler_id.empty() || !job.in_array() ? scheduler_id : scheduler_id + "_" + std::to_string(job.array_task);
    job.pid = first.pid;
    job.state = "queued";
    if (booking == Booking::renewed)
      job.note = "reserved again: the scheduler accepted it after a reconcile had released it";
  }
  outcome.jobs = std::move(jobs);
  return outcome;
}

ReconcileReport reconcile_jobs(LedgerStore& ledger, const std::string& recorded, std::int64_t grace_s) {
  return reconcile_active(ledger, ledger.jobs("", true), recorded, grace_s);
}

ReconcileReport reconcile_active(LedgerStore& ledger, const std::vector<JobRecord>& active, const std::string& recorded,
                                 std::int64_t grace_s) {
  // On a shared ledger only the centre's reconcile service settles; a member's gosok (a
  // workflow it advances, say) reads what the service wrote.
  if (!ledger.access().reconcile) return {};
  const std::int64_t now = now_seconds();
  std::map<std::string, std::vector<JobRecord>> by_backend;
  for (const auto& j : active) by_backend[j.backend].push_back(j);
  ReconcileReport total;
  for (auto& [name, jobs] : by_backend) {
    if (name == "local") {
      for (const auto& j : jobs) {
        if (j.pid > 0 && ::kill(j.pid, 0) == 0) continue;
        if (j.state == "missing" || now - j.submitted_at < grace_s) continue;
        JobUpdate u;
        u.id = j.id;
        u.state = "missing";
        u.note = "the local run's monitor ended without settling; reservation kept";
        total.missing.push_back(fmt::format("{} (local, grant {})", j.gosok_id(), j.grant_id));
        total.updates.push_back(u);
      }
      continue;
    }
    Accounting accounting;
    if (!recorded.empty()) {
      const auto first = recorded.find_first_not_of(" \t\r\n");
      accounting.records = first != std::string::npos && recorded[first] == '{' ? parse_sacct_json(recorded)
                                                                                : parse_sacct_parsable(recorded);
      // A recorded sacct output has no queue: a held job could carry a tag unseen.
      accounting.complete = false;
      accounting.problem = "a recorded sacct output does not show held jobs, so absence is not proven";
    } else {
      accounting = make_backend(name)->accounting(jobs);
    }
    auto report = plan_reconcile(jobs, accounting, now, grace_s);
    // The energy beside the GPU-hours: what the job's run measured, read when it settles.
    for (auto& u : report.updates) {
      if (u.state != "settled") continue;
      for (const auto& j : jobs) {
        if (j.id == u.id) attach_run_energy(u, j);
      }
    }
    total.settled += report.settled;
    total.released += report.released;
    total.found_by_tag += report.found_by_tag;
    for (auto& m : report.missing) total.missing.push_back(std::move(m));
    for (auto& m : report.unproven) total.unproven.push_back(std::move(m));
    for (auto& m : report.uncharged) total.uncharged.push_back(std::move(m));
    for (auto& u : report.updates) total.updates.push_back(std::move(u));
  }
  // Another reconcile may have settled some of these jobs meanwhile: report what this one did.
  const auto changed = ledger.apply(total.updates);
  const std::set<std::int64_t> applied(changed.begin(), changed.end());
  total.updates.erase(std::remove_if(total.updates.begin(), total.updates.end(),
                                     [&](const JobUpdate& u) { return applied.count(u.id) == 0; }),
                      total.updates.end());
  total.settled = total.released = total.found_by_tag = 0;
  for (const auto& u : total.updates) {
    total.settled += u.state == "settled";
    total.released += u.state == "released";
    total.found_by_tag += !u.slurm_id.empty();
  }
  return total;
}

JobRef find_job_ref(LedgerStore& ledger, const std::string& ref) {
  const bool gosok_id = ref.size() > 1 && (ref[0] == 'g' || ref[0] == 'G');
  const std::string number = gosok_id ? ref.substr(1) : ref;
  const auto us = number.find('_');
  const std::string head = number.substr(0, us), task = us == std::string::npos ? "" : number.substr(us + 1);
  if (!digits_only(head) || (us != std::string::npos && !digits_only(task)) || head.size() > 18) {
    throw InputError("'" + ref +
                     "' is not a job: use a gosok id (g12, or g12_3 for task 3 of an array) or a Slurm job id "
                     "(12345, 12345_3)");
  }
  JobRef out;
  if (!gosok_id) {
    out.jobs = ledger.find_jobs_by_slurm_id(ref);
  } else {
    auto array = ledger.find_array(std::stoll(head));
    if (!task.empty()) {
      for (auto& j : array) {
        if (std::to_string(j.array_task) == task) out.jobs.push_back(std::move(j));
      }
    } else if (!array.empty()) {
      out.jobs = std::move(array);
    } else if (auto job = ledger.find_job(std::stoll(head))) {
      if (job->in_array()) {
        throw InputError(fmt::format("{} is task {} of array g{}: call it {}", ref, job->array_task, job->array_id,
                                     job->gosok_id()));
      }
      out.jobs.push_back(*job);
    }
  }
  if (out.jobs.empty()) throw InputError("no job '" + ref + "' in the ledger");
  // The whole array (g12, 12345) is its array job in Slurm; one task is <job>_<task>.
  const auto& first = out.jobs.front();
  const bool whole_array = first.in_array() && task.empty();
  out.scheduler_id = whole_array ? first.slurm_id.substr(0, first.slurm_id.find('_')) : first.slurm_id;
  return out;
}

Site site_of_grant(const Grant& grant, const std::string& where) {
  try {
    return find_site(grant.site);
  } catch (const InputError& e) {
    throw InputError(fmt::format("{}: grant {} is for site '{}', which gosok does not know: {}", where, grant.id,
                                 grant.site, e.what()));
  }
}

std::int64_t grant_gpu_minutes(const Grant& grant) { return std::llround(grant.gpu_hours * 60.0); }

namespace {

ProcessResult sacctmgr(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"sacctmgr"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_process(argv);
}

ProcessResult sacctmgr_checked(const std::vector<std::string>& args) {
  auto r = sacctmgr(args);
  if (r.exit_code != 0) {
    throw RunError(fmt::format("sacctmgr {} failed (exit {}): {}", join_argv(args), r.exit_code, trim(r.err + r.out)));
  }
  return r;
}

std::string qos_limit_text(const Grant& g) { return fmt::format("gres/gpu={}", grant_gpu_minutes(g)); }

struct SlurmSide {
  bool qos_exists = false;
  std::string qos_limits;
  std::string qos_flags;
  bool account_exists = false;
  std::map<std::string, std::string> user_default_qos;  // user -> default qos of its association
  std::map<std::string, std::string> user_qos;          // user -> qos list
};

SlurmSide read_slurm_side(const Grant& g) {
  SlurmSide s;
  auto q = sacctmgr_checked({"-n", "-P", "show", "qos", g.qos, "format=Name,GrpTRESMins,Flags"});
  for (const auto& line : split(q.out, '\n')) {
    const auto f = split(line, '|');
    if (f.size() >= 3 && f[0] == g.qos) {
      s.qos_exists = true;
      s.qos_limits = f[1];
      s.qos_flags = f[2];
    }
  }
  auto a = sacctmgr_checked({"-n", "-P", "show", "account", g.account, "format=Account"});
  s.account_exists = trim(a.out) == g.account;
  auto assoc =
      sacctmgr_checked({"-n", "-P", "show", "assoc", "where", "account=" + g.account, "format=User,DefaultQOS,QOS"});
  for (const auto& line : split(assoc.out, '\n')) {
    const auto f = split(line, '|');
    if (f.size() >= 3 && !f[0].empty()) {
      s.user_default_qos[f[0]] = f[1];
      s.user_qos[f[0]] = f[2];
    }
  }
  return s;
}

// sacctmgr stores account and QOS names lower-cased, splits them at commas, turns quotes
// into backticks and takes '=' as a setting; a name gosok checks here reaches Slurm as it is.
void check_slurm_names(const Grant& g, const std::vector<std::string>& users) {
  // A ledger written before imports checked numbers may hold inf or 1e300: Slurm would
  // read the GrpTRESMins they become as "no limit".
  if (!(g.gpu_hours > 0 && g.gpu_hours <= kMaxGrantGpuHours)) {
    throw InputError(
        fmt::format("grant {} holds {} GPU-hours, not a number from 0 to {}: re-import it from its "
                    "export; nothing was provisioned",
                    g.id, g.gpu_hours, kMaxGrantGpuHours));
  }
  for (const auto& [what, name] : {std::pair<const char*, const std::string&>{"account", g.account}, {"QOS", g.qos}}) {
    require_token(fmt::format("grant {}: Slurm {} name", g.id, what), name, false, 64);
    if (lower(name) != name) {
      throw InputError(
          fmt::format("grant {}: Slurm {} name '{}' has capitals; Slurm stores it as '{}' (re-import the "
                      "grant: gosok lower-cases it)",
                      g.id, what, name, lower(name)));
    }
  }
  for (const auto& [what, text] :
       {std::pair<const char*, const std::string&>{"project", g.project}, {"institution", g.institution}}) {
    for (char c : text) {
      if (static_cast<unsigned char>(c) < 0x20 || c == '\'' || c == '"' || c == '`') {
        throw InputError(
            fmt::format("grant {}: its {} '{}' has a quote or control character, which sacctmgr would "
                        "change; fix the grants export",
                        g.id, what, text));
      }
    }
  }
  for (const auto& user : users) {
    require_token("--user", user, false, 64);
    if (!::getpwnam(user.c_str())) {
      throw InputError(
          fmt::format("--user {}: there is no such user on this machine (Slurm knows users by their "
                      "Unix account); nothing was provisioned",
                      user));
    }
  }
}

bool has_word(const std::string& list, const std::string& word) {
  for (const auto& w : split(list, ','))
    if (trim(w) == word) return true;
  return false;
}

}  // namespace

std::vector<std::string> provision_grant(const Grant& g, const std::vector<std::string>& users) {
  // Everything sacctmgr is given is checked before it creates anything, so a provision
  // never stops half-way: names as Slurm stores them, users that exist.
  check_slurm_names(g, users);
  std::vector<std::string> done;
  const SlurmSide before = read_slurm_side(g);
  const std::string limit = "GrpTRESMins=" + qos_limit_text(g);
  if (!before.qos_exists) {
    sacctmgr_checked({"-i", "add", "qos", g.qos, limit, "Flags=NoDecay"});
    done.push_back(fmt::format("created QOS {} with {} and Flags=NoDecay", g.qos, limit));
  } else if (before.qos_limits != qos_limit_text(g) || !has_word(before.qos_flags, "NoDecay")) {
    sacctmgr_checked({"-i", "modify", "qos", "where", "name=" + g.qos, "set", limit, "Flags=NoDecay"});
    done.push_back(fmt::format("updated QOS {}: {} (was '{}'), Flags=NoDecay", g.qos, limit, before.qos_limits));
  }
  if (!before.account_exists) {
    sacctmgr_checked({"-i", "add", "account", g.account, "Description=" + g.project,
                      "Organization=" + lower(g.institution), "QOS=normal," + g.qos, "DefaultQOS=" + g.qos});
    done.push_back(fmt::format("created account {} (QOS {}, default)", g.account, g.qos));
  }
  for (const auto& user : users) {
    auto it = before.user_default_qos.find(user);
    if (it == before.user_default_qos.end()) {
      sacctmgr_checked(
          {"-i", "add", "user", user, "Account=" + g.account, "QOS=normal," + g.qos, "DefaultQOS=" + g.qos});
      done.push_back(fmt::format("added user {} to account {} (default QOS {})", user, g.account, g.qos));
    } else if (it->second != g.qos || !has_word(before.user_qos.at(user), g.qos)) {
      sacctmgr_checked({"-i", "modify", "user", "where", "name=" + user, "account=" + g.account, "set", "QOS+=" + g.qos,
                        "DefaultQOS=" + g.qos});
      done.push_back(fmt::format("set default QOS {} for user {} in account {}", g.qos, user, g.account));
    }
  }
  return done;
}

std::map<std::string, std::vector<std::string>> slurm_account_users() {
  std::map<std::string, std::vector<std::string>> out;
  const auto r = sacctmgr_checked({"-n", "-P", "show", "assoc", "format=Account,User"});
  for (const auto& line : split(r.out, '\n')) {
    const auto f = split(line, '|');
    // The account's own row has no user.
    if (f.size() >= 2 && !f[0].empty() && !trim(f[1]).empty()) out[f[0]].push_back(trim(f[1]));
  }
  return out;
}

std::vector<std::string> check_provision(const Grant& g, const std::vector<std::string>& users) {
  std::vector<std::string> drift;
  const SlurmSide s = read_slurm_side(g);
  if (!s.qos_exists) {
    drift.push_back(fmt::format("QOS {} does not exist (ledger: GrpTRESMins={})", g.qos, qos_limit_text(g)));
  } else {
    if (s.qos_limits != qos_limit_text(g)) {
      drift.push_back(fmt::format("QOS {}: GrpTRESMins is '{}', ledger says '{}' ({} GPU-hours)", g.qos, s.qos_limits,
                                  qos_limit_text(g), g.gpu_hours));
    }
    if (!has_word(s.qos_flags, "NoDecay")) {
      drift.push_back(fmt::format("QOS {}: Flags is '{}', NoDecay missing", g.qos, s.qos_flags));
    }
  }
  if (!s.account_exists) drift.push_back(fmt::format("account {} does not exist", g.account));
  for (const auto& user : users) {
    auto it = s.user_default_qos.find(user);
    if (it == s.user_default_qos.end()) {
      drift.push_back(fmt::format("user {} has no association with account {}", user, g.account));
    } else if (it->second != g.qos) {
      drift.push_back(
          fmt::format("user {} in account {}: default QOS is '{}', not {}", user, g.account, it->second, g.qos));
    }
  }
  return drift;
}

}  // namespace gosok::sched
