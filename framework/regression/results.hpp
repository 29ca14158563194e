#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace gosok::regress {

/// What one suite run found, as the reports show it and the results store keeps it.
/// Statuses: pass, fail (a check or a referenced figure is off), error (the case could not
/// be judged: the run failed, a baseline or a file is missing), recorded (nothing to verify
/// on this system: its figures are recorded, never passed).
struct CheckResult {
  std::string name;
  std::string status;  // pass | fail | error | updated (its baseline was rewritten)
  std::string detail;
  std::string reason;
};

struct FigureResult {
  std::string name;
  double value = 0;
  std::string unit;
  bool has_reference = false;
  double ref_value = 0;
  std::optional<double> ref_lower, ref_upper;  // fractions of ref_value
  std::string status;                          // pass | fail | recorded
  std::string detail;
};

struct CaseResult {
  std::string instance;  // case[.variant].npN[.restart]
  std::string case_name, variant;
  long ranks = 1;
  bool restart = false;
  std::string system;  // site:partition
  std::string backend, precision;
  std::string status;
  std::string message;  // why it errored
  std::vector<CheckResult> checks;
  std::vector<FigureResult> figures;
  std::vector<std::string> jobs;   // gosok job ids (g12)
  double elapsed_s = 0;            // the jobs' elapsed time, as accounted
  double gpu_hours = 0;            // charged
  std::optional<double> energy_j;  // the GPUs' energy, where the runs measured it
  std::string energy_note;         // else why not
  std::string output_dir;
};

struct SuiteRun {
  std::int64_t id = 0;  // in the results store
  std::string suite, suite_file, site, grant;
  std::string user, host, gosok_version, git_hash;
  std::int64_t started_at = 0, ended_at = 0;
  std::string output_dir;
  bool updated_baselines = false;
  std::vector<CaseResult> cases;
  std::vector<std::string> skipped;  // cases with no system on this site

  int count(const std::string& status) const;
  double gpu_hours() const;
  std::string status() const;  // pass when nothing failed or errored
};

/// One finished job's measurements, for walltime predictions: how much work it did, how
/// long its steps and the whole job took, where and on how many ranks.
struct JobSample {
  std::string key;     // unique: the job's ledger tag (gosok:<ledger>:<id>)
  std::string source;  // "regress" or "job"
  std::string workload, site, partition;
  int ranks = 1, gpus = 0;
  std::string what;
  double work = 0;
  double step_s = 0, wall_s = 0, elapsed_s = 0;
  std::int64_t recorded_at = 0;
};

/// A figure of one case on one system across stored runs.
struct HistoryPoint {
  std::int64_t run_id = 0;
  std::int64_t started_at = 0;
  std::string git_hash;
  std::string system;
  std::string figure;
  double value = 0;
  std::string unit;
  std::string status;
};

/// The results store: an SQLite file (by default `results.sqlite` beside the ledger) with
/// every suite run, its cases, checks and figures, and the job samples walltime predictions
/// read. Each save is one transaction.
class ResultsStore {
 public:
  virtual ~ResultsStore() = default;
  /// Stores the run and sets run.id.
  virtual void save(SuiteRun& run) = 0;
  /// "12", "latest" or "previous" (the one before the latest); nullopt when there is none.
  virtual std::optional<SuiteRun> load(const std::string& ref) = 0;
  virtual std::vector<SuiteRun> runs(int limit) = 0;  // newest first, without their cases
  /// Values of `instance`'s figures over runs, oldest first; `figure`/`system` "" = all.
  virtual std::vector<HistoryPoint> history(const std::string& instance, const std::string& figure,
                                            const std::string& system, int limit) = 0;
  virtual void record_sample(const JobSample& sample) = 0;  // replaces one with the same key
  /// The newest samples of `workload` on site:partition with `ranks` ranks.
  virtual std::vector<JobSample> samples(const std::string& workload, const std::string& site,
                                         const std::string& partition, int ranks, int limit) = 0;
};

std::unique_ptr<ResultsStore> open_results_store(const std::string& path);

/// $GOSOK_RESULTS, else results.sqlite in the (SQLite) ledger's folder, else (a shared
/// ledger) in the user's data folder.
std::string results_path(const std::string& ledger_location);

}  // namespace gosok::regress
