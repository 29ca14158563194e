#!/usr/bin/env bash
# The LJ benchmark (LAMMPS bench/in.lj: 32,000 atoms, fcc 0.8442, rc 2.5, skin 0.3, a
# rebuild every 20 steps, 100 steps) with gosok md, Debian's LAMMPS (lj/cut) and the same
# LAMMPS with its OPT package (`-sf opt`: pair lj/cut/opt, the fastest LAMMPS on a CPU
# here), all from one data file, interleaved, REPEAT times (default 5) at each rank count.
# Printed per code: the median and the best loop time, atom-steps per second from the
# median, and gosok's speed-up over both LAMMPS variants (medians). Timed: LAMMPS' "Loop
# time" and gosok's md::step region (slowest rank), both the steps without setup. The load
# average before and after is printed: on a shared machine the figures spread with it.
#   GOSOK_BINARY=build/framework/cli/gosok bash bench/md/run.sh
#   cmake --build build --target bench_md
set -euo pipefail
GOSOK=${GOSOK_BINARY:-gosok}
# A relative path would break once the script changes into its work folder.
if [[ $GOSOK == */* ]]; then GOSOK=$(realpath "$GOSOK"); fi
command -v "$GOSOK" > /dev/null || { echo "bench_md: no gosok at '$GOSOK' (set GOSOK_BINARY)" >&2; exit 1; }
MPIRUN=${MPIRUN:-mpirun --allow-run-as-root --oversubscribe}
REPEAT=${REPEAT:-5}
STEPS=${STEPS:-100}
RANKS=${RANKS:-"1 2"}
command -v lmp > /dev/null || { echo "bench_md needs LAMMPS (Debian package 'lammps')" >&2; exit 1; }
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

# stats TIMES... : "median best" of the arguments.
stats() { printf '%s\n' "$@" | sort -g | awk '{ t[NR] = $1 } END { m = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2; print m, t[1] }'; }
rate() { awk -v t="$1" -v n=$atoms -v s="$STEPS" 'BEGIN { printf "%.3e", n * s / t }'; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; $REPEAT interleaved runs per code"
printf '%-6s %-12s %12s %12s %14s\n' ranks code "median [s]" "best [s]" "atom-steps/s"
for ranks in $RANKS; do
  plain=() opt=() mine=()
  for ((k = 0; k < REPEAT; ++k)); do
    # shellcheck disable=SC2086
    plain+=("$($MPIRUN -n "$ranks" lmp -in lj.in -log none | awk '/^Loop time of/ { print $4 }')")
    # shellcheck disable=SC2086
    opt+=("$($MPIRUN -n "$ranks" lmp -sf opt -in lj.in -log none | awk '/^Loop time of/ { print $4 }')")
    # shellcheck disable=SC2086
    mine+=("$($MPIRUN -n "$ranks" "$GOSOK" run md --set init=data --set data.file=lj.data --set steps="$STEPS" \
      --set neighbor.every=20 --set neighbor.check=false --results "out$ranks" 2>&1 |
      awk '$1 == "md::step" { print $5 }')")
  done
  read -r mp bp < <(stats "${plain[@]}")
  read -r mo bo < <(stats "${opt[@]}")
  read -r mg bg < <(stats "${mine[@]}")
  printf '%-6s %-12s %12.4f %12.4f %14s\n' "$ranks" lammps "$mp" "$bp" "$(rate "$mp")"
  printf '%-6s %-12s %12.4f %12.4f %14s\n' "$ranks" "lammps opt" "$mo" "$bo" "$(rate "$mo")"
  printf '%-6s %-12s %12.4f %12.4f %14s   (%.2fx LAMMPS, %.2fx LAMMPS opt)\n' "$ranks" gosok "$mg" "$bg" \
    "$(rate "$mg")" "$(awk -v a="$mp" -v b="$mg" 'BEGIN { print a / b }')" \
    "$(awk -v a="$mo" -v b="$mg" 'BEGIN { print a / b }')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
