#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <gosok/core/config.hpp>
#include <gosok/regression/compare.hpp>
#include <gosok/regression/figures.hpp>
#include <gosok/regression/quantity.hpp>
#include <gosok/regression/results.hpp>

namespace gosok::regress {

/// Vocabulary of a suite file (docs/user-guide/regression.md shows one):
///  - a *case* is a workload with its input and overrides, the rank counts and the
///    site partitions ("site:partition", a *system*) it runs on, and what to check;
///  - a case is *parameterised* by its rank counts and its *variants* (named sets of extra
///    overrides, e.g. grid sizes): each combination is one *instance*, named
///    case[.variant].np<ranks>[.restart<step>]; a case with `restart_at` steps also runs
///    stopped at each of them and restarted (one `.restart<step>` instance each);
///  - a *check* reads a source (quantity.hpp) and either keeps bounds (an invariant) or is
///    compared `against` something: the stored baseline, the case's first rank count
///    (`ranks`), the uninterrupted run (`restart`) or another case (`case:NAME`); its
///    tolerance may differ by backend and precision, and its reason is written beside it;
///  - a *reference* is what a figure of merit should be on one system: (value, lower,
///    upper, unit) with lower and upper as fractions of the value (-0.2 = 20 % below).
struct ToleranceOverride {
  std::string backend;    // "" = any ("serial", "openmp", "cuda", ...)
  std::string precision;  // "" = any ("double", "single")
  std::optional<double> rtol, atol;
  Bounds bounds;  // each given bound replaces the check's
  std::string reason;
  std::string origin;
};

struct CheckSpec {
  std::string name;
  Source source;
  std::string against;  // "" (bounds), "baseline", "ranks", "restart" or "case:NAME"
  Tolerance tolerance;
  Bounds bounds;
  std::string reason;
  std::vector<ToleranceOverride> overrides;
  std::string origin;

  /// The tolerance and bounds for a run on `backend` at `precision`: the last matching
  /// override wins; `reason` is the one that applies.
  void select(const std::string& backend, const std::string& precision, Tolerance& tolerance, Bounds& bounds,
              std::string& reason) const;
};

struct ReferenceSpec {
  std::string system;  // site:partition
  std::string figure;
  double value = 0;
  std::optional<double> lower, upper;
  std::string unit;
  long ranks = 0;       // 0: every rank count
  std::string variant;  // "": every variant
  std::string origin;
};

struct VariantSpec {
  std::string name;
  std::vector<std::string> set;
};

struct CaseSpec {
  std::string name;
  std::string workload;
  std::string input;  // absolute, or ""
  std::vector<std::string> set;
  std::vector<long> ranks;
  long nodes = 1;
  long gpus_per_task = 1;  // at most what a node of the partition has
  std::vector<std::string> systems;
  std::int64_t time_s = 600;
  std::vector<long> restart_at;  // steps to stop at, checkpoint and restart from
  std::vector<VariantSpec> variants;
  std::vector<CheckSpec> checks;
  std::vector<ReferenceSpec> references;
  std::string origin;
};

struct Suite {
  std::string name;
  std::string description;
  std::filesystem::path file;
  std::filesystem::path baselines;  // folder of baseline files
  std::vector<CaseSpec> cases;

  const CaseSpec* find(const std::string& case_name) const;
};

/// The schema of suite files (what `gosok validate` and `gosok regress` check).
Schema suite_schema();
/// Reads and validates a suite; every error names the file, line and key.
Suite load_suite(const std::filesystem::path& file);

/// One run to make and check.
struct Instance {
  std::string id;  // case[.variant].npN[.restart<step>]
  const CaseSpec* spec = nullptr;
  const VariantSpec* variant = nullptr;  // null: the case has none
  long ranks = 1;
  bool restart = false;
  long restart_at = 0;                 // the step a restarted instance stops and continues at
  std::string partition;               // of the chosen site
  std::vector<std::string> overrides;  // the case's and the variant's --set values
  std::string baseline_name() const;   // case[.variant]
  std::string system(const std::string& site) const { return site + ":" + partition; }
};

/// The instances of every case that runs on `site` (in file order): a case that names
/// systems runs on those of this site (none: the case is skipped, listed in `skipped`);
/// one that names none runs on `default_partition`. `only` (case names) narrows the set.
std::vector<Instance> expand(const Suite& suite, const std::string& site, const std::string& default_partition,
                             const std::vector<std::string>& only, std::vector<std::string>* skipped = nullptr);

/// The instance a cross-run check of `of` compares with ("" when it does not apply to it).
/// Returns the id of the other instance.
std::string counterpart(const Instance& of, const CheckSpec& check, const std::vector<Instance>& all);

/// The reference that judges `figure` of `instance` on `system`: the last one of its case
/// that names this system and figure and fits its rank count and variant; null: none.
const ReferenceSpec* find_reference(const Instance& instance, const std::string& system, const std::string& figure);

/// A figure against its reference: pass within [value (1 + lower), value (1 + upper)] (a
/// missing side is unbounded), fail outside it or when the units differ; without a
/// reference it is recorded, never passed.
FigureResult judge_figure(const Figure& figure, const ReferenceSpec* reference, const std::string& system);

}  // namespace gosok::regress
