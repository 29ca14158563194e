#!/usr/bin/env bash
# The same run on 1, 2 and 4 ranks prints the same thermo.
#
# Tolerance: relative 1e-8. The ranks add forces and energies in different orders, so the
# runs differ by round-off that the chaotic dynamics amplify; over these few hundred
# steps that stays below 1e-11 here. Langevin noise is keyed by atom id and step, so it
# does not depend on the rank count either.
source "$(dirname "$0")/md_common.sh"
cd "$WORK"
REL=1e-8
lj="--set init=lattice --set lattice.nx=6 --set lattice.ny=6 --set lattice.nz=6 --set steps=300 --set thermo.every=100"
melt="--set init=chains --set chains.count=20 --set chains.length=20 --set pair.cutoff=1.12246 --set pair.shift=true
  --set neighbor.skin=0.4 --set dt=0.01 --set ensemble=langevin --set angle.style=harmonic --set angle.k=1.5
  --set steps=200 --set thermo.every=100"
for case in lj melt; do
  for ranks in 1 2 4; do
    # shellcheck disable=SC2086
    gosok_np $ranks run md ${!case} --results "$case$ranks" > "$case$ranks.log" 2>&1 || { cat "$case$ranks.log"; fail "gosok md $case on $ranks ranks"; }
  done
  last=$(awk '!/^#/ { s = $1 } END { print s }' "${case}1/thermo.dat")
  for ranks in 2 4; do
    same_numbers "$case, step $last, $ranks ranks vs 1" "$(thermo_row "$case$ranks/thermo.dat" "$last")" \
      "$(thermo_row "${case}1/thermo.dat" "$last")" $REL
  done
done
