#!/usr/bin/env bash
# The LJ benchmark with gosok md and LAMMPS on the same data file, interleaved, REPEAT
# times (default 3); the best loop time of each is reported, since on a shared machine
# the slower runs measure the neighbours, not the code. Timed: LAMMPS' "Loop time" and
# gosok's md::step region (slowest rank), both the 100 steps without setup.
#   GOSOK_BINARY=build/framework/cli/gosok bash bench/md/run.sh
set -euo pipefail
GOSOK=${GOSOK_BINARY:-gosok}
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
REPEAT=${REPEAT:-3}
STEPS=${STEPS:-100}
RANKS=${RANKS:-"1 2"}
command -v lmp >/dev/null || { echo "bench_md needs LAMMPS (Debian package 'lammps')" >&2; exit 1; }
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
lmp -in "$here/../../examples/md/lj-benchmark.lmp" -log none > /dev/null
cat > lj.in <<EOF
units lj
atom_style atomic
pair_style lj/cut 2.5
read_data lj.data
pair_coeff 1 1 1.0 1.0 2.5
neighbor 0.3 bin
neigh_modify delay 0 every 20 check no
fix 1 all nve
thermo $STEPS
run $STEPS
EOF
atoms=32000
printf '%-6s %-8s %12s %16s\n' ranks code "loop [s]" "atom-steps/s"
for ranks in $RANKS; do
  best_l=1e30
  best_g=1e30
  for ((k = 0; k < REPEAT; ++k)); do
    # shellcheck disable=SC2086
    l=$($MPIRUN -n "$ranks" lmp -in lj.in -log none | awk '/^Loop time of/ { print $4 }')
    # shellcheck disable=SC2086
    g=$($MPIRUN -n "$ranks" "$GOSOK" run md --set init=data --set data.file=lj.data --set steps="$STEPS" \
      --set neighbor.every=20 --set neighbor.check=false --results "out$ranks" 2>&1 |
      awk '$1 == "md::step" { print $5 }')
    best_l=$(awk -v a="$best_l" -v b="$l" 'BEGIN { print (b < a ? b : a) }')
    best_g=$(awk -v a="$best_g" -v b="$g" 'BEGIN { print (b < a ? b : a) }')
  done
  rl=$(awk -v t="$best_l" -v n=$atoms -v s="$STEPS" 'BEGIN { printf "%.3e", n * s / t }')
  rg=$(awk -v t="$best_g" -v n=$atoms -v s="$STEPS" 'BEGIN { printf "%.3e", n * s / t }')
  printf '%-6s %-8s %12.4f %16s\n' "$ranks" lammps "$best_l" "$rl"
  printf '%-6s %-8s %12.4f %16s   (%.2fx LAMMPS)\n' "$ranks" gosok "$best_g" "$rg" \
    "$(awk -v a="$best_l" -v b="$best_g" 'BEGIN { print a / b }')"
done
