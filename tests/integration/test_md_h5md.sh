#!/usr/bin/env bash
# The H5MD trajectory of a 2-rank run is readable by h5dump (hdf5-tools) and has the
# layout of H5MD 1.1: /h5md metadata (author, creator, units module), /particles/all with
# box, species and {position,velocity,image} time series ordered by particle id,
# /observables series, /connectivity for bonds. Debian's MDAnalysis (python3-mdanalysis)
# opens it and reads positions, velocities, box, time and the observables, which must equal
# gosok's own thermo.dat and final LAMMPS data file.
source "$(dirname "$0")/md_common.sh"
PYTHON=/usr/bin/python3  # Debian's interpreter, where python3-mdanalysis lives
$PYTHON -c "import MDAnalysis, h5py" 2>/dev/null || fail "MDAnalysis and h5py (python3-mdanalysis, python3-h5py) are needed"
cd "$WORK"
gosok_np 2 run md --set lattice.nx=5 --set lattice.ny=5 --set lattice.nz=5 --set steps=20 --set run.output_every=10 \
  --set thermo.every=5 --set output.data_file=final.data --results out > run.log 2>&1 || { cat run.log; fail "gosok md"; }
f=out/trajectory.h5
# h5values ARGS... : the values h5dump prints for a dataset (its first DATA block; the
# dataset's attributes follow it), one per line.
h5values() {
  h5dump -y -m %.17g "$@" | awk '/DATA \{/ && !done { on = 1; next } on && /\}/ { on = 0; done = 1 } on' |
    tr ',' '\n' | awk 'NF { print $1 }'
}
h5dump -H "$f" > header.txt || fail "h5dump cannot read $f"
for object in 'GROUP "h5md"' 'ATTRIBUTE "version"' 'GROUP "author"' 'GROUP "creator"' 'GROUP "modules"' \
  'GROUP "units"' 'GROUP "particles"' 'GROUP "box"' 'ATTRIBUTE "boundary"' 'GROUP "edges"' 'DATASET "species"' \
  'GROUP "position"' 'GROUP "velocity"' 'GROUP "image"' 'GROUP "observables"' 'GROUP "temperature"' \
  'GROUP "total_energy"' 'GROUP "pressure"'; do
  grep -q "$object" header.txt || fail "$f has no $object"
done
h5dump -a /h5md/modules/units/system "$f" | grep -q '"LJ"' || fail "the units module does not name the LJ system"
h5dump -a /particles/all/box/dimension "$f" | grep -q 'DATASPACE  SCALAR' || fail "box@dimension is not a scalar"
h5dump -a /h5md/author/name "$f" | grep -q "\"$(id -un)\"" || fail "h5md/author/name is not the person who ran it"
h5dump -a /workload "$f" | grep -q '"md"' || fail "$f carries no gosok provenance"
# Frames at steps 0, 10, 20 of 500 particles.
h5dump -d /particles/all/position/value -H "$f" | grep -q 'DATASPACE  SIMPLE { ( 3, 500, 3 ) / ( H5S_UNLIMITED, 500, 3 ) }' ||
  fail "position/value is not (3 frames, 500, 3)"
[[ $(h5values -d /particles/all/position/step "$f" | paste -sd,) == "0,10,20" ]] ||
  fail "position/step is not 0, 10, 20"
[[ $(h5values -d /observables/temperature/step "$f" | paste -sd,) == "0,5,10,15,20" ]] ||
  fail "observables/temperature/step is not 0, 5, ..., 20"
# Row k is particle id k+1 whichever rank wrote it: the last frame equals the data file.
h5values -d /particles/all/position/value -s "2,0,0" -c "1,500,3" "$f" > h5.txt
[[ $(wc -l < h5.txt) -eq 1500 ]] || fail "the last frame does not have 1500 coordinates"
awk '/^Atoms/ { on = 1; next } /^Velocities/ { on = 0 } on && NF == 8 { print $1, $3, $4, $5 }' out/final.data |
  sort -n | awk '{ print $2; print $3; print $4 }' > data.txt
paste h5.txt data.txt | awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-12) bad++ } END { exit bad > 0 }' ||
  fail "H5MD positions are not in particle-id order"
echo "H5MD layout ok"

# mdanalysis_check RUN ATOM_STYLE OBSERVABLES : MDAnalysis reads RUN/trajectory.h5 with RUN/final.data
# as topology. Checked: one frame per H5MD position entry; each frame's step and time; the
# box of the data file; the last frame's positions and velocities against the data file
# (MDAnalysis holds them in float32: 1e-6 relative); the observables equal thermo.dat by
# step (float64, exact), and so does every frame's ts.data when the observables share the
# frames' steps (MDAnalysis pairs them with frames by index; gosok writes a thermo row at
# every frame, so they do when thermo.every is 0); bonds in /connectivity equal the data
# file's. OBSERVABLES says whether they are per-frame or at their own steps.
mdanalysis_check() {
  $PYTHON -W ignore - "$1" "$2" "$3" <<'EOF' || fail "MDAnalysis check of $1"
import sys
import h5py
import numpy as np
import MDAnalysis as mda

run, style, observables = sys.argv[1], sys.argv[2], sys.argv[3]
# Reduced LJ units: MDAnalysis knows no unit to convert them to, so it reads them as they are.
u = mda.Universe(f"{run}/final.data", f"{run}/trajectory.h5", format="H5MD", atom_style=style,
                 convert_units=False)
thermo = {int(r[0]): r for r in np.loadtxt(f"{run}/thermo.dat", ndmin=2)}
data = u.atoms  # the data file's state: ids 1..N in order, as the trajectory rows
with h5py.File(f"{run}/trajectory.h5", "r") as h5:
    steps = h5["particles/all/position/step"][:]
    observed = {name: (h5[f"observables/{name}/step"][:], h5[f"observables/{name}/value"][:])
                for name in ("temperature", "pair_energy", "molecular_energy", "total_energy", "pressure")}
    bonds = h5["connectivity/bonds"][:] if "connectivity" in h5 else np.zeros((0, 2), dtype=int)
    final_x = h5["particles/all/position/value"][-1]
    final_v = h5["particles/all/velocity/value"][-1]
assert len(u.trajectory) == len(steps), (len(u.trajectory), steps)
columns = {"temperature": 2, "pair_energy": 3, "molecular_energy": 4, "total_energy": 5, "pressure": 6}
for name, (at, values) in observed.items():
    assert [thermo[int(s)][columns[name]] for s in at] == values.tolist(), name
aligned = np.array_equal(observed["total_energy"][0], steps)
assert aligned == (observables == "per-frame"), (observed["total_energy"][0], steps)
box = mda.Universe(f"{run}/final.data", atom_style=style).dimensions
for ts in u.trajectory:
    step = int(ts.data["step"])
    assert step == steps[ts.frame], (step, steps[ts.frame])
    row = thermo[step]
    assert ts.time == row[1], (ts.time, row[1])
    assert np.allclose(ts.dimensions, box, rtol=1e-6), (ts.dimensions, box)
    for name, column in columns.items():
        assert not aligned or ts.data[name] == row[column], (name, step, ts.data[name], row[column])
ts = u.trajectory[-1]
reference = mda.Universe(f"{run}/final.data", atom_style=style)
assert np.allclose(ts.positions, reference.atoms.positions, rtol=1e-6, atol=1e-5)
assert np.allclose(ts.positions, final_x, rtol=1e-6, atol=1e-5)
assert np.allclose(ts.velocities, final_v, rtol=1e-6, atol=1e-6)
have = sorted(tuple(sorted(b)) for b in bonds.tolist())
want = sorted(tuple(sorted(b)) for b in reference.bonds.indices.tolist()) if hasattr(reference, "bonds") else []
assert have == want, (len(have), len(want))
print(f"MDAnalysis reads {run}: {len(u.trajectory)} frames of {u.atoms.n_atoms} atoms, {len(have)} bonds, "
      f"observables {'per frame' if aligned else 'at their own steps'}")
EOF
}
mdanalysis_check out "id type x y z" own-steps

# A bead-spring melt with thermo only at the ends (thermo.every = 0) and frames every 10
# steps: every frame still gets its observables, the bonds are in /connectivity, and a
# restart on another rank count records both segments.
melt=(run md --set init=chains --set chains.count=10 --set chains.length=10 --set pair.cutoff=1.12246
  --set pair.shift=true --set neighbor.skin=0.4 --set dt=0.01 --set steps=30 --set run.output_every=10
  --set output.data_file=final.data)
gosok_np 2 "${melt[@]}" --checkpoint-every 20 --set run.max_steps=20 --results melt > melt1.log 2>&1 ||
  { cat melt1.log; fail "melt, first part"; }
gosok_np 1 "${melt[@]}" --restart melt/checkpoint.h5 --results melt > melt2.log 2>&1 || { cat melt2.log; fail "melt restart"; }
[[ $(h5values -d /observables/total_energy/step melt/trajectory.h5 | paste -sd,) == "0,10,20,30" ]] ||
  fail "the melt's observables are not at its frame steps 0, 10, 20, 30"
mdanalysis_check melt "id resid type x y z" per-frame
h5dump -a /mpi_ranks melt/trajectory.h5 | grep -q '(0): 2, 1' || fail "trajectory.h5 does not record 2 then 1 ranks"
h5dump -a /segment_first_step melt/trajectory.h5 | grep -q '(0): 0, 20' || fail "trajectory.h5 does not record the segments"
$PYTHON -c "import json, sys; d = json.load(open('melt/diagnostics.json')); sys.exit(d['segments'] != [{'first_step': 0, 'ranks': 2}, {'first_step': 20, 'ranks': 1}])" ||
  fail "diagnostics.json does not record the segments"
# run.output_interval is simulated time in tau: 0.05 tau is every 10 steps of dt = 0.005.
gosok_np 1 run md --set lattice.nx=3 --set lattice.ny=3 --set lattice.nz=3 --set steps=30 \
  --set 'run.output_interval=0.05 tau' --results interval > interval.log 2>&1 || { cat interval.log; fail "output_interval"; }
[[ $(h5values -d /particles/all/position/step interval/trajectory.h5 | paste -sd,) == "0,10,20,30" ]] ||
  fail "run.output_interval = 0.05 tau does not write frames every 10 steps"
echo "MDAnalysis reads gosok's H5MD files"
