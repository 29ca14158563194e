#!/usr/bin/env bash
# bench/md/run.sh runs as its header documents it, from the repository root with a
# relative GOSOK_BINARY (the script changes folder, so it must resolve the path first),
# and prints the three codes' rows with gosok's ratios. A smoke test of the script only,
# two steps on one rank: the figures it prints are not checked (speed is for the
# benchmark itself, never a test).
source "$(dirname "$0")/md_common.sh"
need_lmp
cd "$GOSOK_SOURCE_DIR"
relative=$(realpath --relative-to=. "$GOSOK")
[[ $relative != /* ]] || fail "could not make a relative path to $GOSOK"
STEPS=2 REPEAT=1 RANKS=1 GOSOK_BINARY=$relative bash bench/md/run.sh > "$WORK/bench.log" 2>&1 ||
  { cat "$WORK/bench.log"; fail "bench/md/run.sh with GOSOK_BINARY=$relative"; }
cat "$WORK/bench.log"
for code in "lammps " "lammps opt" "gosok "; do
  grep -qE "^1 +$code" "$WORK/bench.log" || fail "the benchmark printed no '$code' row"
done
grep -qE '^1 +gosok .*\(([0-9.]+)x LAMMPS, ([0-9.]+)x LAMMPS opt\)' "$WORK/bench.log" || fail "no ratios printed"
echo "bench/md/run.sh runs with a relative GOSOK_BINARY"
