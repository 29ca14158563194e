// A scheduler-only program for the link check: it uses the ledger, the site model and the
// emit step, so the linker pulls in the whole library, and must need no GPU stack.
#include <iostream>

#include <gosok/scheduler/emit.hpp>
#include <gosok/scheduler/ledger.hpp>
#include <gosok/scheduler/site.hpp>

int main(int argc, char** argv) {
  const auto site = gosok::sched::find_site("localhost");
  std::cout << "site " << site.name << " partitions " << site.partition_names() << "\n";
  if (argc > 1) {
    auto ledger = gosok::sched::open_sqlite_ledger(argv[1]);
    std::cout << "ledger " << ledger->instance_id() << " grants " << ledger->grants().size() << "\n";
  }
  return 0;
}
