#pragma once
// Pieces the ledger backends share (not installed): balance buckets and the checks of a
// migration.
#include <map>
#include <string>

#include <gosok/scheduler/ledger.hpp>

namespace gosok::sched {

/// One (state, user) group of a grant's jobs, as both backends sum them.
struct BalanceGroup {
  std::string state;
  std::string user;
  int jobs = 0;
  double reserved = 0;
  double charged = 0;   // settled: the charge; active: what earlier runs of requeued jobs were charged
  double energy_j = 0;  // of the settled jobs that have a measurement
  int energy_jobs = 0;
};
/// Adds one group to the grant's balance and to the user's part.
void add_to_balance(GrantBalance& b, const BalanceGroup& g);
/// remaining = granted - settled - in flight - queued; members sorted by name.
void finish_balance(GrantBalance& b);

/// Throws RunError naming the grant unless, for every grant of `content`, after = before +
/// what content holds (jobs, reserved and charged GPU-hours).
void check_loaded_totals(const LedgerContent& content, const std::map<std::string, GrantTotals>& before,
                         const std::map<std::string, GrantTotals>& after, const std::string& target);
/// The refusal when a migrated grant's terms differ from the target's.
std::string different_terms(const Grant& incoming, const Grant& held, const std::string& target);

}  // namespace gosok::sched
