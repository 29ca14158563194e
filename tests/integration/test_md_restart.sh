#!/usr/bin/env bash
# A run stopped at a checkpoint and restarted on the same rank count ends bitwise identical
# to a run that never stopped and never wrote a checkpoint: thermo.dat (every column at full
# precision), the final LAMMPS data file (shortest round-trip decimals), the H5MD
# observables and the diagnostics are byte for byte the same. Checked over a grid of
# checkpoint steps: right after a neighbour-list build, between builds, one step before
# the end, the first step; with the displacement check and with fixed rebuild intervals;
# with bonds, angles, Langevin noise and atoms migrating between 1, 2 and 4 ranks.
# A restart on another rank count continues the same physics (equal to the rank-count
# tolerance of test_md_ranks.sh) and its files record both segments.
# Bad checkpoints are refused with exit code 2 and a message naming the file.
source "$(dirname "$0")/md_common.sh"
cd "$WORK"

# check_restarts NAME RANKS "STOPS" ARGS... : the uninterrupted run, then for each stop
# step S a run that checkpoints at S and stops there, continued from that checkpoint.
check_restarts() {
  local name=$1 ranks=$2 stops=$3
  shift 3
  gosok_np "$ranks" run md "$@" --results "$name" > "$name.log" 2>&1 || { cat "$name.log"; fail "$name: uninterrupted run"; }
  local s
  for s in $stops; do
    local out="$name-$s"
    gosok_np "$ranks" run md "$@" --checkpoint-every "$s" --set run.max_steps="$s" --results "$out" > "$out.1.log" 2>&1 ||
      { cat "$out.1.log"; fail "$out: first part"; }
    gosok_np "$ranks" run md "$@" --checkpoint-every "$s" --restart "$out/checkpoint.h5" --results "$out" > "$out.2.log" 2>&1 ||
      { cat "$out.2.log"; fail "$out: restart"; }
    grep -q "restarted from $out/checkpoint.h5 at step $s" "$out.2.log" || { cat "$out.2.log"; fail "$out did not restart"; }
    cmp "$name/thermo.dat" "$out/thermo.dat" || fail "$out: thermo.dat differs from the uninterrupted run"
    cmp "$name/final.data" "$out/final.data" || fail "$out: the final state differs from the uninterrupted run"
    local key
    for key in first last relative_energy_change neighbor_builds; do
      [[ $(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$name/diagnostics.json" $key) == \
         $(/usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$out/diagnostics.json" $key) ]] ||
        fail "$out: diagnostics.json '$key' differs from the uninterrupted run"
    done
    h5dump -d /observables/total_energy/value "$name/trajectory.h5" | grep -v HDF5 > a.txt
    h5dump -d /observables/total_energy/value "$out/trajectory.h5" | grep -v HDF5 > b.txt
    cmp a.txt b.txt || fail "$out: the H5MD observables differ from the uninterrupted run"
  done
  echo "$name: restarts at steps $stops are bitwise identical on $ranks rank(s)"
}

lj=(--set lattice.nx=5 --set lattice.ny=5 --set lattice.nz=5 --set steps=40 --set thermo.every=1
  --set output.data_file=final.data)
# With the displacement check: builds at steps the dynamics decide.
check_restarts lj-check 1 "1 2 7 13 20 29 39" "${lj[@]}"
# Fixed rebuilds every 6 steps: stops on a build step (6, 18), just after (7) and between.
check_restarts lj-every 1 "5 6 7 18 37" "${lj[@]}" --set neighbor.check=false --set neighbor.every=6
# The md.md example on 4 ranks.
check_restarts lj-4 4 "9 20" --set lattice.nx=6 --set lattice.ny=6 --set lattice.nz=6 --set steps=30 \
  --set thermo.every=1 --set output.data_file=final.data
melt=(--set init=chains --set chains.count=20 --set chains.length=20 --set pair.cutoff=1.12246
  --set pair.shift=true --set neighbor.skin=0.4 --set dt=0.01 --set ensemble=langevin --set angle.style=harmonic
  --set steps=200 --set thermo.every=20 --set run.output_every=50 --set output.data_file=final.data)
check_restarts melt 2 "1 37 100 150 199" "${melt[@]}"

# Another rank count: 2 ranks to step 100, then 1 rank. Tolerance 1e-8 relative, as in
# test_md_ranks.sh (round-off from summing in another order, amplified by the dynamics).
gosok_np 2 run md "${melt[@]}" --checkpoint-every 100 --set run.max_steps=100 --results ranks > ranks.1.log 2>&1 ||
  { cat ranks.1.log; fail "2-rank first part"; }
gosok_np 1 run md "${melt[@]}" --restart ranks/checkpoint.h5 --results ranks > ranks.2.log 2>&1 ||
  { cat ranks.2.log; fail "restart on 1 rank"; }
same_numbers "restart from 2 ranks on 1 rank, step 200" "$(thermo_row ranks/thermo.dat 200)" \
  "$(thermo_row melt/thermo.dat 200)" 1e-8
echo "restart on another rank count continues the run"

expect_input_error() {
  local what=$1 pattern=$2
  shift 2
  local rc=0
  "$GOSOK" "$@" > err.log 2>&1 || rc=$?
  [[ $rc -eq 2 ]] || { cat err.log; fail "$what: exit code $rc, expected 2"; }
  grep -q -- "$pattern" err.log || { cat err.log; fail "$what: the message does not mention '$pattern'"; }
  echo "$what: exit 2 with a clear message"
}
echo "not an HDF5 file" > garbage.h5
expect_input_error "corrupt checkpoint" "garbage.h5" run md "${melt[@]}" --results bad --restart garbage.h5
expect_input_error "missing checkpoint" "nothere.h5" run md "${melt[@]}" --results bad --restart nothere.h5
expect_input_error "not a checkpoint" "not an md checkpoint" run md "${melt[@]}" --results bad --restart melt/trajectory.h5
printf 'title\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\nMasses\n\n1 1\n\nAtoms\n\n1 1 0.1 0.1 zero\n' > bad.data
expect_input_error "bad data file" "bad.data:15" run md --set init=data --set data.file=bad.data --results bad
# Time keys are in tau: a physical unit is refused rather than read as 60 tau.
expect_input_error "a physical output interval" "allowed units: tau" run md --set 'run.output_interval=1 min' --results bad
