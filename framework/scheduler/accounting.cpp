#include <gosok/scheduler/accounting.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include <gosok/core/error.hpp>
#include <gosok/core/run_energy.hpp>
#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/text.hpp>

namespace gosok::sched {

int gpus_from_tres(const std::string& tres) {
  int total = 0;
  for (const auto& item : split(tres, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = item.substr(0, eq);
    if (key == "gres/gpu" || key.rfind("gres/gpu:", 0) == 0) {
      // Typed and untyped counts may both appear (gres/gpu=2,gres/gpu:h200=2): prefer untyped.
      const int n = std::atoi(item.c_str() + eq + 1);
      if (key == "gres/gpu") return n;
      total += n;
    }
  }
  return total;
}

bool is_terminal_state(const std::string& s) {
  static const std::set<std::string> terminal = {"COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT",  "NODE_FAIL",
                                                 "BOOT_FAIL", "OUT_OF_MEMORY", "PREEMPTED", "DEADLINE", "REVOKED"};
  return terminal.count(s) != 0;
}

bool is_charged_state(const std::string& s) { return s != "NODE_FAIL" && s != "BOOT_FAIL"; }

namespace {
std::string first_word(const std::string& s) {
  const auto sp = s.find(' ');
  return sp == std::string::npos ? s : s.substr(0, sp);
}

std::int64_t parse_slurm_time(const std::string& s) {
  if (s.size() < 19 || s == "Unknown" || s == "None") return 0;
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  tm.tm_isdst = -1;
  return static_cast<std::int64_t>(mktime(&tm));  // sacct prints local time
}
}  // namespace

namespace {
// sacct's ExitCode "N:S": exit code N, or signal S (then 128+S, as a shell reports it).
int exit_code_of(const std::string& text) {
  const auto colon = text.find(':');
  if (text.empty() || colon == std::string::npos) return -1;
  const int signal = std::atoi(text.c_str() + colon + 1);
  return signal > 0 ? 128 + signal : std::atoi(text.c_str());
}

// "123_[0-3,7%2]" -> 123_0 .. 123_3, 123_7; any other id as it is.
void add_expanded(std::vector<AcctRecord>& out, AcctRecord r) {
  const auto open = r.job_id.find("_[");
  if (open == std::string::npos || r.job_id.back() != ']') {
    out.push_back(std::move(r));
    return;
  }
  const std::string job = r.job_id.substr(0, open);
  const ArraySpec spec = parse_array_spec(r.job_id.substr(open + 2, r.job_id.size() - open - 3));
  for (int task : spec.tasks) {
    AcctRecord t = r;
    t.job_id = job + "_" + std::to_string(task);
    out.push_back(std::move(t));
  }
}
}  // namespace

std::vector<AcctRecord> parse_sacct_parsable(const std::string& text) {
  std::vector<AcctRecord> out;
  std::unordered_map<std::string, std::size_t> col;
  bool header = true;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    const std::string line = text.substr(start, nl - start);
    start = nl + 1;
    if (line.empty()) continue;
    const auto f = split(line, '|');
    if (header) {
      for (std::size_t i = 0; i < f.size(); ++i) col[f[i]] = i;
      for (const char* need : {"JobID", "State"}) {
        if (!col.count(need)) throw RunError(std::string("sacct output has no column ") + need);
      }
      header = false;
      continue;
    }
    auto get = [&](const char* name) -> std::string {
      auto it = col.find(name);
      return it != col.end() && it->second < f.size() ? f[it->second] : std::string();
    };
    AcctRecord r;
    r.job_id = get("JobID");
    if (r.job_id.find('.') != std::string::npos) continue;  // steps
    r.state = first_word(get("State"));
    r.elapsed_s = std::atoll(get("ElapsedRaw").c_str());
    r.alloc_gpus = gpus_from_tres(get("AllocTRES"));
    r.comment = get("Comment");
    r.start = parse_slurm_time(get("Start"));
    r.end = parse_slurm_time(get("End"));
    r.user = get("User");
    r.account = lower(get("Account"));
    r.exit_code = exit_code_of(get("ExitCode"));
    add_expanded(out, std::move(r));
  }
  return out;
}

std::vector<AcctRecord> parse_sacct_json(const std::string& text) {
  std::vector<AcctRecord> out;
  const auto doc = nlohmann::json::parse(text);
  for (const auto& j : doc.at("jobs")) {
    AcctRecord r;
    r.job_id = std::to_string(j.at("job_id").get<std::int64_t>());
    // An array task: its own job_id is Slurm's internal one; array.job_id and task_id name it.
    if (j.contains("array") && j["array"].is_object()) {
      const auto& a = j["array"];
      const auto array_job = a.value("job_id", std::int64_t{0});
      const auto& task = a.contains("task_id") ? a["task_id"] : nlohmann::json();
      if (array_job != 0 && task.is_number_integer() && task.get<std::int64_t>() < 4294967294LL) {
        r.job_id = fmt::format("{}_{}", array_job, task.get<std::int64_t>());
      }
    }
    const auto& st = j.at("state");
    r.state = first_word(st.is_object() ? st.value("current", "") : st.get<std::string>());
    if (j.contains("time")) {
      const auto& t = j["time"];
      r.elapsed_s = t.value("elapsed", std::int64_t{0});
      r.start = t.value("start", std::int64_t{0});
      r.end = t.value("end", std::int64_t{0});
    }
    if (j.contains("exit_code") && j["exit_code"].is_object()) {
      const auto& e = j["exit_code"];
      const auto& sig = e.contains("signal") ? e["signal"] : nlohmann::json();
      const int signal = sig.is_object() ? sig.value("signal_id", 0) : 0;
      if (signal > 0) {
        r.exit_code = 128 + signal;
      } else if (e.contains("return_code") && e["return_code"].is_number_integer()) {
        r.exit_code = e["return_code"].get<int>();
      }
    }
    if (j.contains("tres") && j["tres"].contains("allocated")) {
      for (const auto& tr : j["tres"]["allocated"]) {
        if (tr.value("type", "") == "gres" && tr.value("name", "") == "gpu") r.alloc_gpus = tr.value("count", 0);
      }
    }
    if (j.contains("user") && j["user"].is_string()) r.user = j["user"].get<std::string>();
    if (j.contains("account") && j["account"].is_string()) r.account = lower(j["account"].get<std::string>());
    if (j.contains("comment")) {
      const auto& c = j["comment"];
      if (c.is_string()) {
        r.comment = c.get<std::string>();
      } else if (c.is_object()) {
        r.comment = c.value("job", "");
      }
    }
    out.push_back(std::move(r));
  }
  return out;
}

RunCharge charge_run(const JobRecord& job, std::int64_t elapsed_s, int gpus, const std::string& state) {
  RunCharge c;
  if (!is_charged_state(state)) return c;
  const double used =
      static_cast<double>(std::max<std::int64_t>(0, elapsed_s)) / 3600.0 * std::max(0, gpus) * job.charge_factor;
  c.charged = std::min(used, job.reserved_gpu_h);
  c.uncharged = used - c.charged;
  return c;
}

namespace {

// A record stands for this job only if its tag and its owner are the job's: another user
// may put any comment on a job of their own.
bool owned_by(const AcctRecord& r, const JobRecord& job) {
  return r.user == job.user && lower(r.account) == lower(job.account);
}

}  // namespace

ReconcileReport plan_reconcile(const std::vector<JobRecord>& active, const Accounting& accounting, std::int64_t now,
                               std::int64_t grace_s) {
  // Runs by job id, in the order they ran (the current one, not yet started, last).
  auto tag_key = [](const std::string& tag, const std::string& task) { return task.empty() ? tag : tag + "#" + task; };
  std::unordered_map<std::string, std::vector<const AcctRecord*>> by_id;
  std::unordered_map<std::string, std::vector<std::string>> ids_by_tag;
  by_id.reserve(accounting.records.size());
  for (const auto& r : accounting.records) {
    auto& runs = by_id[r.job_id];
    if (runs.empty() && !r.comment.empty()) {
      const auto us = r.job_id.find('_');
      ids_by_tag[tag_key(r.comment, us == std::string::npos ? "" : r.job_id.substr(us + 1))].push_back(r.job_id);
    }
    runs.push_back(&r);
  }
  for (auto& [id, runs] : by_id) {
    std::stable_sort(runs.begin(), runs.end(), [](const AcctRecord* a, const AcctRecord* b) {
      const auto key = [](const AcctRecord* r) { return r->start > 0 ? r->start : INT64_MAX; };
      return key(a) < key(b);
    });
  }
  ReconcileReport report;
  for (const auto& job : active) {
    JobUpdate u;
    u.id = job.id;
    const std::vector<const AcctRecord*>* runs = nullptr;
    if (!job.slurm_id.empty()) {
      auto it = by_id.find(job.slurm_id);
      if (it != by_id.end()) runs = &it->second;
    } else {
      auto it = ids_by_tag.find(tag_key(job.tag, job.in_array() ? std::to_string(job.array_task) : ""));
      if (it != ids_by_tag.end()) {
        for (const auto& id : it->second) {
          const auto& candidate = by_id.at(id);
          if (owned_by(*candidate.back(), job)) {
            runs = &candidate;
            u.slurm_id = id;
            u.note = "found by its tag after an interrupted submission";
            ++report.found_by_tag;
            break;
          }
        }
      }
    }
    if (!runs) {
      if (now - job.submitted_at < grace_s) continue;
      if (!accounting.complete) {
        report.unproven.push_back(fmt::format("{} ({}): kept, {}", job.gosok_id(),
                                              job.slurm_id.empty() ? "no Slurm id" : "Slurm job " + job.slurm_id,
                                              accounting.problem));
        continue;
      }
      if (job.slurm_id.empty()) {
        u.state = "released";
        u.note = "never reached Slurm (no job of yours carries its tag, queued, held or finished)";
        ++report.released;
      } else {
        if (job.state == "missing") continue;
        u.state = "missing";
        u.sched_state = job.sched_state;
        u.charged_gpu_h = job.charged_gpu_h;
        u.note = "Slurm accounting has no record of this job; reservation kept";
        report.missing.push_back(fmt::format("{} (Slurm job {}, grant {}, {:.4f} GPU-h reserved)", job.gosok_id(),
                                             job.slurm_id, job.grant_id, job.reserved_gpu_h));
      }
      report.updates.push_back(u);
      continue;
    }
    // Every run but the last has ended (requeued, or failed through the system); the last
    // is the job as it is now.
    const AcctRecord& rec = *runs->back();
    double earlier = 0, uncharged = 0;
    int charged_runs = 0;
    for (std::size_t k = 0; k + 1 < runs->size(); ++k) {
      const auto c = charge_run(job, (*runs)[k]->elapsed_s, (*runs)[k]->alloc_gpus, (*runs)[k]->state);
      earlier += c.charged;
      uncharged += c.uncharged;
      if (is_charged_state((*runs)[k]->state)) ++charged_runs;
    }
    u.sched_state = rec.state;
    u.alloc_gpus = rec.alloc_gpus;
    u.elapsed_s = rec.elapsed_s;
    u.started_at = rec.start;
    u.charged_gpu_h = earlier;
    if (is_terminal_state(rec.state)) {
      u.exit_code = rec.exit_code;
      u.state = "settled";
      u.ended_at = rec.end ? rec.end : now;
      const auto c = charge_run(job, rec.elapsed_s, rec.alloc_gpus, rec.state);
      u.charged_gpu_h += c.charged;
      uncharged += c.uncharged;
      if (is_charged_state(rec.state)) ++charged_runs;
      if (!is_charged_state(rec.state)) {
        u.note = rec.state + ": failed through the system, not charged";
        if (earlier > 0) u.note = rec.state + ": its last run failed through the system and is not charged";
      }
      ++report.settled;
    } else if (rec.state == "PENDING" || rec.state == "REQUEUED" || rec.state == "SUSPENDED") {
      u.state = "queued";
    } else {
      u.state = "running";
    }
    if (runs->size() > 1) {
      std::int64_t total = 0;
      for (const auto* r : *runs) total += r->elapsed_s;
      u.elapsed_s = total;
      const std::string runs_note = fmt::format("{} runs (requeued); {} charged", runs->size(), charged_runs);
      u.note = u.note.empty() ? runs_note : runs_note + "; " + u.note;
    }
    u.uncharged_gpu_h = uncharged;
    if (uncharged > 1e-12) {
      const std::string over = fmt::format("ran past its reservation: {:.4f} GPU-hours not charged", uncharged);
      u.note = u.note.empty() ? over : u.note + "; " + over;
      if (u.state == "settled") {
        report.uncharged.push_back(fmt::format("{} (Slurm job {}): {}", job.gosok_id(),
                                               job.slurm_id.empty() ? u.slurm_id : job.slurm_id, over));
      }
    }
    if (u.state == job.state && u.sched_state == job.sched_state && u.slurm_id.empty() &&
        (u.started_at == 0 || u.started_at == job.started_at) && u.charged_gpu_h == job.charged_gpu_h &&
        u.uncharged_gpu_h == job.uncharged_gpu_h) {
      continue;
    }
    if (u.state != "settled" && u.note.empty()) u.note = job.note;
    report.updates.push_back(u);
  }
  return report;
}

}  // namespace gosok::sched

namespace gosok::sched {

void attach_run_energy(JobUpdate& u, const JobRecord& job) {
  if (job.results_dir.empty()) {
    u.energy_note = "not measured: the ledger does not know where the run wrote its results";
    return;
  }
  const auto path = std::filesystem::path(job.results_dir) / "diagnostics.json";
  std::optional<RunEnergy> energy;
  try {
    energy = read_run_energy(path);
  } catch (const InputError& e) {
    u.energy_note = std::string("not measured: ") + e.what();
    return;
  }
  if (!energy) {
    u.energy_note = "not measured: the run left no energy record in " + path.string();
    return;
  }
  const std::string slurm_id = !u.slurm_id.empty() ? u.slurm_id : job.slurm_id;
  if (energy->job != job.gosok_id() && (slurm_id.empty() || energy->job != slurm_id)) {
    u.energy_note = fmt::format("not measured: {} belongs to another run (job '{}', not {}{})", path.string(),
                                energy->job, job.gosok_id(), slurm_id.empty() ? "" : " or Slurm job " + slurm_id);
    return;
  }
  if (!energy->measured) {
    u.energy_note = "not measured: " + energy->reason;
    return;
  }
  u.energy_j = energy->joules;
}

}  // namespace gosok::sched
