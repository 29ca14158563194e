// Workflows on the command line: gosok submit WORKFLOW.toml, gosok status / resume /
// cancel / release of a workflow (w3, or its name), and the workflow file kind of validate.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include <gosok/core/config.hpp>
#include <gosok/core/environment.hpp>
#include <gosok/core/error.hpp>
#include <gosok/core/logging.hpp>
#include <gosok/scheduler/process.hpp>
#include <gosok/scheduler/service.hpp>
#include <gosok/scheduler/text.hpp>
#include <gosok/workflow/engine.hpp>
#include "cmd_sched_common.hpp"
#include "commands.hpp"
#include "options.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace gosok::cli {

namespace {

std::string default_output(const std::string& name) {
  const auto root = env("GOSOK_OUTPUT_ROOT");
  const fs::path base = root ? fs::path(*root) : fs::current_path() / "gosok-out";
  std::string stamp = sched::format_time(sched::now_seconds());
  stamp.erase(std::remove(stamp.begin(), stamp.end(), ':'), stamp.end());
  stamp.erase(std::remove(stamp.begin(), stamp.end(), '-'), stamp.end());
  return (fs::absolute(base) / fmt::format("{}-{}-{}", name, stamp, ::getpid())).lexically_normal().string();
}

// What every workflow command works with: the ledger, the workloads' inputs, the engine.
struct Session {
  std::unique_ptr<sched::LedgerStore> ledger;
  std::string ledger_path;
  WorkloadInputs inputs;
  std::string template_name;

  Session(const std::string& ledger_arg, const std::string& site_ledger, bool must_exist) {
    ledger = open_ledger(ledger_arg, site_ledger, &ledger_path, must_exist);
    register_builtin_workload_inputs(inputs);
  }
  workflow::Engine engine() { return workflow::Engine{*ledger, ledger_path, inputs, "", template_name}; }
};

std::string member_text(int member) { return member < 0 ? "-" : std::to_string(member); }

std::string local_time(std::int64_t t) { return t > 0 ? sched::format_epoch(t, "%Y-%m-%dT%H:%M:%S", true) : "-"; }

nlohmann::json status_json(const workflow::Status& st, const sched::WorkflowRecord& w, std::int64_t now) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& ss : st.steps) {
    nlohmann::json members = nlohmann::json::array();
    for (const auto& m : ss.members) {
      nlohmann::json jobs = nlohmann::json::array();
      for (const auto& j : m.jobs) {
        auto jj = job_json(j, now);
        jj["attempt"] = j.attempt;
        jj["segment"] = j.segment;
        jj["exit_code"] = j.exit_code >= 0 ? nlohmann::json(j.exit_code) : nlohmann::json(nullptr);
        jj["outcome"] = j.outcome.empty() ? nlohmann::json(nullptr) : nlohmann::json(j.outcome);
        jobs.push_back(jj);
      }
      members.push_back({{"member", m.member >= 0 ? nlohmann::json(m.member) : nlohmann::json(nullptr)},
                         {"state", m.state},
                         {"jobs", jobs}});
    }
    steps.push_back(
        {{"name", ss.step->name},
         {"state", ss.state},
         {"workload", ss.step->workload.empty() ? nlohmann::json(nullptr) : nlohmann::json(ss.step->workload)},
         {"command", ss.step->command},
         {"after", ss.step->after},
         {"members", ss.step->members},
         {"retries", ss.step->retries},
         {"results", workflow::step_results(st.workflow, *ss.step)},
         {"member_states", members}});
  }
  return {{"workflow",
           {{"id", w.ref()},
            {"name", w.name},
            {"state", w.state},
            {"note", w.note.empty() ? nlohmann::json(nullptr) : nlohmann::json(w.note)},
            {"grant", w.grant_id},
            {"site", w.site},
            {"file", w.file},
            {"output", w.output_dir},
            {"created", sched::format_time(w.created_at)},
            {"reserved_gpu_hours", st.reserved_gpu_h},
            {"charged_gpu_hours", st.charged_gpu_h},
            {"jobs", st.jobs}}},
          {"steps", steps}};
}

// "workflow w1 quickstart: failed (why)": the first line of its status.
std::string state_line(const sched::WorkflowRecord& w) {
  return fmt::format("workflow {} {}: {}{}", w.ref(), w.name, w.state, w.note.empty() ? "" : " (" + w.note + ")");
}

void print_status(const workflow::Status& st, const sched::WorkflowRecord& w, std::int64_t now) {
  std::cout << state_line(w) << "\n";
  std::cout << fmt::format("  grant {} on {}, folder {}\n", w.grant_id, w.site, w.output_dir);
  std::cout << fmt::format("  {} job(s): {:.4f} GPU-hours charged, {:.4f} reserved by jobs not yet ended\n", st.jobs,
                           st.charged_gpu_h, st.reserved_gpu_h);
  std::vector<std::vector<std::string>> rows;
  std::string notes;
  for (const auto& ss : st.steps) {
    std::cout << fmt::format("  step {}: {}{}\n", ss.step->name, ss.state,
                             ss.step->ensemble() ? fmt::format(" ({} members)", ss.step->members) : "");
    for (const auto& m : ss.members) {
      if (m.jobs.empty()) {
        rows.push_back({ss.step->name, member_text(m.member), m.state, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-",
                        "-", "-"});
      }
      for (std::size_t i = 0; i < m.jobs.size(); ++i) {
        const auto& j = m.jobs[i];
        const bool latest = i + 1 == m.jobs.size();
        const std::int64_t elapsed = j.state == "settled" || j.ended_at > 0 ? j.elapsed_s
                                     : j.started_at > 0                     ? now - j.started_at
                                                                            : -1;
        rows.push_back({ss.step->name, member_text(m.member), latest ? m.state : "", j.gosok_id(),
                        j.slurm_id.empty() ? "-" : j.slurm_id, std::to_string(j.attempt), std::to_string(j.segment),
                        j.sched_state.empty() ? j.state : j.sched_state, j.outcome.empty() ? "-" : j.outcome,
                        j.exit_code >= 0 ? std::to_string(j.exit_code) : "-", local_time(j.started_at),
                        local_time(j.ended_at), elapsed >= 0 ? sched::format_walltime(elapsed) : "-",
                        fmt::format("{:.4f}", j.reserved_gpu_h),
                        j.state == "settled" ? fmt::format("{:.4f}", j.charged_gpu_h) : "-"});
        if (!j.note.empty() && latest) notes += "  " + j.gosok_id() + ": " + j.note + "\n";
      }
    }
  }
  std::cout << format_table(
      {"STEP", "MEMBER", "STATE", "JOB", "SLURM", "TRY", "PART", "SCHED", "OUTCOME", "EXIT", "START", "END", "ELAPSED",
       "RESERVED", "CHARGED"},
      rows, {false, true, false, false, false, true, true, false, false, true, false, false, true, true, true}, "  ");
  if (!notes.empty()) std::cout << "  notes:\n" << notes;
}

void print_plan(const workflow::Plan& plan, bool batch) {
  const auto& w = plan.workflow;
  std::cout << fmt::format("# workflow {} ({}): {} step(s) on site {}, grant {}\n", w.name, w.source, w.steps.size(),
                           plan.site.name, plan.grant.id);
  if (!w.parameters.empty()) {
    std::string list;
    for (const auto& [k, v] : w.parameters) list += (list.empty() ? "" : ", ") + k + " = " + v;
    std::cout << "# parameters: " << list << "\n";
  }
  std::cout << "# output folder: " << w.output << "\n";
  for (const auto& p : plan.steps) {
    const auto& s = *p.step;
    const auto& part = *p.plan.partition;
    std::cout << "#\n";
    std::cout << fmt::format("# ==== step {}: {}", s.name,
                             !s.workload.empty() ? "workload " + s.workload : "command " + sched::join_argv(s.command));
    if (s.ensemble()) {
      std::cout << fmt::format(", {} members ({} = 0 .. {}), {}", s.members,
                               s.workload.empty() ? "GOSOK_MEMBER" : s.member_key, s.members - 1,
                               batch ? "one job array"
                                     : "one job each, started as this machine's cores allow; the "
                                       "script shown is member 0's");
    }
    std::cout << "\n# results: " << workflow::step_results(w, s) << (s.ensemble() ? "/<member>" : "") << "\n";
    if (s.after.empty()) {
      std::cout << "# after: none\n";
    } else {
      std::string deps;
      for (const auto& d : s.after) deps += (deps.empty() ? "" : ", ") + d;
      std::cout << fmt::format("# after: {} ({})\n", deps,
                               batch ? "--dependency=afterok on their jobs; <step> stands for their Slurm ids"
                                     : "started by gosok once they have succeeded");
    }
    if (s.retries > 0) std::cout << fmt::format("# retries: {} per {}\n", s.retries, s.ensemble() ? "member" : "job");
    const double per_job = p.plan.reserve_gpu_h;
    if (p.segments > 1) {
      std::cout << fmt::format(
          "# time {} is over partition {}'s limit ({}): each {} runs in jobs of up to {}, each continuing from the "
          "last one's checkpoint ({} or more if it uses all its time), each job reserving {:.4f} GPU-hours\n",
          sched::format_walltime(s.resources.time_limit_s), part.name, sched::format_walltime(part.max_walltime_s),
          s.ensemble() ? "member" : "run", sched::format_walltime(p.job_time_s), p.segments, per_job);
    }
    const std::string overrun = plan.site.overrun_s == 0 ? ""
                                : p.segments > 1 ? fmt::format(" + {} x overrun {} s", p.segments, plan.site.overrun_s)
                                                 : fmt::format(" + overrun {} s", plan.site.overrun_s);
    std::cout << fmt::format("# GPU-hours: {}{} GPU(s) x ({}{}) x charge factor {} = {:.4f}\n",
                             s.ensemble() ? fmt::format("{} members x ", s.members) : "", p.plan.reserved_gpus,
                             sched::format_walltime(s.resources.time_limit_s), overrun, part.charge_factor,
                             p.gpu_hours);
    std::cout << p.script;
    if (!p.script.empty() && p.script.back() != '\n') std::cout << "\n";
  }
  std::cout << fmt::format(
      "#\n# total: {:.4f} GPU-hours of grant {} ({:.4f} of {:.4f} remain): covered\n"
      "# dry run: nothing submitted, nothing booked\n",
      plan.gpu_hours, plan.grant.id, plan.remaining, plan.grant.gpu_hours);
}

nlohmann::json plan_json(const workflow::Plan& plan) {
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& p : plan.steps) {
    steps.push_back({{"name", p.step->name},
                     {"after", p.step->after},
                     {"members", p.step->members},
                     {"script", p.script},
                     {"template", p.template_source},
                     {"job_time_limit", sched::format_walltime(p.job_time_s)},
                     {"segments", p.segments},
                     {"gpu_hours_per_job", p.plan.reserve_gpu_h},
                     {"gpu_hours", p.gpu_hours}});
  }
  return {{"dry_run", true},
          {"workflow", plan.workflow.name},
          {"site", plan.site.name},
          {"grant", plan.grant.id},
          {"output", plan.workflow.output},
          {"gpu_hours", plan.gpu_hours},
          {"remaining_gpu_hours", plan.remaining},
          {"steps", steps}};
}

void print_event(const std::string& line) { std::cout << line << std::endl; }

// Follows the workflow to its end (or `timeout`) and prints where it stands; the exit code
// of `--wait`: 0 completed, 1 failed or cancelled, 124 timed out.
int follow_and_report(Session& session, const sched::Site& site, sched::WorkflowRecord& w, double timeout, bool json,
                      bool resume_first, double poll) {
  const auto engine = session.engine();
  const bool done = workflow::follow(
      engine, site, w, timeout,
      json ? std::function<void(const std::string&)>([](const std::string& l) { std::cerr << l << "\n"; })
           : print_event,
      resume_first, poll);
  const auto now = sched::now_seconds();
  const auto st = workflow::workflow_status(engine, w);
  if (json) {
    std::cout << json_document(status_json(st, w, now)).dump(2) << "\n";
  } else {
    print_status(st, w, now);
  }
  if (!done) {
    std::cerr << fmt::format("gosok: workflow {} still {} after {} s\n", w.ref(), w.state, timeout);
    return 124;
  }
  return w.state == "completed" ? 0 : 1;
}

}  // namespace

bool is_workflow_file(const std::string& arg) {
  std::error_code ec;
  return arg.size() > 5 && arg.substr(arg.size() - 5) == ".toml" && fs::is_regular_file(arg, ec) &&
         file_has_top_level_key(arg, "workflow");
}

int submit_workflow_file(const WorkflowSubmitArgs& a) {
  const std::string text = sched::read_text_file(a.file);
  const fs::path file = fs::absolute(a.file).lexically_normal();
  workflow::Workflow w = workflow::parse_workflow(text, a.file, file.parent_path().string(), a.parameters);
  const sched::Site site = sched::find_site(!a.site.empty() ? a.site : w.site);
  std::string grant_id = !a.grant.empty() ? a.grant : w.grant;
  if (grant_id.empty()) grant_id = env("GOSOK_GRANT").value_or("");
  if (grant_id.empty()) {
    throw InputError(a.file + ": no grant: give [workflow] grant, --grant ID or $GOSOK_GRANT");
  }
  const std::string output = !a.output.empty() ? a.output : w.output;
  workflow::place_outputs(w,
                          output.empty() ? default_output(w.name) : fs::absolute(output).lexically_normal().string());
  Session session(a.ledger, site.ledger, true);
  session.template_name = a.template_name;
  const auto grant = session.ledger->find_grant(grant_id);
  if (!grant) {
    throw InputError("no grant '" + grant_id + "' in the ledger (import it with 'gosok grants import FILE')");
  }
  const auto engine = session.engine();
  workflow::Plan plan = workflow::plan_workflow(w, site, *grant, engine);
  // The site as the engine finds it again later: a file given by path stays that file.
  const std::string site_given = !a.site.empty() ? a.site : w.site;
  plan.site_ref = site_given.find('/') != std::string::npos ||
                          (site_given.size() > 5 && site_given.compare(site_given.size() - 5, 5, ".toml") == 0)
                      ? fs::absolute(site_given).string()
                      : site.name;
  const bool batch = sched::make_backend(site.scheduler)->has_batch_system();
  if (a.dry_run) {
    if (a.json) {
      std::cout << json_document(plan_json(plan)).dump(2) << "\n";
    } else {
      print_plan(plan, batch);
    }
    return 0;
  }
  if (a.hold && !batch) throw InputError("--hold: site " + site.name + " has no batch system to hold jobs in");
  std::vector<std::string> events;
  auto record = workflow::submit_workflow(plan, a.file, text, a.parameters, engine, a.hold, &events);
  if (!a.json) {
    std::cout << fmt::format("workflow {} {}: {} step(s) on {}, grant {}, about {:.4f} GPU-hours in all\n",
                             record.ref(), record.name, w.steps.size(), site.name, grant_id, plan.gpu_hours);
    std::cout << "  folder: " << record.output_dir << "\n";
    for (const auto& e : events) std::cout << e << "\n";
    if (record.state == "failed") std::cout << state_line(record) << "\n";
  }
  // Without a batch system, nobody but gosok starts the next step: it stays to do so.
  const bool wait = a.wait || (!batch && !a.no_wait);
  if (!wait) {
    if (a.json) {
      std::cout
          << json_document(status_json(workflow::workflow_status(engine, record), record, sched::now_seconds())).dump(2)
          << "\n";
    } else {
      std::cout << fmt::format(
          "follow it with 'gosok status {} --wait' (which also submits retries and "
          "continuations); 'gosok resume {}' after a failure\n",
          record.ref(), record.ref());
    }
    return record.state == "failed" ? 1 : 0;
  }
  if (!batch && !a.json) {
    std::cout << fmt::format(
        "site {} has no batch system: gosok runs the steps in order and waits for them "
        "(Ctrl-C stops waiting; 'gosok resume {}' goes on)\n",
        site.name, record.ref());
  }
  return follow_and_report(session, site, record, a.timeout, a.json, false, a.poll);
}

int workflow_status_command(const std::vector<std::string>& refs, const std::string& ledger_arg, bool json, bool wait,
                            double timeout, bool no_refresh, double poll) {
  Session session(ledger_arg, "", true);
  const auto engine = session.engine();
  int code = 0;
  nlohmann::json out = nlohmann::json::array();
  for (const auto& ref : refs) {
    auto w = workflow::find_workflow(*session.ledger, ref);
    if (wait) {
      code = std::max(code, follow_and_report(session, sched::find_site(w.site), w, timeout, json, false, poll));
      continue;
    }
    if (!no_refresh) {
      const auto a = workflow::advance(engine, sched::find_site(w.site), w);
      if (!json) {
        for (const auto& e : a.events) std::cout << e << "\n";
      }
      if (!a.unreachable.empty()) gosok::log().warn("could not ask accounting: {}", a.unreachable);
    }
    const auto now = sched::now_seconds();
    const auto st = workflow::workflow_status(engine, w);
    if (json) {
      out.push_back(status_json(st, w, now));
    } else {
      print_status(st, w, now);
    }
  }
  if (json && !wait) std::cout << json_document({{"workflows", out}}).dump(2) << "\n";
  return code;
}

int workflow_list_command(const std::string& ledger_arg, bool json) {
  Session session(ledger_arg, "", true);
  const auto list = session.ledger->workflows("");
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& w : list) {
      out.push_back({{"id", w.ref()},
                     {"name", w.name},
                     {"state", w.state},
                     {"grant", w.grant_id},
                     {"site", w.site},
                     {"output", w.output_dir},
                     {"created", sched::format_time(w.created_at)}});
    }
    std::cout << json_document({{"workflows", out}}).dump(2) << "\n";
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& w : list) {
    rows.push_back({w.ref(), w.name, w.state, w.grant_id, local_time(w.created_at), w.output_dir});
  }
  std::cout << format_table({"ID", "NAME", "STATE", "GRANT", "CREATED", "FOLDER"}, rows,
                            {false, false, false, false, false, false});
  return 0;
}

int workflow_control(const std::string& action, const std::string& ref, const std::string& ledger_arg) {
  Session session(ledger_arg, "", true);
  auto w = workflow::find_workflow(*session.ledger, ref);
  const auto lines = action == "cancel" ? workflow::cancel_workflow(session.engine(), w)
                                        : workflow::release_workflow(session.engine(), w);
  for (const auto& l : lines) std::cout << l << "\n";
  std::cout << fmt::format(
      "workflow {} {}: {}\n", w.ref(), w.name,
      action == "cancel" ? "cancelled ('gosok resume " + w.ref() + "' takes it up again)" : "released");
  return 0;
}

bool is_workflow(sched::LedgerStore& ledger, const std::string& ref) { return workflow::is_workflow_ref(ledger, ref); }

namespace {

int resume_command(const std::vector<std::string>& args) {
  std::string ref, ledger_arg;
  bool json = false, wait = false, no_wait = false, help = false;
  double timeout = -1, poll = 0;
  po::options_description desc(
      "usage: gosok resume WORKFLOW [options]\n"
      "Resubmits what has not succeeded: members that failed for good or were cancelled, steps never\n"
      "submitted; never a member that succeeded. WORKFLOW: w3, or its name (the newest of that name).");
  desc.add_options()("help,h", po::bool_switch(&help), "show this help")("json", po::bool_switch(&json), "JSON output")(
      "wait", po::bool_switch(&wait), "follow it until it has finished (the default on a site without a batch system)")(
      "no-wait", po::bool_switch(&no_wait), "return at once, also on a site without a batch system")(
      "timeout", po::value(&timeout), "with --wait: give up after this many seconds (exit 124)")(
      "poll", po::value(&poll),
      "with --wait: the longest wait between polls, in seconds (default 30; 5 on a site "
      "without a batch system)")("ledger", po::value(&ledger_arg), "ledger path");
  po::options_description hidden;
  hidden.add_options()("workflow", po::value(&ref), "workflow");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description pos;
  pos.add("workflow", 1);
  parse_options(args, all, &pos);
  if (help || ref.empty()) {
    std::cout << desc << "\n";
    return help ? 0 : 2;
  }
  Session session(ledger_arg, "", true);
  auto w = workflow::find_workflow(*session.ledger, ref);
  const sched::Site site = sched::find_site(w.site);
  const bool batch = sched::make_backend(site.scheduler)->has_batch_system();
  if (wait || (!batch && !no_wait)) return follow_and_report(session, site, w, timeout, json, true, poll);
  const auto a = workflow::advance(session.engine(), site, w, true);
  if (!a.unreachable.empty()) gosok::log().warn("could not ask accounting: {}", a.unreachable);
  const auto st = workflow::workflow_status(session.engine(), w);
  if (json) {
    std::cout << json_document(status_json(st, w, sched::now_seconds())).dump(2) << "\n";
  } else {
    for (const auto& e : a.events) std::cout << e << "\n";
    print_status(st, w, sched::now_seconds());
  }
  return 0;
}

}  // namespace

void register_workflow_commands(CommandRegistry& commands) {
  commands.add({"resume", "take up a workflow again: resubmit what has not succeeded",
                [](const std::vector<std::string>& a, int&, char**) { return resume_command(a); }});
  add_file_kind({"workflow ([workflow] and [[step]] tables)", {}, nullptr, "workflow", [](const std::string& path) {
                   const std::string text = sched::read_text_file(path);
                   const fs::path file = fs::absolute(path).lexically_normal();
                   auto w = workflow::parse_workflow(text, path, file.parent_path().string(), {});
                   // Where a submission from the file's folder would put it by default.
                   workflow::place_outputs(
                       w, w.output.empty() ? (file.parent_path() / "gosok-out" / w.name).string() : w.output);
                   WorkloadInputs inputs;
                   register_builtin_workload_inputs(inputs);
                   workflow::check_workloads(w, inputs);
                   // The steps' resources against the site it names (localhost when none).
                   workflow::check_resources(w, sched::find_site(w.site));
                 }});
}

}  // namespace gosok::cli
