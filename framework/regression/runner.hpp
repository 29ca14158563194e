#pragma once

#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include <gosok/core/config.hpp>
#include <gosok/regression/quantity.hpp>
#include <gosok/regression/results.hpp>
#include <gosok/regression/suite.hpp>

namespace gosok::regress {

/// How `gosok regress SUITE` runs: every instance is a job through the scheduler adapter
/// on the chosen site (local mpirun or Slurm), charged to an evaluation grant like any job;
/// then each instance's checks and figures are judged, baselines updated when asked, the
/// run stored and the reports written.
struct RunnerOptions {
  std::string site;               // "" = $GOSOK_SITE or localhost
  std::string grant;              // "" = $GOSOK_GRANT
  std::string ledger;             // "" = the default ledger
  std::string output_dir;         // "" = $GOSOK_OUTPUT_ROOT or ./gosok-out, then regress-<suite>-<time>
  std::string baselines;          // "" = the suite's folder
  std::string junit, html;        // "" = junit.xml and report.html in the output folder
  std::vector<std::string> only;  // case names
  bool update_baselines = false;
  DatasetReader read_dataset;
  /// Resolves (validates) a run's input against its workload's schema; throws InputError.
  std::function<Input(const std::string& workload, const std::string& input_file,
                      const std::vector<std::string>& overrides)>
      resolve;
  std::ostream* progress = nullptr;  // a line per job as it ends
};

struct RunnerOutcome {
  SuiteRun run;
  std::string results_path, junit_path, html_path;
};

/// Throws InputError for a suite that cannot run here (no case for this site, a bad
/// partition, an input its workload refuses, no grant): before anything is reserved.
RunnerOutcome run_suite(const Suite& suite, const RunnerOptions& options);

}  // namespace gosok::regress
