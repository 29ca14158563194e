#pragma once
// Shared by the scheduler commands (cmd_sched_*.cpp): ledger opening and job printing.
// None of these commands initialises MPI or Kokkos: they run on login nodes.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

namespace gosok::cli {

/// Opens the ledger named by --ledger, $GOSOK_LEDGER, the site or the user default.
/// With must_exist, a missing file is an InputError instead of a new empty ledger. In the
/// submit server the connection is kept for the next request on the same ledger file.
std::shared_ptr<sched::LedgerStore> open_ledger(const std::string& explicit_path, const std::string& site_ledger,
                                                std::string* path_out = nullptr, bool must_exist = false);

nlohmann::json job_json(const sched::JobRecord& job);
nlohmann::json balance_json(const sched::Grant& grant, const sched::GrantBalance& b);
std::string job_line(const sched::JobRecord& job);
std::string job_header();

}  // namespace gosok::cli
