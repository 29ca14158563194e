#!/usr/bin/env bash
# Throughput of the weather dynamical core: case thermal on a 400 x 200 grid for a fixed
# number of steps, at 1 and 2 ranks, in cell-updates per second (nx * nz * steps / the
# time of the step loop, from gosok's own timer "weather::step", slowest rank). Output and
# set-up are excluded, as in miniWeather's "CPU Time".
#
# usage: weather_bench.sh [steps]            (default 300)
# environment:
#   GOSOK_BINARY                 gosok to measure (default: the one this build made)
#   GOSOK_MPIEXEC                launcher and flags (default: mpiexec --allow-run-as-root --oversubscribe)
#   GOSOK_BENCH_RANKS            rank counts (default "1 2")
#   GOSOK_BENCH_REPEAT           runs per configuration, the fastest counts (default 3): on a
#                                shared machine the fastest run is the least disturbed one
#   GOSOK_BENCH_REFERENCE        optional: a reference executable run beside gosok in the
#                                same loop, e.g. miniWeather built for this problem
#                                (-D_NX=400 -D_NZ=200 -D_SIM_TIME=50 -D_OUT_FREQ=-1
#                                -D_DATA_SPEC=DATA_SPEC_THERMAL: 300 steps of 1/6 s); it must
#                                print "CPU Time: <seconds>"
#   GOSOK_BENCH_REFERENCE_STEPS  steps the reference runs (default: the same as gosok)
set -euo pipefail

steps=${1:-300}
nx=400
nz=200
gosok=${GOSOK_BINARY:-@GOSOK_BENCH_DEFAULT_BINARY@}
read -r -a launcher <<<"${GOSOK_MPIEXEC:-mpiexec --allow-run-as-root --oversubscribe}"
ranks_list=${GOSOK_BENCH_RANKS:-1 2}
repeat=${GOSOK_BENCH_REPEAT:-3}
reference=${GOSOK_BENCH_REFERENCE:-}
reference_steps=${GOSOK_BENCH_REFERENCE_STEPS:-$steps}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gosok_seconds() {  # ranks -> seconds of the step loop (slowest rank)
  rm -rf "$work/out"
  "${launcher[@]}" -n "$1" "$gosok" run weather --set case=thermal --set nx=$nx --set nz=$nz \
    --set end_time=1e9 --set run.max_steps="$steps" --set run.progress_seconds=0 --results "$work/out" \
    >"$work/log" 2>&1 || { cat "$work/log" >&2; exit 1; }
  awk '$1 == "weather::step" { print $5 }' "$work/log"
}

reference_seconds() {  # ranks -> the reference's "CPU Time"
  (cd "$work" && "${launcher[@]}" -n "$1" "$reference") >"$work/ref.log" 2>&1 || { cat "$work/ref.log" >&2; exit 1; }
  awk '/CPU Time:/ { print $3 }' "$work/ref.log"
}

rate() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.3e", c / s }'; }

echo "weather benchmark: thermal ${nx} x ${nz}, ${steps} steps, best of ${repeat}; $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "gosok: $gosok"
[[ -n $reference ]] && echo "reference: $reference (${reference_steps} steps)"
printf '%-6s %-12s %-16s %-12s %-16s %s\n' ranks "gosok [s]" "gosok [cell/s]" "ref [s]" "ref [cell/s]" "gosok/ref"
for ranks in $ranks_list; do
  best=""
  best_ref=""
  # Alternate gosok and the reference so that both see the same background load.
  for ((i = 0; i < repeat; i++)); do
    s=$(gosok_seconds "$ranks")
    best=$(awk -v a="$s" -v b="${best:-1e30}" 'BEGIN { print (a < b ? a : b) }')
    if [[ -n $reference ]]; then
      r=$(reference_seconds "$ranks")
      best_ref=$(awk -v a="$r" -v b="${best_ref:-1e30}" 'BEGIN { print (a < b ? a : b) }')
    fi
  done
  g=$(rate $((nx * nz * steps)) "$best")
  if [[ -n $reference ]]; then
    r=$(rate $((nx * nz * reference_steps)) "$best_ref")
    ratio=$(awk -v a="$g" -v b="$r" 'BEGIN { printf "%.2f", a / b }')
    printf '%-6s %-12s %-16s %-12s %-16s %s\n' "$ranks" "$best" "$g" "$best_ref" "$r" "$ratio"
  else
    printf '%-6s %-12s %-16s %-12s %-16s %s\n' "$ranks" "$best" "$g" - - -
  fi
done
