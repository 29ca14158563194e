#include <gosok/regression/report.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include <gosok/scheduler/text.hpp>

namespace gosok::regress {

std::string history_key(const std::string& instance, const std::string& system, const std::string& figure) {
  return instance + "|" + system + "|" + figure;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        // XML 1.0 allows no control characters but tab, newline and carriage return.
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += '?';
        } else {
          out += c;
        }
    }
  }
  return out;
}

namespace {

std::string number(double v) { return fmt::format("{:.4g}", v); }

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

std::string reference_text(const FigureResult& f) {
  if (!f.has_reference) return "no reference: recorded only";
  const std::string lo = f.ref_lower ? number(f.ref_value + std::abs(f.ref_value) * *f.ref_lower) : "-inf";
  const std::string hi = f.ref_upper ? number(f.ref_value + std::abs(f.ref_value) * *f.ref_upper) : "+inf";
  return fmt::format("reference {} {} [{}, {}]", number(f.ref_value), f.unit, lo, hi);
}

// What went wrong in one case, one line each.
std::vector<std::string> problems(const CaseResult& c) {
  std::vector<std::string> out;
  if (!c.message.empty()) out.push_back(c.message);
  for (const auto& k : c.checks) {
    if (k.status == "fail" || k.status == "error") {
      out.push_back(fmt::format("check '{}' {}: {} (reason: {})", k.name, k.status == "fail" ? "failed" : "errored",
                                k.detail, k.reason));
    }
  }
  for (const auto& f : c.figures) {
    if (f.status == "fail") out.push_back(fmt::format("figure {}: {}", f.name, f.detail));
  }
  return out;
}

std::string when(std::int64_t t) { return t ? sched::format_time(t) : "-"; }

std::string energy_text(const CaseResult& c) {
  if (c.energy_j) return number(*c.energy_j) + " J";
  return c.energy_note.empty() ? "not measured" : c.energy_note;
}

std::string cost_line(const SuiteRun& run) {
  std::set<std::string> jobs;
  double elapsed = 0;
  bool any_energy = false;
  double energy = 0;
  for (const auto& c : run.cases) {
    jobs.insert(c.jobs.begin(), c.jobs.end());
    elapsed += c.elapsed_s;
    if (c.energy_j) {
      any_energy = true;
      energy += *c.energy_j;
    }
  }
  return fmt::format("{:.4f} GPU-hours of grant {} over {} job(s), {:.0f} s elapsed in all; GPU energy {}",
                     run.gpu_hours(), run.grant, jobs.size(), elapsed,
                     any_energy ? fmt::format("{:.4g} J", energy) : std::string("not measured"));
}

}  // namespace

std::string junit_xml(const SuiteRun& run) {
  std::string cases;
  double total = 0;
  for (const auto& c : run.cases) {
    total += c.elapsed_s;
    cases +=
        fmt::format("    <testcase classname=\"{}.{}\" name=\"{} on {}\" time=\"{:.3f}\">\n", xml_escape(run.suite),
                    xml_escape(c.case_name), xml_escape(c.instance), xml_escape(c.system), c.elapsed_s);
    const auto wrong = problems(c);
    std::string body;
    for (const auto& w : wrong) body += w + "\n";
    if (c.status == "fail") {
      cases += fmt::format("      <failure message=\"{}\" type=\"regression\">{}</failure>\n",
                           xml_escape(wrong.empty() ? "failed" : wrong.front()), xml_escape(body));
    } else if (c.status == "error") {
      cases += fmt::format("      <error message=\"{}\" type=\"error\">{}</error>\n",
                           xml_escape(wrong.empty() ? "error" : wrong.front()), xml_escape(body));
    } else if (c.status == "recorded") {
      cases +=
          "      <skipped message=\"no check of its own and no reference on this system (other instances may "
          "compare with it): figures recorded only\"/>\n";
    }
    std::string out;
    for (const auto& k : c.checks) out += fmt::format("check {}: {}: {}\n", k.name, k.status, k.detail);
    for (const auto& f : c.figures) {
      out += fmt::format("figure {} = {} {} ({}; {})\n", f.name, number(f.value), f.unit, f.status, reference_text(f));
    }
    out += fmt::format("jobs {}; {:.6f} GPU-hours; energy {}\n", join(c.jobs, " "), c.gpu_hours, energy_text(c));
    cases += "      <system-out>" + xml_escape(out) + "</system-out>\n    </testcase>\n";
  }
  return fmt::format(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<testsuites name=\"gosok regress\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\">\n"
      "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3f}\" "
      "timestamp=\"{}\" hostname=\"{}\">\n"
      "    <properties>\n"
      "      <property name=\"site\" value=\"{}\"/>\n"
      "      <property name=\"grant\" value=\"{}\"/>\n"
      "      <property name=\"gosok_version\" value=\"{}\"/>\n"
      "      <property name=\"git_hash\" value=\"{}\"/>\n"
      "      <property name=\"run\" value=\"{}\"/>\n"
      "      <property name=\"gpu_hours\" value=\"{:.6f}\"/>\n"
      "    </properties>\n{}"
      "  </testsuite>\n</testsuites>\n",
      run.cases.size(), run.count("fail"), run.count("error"), run.count("recorded"), total, xml_escape(run.suite),
      run.cases.size(), run.count("fail"), run.count("error"), run.count("recorded"), total,
      xml_escape(when(run.started_at)), xml_escape(run.host), xml_escape(run.site), xml_escape(run.grant),
      xml_escape(run.gosok_version), xml_escape(run.git_hash), run.id, run.gpu_hours(), cases);
}

namespace {

// An SVG line chart of one figure over runs, with the reference band of the current run.
std::string chart(const std::vector<HistoryPoint>& points, const FigureResult& current) {
  constexpr double width = 360, height = 170, left = 64, right = 12, top = 12, bottom = 30;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& p : points) {
    lo = std::min(lo, p.value);
    hi = std::max(hi, p.value);
  }
  double band_lo = NAN, band_hi = NAN;
  if (current.has_reference) {
    band_lo = current.ref_lower ? current.ref_value + std::abs(current.ref_value) * *current.ref_lower : lo;
    band_hi = current.ref_upper ? current.ref_value + std::abs(current.ref_value) * *current.ref_upper : hi;
    lo = std::min({lo, band_lo, current.ref_value});
    hi = std::max({hi, band_hi, current.ref_value});
  }
  if (!(hi > lo)) {
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const double pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const std::size_t n = points.size();
  auto x = [&](std::size_t i) {
    return left + (n > 1 ? (width - left - right) * i / (n - 1.0) : (width - left - right) / 2);
  };
  auto y = [&](double v) { return top + (height - top - bottom) * (hi - v) / (hi - lo); };
  std::string svg = fmt::format(
      "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" "
      "role=\"img\">\n",
      width, height, width, height);
  svg += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n", left,
                     top, width - left - right, height - top - bottom);
  if (current.has_reference) {
    const double y_hi = y(std::min(band_hi, hi)), y_lo = y(std::max(band_lo, lo));
    svg += fmt::format(
        "<rect class=\"reference-band\" x=\"{}\" y=\"{:.1f}\" width=\"{}\" height=\"{:.1f}\" fill=\"#2a7\" "
        "fill-opacity=\"0.15\"><title>reference band</title></rect>\n",
        left, y_hi, width - left - right, std::max(0.0, y_lo - y_hi));
    svg += fmt::format(
        "<line class=\"reference\" x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#2a7\" "
        "stroke-dasharray=\"4 3\"/>\n",
        left, width - right, y(current.ref_value), y(current.ref_value));
  }
  std::string line;
  for (std::size_t i = 0; i < n; ++i) line += fmt::format("{:.1f},{:.1f} ", x(i), y(points[i].value));
  svg += fmt::format("<polyline class=\"series\" fill=\"none\" stroke=\"#246\" stroke-width=\"1.5\" points=\"{}\"/>\n",
                     line);
  for (std::size_t i = 0; i < n; ++i) {
    const auto& p = points[i];
    svg += fmt::format(
        "<circle class=\"point\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"><title>run {} ({}, {}): {} {}"
        "</title></circle>\n",
        x(i), y(p.value), p.status == "fail" ? "#c22" : "#246", p.run_id, xml_escape(when(p.started_at)),
        xml_escape(p.git_hash), number(p.value), xml_escape(p.unit));
  }
  svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{}</text>\n", left - 4, top + 10,
                     number(hi));
  svg += fmt::format("<text x=\"{}\" y=\"{:.1f}\" font-size=\"10\" text-anchor=\"end\">{}</text>\n", left - 4,
                     height - bottom, number(lo));
  if (n > 0) {
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\">run {}</text>\n", left, height - 12,
                       points.front().run_id);
    svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">run {}</text>\n", width - right,
                       height - 12, points.back().run_id);
  }
  return svg + "</svg>";
}

}  // namespace

std::string html_report(const SuiteRun& run, const FigureHistory& history) {
  std::string rows;
  for (const auto& c : run.cases) {
    std::string checks, figures;
    for (const auto& k : c.checks) {
      checks += fmt::format("<li class=\"{}\" title=\"{}\"><b>{}</b> {}: {}</li>", k.status, xml_escape(k.reason),
                            k.status, xml_escape(k.name), xml_escape(k.detail));
    }
    for (const auto& f : c.figures) {
      figures += fmt::format("<li class=\"{}\"><b>{}</b> {} = {} {} <small>({})</small></li>", f.status, f.status,
                             xml_escape(f.name), number(f.value), xml_escape(f.unit), xml_escape(reference_text(f)));
    }
    const std::string jobs = join(c.jobs, " ");
    rows += fmt::format(
        "<tr class=\"case {}\"><td>{}</td><td>{}</td><td class=\"status\">{}</td><td><ul>{}</ul>{}</td>"
        "<td><ul>{}</ul></td><td>{}</td><td>{:.1f} s</td><td>{:.5f}</td><td>{}</td></tr>\n",
        c.status, xml_escape(c.instance), xml_escape(c.system), c.status, checks,
        c.message.empty() ? "" : "<p class=\"message\">" + xml_escape(c.message) + "</p>", figures, xml_escape(jobs),
        c.elapsed_s, c.gpu_hours, xml_escape(energy_text(c)));
  }
  std::string charts;
  for (const auto& c : run.cases) {
    for (const auto& f : c.figures) {
      auto it = history.find(history_key(c.instance, c.system, f.name));
      if (it == history.end() || it->second.empty()) continue;
      charts += fmt::format(
          "<figure class=\"figure-chart\"><figcaption>{} on {}: {} [{}], {} run(s)</figcaption>\n{}\n</figure>\n",
          xml_escape(c.instance), xml_escape(c.system), xml_escape(f.name), xml_escape(f.unit), it->second.size(),
          chart(it->second, f));
    }
  }
  const std::string verdict = run.status() == "pass" ? "PASS" : "FAIL";
  return fmt::format(
      R"(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gosok regress {suite}: run {id} {verdict}</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; width: 100%; font-size: 13px; }}
th, td {{ border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }}
th {{ background: #eee; }}
tr.pass td.status {{ background: #dfd; }}
tr.fail td.status {{ background: #fcc; }}
tr.error td.status {{ background: #fdb; }}
tr.recorded td.status {{ background: #eef; }}
ul {{ margin: 0; padding-left: 1.1em; }}
li.fail, li.error {{ color: #a00; }}
.summary b.pass {{ color: #070; }}
.summary b.fail {{ color: #a00; }}
.charts {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 12px; }}
</style>
</head>
<body>
<h1>gosok regress: {suite}</h1>
<p class="summary">Run {id} of <code>{file}</code> on site {site}, started {started}, ended {ended}, by {user} on {host}
with gosok {version} ({hash}){updated}: <b class="{status}">{verdict}</b>: {passed} passed, {failed} failed,
{errors} errors, {recorded} recorded only{skipped}.</p>
<p class="cost">Cost: {cost}.</p>
<h2>Cases</h2>
<table id="cases">
<thead><tr><th>instance</th><th>system</th><th>status</th><th>checks</th><th>figures</th><th>jobs</th><th>elapsed</th>
<th>GPU-hours</th><th>energy</th></tr></thead>
<tbody>
{rows}</tbody>
</table>
<h2>Figures across stored runs</h2>
<div class="charts">
{charts}</div>
</body>
</html>
)",
      fmt::arg("suite", xml_escape(run.suite)), fmt::arg("id", run.id), fmt::arg("verdict", verdict),
      fmt::arg("file", xml_escape(run.suite_file)), fmt::arg("site", xml_escape(run.site)),
      fmt::arg("started", when(run.started_at)), fmt::arg("ended", when(run.ended_at)),
      fmt::arg("user", xml_escape(run.user)), fmt::arg("host", xml_escape(run.host)),
      fmt::arg("version", xml_escape(run.gosok_version)), fmt::arg("hash", xml_escape(run.git_hash)),
      fmt::arg("updated", run.updated_baselines ? ", updating baselines" : ""), fmt::arg("status", run.status()),
      fmt::arg("passed", run.count("pass")), fmt::arg("failed", run.count("fail")),
      fmt::arg("errors", run.count("error")), fmt::arg("recorded", run.count("recorded")),
      fmt::arg("skipped",
               run.skipped.empty() ? std::string() : xml_escape("; not for this site: " + join(run.skipped, ", "))),
      fmt::arg("cost", xml_escape(cost_line(run))), fmt::arg("rows", rows), fmt::arg("charts", charts));
}

std::string text_report(const SuiteRun& run) {
  std::string out = fmt::format("gosok regress {} on {} (run {}): {}\n", run.suite, run.site, run.id,
                                run.status() == "pass" ? "PASS" : "FAIL");
  std::size_t width = 8;
  for (const auto& c : run.cases) width = std::max(width, c.instance.size());
  for (const auto& c : run.cases) {
    int referenced = 0;
    for (const auto& f : c.figures) referenced += f.has_reference;
    out += fmt::format("  {:<8} {:<{}}  {}  {} check(s), {} figure(s) ({} with a reference)\n",
                       c.status == "pass"       ? "pass"
                       : c.status == "recorded" ? "recorded"
                       : c.status == "fail"     ? "FAIL"
                                                : "ERROR",
                       c.instance, width, c.system, c.checks.size(), c.figures.size(), referenced);
    for (const auto& p : problems(c)) out += "      " + p + "\n";
  }
  if (!run.skipped.empty()) out += "  not for this site: " + join(run.skipped, ", ") + "\n";
  out += fmt::format("{} passed, {} failed, {} errors, {} recorded only\n", run.count("pass"), run.count("fail"),
                     run.count("error"), run.count("recorded"));
  out += "cost: " + cost_line(run) + "\n";
  return out;
}

std::string compare_report(const SuiteRun& a, const SuiteRun& b) {
  std::string out = fmt::format("run {} ({}, {}, {}) -> run {} ({}, {}, {})\n", a.id, a.suite, when(a.started_at),
                                a.git_hash, b.id, b.suite, when(b.started_at), b.git_hash);
  out += fmt::format("{:<40} {:<20} {:<22} {:>12} {:>12} {:>9}\n", "instance", "system", "figure", "A", "B", "change");
  for (const auto& cb : b.cases) {
    const CaseResult* ca = nullptr;
    for (const auto& c : a.cases) {
      if (c.instance == cb.instance && c.system == cb.system) ca = &c;
    }
    if (!ca) {
      out += fmt::format("{:<40} {:<20} only in run {}\n", cb.instance, cb.system, b.id);
      continue;
    }
    if (ca->status != cb.status) {
      out +=
          fmt::format("{:<40} {:<20} {:<22} {:>12} {:>12}\n", cb.instance, cb.system, "status", ca->status, cb.status);
    }
    for (const auto& fb : cb.figures) {
      for (const auto& fa : ca->figures) {
        if (fa.name != fb.name) continue;
        const std::string change =
            fa.value != 0 ? fmt::format("{:+.1f}%", 100 * (fb.value - fa.value) / std::abs(fa.value)) : "-";
        out += fmt::format("{:<40} {:<20} {:<22} {:>12} {:>12} {:>9}\n", cb.instance, cb.system, fb.name,
                           number(fa.value), number(fb.value), change);
      }
    }
    for (const auto& kb : cb.checks) {
      for (const auto& ka : ca->checks) {
        if (ka.name == kb.name && ka.status != kb.status) {
          out += fmt::format("{:<40} {:<20} check '{}': {} -> {}\n", cb.instance, cb.system, kb.name, ka.status,
                             kb.status);
        }
      }
    }
  }
  for (const auto& ca : a.cases) {
    bool found = false;
    for (const auto& cb : b.cases) found = found || (cb.instance == ca.instance && cb.system == ca.system);
    if (!found) out += fmt::format("{:<40} {:<20} only in run {}\n", ca.instance, ca.system, a.id);
  }
  out += fmt::format("cost: {:.4f} -> {:.4f} GPU-hours\n", a.gpu_hours(), b.gpu_hours());
  return out;
}

std::string history_report(const std::string& instance, const std::vector<HistoryPoint>& points) {
  std::string out = fmt::format("{}: {} value(s)\n", instance, points.size());
  out += fmt::format("{:>5}  {:<20}  {:<14} {:<20} {:<22} {:>12} {:<16} {}\n", "run", "started", "git", "system",
                     "figure", "value", "unit", "status");
  for (const auto& p : points) {
    out += fmt::format("{:>5}  {:<20}  {:<14} {:<20} {:<22} {:>12} {:<16} {}\n", p.run_id, when(p.started_at),
                       p.git_hash.substr(0, 14), p.system, p.figure, number(p.value), p.unit, p.status);
  }
  return out;
}

}  // namespace gosok::regress
