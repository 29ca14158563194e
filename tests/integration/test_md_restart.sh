#!/usr/bin/env bash
# A restart on another rank count continues the same physics: 2 ranks to step 100, then 1
# rank, equal to the uninterrupted run within the rank-count tolerance (regression/quick.toml,
# md-ranks); and bad checkpoints are refused with exit code 2 and a message naming the file.
# The bitwise identity of a restart on the same rank count, over a grid of checkpoint steps
# on 1, 2 and 4 ranks, is suite data: the md-restart-* cases of regression/quick.toml.
source "$(dirname "$0")/md_common.sh"
cd "$WORK"

melt=(--set init=chains --set chains.count=20 --set chains.length=20 --set pair.cutoff=1.12246
  --set pair.shift=true --set neighbor.skin=0.4 --set dt=0.01 --set ensemble=langevin --set angle.style=harmonic
  --set steps=200 --set thermo.every=20 --set run.output_every=50 --set output.data_file=final.data)
gosok_np 2 run md "${melt[@]}" --results melt > melt.log 2>&1 || { cat melt.log; fail "the uninterrupted run"; }

# Another rank count: 2 ranks to step 100, then 1 rank. Tolerance 1e-8 relative, as across
# rank counts in md-ranks (round-off from summing in another order, amplified by the dynamics).
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
