#!/usr/bin/env bash
# gosok regress fails, with an explanation, when it should: a baseline value perturbed, a
# performance reference missed, a baseline missing (an error, never a pass); bad suite
# input is refused with the file, line and key before anything is reserved; and
# --update-baselines writes baselines with who, when and which gosok made them.
set -euo pipefail
: "${GOSOK_BINARY:?}" "${GOSOK_SOURCE_DIR:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
export GOSOK_LEDGER=$work/ledger.sqlite
"$GOSOK_BINARY" grants import "$GOSOK_SOURCE_DIR/examples/grants/demo.csv" >/dev/null
# A private copy of the shipped suite and its baselines to damage.
cp -r "$GOSOK_SOURCE_DIR/regression" suite
n=0
regress() { # regress EXPECTED_EXIT LOG ARGS...
  local want=$1 log=$2 rc=0
  shift 2
  n=$((n + 1))
  "$GOSOK_BINARY" regress suite/quick.toml --grant DEMO-LOCAL --results "$work/out$n" "$@" >"$log" 2>&1 || rc=$?
  [[ $rc -eq $want ]] || { cat "$log"; fail "exit code $rc, expected $want ($*)"; }
}
jobs() { "$GOSOK_BINARY" status --all --json | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["jobs"]))'; }

# 1. One value of one stored field moved by a part in a million.
/usr/bin/python3 - suite/baselines/quick/weather-conservation.thermal.json <<'EOF'
import json, sys
path = sys.argv[1]
b = json.load(open(path))
v = b["values"]["h5:weather.h5:/theta[-1]"]["values"]
v[345] *= 1 + 1e-6
json.dump(b, open(path, "w"), indent=1)
EOF
regress 1 perturbed.log --case weather-conservation
cat perturbed.log
grep -q "FAIL     weather-conservation.thermal.np1" perturbed.log || fail "the perturbed case did not fail"
grep -q "check 'fields as the baseline' failed: h5:weather.h5:/theta\[-1\]: max norm of a - b = .* > atol + rtol" \
  perturbed.log || fail "the failure does not say what differs by how much"
grep -q "largest difference at \[8, 25\]" perturbed.log || fail "the failure does not say where"
grep -q "the baseline was updated by .* with gosok" perturbed.log || fail "the failure does not name the baseline"
grep -q "(reason: The same build and backend reproduce the answer" perturbed.log || fail "no reason"
(( $(grep -c "^  pass " perturbed.log) == 4 )) || fail "the other variants should still pass"
grep -q 'failures="1"' "$work/out$n/junit.xml" || fail "JUnit does not count the failure"

# 2. A performance reference this machine cannot meet (a thousand times the shipped one).
sed -i 's/^  value = 1.6e7$/  value = 1.6e10/' suite/quick.toml
grep -q "value = 1.6e10" suite/quick.toml || fail "the test's edit of the reference did not apply"
regress 1 reference.log --case weather-energy
cat reference.log
grep -q "FAIL     weather-energy.np1" reference.log || fail "a missed reference did not fail"
grep -q "figure cell_updates_per_s: .* cell-updates/s below the reference 1.6e+10 cell-updates/s on localhost:local" \
  reference.log || fail "the failure does not explain the missed reference"
grep -q "suite/quick.toml:[0-9]*)" reference.log || fail "the failure does not point at the reference"

# 3. A reference in another unit, or for a figure the run does not have, fails too.
sed -i 's/^  value = 1.6e10$/  value = 1.6e7/; s/^  unit = "cell-updates\/s"$/  unit = "cells\/s"/' suite/quick.toml
regress 1 unit.log --case weather-energy
grep -q "is in 'cells/s' but the figure is in 'cell-updates/s'" unit.log || { cat unit.log; fail "unit mismatch"; }
sed -i 's/^  unit = "cells\/s"$/  unit = "cell-updates\/s"/; s/^  figure = "cell_updates_per_s"$/  figure = "cell_update_per_s"/' \
  suite/quick.toml
regress 1 figure.log --case weather-energy
grep -q "names a figure this run does not have (it has: wall_s, cell_updates_per_s, gpu_hours)" figure.log ||
  { cat figure.log; fail "a misspelt figure"; }
sed -i 's/^  figure = "cell_update_per_s"$/  figure = "cell_updates_per_s"/' suite/quick.toml

# 4. A missing baseline is an error, never a pass.
rm suite/baselines/quick/weather-energy.json
regress 1 missing.log --case weather-energy
cat missing.log
grep -q "ERROR    weather-energy.np1" missing.log || fail "a missing baseline did not error"
grep -q "missing baseline (make it deliberately with gosok regress --update-baselines)" missing.log ||
  fail "the error does not say how to make the baseline"
grep -q 'errors="1"' "$work/out$n/junit.xml" || fail "JUnit does not count the error"
echo '{"format": "gosok baseline 1", "values": {"json:diagnostics.json:records[-1]": {"shape": [], "valu' \
  >suite/baselines/quick/weather-energy.json
regress 1 unreadable.log --case weather-energy
grep -q "unreadable baseline" unreadable.log || { cat unreadable.log; fail "an unreadable baseline"; }

# 5. --update-baselines makes them again, with provenance; then the suite passes.
regress 0 update.log --case weather-energy --case weather-conservation --update-baselines
grep -q "updated" "$work/out$n/report.html" || fail "the report does not show the update"
/usr/bin/python3 - suite/baselines/quick/weather-energy.json "$(id -un)" "$("$GOSOK_BINARY" --version)" <<'EOF' ||
import json, sys, datetime
b = json.load(open(sys.argv[1]))
version = sys.argv[3].split()  # gosok 0.1.0 (hash)
assert b["updated_by"] == sys.argv[2], b["updated_by"]
assert b["gosok_version"] == version[1], b["gosok_version"]
assert b["git_hash"] == version[2].strip("()"), b["git_hash"]
assert b["updated_at"].startswith(datetime.datetime.utcnow().strftime("%Y-%m-%d")), b["updated_at"]
assert b["system"] == "localhost:local" and b["backend"] and b["precision"] == "double"
assert "json:diagnostics.json:records[-1]" in b["values"]
print("baseline provenance:", b["updated_by"], b["updated_at"], b["gosok_version"], b["git_hash"])
EOF
  fail "provenance"
regress 0 after.log --case weather-energy --case weather-conservation

# 6. Bad input: refused with exit 2 and where, and nothing reserved.
before=$(jobs)
printf 'suite = "bad"\n[[case]]\nname = "c"\nworkload = "weather"\n[[case.check]]\nvalue = "json:d.json:x"\nabs_max = 1\n' \
  >suite/bad.toml
rc=0
"$GOSOK_BINARY" regress suite/bad.toml --grant DEMO-LOCAL >bad.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "bad.toml:5: required key 'case\[0\].check\[0\].reason' is missing" bad.log ||
  { cat bad.log; fail "a check without its reason"; }
printf 'suite = "bad"\n[[case]]\nname = "c"\nworkload = "weather"\nset = ["nx=3"]\n' >suite/bad.toml
rc=0
"$GOSOK_BINARY" regress suite/bad.toml --grant DEMO-LOCAL >bad.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "bad.toml:2: case 'c' (c.np1): --set nx=3: key 'nx' = 3 is too small" bad.log ||
  { cat bad.log; fail "an input the workload refuses"; }
"$GOSOK_BINARY" validate suite/bad.toml >bad.log 2>&1 && fail "validate accepted the bad suite"
grep -q "key 'nx' = 3 is too small" bad.log || { cat bad.log; fail "validate"; }
printf 'suite = "bad"\n[[case]]\nname = "c"\nworkload = "weather"\nsystems = ["localhost:gpu"]\n' >suite/bad.toml
rc=0
"$GOSOK_BINARY" regress suite/bad.toml --grant DEMO-LOCAL >bad.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "partition" bad.log || { cat bad.log; fail "an unknown partition"; }
rc=0
"$GOSOK_BINARY" regress suite/quick.toml --grant NO-SUCH-GRANT >bad.log 2>&1 || rc=$?
[[ $rc -eq 2 ]] && grep -q "no grant 'NO-SUCH-GRANT'" bad.log || { cat bad.log; fail "an unknown grant"; }
(( $(jobs) == before )) || fail "a refused suite reserved jobs"
"$GOSOK_BINARY" validate "$GOSOK_SOURCE_DIR/regression/quick.toml" "$GOSOK_SOURCE_DIR/regression/full.toml" ||
  fail "the shipped suites do not validate"
echo "ok: perturbed baseline, missed reference, missing baseline and bad input each fail clearly"
