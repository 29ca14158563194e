#!/usr/bin/env bash
# Workload inputs that are damaged or lie about themselves are refused with a message that
# names the file, before a run produces different results from them:
#   1. a checkpoint with one flipped bit (its digest no longer matches) — restart refuses it,
#      while the intact checkpoint still restarts;
#   2. a LAMMPS data file cut before its Bonds section (the header's counts are the contract);
#   3. a NaN coordinate, and an atom count the file cannot hold (no std::bad_alloc).
source "$(dirname "$0")/md_common.sh"
cd "$WORK"

# expect_refusal WHAT PATTERN ARGS... : gosok ARGS exits 2 and its output matches PATTERN.
expect_refusal() {
  local what=$1 pattern=$2
  shift 2
  local rc=0
  gosok_np 1 "$@" > refusal.log 2>&1 || rc=$?
  [[ $rc -eq 2 ]] || { cat refusal.log; fail "$what: exit code $rc, expected 2"; }
  grep -q -- "$pattern" refusal.log || { cat refusal.log; fail "$what: the message does not say '$pattern'"; }
  echo "refused as expected: $what: $(grep -m1 -- "$pattern" refusal.log)"
}

# 1. A bit flipped inside the checkpoint's field data.
gosok_np 1 run heat --results first --checkpoint-every 50 --set run.max_steps=50 > first.log 2>&1 ||
  { cat first.log; fail "heat with a checkpoint"; }
cp first/checkpoint.h5 flipped.h5
/usr/bin/python3 - flipped.h5 <<'PY'
import sys, h5py
path = sys.argv[1]
names = []
with h5py.File(path, "r") as f:
    f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) and o.size > 8 else None)
    offset = f[names[0]].id.get_offset()
with open(path, "r+b") as f:
    f.seek(offset + 8 * 37 + 6)  # a double's exponent byte in the middle of the field
    b = f.read(1)
    f.seek(offset + 8 * 37 + 6)
    f.write(bytes([b[0] ^ 0x04]))
print("flipped one bit of", names[0])
PY
expect_refusal "bit-flipped checkpoint" "do not match their checksum" run heat --results bad --restart flipped.h5
gosok_np 1 run heat --results good --restart first/checkpoint.h5 > good.log 2>&1 ||
  { cat good.log; fail "restart from the intact checkpoint"; }
grep -q "restarted from first/checkpoint.h5" good.log || { cat good.log; fail "the intact checkpoint did not restart"; }
# Any HDF5 reader still opens a sealed checkpoint.
h5ls first/checkpoint.h5 > /dev/null || fail "h5ls cannot open a sealed checkpoint"

# 2. A Kremer-Grest melt of 40 chains of 25 beads: 1000 atoms, 960 bonds.
"$GOSOK" run md --set init=chains --set chains.count=40 --set chains.length=25 --set steps=0 \
  --set output.data_file=melt.data --results gen > gen.log 2>&1 || { cat gen.log; fail "gosok chains"; }
grep -q "^960 bonds" gen/melt.data || fail "the generated melt does not declare 960 bonds"
awk '/^Bonds/ { exit } { print }' gen/melt.data > cut.data
expect_refusal "data file cut before Bonds" "cut.data:.*header says 960 bonds, but the file has 0" \
  run md --set init=data --set data.file=cut.data --set steps=10 --results cut

# 3. A NaN coordinate (the first atom's x) and an impossible atom count.
awk 'f && NF >= 6 && !done { $4 = "nan"; done = 1 } /^Atoms/ { f = 1 } { print }' gen/melt.data > nan.data
expect_refusal "NaN coordinate" "nan.data:.*'nan' is not a finite coordinate" \
  run md --set init=data --set data.file=nan.data --set steps=10 --results nan
sed 's/^1000 atoms$/100000000000000 atoms/' gen/melt.data > huge.data
expect_refusal "huge atom count" "huge.data:.*header says 100000000000000 atoms, but the file" \
  run md --set init=data --set data.file=huge.data --set steps=10 --results huge
echo "PASS"
