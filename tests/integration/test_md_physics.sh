#!/usr/bin/env bash
# Long-run physics checks on small systems:
#  - NVE energy drift: 256 LJ atoms (fcc 4x4x4 at density 0.8442, melted from T = 1.44),
#    cutoff 2.5 shifted, dt 0.005, 10,000 steps. Bound: the total energy per atom stays
#    within 5e-4 (relative) of its start at every thermo row (measured: 1.4e-4) and its
#    mean over the last thousand steps within 3e-4 (measured: 6e-5). Velocity Verlet
#    conserves a shadow energy, so the deviation is a bounded fluctuation ~dt^2; a force
#    or neighbour-list error shows up as a drift orders of magnitude larger.
#  - Langevin: 500 atoms thermostatted to T = 1.5 (damp 0.5): the mean temperature over
#    the last 2000 of 3000 steps is within 0.05 of the target. Instantaneous fluctuations
#    are T sqrt(2 / 3N) = 0.055 and decorrelate within ~0.25 tau, so the mean of these
#    40 tau has a standard error near 0.005; 0.05 is ten of those (a wrong noise amplitude
#    would miss by far more).
source "$(dirname "$0")/md_common.sh"
cd "$WORK"

"$GOSOK" run md --set lattice.nx=4 --set lattice.ny=4 --set lattice.nz=4 --set pair.shift=true --set steps=10000 \
  --set thermo.every=100 --results nve > nve.log 2>&1 || { cat nve.log; fail "NVE run"; }
awk '!/^#/ { e = $6; if (n == 0) e0 = e; ++n; d = (e - e0) / (e0 < 0 ? -e0 : e0); if (d < 0) d = -d;
       if (d > worst) worst = d; if ($1 >= 9000) { tail += e; nt++ } }
     END { m = (tail / nt - e0) / (e0 < 0 ? -e0 : e0); if (m < 0) m = -m;
           printf "NVE: %d rows, E0 = %.10g, worst relative deviation %.3g, late-mean drift %.3g\n", n, e0, worst, m;
           if (n != 101 || worst > 5e-4 || m > 3e-4) exit 1 }' nve/thermo.dat || fail "energy drift above the bound"

"$GOSOK" run md --set lattice.nx=5 --set lattice.ny=5 --set lattice.nz=5 --set ensemble=langevin \
  --set langevin.temperature=1.5 --set langevin.damp=0.5 --set langevin.seed=2024 --set steps=3000 \
  --set thermo.every=10 --results nvt > nvt.log 2>&1 || { cat nvt.log; fail "Langevin run"; }
awk '!/^#/ && $1 > 1000 { t += $3; n++ } END { m = t / n; printf "Langevin: mean T = %.4f over %d rows (target 1.5)\n", m, n;
       d = m - 1.5; if (d < 0) d = -d; if (d > 0.05) exit 1 }' nvt/thermo.dat || fail "Langevin temperature off target"
