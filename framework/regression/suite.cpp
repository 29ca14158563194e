#include <gosok/regression/suite.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <gosok/core/error.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::regress {

namespace fs = std::filesystem;

namespace {

// Names become folder names, job names and parts of instance ids (joined by '.').
void check_name(const Value& v) {
  const auto& s = std::get<std::string>(v);
  const bool ok = !s.empty() && s.size() <= 40 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok) throw InputError("use 1 to 40 characters from A-Z a-z 0-9 _ -");
}

void check_system(const Value& v) {
  for (const auto& item : std::get<List>(v)) {
    const auto& s = std::get<std::string>(item);
    const auto colon = s.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == s.size() || s.find(':', colon + 1) != s.npos) {
      throw InputError("'" + s + "' is not a system; write site:partition, e.g. localhost:local");
    }
  }
}

void check_walltime(const Value& v) { sched::parse_walltime(std::get<std::string>(v), "time"); }

void check_source(const Value& v) { parse_source(std::get<std::string>(v)); }

void check_against(const Value& v) {
  const auto& s = std::get<std::string>(v);
  if (s.empty() || s == "baseline" || s == "ranks" || s == "restart") return;
  if (s.rfind("case:", 0) == 0 && s.size() > 5) return;
  throw InputError("allowed: \"\" (bounds only), baseline, ranks, restart, case:NAME");
}

void declare_bounds(Schema& s, const std::string& what) {
  s.real("min", std::nullopt, what + "every value is at least this").optional();
  s.real("max", std::nullopt, what + "every value is at most this").optional();
  s.real("above", std::nullopt, what + "every value is strictly above this").optional();
  s.real("below", std::nullopt, what + "every value is strictly below this").optional();
  s.real("abs_max", std::nullopt, what + "every |value| is at most this").optional().at_least(0);
}

Bounds read_bounds(const Input& in) {
  Bounds b;
  auto opt = [&](const char* key) { return in.has(key) ? std::optional<double>(in.get_real(key)) : std::nullopt; };
  b.min = opt("min");
  b.max = opt("max");
  b.above = opt("above");
  b.below = opt("below");
  b.abs_max = opt("abs_max");
  return b;
}

bool declares_bound(const Input& in) {
  return in.has("min") || in.has("max") || in.has("above") || in.has("below") || in.has("abs_max");
}

}  // namespace

Schema suite_schema() {
  Schema s;
  s.string("suite", std::nullopt, "name of the suite (results and reports carry it)").checked_by(check_name);
  s.string("description", "", "what the suite covers");
  s.string("baselines", "", "folder of the baseline files, relative to the suite file (default baselines/<suite>)");

  Schema& c = s.records("case", "one case: a workload run and what to check", 1);
  c.string("name", std::nullopt, "name of the case").checked_by(check_name);
  c.string("workload", std::nullopt, "workload to run (gosok run <workload>)");
  c.string("input", "", "the workload's TOML input, relative to the suite file");
  c.list("set", ParamType::string, List{}, "overrides key=value, as gosok run --set");
  c.list("ranks", ParamType::integer, List{std::int64_t{1}}, "MPI rank counts; one instance each").at_least(1);
  c.integer("nodes", 1, "nodes per run").at_least(1);
  c.integer("gpus_per_task", 1, "GPUs per rank, at most what a node of the partition has (0: none)").at_least(0);
  c.list("systems", ParamType::string, List{}, "site:partition pairs it runs on (none: any site's default partition)")
      .checked_by(check_system);
  c.string("time", "00:10:00", "walltime of each run (reserved against the grant)").checked_by(check_walltime);
  c.list("restart_at", ParamType::integer, List{},
         "steps at which to also run stopped with a checkpoint and restarted; one instance each")
      .at_least(1);

  Schema& v = c.records("variant", "a named set of extra overrides (e.g. a grid size); one instance each");
  v.string("name", std::nullopt, "name of the variant").checked_by(check_name);
  v.list("set", ParamType::string, List{}, "overrides key=value");

  Schema& k = c.records("check", "a sanity check of every instance of the case");
  k.string("name", "", "short name (default: the value it reads)");
  k.string("value", std::nullopt, "what to read: json:FILE:PATH, h5:FILE:DATASET or file:FILE")
      .checked_by(check_source);
  k.string("against", "", "compare with: baseline, ranks, restart, case:NAME; \"\": keep the bounds")
      .checked_by(check_against);
  k.real("rtol", 0.0, "relative tolerance").at_least(0);
  k.real("atol", 0.0, "absolute tolerance").at_least(0);
  k.choice("norm", "elementwise", {"elementwise", "max", "l2"}, "how differences are measured");
  k.boolean("bitwise", false, "the values (or a file's bytes) must be identical");
  declare_bounds(k, "bound: ");
  k.boolean("finite", false, "only that every value is finite (bounds-only checks need a bound or this)");
  k.string("reason", std::nullopt, "why this check and tolerance: where they come from");
  k.add_check([](const Input& in) {
    const std::string against = in.get_string("against");
    const Source source = parse_source(in.get_string("value"));
    if (against.empty()) {
      if (!declares_bound(in) && !in.get_bool("finite")) {
        throw InputError("a check with no 'against' needs a bound (min, max, above, below, abs_max) or finite = true");
      }
      if (source.kind == "file") throw InputError("a file's bytes have no bounds; compare them against a run");
      return;
    }
    if (declares_bound(in)) {
      throw InputError("bounds (min, max, above, below, abs_max) belong to checks without 'against = \"" + against +
                       "\"'");
    }
    if (against == "baseline" && source.kind == "file") {
      throw InputError("a baseline holds numbers: compare json: or h5: values with it, or compare files between runs");
    }
    if (source.kind == "file" && !in.get_bool("bitwise")) throw InputError("file: values compare only bitwise = true");
    if (in.get_bool("bitwise") && (in.get_real("rtol") > 0 || in.get_real("atol") > 0)) {
      throw InputError("bitwise = true allows no rtol or atol");
    }
  });
  Schema& t = k.records("tolerance", "a tolerance for one backend and precision, with its reason");
  t.string("backend", "", "Kokkos backend it applies to: serial, openmp, cuda, hip, ... (\"\": any)");
  t.choice("precision", "", {"", "double", "single"}, "precision it applies to (\"\": any)");
  t.real("rtol", std::nullopt, "relative tolerance").optional().at_least(0);
  t.real("atol", std::nullopt, "absolute tolerance").optional().at_least(0);
  declare_bounds(t, "bound: ");
  t.string("reason", std::nullopt, "why this backend or precision needs another tolerance");

  Schema& r = c.records("reference", "the expected value of a figure of merit on one system");
  r.string("system", std::nullopt, "site:partition").checked_by([](const Value& value) {
    check_system(Value{List{std::get<std::string>(value)}});
  });
  r.string("figure", std::nullopt, "figure of merit (wall_s, cell_updates_per_s, atom_steps_per_s, gpu_hours, ...)");
  r.real("value", std::nullopt, "reference value");
  r.real("lower", std::nullopt, "lowest allowed, as a fraction of the value below it (-0.2: 20 % below)")
      .optional()
      .at_most(0);
  r.real("upper", std::nullopt, "highest allowed, as a fraction of the value above it (0.5: 50 % above)")
      .optional()
      .at_least(0);
  r.string("unit", std::nullopt, "unit of the value; must be the figure's");
  r.integer("ranks", 0, "only for this rank count (0: all)").at_least(0);
  r.string("variant", "", "only for this variant (\"\": all)");
  return s;
}

const CaseSpec* Suite::find(const std::string& case_name) const {
  for (const auto& c : cases) {
    if (c.name == case_name) return &c;
  }
  return nullptr;
}

void CheckSpec::select(const std::string& backend, const std::string& precision, Tolerance& t, Bounds& b,
                       std::string& why) const {
  t = tolerance;
  b = bounds;
  why = reason;
  for (const auto& o : overrides) {
    if ((!o.backend.empty() && o.backend != backend) || (!o.precision.empty() && o.precision != precision)) continue;
    if (o.rtol) t.rtol = *o.rtol;
    if (o.atol) t.atol = *o.atol;
    if (o.bounds.min) b.min = o.bounds.min;
    if (o.bounds.max) b.max = o.bounds.max;
    if (o.bounds.above) b.above = o.bounds.above;
    if (o.bounds.below) b.below = o.bounds.below;
    if (o.bounds.abs_max) b.abs_max = o.bounds.abs_max;
    why = o.reason;
  }
}

Suite load_suite(const fs::path& file) {
  const Input in = resolve_input(suite_schema(), file, {}, {});
  Suite suite;
  suite.file = fs::absolute(file).lexically_normal();
  suite.name = in.get_string("suite");
  suite.description = in.get_string("description");
  const fs::path dir = suite.file.parent_path();
  const std::string baselines = in.get_string("baselines");
  suite.baselines = (dir / (baselines.empty() ? "baselines/" + suite.name : baselines)).lexically_normal();

  std::set<std::string> names;
  for (const auto& rc : in.records("case")) {
    const Input& c = rc.values;
    CaseSpec spec;
    spec.origin = rc.origin;
    spec.name = c.get_string("name");
    if (!names.insert(spec.name).second) {
      throw InputError(fmt::format("{}: case name '{}' is used twice", rc.origin, spec.name));
    }
    spec.workload = c.get_string("workload");
    if (!c.get_string("input").empty()) spec.input = (dir / c.get_string("input")).lexically_normal().string();
    spec.set = c.get_strings("set");
    for (const auto& r : c.get_list("ranks")) spec.ranks.push_back(static_cast<long>(std::get<std::int64_t>(r)));
    if (spec.ranks.empty()) throw InputError(fmt::format("{}: case '{}' has no rank counts", rc.origin, spec.name));
    spec.nodes = c.get_int("nodes");
    spec.gpus_per_task = c.get_int("gpus_per_task");
    for (const auto& o : spec.set) {
      for (const char* owned : {"run.output_dir=", "run.restart="}) {
        if (o.rfind(owned, 0) == 0) {
          throw InputError(
              fmt::format("{}: case '{}': set '{}': gosok regress decides where a run writes and what it "
                          "restarts from",
                          rc.origin, spec.name, o));
        }
      }
    }
    spec.systems = c.get_strings("systems");
    spec.time_s = sched::parse_walltime(c.get_string("time"), "time");
    for (const auto& r : c.get_list("restart_at")) {
      spec.restart_at.push_back(static_cast<long>(std::get<std::int64_t>(r)));
    }
    std::set<std::string> variants;
    for (const auto& rv : c.records("variant")) {
      VariantSpec v{rv.values.get_string("name"), rv.values.get_strings("set")};
      if (!variants.insert(v.name).second) {
        throw InputError(fmt::format("{}: variant '{}' of case '{}' is used twice", rv.origin, v.name, spec.name));
      }
      spec.variants.push_back(v);
    }
    for (const auto& rk : c.records("check")) {
      const Input& k = rk.values;
      CheckSpec check;
      check.origin = rk.origin;
      check.source = parse_source(k.get_string("value"));
      check.name = k.get_string("name").empty() ? check.source.text : k.get_string("name");
      check.against = k.get_string("against");
      check.tolerance = {k.get_real("rtol"), k.get_real("atol"), parse_norm(k.get_string("norm")),
                         k.get_bool("bitwise")};
      check.bounds = read_bounds(k);
      check.reason = k.get_string("reason");
      if (check.against == "restart" && spec.restart_at.empty()) {
        throw InputError(
            fmt::format("{}: against = \"restart\" needs restart_at steps in case '{}'", rk.origin, spec.name));
      }
      if (check.against == "ranks" && spec.ranks.size() < 2) {
        throw InputError(
            fmt::format("{}: against = \"ranks\" needs two or more rank counts in case '{}'", rk.origin, spec.name));
      }
      for (const auto& rt : k.records("tolerance")) {
        ToleranceOverride o;
        o.origin = rt.origin;
        o.backend = rt.values.get_string("backend");
        o.precision = rt.values.get_string("precision");
        if (rt.values.has("rtol")) o.rtol = rt.values.get_real("rtol");
        if (rt.values.has("atol")) o.atol = rt.values.get_real("atol");
        o.bounds = read_bounds(rt.values);
        o.reason = rt.values.get_string("reason");
        const bool gives_bounds = declares_bound(rt.values), gives_tolerance = o.rtol || o.atol;
        if (check.against.empty() ? (!gives_bounds || gives_tolerance) : (gives_bounds || !gives_tolerance)) {
          throw InputError(
              fmt::format("{}: a tolerance override of a {} check gives {}", rt.origin,
                          check.against.empty() ? "bounds" : "comparison",
                          check.against.empty() ? "bounds (min, max, above, below, abs_max)" : "rtol or atol"));
        }
        check.overrides.push_back(o);
      }
      spec.checks.push_back(check);
    }
    for (const auto& rr : c.records("reference")) {
      const Input& r = rr.values;
      ReferenceSpec ref;
      ref.origin = rr.origin;
      ref.system = r.get_string("system");
      ref.figure = r.get_string("figure");
      ref.value = r.get_real("value");
      if (r.has("lower")) ref.lower = r.get_real("lower");
      if (r.has("upper")) ref.upper = r.get_real("upper");
      ref.unit = r.get_string("unit");
      ref.ranks = r.get_int("ranks");
      ref.variant = r.get_string("variant");
      if (ref.ranks && std::find(spec.ranks.begin(), spec.ranks.end(), ref.ranks) == spec.ranks.end()) {
        throw InputError(
            fmt::format("{}: ranks = {} is not a rank count of case '{}'", rr.origin, ref.ranks, spec.name));
      }
      if (!ref.variant.empty() && !variants.count(ref.variant)) {
        throw InputError(fmt::format("{}: case '{}' has no variant '{}'", rr.origin, spec.name, ref.variant));
      }
      spec.references.push_back(ref);
    }
    suite.cases.push_back(std::move(spec));
  }
  for (const auto& c : suite.cases) {
    for (const auto& k : c.checks) {
      if (k.against.rfind("case:", 0) != 0) continue;
      const std::string other = k.against.substr(5);
      if (other == c.name || !suite.find(other)) {
        throw InputError(fmt::format("{}: against = \"{}\" names no other case of this suite", k.origin, k.against));
      }
    }
  }
  return suite;
}

std::string Instance::baseline_name() const { return variant ? spec->name + "." + variant->name : spec->name; }

std::vector<Instance> expand(const Suite& suite, const std::string& site, const std::string& default_partition,
                             const std::vector<std::string>& only, std::vector<std::string>* skipped) {
  for (const auto& name : only) {
    if (!suite.find(name)) throw InputError(fmt::format("{}: no case '{}'", suite.file.string(), name));
  }
  std::vector<Instance> out;
  for (const auto& c : suite.cases) {
    if (!only.empty() && std::find(only.begin(), only.end(), c.name) == only.end()) continue;
    std::vector<std::string> partitions;
    for (const auto& system : c.systems) {
      const auto colon = system.find(':');
      if (system.substr(0, colon) == site) partitions.push_back(system.substr(colon + 1));
    }
    if (c.systems.empty()) partitions.push_back(default_partition);
    if (partitions.empty()) {
      if (skipped) skipped->push_back(c.name);
      continue;
    }
    std::vector<const VariantSpec*> variants;
    for (const auto& v : c.variants) variants.push_back(&v);
    if (variants.empty()) variants.push_back(nullptr);
    for (const auto& partition : partitions) {
      for (const VariantSpec* v : variants) {
        for (long ranks : c.ranks) {
          std::vector<long> stops{0};  // 0: the uninterrupted run
          stops.insert(stops.end(), c.restart_at.begin(), c.restart_at.end());
          for (long at : stops) {
            Instance inst;
            inst.spec = &c;
            inst.variant = v;
            inst.ranks = ranks;
            inst.restart = at > 0;
            inst.restart_at = at;
            inst.partition = partition;
            inst.id = fmt::format("{}{}.np{}{}", c.name, v ? "." + v->name : "", ranks,
                                  at > 0 ? ".restart" + std::to_string(at) : "");
            inst.overrides = c.set;
            if (v) inst.overrides.insert(inst.overrides.end(), v->set.begin(), v->set.end());
            out.push_back(inst);
          }
        }
      }
    }
  }
  return out;
}

std::string counterpart(const Instance& of, const CheckSpec& check, const std::vector<Instance>& all) {
  auto find = [&](const CaseSpec* spec, const VariantSpec* variant, long ranks) -> std::string {
    for (const auto& i : all) {
      if (i.spec == spec && i.variant == variant && i.ranks == ranks && !i.restart && i.partition == of.partition) {
        return i.id;
      }
    }
    return {};
  };
  if (check.against == "ranks") {
    if (of.ranks == of.spec->ranks.front()) return {};
    return find(of.spec, of.variant, of.spec->ranks.front());
  }
  if (check.against == "restart") return of.restart ? find(of.spec, of.variant, of.ranks) : std::string();
  if (check.against.rfind("case:", 0) == 0) {
    for (const auto& i : all) {
      if (i.spec->name == check.against.substr(5) && i.partition == of.partition && !i.restart) {
        return find(i.spec, i.variant, i.spec->ranks.front());
      }
    }
    return "?";  // the other case does not run here: an error for the check
  }
  return {};
}

const ReferenceSpec* find_reference(const Instance& inst, const std::string& system, const std::string& figure) {
  const ReferenceSpec* found = nullptr;
  for (const auto& r : inst.spec->references) {
    if (r.system != system || r.figure != figure) continue;
    if (r.ranks && r.ranks != inst.ranks) continue;
    if (!r.variant.empty() && (!inst.variant || inst.variant->name != r.variant)) continue;
    found = &r;
  }
  return found;
}

FigureResult judge_figure(const Figure& f, const ReferenceSpec* r, const std::string& system) {
  FigureResult out;
  out.name = f.name;
  out.value = f.value;
  out.unit = f.unit;
  out.status = "recorded";
  out.detail = "no reference for " + system + ": recorded only";
  if (!r) return out;
  out.has_reference = true;
  out.ref_value = r->value;
  out.ref_lower = r->lower;
  out.ref_upper = r->upper;
  if (r->unit != f.unit) {
    out.status = "fail";
    out.detail = fmt::format("the reference at {} is in '{}' but the figure is in '{}'", r->origin, r->unit, f.unit);
    return out;
  }
  const double lo = r->lower ? r->value + std::abs(r->value) * *r->lower : -INFINITY;
  const double hi = r->upper ? r->value + std::abs(r->value) * *r->upper : INFINITY;
  const bool ok = f.value >= lo && f.value <= hi;
  out.status = ok ? "pass" : "fail";
  auto pct = [](const std::optional<double>& x) { return x ? fmt::format("{:+.0f}%", 100 * *x) : std::string("none"); };
  out.detail =
      fmt::format("{:.4g} {} {} the reference {:.4g} {} on {} (allowed {:.4g} to {:.4g}: lower {}, upper {}; {})",
                  f.value, f.unit, ok ? "within" : (f.value < lo ? "below" : "above"), r->value, r->unit, r->system, lo,
                  hi, pct(r->lower), pct(r->upper), r->origin);
  return out;
}

}  // namespace gosok::regress
