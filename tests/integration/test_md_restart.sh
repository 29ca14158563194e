#!/usr/bin/env bash
# A run stopped at a checkpoint and restarted ends bitwise identical to the uninterrupted
# run (same rank count): the final LAMMPS data files, written with shortest round-trip
# decimals, are byte for byte the same, and so are the thermo files. The case uses every
# path that could break it: bonds, angles, Langevin noise, atoms migrating between ranks.
# Bad checkpoints are refused with exit code 2 and a message naming the file.
source "$(dirname "$0")/md_common.sh"
cd "$WORK"
args=(run md --set init=chains --set chains.count=20 --set chains.length=20 --set pair.cutoff=1.12246
  --set pair.shift=true --set neighbor.skin=0.4 --set dt=0.01 --set ensemble=langevin --set angle.style=harmonic
  --set steps=200 --set thermo.every=20 --set run.output_every=50 --checkpoint-every 100
  --set output.data_file=final.data)
gosok_np 2 "${args[@]}" --results full > full.log 2>&1 || { cat full.log; fail "uninterrupted run"; }
gosok_np 2 "${args[@]}" --results split --set run.max_steps=100 > first.log 2>&1 || { cat first.log; fail "first half"; }
gosok_np 2 "${args[@]}" --results split --restart split/checkpoint.h5 > second.log 2>&1 || { cat second.log; fail "restart"; }
grep -q "restarted from split/checkpoint.h5 at step 100" second.log || { cat second.log; fail "the second run did not restart"; }
cmp full/final.data split/final.data || fail "the restarted run's final state differs from the uninterrupted run's"
cmp full/thermo.dat split/thermo.dat || fail "the thermo files differ"
h5dump -d /observables/total_energy/value full/trajectory.h5 | grep -v HDF5 > a.txt
h5dump -d /observables/total_energy/value split/trajectory.h5 | grep -v HDF5 > b.txt
cmp a.txt b.txt || fail "the H5MD observables differ after restart"
echo "restart is bitwise identical"

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
expect_input_error "corrupt checkpoint" "garbage.h5" "${args[@]}" --results bad --restart garbage.h5
expect_input_error "missing checkpoint" "nothere.h5" "${args[@]}" --results bad --restart nothere.h5
expect_input_error "not a checkpoint" "not an md checkpoint" "${args[@]}" --results bad --restart full/trajectory.h5
printf 'title\n\n2 atoms\n1 atom types\n0 1 xlo xhi\n0 1 ylo yhi\n0 1 zlo zhi\n\nMasses\n\n1 1\n\nAtoms\n\n1 1 0.1 0.1 zero\n' > bad.data
expect_input_error "bad data file" "bad.data:15" run md --set init=data --set data.file=bad.data --results bad
