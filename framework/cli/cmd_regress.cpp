// gosok regress: regression suites for evaluators (framework/regression). It lives in
// gosok-run because the comparator reads HDF5 results, which the login binary does not
// link; `gosok regress` reaches here by exec and never starts MPI or Kokkos.
#include <boost/program_options.hpp>
#include <iostream>

#include <gosok/core/error.hpp>
#include <gosok/io/hdf5_file.hpp>
#include <gosok/regression/report.hpp>
#include <gosok/regression/results.hpp>
#include <gosok/regression/runner.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>
#include <gosok/scheduler/text.hpp>
#include <gosok/workload/workload.hpp>
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;

namespace gosok {
namespace {

regress::Quantity read_h5(const std::filesystem::path& file, const std::string& dataset) {
  HostDataset d = read_dataset_serial(file, dataset);
  regress::Quantity q;
  q.shape.assign(d.shape.begin(), d.shape.end());
  q.values = std::move(d.values);
  return q;
}

std::unique_ptr<regress::ResultsStore> open_store(const std::string& ledger, const std::string& site) {
  const std::string path = regress::results_path(sched::ledger_location(ledger, sched::find_site(site).ledger));
  if (!std::filesystem::exists(path)) throw InputError("no results store at " + path + " (run a suite first)");
  return regress::open_results_store(path);
}

const char* kUsage =
    "usage: gosok regress SUITE [options]          run a suite's cases, check them, store and report\n"
    "       gosok regress compare RUN_A RUN_B      every figure's change between two stored runs\n"
    "       gosok regress history CASE [options]   a case's figures over the stored runs\n"
    "       gosok regress runs                     the stored runs, newest first\n";

int regress_command(const WorkloadRegistry& workloads, const std::vector<std::string>& args) {
  std::string site, grant, ledger, output, baselines, junit, html, figure, system;
  std::vector<std::string> positional, only;
  bool help = false, update = false;
  int limit = 20;
  po::options_description desc("options");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")(
      "site", po::value(&site), "site to run on (default $GOSOK_SITE or localhost)")(
      "grant", po::value(&grant), "evaluation grant the runs are charged to (default $GOSOK_GRANT)")(
      "ledger", po::value(&ledger), "ledger path (the results store is results.sqlite beside it)")(
      "results", po::value(&output),
      "folder of the suite's runs and reports (default ./gosok-out/regress-<suite>-<time>)")(
      "case", po::value(&only)->composing(), "run only this case (repeatable)")(
      "update-baselines", po::bool_switch(&update), "write the baselines anew from this run, with provenance")(
      "baselines", po::value(&baselines), "baseline folder instead of the suite's")(
      "junit", po::value(&junit), "JUnit XML report file (default RESULTS/junit.xml)")(
      "html", po::value(&html), "HTML report file (default RESULTS/report.html)")(
      "figure", po::value(&figure), "history: only this figure")("system", po::value(&system),
                                                                 "history: only this site:partition")(
      "limit", po::value(&limit), "history, runs: at most this many runs (default 20)");
  po::options_description all;
  all.add(desc).add_options()("args", po::value(&positional), "SUITE, or compare/history/runs and theirs");
  po::positional_options_description pos;
  pos.add("args", -1);
  cli::parse_options(args, all, &pos);
  if (help || positional.empty()) {
    std::cout << kUsage << "\n" << desc << "\nSee docs/user-guide/regression.md.\n";
    return help ? 0 : 2;
  }
  const std::string& first = positional.front();
  if (first == "compare") {
    if (positional.size() != 3)
      throw InputError("usage: gosok regress compare RUN_A RUN_B (run numbers, latest, previous)");
    auto store = open_store(ledger, site);
    const auto a = store->load(positional[1]), b = store->load(positional[2]);
    if (!a) throw InputError("no stored run '" + positional[1] + "'");
    if (!b) throw InputError("no stored run '" + positional[2] + "'");
    std::cout << regress::compare_report(*a, *b);
    return 0;
  }
  if (first == "history") {
    if (positional.size() != 2) throw InputError("usage: gosok regress history CASE (an instance: case[.variant].npN)");
    auto store = open_store(ledger, site);
    const auto points = store->history(positional[1], figure, system, limit);
    if (points.empty()) {
      throw InputError("no stored figures of '" + positional[1] +
                       "' (instances are named case[.variant].npN[.restart], as the run's report lists them)");
    }
    std::cout << regress::history_report(positional[1], points);
    return 0;
  }
  if (first == "runs") {
    auto store = open_store(ledger, site);
    for (const auto& r : store->runs(limit)) {
      const auto full = store->load(std::to_string(r.id));
      std::cout << fmt::format("{:>5}  {}  {:<12} {:<12} {}  {} passed, {} failed, {} errors  {:.4f} GPU-h  {}\n", r.id,
                               sched::format_time(r.started_at), r.suite, r.site, full->status(), full->count("pass"),
                               full->count("fail"), full->count("error"), full->gpu_hours(), r.output_dir);
    }
    return 0;
  }
  if (positional.size() != 1) throw InputError("gosok regress runs one suite file at a time");
  const regress::Suite suite = regress::load_suite(first);
  regress::RunnerOptions options;
  options.site = site;
  options.grant = grant;
  options.ledger = ledger;
  options.output_dir = output;
  options.baselines = baselines;
  options.junit = junit;
  options.html = html;
  options.only = only;
  options.update_baselines = update;
  options.read_dataset = read_h5;
  options.resolve = [&workloads](const std::string& workload, const std::string& input,
                                 const std::vector<std::string>& sets) {
    return resolve_workload_input(workloads.inputs().find(workload), input, sets);
  };
  options.progress = &std::cout;
  const auto outcome = regress::run_suite(suite, options);
  std::cout << regress::text_report(outcome.run)
            << fmt::format("stored as run {} in {}\nreports: {} and {}\n", outcome.run.id, outcome.results_path,
                           outcome.junit_path, outcome.html_path);
  return outcome.run.status() == "pass" ? 0 : 1;
}

}  // namespace

void register_regress_command(CommandRegistry& commands, const WorkloadRegistry& workloads) {
  commands.add(
      {"regress", "run a regression suite; compare and show stored results",
       [&workloads](const std::vector<std::string>& args, int&, char**) { return regress_command(workloads, args); }});
}

}  // namespace gosok
