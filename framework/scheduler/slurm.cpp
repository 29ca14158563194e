// The Slurm backend: libslurm (or sbatch --parsable) to submit, scancel to cancel, sacct
// (plus squeue for jobs accounting has not heard of yet) to settle. Every command is an argv,
// never a shell line.
#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <string_view>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/backend.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/slurm_api.hpp>
#include <gosok/scheduler/text.hpp>

extern char** environ;

namespace gosok::sched {

namespace {

const char* kSacctFormat = "--format=JobID,State,ElapsedRaw,AllocTRES,Comment,End";

class SlurmBackend final : public Backend {
 public:
  std::string name() const override { return "slurm"; }

  void prepare([[maybe_unused]] const Site& site) override {
#if GOSOK_HAVE_LIBSLURM
    if (site.submit_with == "libslurm") prepare_libslurm();
#endif
  }

  std::string submit(SubmitContext& ctx) override {
    std::string id = submit_script(ctx);
    if (const char* crash = std::getenv("GOSOK_TEST_CRASH_AFTER_SBATCH"); crash && std::string(crash) == "1") {
      // Test hook: die between the submission and the ledger commit, as a killed process would.
      ::_exit(70);
    }
    return id;
  }

  void cancel(const JobRecord& job) override {
    if (job.slurm_id.empty()) throw InputError(job.gosok_id() + " has no Slurm job id yet");
    const auto r = run_process({"scancel", job.slurm_id});
    if (r.exit_code != 0) throw RunError("scancel " + job.slurm_id + " failed: " + trim(r.err));
  }

  std::vector<AcctRecord> accounting(const std::vector<JobRecord>& jobs) override {
    std::vector<AcctRecord> records;
    std::vector<std::string> ids;
    std::int64_t oldest_untagged = 0;
    for (const auto& j : jobs) {
      if (!j.slurm_id.empty()) {
        ids.push_back(j.slurm_id);
      } else if (oldest_untagged == 0 || j.submitted_at < oldest_untagged) {
        oldest_untagged = j.submitted_at;
      }
    }
    for (std::size_t i = 0; i < ids.size(); i += 500) {
      std::string list;
      for (std::size_t k = i; k < std::min(ids.size(), i + 500); ++k) list += (list.empty() ? "" : ",") + ids[k];
      append(records, sacct({"sacct", "-X", "--parsable2", "-j", list, kSacctFormat}));
    }
    if (oldest_untagged) {
      // Jobs whose Slurm id was never recorded: look for their tag among all recent jobs
      // (sacct reads -S in local time).
      append(records,
             sacct({"sacct", "-X", "--parsable2", "-S", format_epoch(oldest_untagged - 300, "%Y-%m-%dT%H:%M:%S", true),
                    "-E", "now", kSacctFormat}));
    }
    // Jobs accounting has not recorded yet are still known to the controller (finished
    // ones too, for MinJobAge). squeue has no elapsed time or allocated GPUs, so a job it
    // reports as finished is only "ENDING" here: it is settled once sacct has it.
    // sacct may also hold a just-submitted job before its comment (the gosok tag) reaches
    // the database; squeue's comment then fills it in.
    std::map<std::string, std::size_t> known;
    for (std::size_t i = 0; i < records.size(); ++i) known[records[i].job_id] = i;
    const auto q = run_process({"squeue", "-h", "-t", "all", "-o", "%i|%T|%k"});
    if (q.exit_code == 0) {
      for (const auto& line : split(q.out, '\n')) {
        const auto f = split(line, '|');
        if (f.size() < 3) continue;
        const std::string comment = f[2] == "(null)" ? "" : f[2];
        if (const auto k = known.find(f[0]); k != known.end()) {
          if (records[k->second].comment.empty()) records[k->second].comment = comment;
          continue;
        }
        AcctRecord r;
        r.job_id = f[0];
        r.state = is_terminal_state(f[1]) ? "ENDING" : f[1];
        r.comment = comment;
        records.push_back(r);
      }
    }
    return records;
  }

 private:
  // Through libslurm when the site allows it, the build has it and every directive of the
  // script is one gosok translates (the job is then the one sbatch would have made); else sbatch.
  static std::string submit_script(SubmitContext& ctx) {
#if GOSOK_HAVE_LIBSLURM
    if (ctx.site.submit_with == "libslurm") {
      const auto t = translate_sbatch_script(ctx.script, ctx.script_path);
      std::string why;
      if (!t.unsupported.empty()) {
        why = "directive " + t.unsupported + " is not one gosok translates";
      } else if (libslurm_available(&why)) {
        ctx.submitted_with = libslurm_name();
        return submit_with_libslurm(t.spec, ctx.script, ctx.script_path);
      }
      libslurm_available();  // a background load must end before this process forks sbatch
      ctx.submitted_with = "sbatch (" + why + ")";
    }
#endif
    if (ctx.submitted_with.empty()) ctx.submitted_with = "sbatch";
    // sbatch lets SBATCH_* variables (SBATCH_PARTITION, SBATCH_TIMELIMIT, ...) override the
    // script; the job must be the one gosok planned and reserved, so they are left out.
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
      if (std::string_view(*e).rfind("SBATCH_", 0) != 0) env.emplace_back(*e);
    }
    const auto r = run_process({"sbatch", "--parsable", ctx.script_path}, "", &env);
    if (r.exit_code != 0) {
      throw RunError(fmt::format("sbatch refused the job (exit {}): {}", r.exit_code, trim(r.err + r.out)));
    }
    std::string id = trim(r.out);
    const auto semi = id.find(';');
    if (semi != std::string::npos) id = id.substr(0, semi);  // "123;cluster"
    if (id.empty() || id.find_first_not_of("0123456789_") != std::string::npos) {
      throw RunError("sbatch printed no job id: '" + trim(r.out) + "'");
    }
    return id;
  }

  static std::vector<AcctRecord> sacct(const std::vector<std::string>& argv) {
    const auto r = run_process(argv);
    if (r.exit_code != 0) throw RunError(fmt::format("{} failed: {}", join_argv(argv), trim(r.err)));
    return parse_sacct_parsable(r.out);
  }
  static void append(std::vector<AcctRecord>& to, std::vector<AcctRecord> from) {
    for (auto& r : from) to.push_back(std::move(r));
  }
};

}  // namespace

std::unique_ptr<Backend> make_slurm_backend() { return std::make_unique<SlurmBackend>(); }

}  // namespace gosok::sched
