// The Slurm backend: `sbatch --parsable` to submit, scancel to cancel, scontrol release to
// release, sacct (plus squeue for jobs accounting has not heard of yet) to settle. Every
// command is an argv, never a shell line. sbatch is the only way in: a site's cli_filter
// plugins see every job, and arrays and dependencies are sbatch's own.
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>
#include <string_view>

#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/text.hpp>

extern char** environ;

namespace gosok::sched {

namespace {

const char* kSacctFormat = "--format=JobID,State,ElapsedRaw,AllocTRES,Comment,Start,End,User,Account,ExitCode";

// "123_7" -> "123"; "123" -> "123".
std::string array_job_of(const std::string& slurm_id) { return slurm_id.substr(0, slurm_id.find('_')); }

class SlurmBackend final : public Backend {
 public:
  std::string name() const override { return "slurm"; }
  bool has_batch_system() const override { return true; }

  std::string submit(SubmitContext& ctx) override {
    // sbatch lets SBATCH_* variables (SBATCH_PARTITION, SBATCH_TIMELIMIT, ...) override the
    // script; the job must be the one gosok planned and reserved, so they are left out.
    std::vector<std::string> environment;
    for (char** e = environ; e && *e; ++e) {
      if (std::string_view(*e).rfind("SBATCH_", 0) != 0) environment.emplace_back(*e);
    }
    // The script goes in on standard input: sbatch reads exactly what gosok rendered and
    // reserved, whatever happens to the copy in the job folder.
    const auto r = run_process({"sbatch", "--parsable"}, ctx.script, &environment);
    if (r.exit_code != 0) {
      const std::string message = trim(r.err + r.out);
      if (is_definite_refusal(r.exit_code, message)) {
        throw SubmitRefused(fmt::format("sbatch refused the job (exit {}): {}", r.exit_code, message));
      }
      throw SubmitUncertain(fmt::format("sbatch failed without a definite answer (exit {}): {}", r.exit_code, message));
    }
    std::string id = trim(r.out);
    const auto semi = id.find(';');
    if (semi != std::string::npos) id = id.substr(0, semi);  // "123;cluster"
    if (id.empty() || id.find_first_not_of("0123456789") != std::string::npos) {
      throw SubmitUncertain("sbatch succeeded but printed no job id: '" + trim(r.out) + "'");
    }
#ifdef GOSOK_TEST_HOOKS
    if (env("GOSOK_TEST_CRASH_AFTER_SBATCH") == "1") {
      // Test hook: die between the submission and the ledger commit, as a killed process would.
      ::_exit(70);
    }
#endif
    return id;
  }

  void cancel(const JobRef& ref) override { control({"scancel", require_id(ref, "cancel")}); }

  void release(const JobRef& ref) override { control({"scontrol", "release", require_id(ref, "release")}); }

  void set_dependency(const JobRef& ref, const std::string& dependency) override {
    control({"scontrol", "update", "JobId=" + require_id(ref, "update"), "Dependency=" + dependency});
  }

  Accounting accounting(const std::vector<JobRecord>& jobs) override {
    Accounting out;
    auto& records = out.records;
    // One sacct -j entry per Slurm job: an array's tasks are all in its array job's answer.
    // -D: a requeued job has one record per run, and every run is charged.
    std::set<std::string> ids, users;
    std::int64_t oldest_untagged = 0;
    for (const auto& j : jobs) {
      // A reconcile service settles every user's jobs. squeue refuses the whole list for one
      // name this machine does not know: such a user's jobs are found by their Slurm id.
      if (j.user.empty() || ::getpwnam(j.user.c_str())) users.insert(j.user.empty() ? current_user() : j.user);
      if (!j.slurm_id.empty()) {
        ids.insert(array_job_of(j.slurm_id));
      } else if (oldest_untagged == 0 || j.submitted_at < oldest_untagged) {
        oldest_untagged = j.submitted_at;
      }
    }
    std::string user_list;
    for (const auto& u : users) user_list += (user_list.empty() ? "" : ",") + u;
    const std::vector<std::string> id_list(ids.begin(), ids.end());
    for (std::size_t i = 0; i < id_list.size(); i += 500) {
      std::string list;
      for (std::size_t k = i; k < std::min(id_list.size(), i + 500); ++k)
        list += (list.empty() ? "" : ",") + id_list[k];
      append(records, sacct({"sacct", "-X", "-D", "--parsable2", "-j", list, kSacctFormat}));
    }
    if (oldest_untagged) {
      // Jobs whose Slurm id was never recorded: look for their tag among the users' recent
      // jobs (sacct reads -S in local time). Held and never-eligible jobs are not in this
      // window: squeue below covers them.
      append(records,
             sacct({"sacct", "-X", "-D", "--parsable2", "-u", user_list, "-S",
                    format_epoch(oldest_untagged - 300, "%Y-%m-%dT%H:%M:%S", true), "-E", "now", kSacctFormat}));
    }
    // Jobs accounting has not recorded yet are still known to the controller (finished
    // ones too, for MinJobAge). squeue has no elapsed time or allocated GPUs, so a job it
    // reports as finished is only "ENDING" here: it is settled once sacct has it.
    // sacct may also hold a just-submitted job before its comment (the gosok tag) reaches
    // the database; squeue's comment then fills it in. -r lists an array's tasks one by one.
    std::map<std::string, std::size_t> known;
    for (std::size_t i = 0; i < records.size(); ++i) known.emplace(records[i].job_id, i);
    const auto q = run_process({"squeue", "-h", "-r", "-u", user_list, "-t", "all", "-o", "%i|%T|%k|%u|%a"});
    if (q.exit_code != 0) {
      // Without the controller's answer a held job with the tag could exist: nothing may be
      // released or reported missing on the strength of this answer.
      out.complete = false;
      out.problem = fmt::format("squeue failed (exit {}: {}), so absence is not proven", q.exit_code, trim(q.err));
      return out;
    }
    for (const auto& line : split(q.out, '\n')) {
      const auto f = split(line, '|');
      if (f.size() < 5) continue;
      const std::string comment = f[2] == "(null)" ? "" : f[2];
      if (const auto k = known.find(f[0]); k != known.end()) {
        bool ended = true;
        for (std::size_t i = k->second; i < records.size(); ++i) {
          if (records[i].job_id != f[0]) continue;
          if (records[i].comment.empty()) records[i].comment = comment;
          ended = ended && is_terminal_state(records[i].state);
        }
        // Requeued (after a node failure, say) before accounting has the new run: sacct's
        // last record is the ended run, the controller's state is the job's.
        if (!ended || is_terminal_state(f[1])) continue;
      }
      AcctRecord r;
      r.job_id = f[0];
      r.state = is_terminal_state(f[1]) ? "ENDING" : f[1];
      r.comment = comment;
      r.user = f[3];
      r.account = lower(f[4]);
      records.push_back(r);
    }
    return out;
  }

 private:
  static std::string require_id(const JobRef& ref, const char* what) {
    if (ref.scheduler_id.empty()) {
      throw InputError(fmt::format("{} has no Slurm job id yet, so there is nothing to {}; 'gosok reconcile' finds it",
                                   ref.jobs.empty() ? "the job" : ref.jobs.front().gosok_id(), what));
    }
    return ref.scheduler_id;
  }
  static void control(const std::vector<std::string>& argv) {
    const auto r = run_process(argv);
    if (r.exit_code != 0) throw RunError(fmt::format("{} failed: {}", join_argv(argv), trim(r.err + r.out)));
  }
  static std::vector<AcctRecord> sacct(const std::vector<std::string>& argv) {
    const auto r = run_process(argv);
    if (r.exit_code != 0) throw RunError(fmt::format("{} failed: {}", join_argv(argv), trim(r.err)));
    return parse_sacct_parsable(r.out);
  }
  // sbatch's answer is definite when it could not have created a job: it never ran, or the
  // controller answered with a reason ("Batch job submission failed: Invalid account...").
  // A lost or late answer (a timeout, a dropped connection, a signal) is not: the
  // controller may yet create the job.
  static bool is_definite_refusal(int exit_code, const std::string& message) {
    if (exit_code == 126 || exit_code == 127) return true;  // sbatch could not be run
    if (exit_code != 1) return false;                       // killed, or an exit sbatch does not document
    static const char* const lost[] = {"Socket timed out",
                                       "Unable to contact slurm controller",
                                       "Zero Bytes were transmitted",
                                       "Communication connection",
                                       "Connection refused",
                                       "Connection reset",
                                       "Message receive failure",
                                       "Message send failure",
                                       "Transport endpoint",
                                       "backup controller",
                                       "not responding",
                                       "Insane message length",
                                       "Protocol version",
                                       "Resource temporarily unavailable",
                                       "Interrupted system call",
                                       "Broken pipe",
                                       "timed out",
                                       "Slurmctld"};
    for (const char* marker : lost) {
      if (message.find(marker) != std::string::npos) return false;
    }
    return true;
  }
  static void append(std::vector<AcctRecord>& to, std::vector<AcctRecord> from) {
    for (auto& r : from) to.push_back(std::move(r));
  }
};

}  // namespace

std::unique_ptr<Backend> make_slurm_backend() { return std::make_unique<SlurmBackend>(); }

}  // namespace gosok::sched
