#pragma once

#include <map>
#include <string>
#include <vector>

#include <gosok/regression/results.hpp>

namespace gosok::regress {

/// Reports of one suite run. Each is a pure function of the run (and, for the HTML charts,
/// the history of its figures), so tests check them without running anything.

/// The history the HTML charts draw, by "instance|system|figure".
using FigureHistory = std::map<std::string, std::vector<HistoryPoint>>;
std::string history_key(const std::string& instance, const std::string& system, const std::string& figure);

/// JUnit XML (one testsuite, one testcase per instance): failures and errors carry the
/// failed checks; a recorded-only case is <skipped>.
std::string junit_xml(const SuiteRun& run);

/// One self-contained HTML page, viewable offline (no scripts, no external files): the
/// run's summary and cost, the table of cases with their checks and figures, and an inline
/// SVG chart of every figure across the stored runs, with its reference band.
std::string html_report(const SuiteRun& run, const FigureHistory& history);

/// What the terminal shows: one line per instance, the failures spelled out, the cost.
std::string text_report(const SuiteRun& run);

/// Every figure's change from run `a` to run `b` (gosok regress compare).
std::string compare_report(const SuiteRun& a, const SuiteRun& b);

/// One case's figures over runs (gosok regress history).
std::string history_report(const std::string& instance, const std::vector<HistoryPoint>& points);

std::string xml_escape(const std::string& text);

}  // namespace gosok::regress
