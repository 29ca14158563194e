#!/usr/bin/env bash
# The H5MD trajectory of a 2-rank run is readable by h5dump (hdf5-tools) and has the
# layout of H5MD 1.1: /h5md metadata, /particles/all/{position,velocity,image} time
# series ordered by particle id, species and box, /observables series.
source "$(dirname "$0")/md_common.sh"
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
for object in 'GROUP "h5md"' 'ATTRIBUTE "version"' 'GROUP "author"' 'GROUP "creator"' 'GROUP "particles"' \
  'GROUP "box"' 'ATTRIBUTE "boundary"' 'DATASET "edges"' 'DATASET "species"' 'GROUP "position"' 'GROUP "velocity"' \
  'GROUP "image"' 'GROUP "observables"' 'GROUP "temperature"' 'GROUP "total_energy"' 'GROUP "pressure"'; do
  grep -q "$object" header.txt || fail "$f has no $object"
done
h5dump -a /particles/all/position/value/unit "$f" | grep -q '"sigma"' || fail "position/value has no unit attribute"
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
