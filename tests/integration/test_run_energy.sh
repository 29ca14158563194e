#!/usr/bin/env bash
# The energy a run's GPUs used, as `gosok run` records it under "energy" in the run's
# diagnostics.json: measured through NVML where NVML is, "not measured" with the reason
# elsewhere, never a zero. NVML is replaced by tests/support/fake_nvml.c (selected with
# GOSOK_NVML_LIBRARY), whose counters advance by exactly 100 J x (GPU index + 1) per
# reading, so the arithmetic is checked exactly: two ranks that see the same two GPUs count
# each once (100 J + 200 J = 300 J), CUDA_VISIBLE_DEVICES narrows the GPUs counted, and the
# mean power is the energy over the measured seconds.
set -euo pipefail
GOSOK=${GOSOK_BINARY:-$PWD/framework/cli/gosok}
MPIEXEC=${GOSOK_MPIEXEC:-mpirun --allow-run-as-root --oversubscribe}
FAKE=${GOSOK_TEST_FAKE_NVML:?the path of the fake NVML library (set by ctest)}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# run NAME RANKS [VAR=VALUE...]: a short weather run in $WORK/NAME with the environment given.
run() {
  local name=$1 ranks=$2
  shift 2
  # shellcheck disable=SC2086
  env "$@" $MPIEXEC -n "$ranks" "$GOSOK" run weather --set nx=40 --set nz=20 --set end_time=5 \
    --results "$WORK/$name" >"$WORK/$name.log" 2>&1 || { cat "$WORK/$name.log"; fail "gosok run weather ($name)"; }
}

# check NAME PYTHON-EXPRESSION: the expression holds for e = diagnostics.json's "energy".
check() {
  python3 - "$WORK/$1/diagnostics.json" "$2" "$1" <<'EOF' || exit 1
import json, sys
path, expression, name = sys.argv[1:]
doc = json.load(open(path))
if "records" not in doc:
    sys.exit(f"FAIL: {name}: the energy replaced the workload's diagnostics: {doc}")
e = doc.get("energy")
if e is None or not eval(expression, {"e": e, "abs": abs}):
    sys.exit(f"FAIL: {name}: {expression} does not hold for energy = {e}")
print(f"{name}: {expression}: ok ({e})")
EOF
}

# No NVML: not measured, with the reason, and no figure at all (never 0).
run none 1 GOSOK_NVML_LIBRARY=/nonexistent/libnvidia-ml.so.1
check none 'e["measured"] is False and "NVML is not available" in e["reason"] and "joules" not in e'

# Two ranks, two GPUs each rank sees: each GPU counted once.
run two 2 GOSOK_NVML_LIBRARY="$FAKE" SLURM_JOB_ID=4711
check two 'e["measured"] is True and e["joules"] == 300.0 and e["gpus"] == 2 and e["job"] == "4711"'
check two 'e["seconds"] > 0 and abs(e["mean_watts"] * e["seconds"] - e["joules"]) <= 1e-9 * e["joules"]'
grep -q "energy of the run's GPUs: 300.0 J" "$WORK/two.log" || fail "the run's log does not report 300.0 J"

# CUDA_VISIBLE_DEVICES narrows the GPUs, by index or by UUID (as Slurm and CUDA use it).
run index 2 GOSOK_NVML_LIBRARY="$FAKE" CUDA_VISIBLE_DEVICES=1
check index 'e["measured"] is True and e["joules"] == 200.0 and e["gpus"] == 1'
run uuid 1 GOSOK_NVML_LIBRARY="$FAKE" CUDA_VISIBLE_DEVICES=GPU-fa4e0000-0000-0000-0000-000000000000
check uuid 'e["measured"] is True and e["joules"] == 100.0 and e["gpus"] == 1'
run hidden 1 GOSOK_NVML_LIBRARY="$FAKE" CUDA_VISIBLE_DEVICES=
check hidden 'e["measured"] is False and "no NVIDIA GPU is visible" in e["reason"]'

# A GPU without an energy counter, or a driver that is not loaded: not measured, and why.
run unsupported 2 GOSOK_NVML_LIBRARY="$FAKE" FAKE_NVML_FAIL=energy
check unsupported 'e["measured"] is False and "Not Supported" in e["reason"] and "joules" not in e'
run no_driver 1 GOSOK_NVML_LIBRARY="$FAKE" FAKE_NVML_FAIL=init
check no_driver 'e["measured"] is False and "Driver Not Loaded" in e["reason"]'

# gosok info says whether energy can be measured.
GOSOK_NVML_LIBRARY="$FAKE" "$GOSOK" info | grep -q "energy     NVML energy counters of 2 GPU(s)" ||
  fail "gosok info does not report the fake NVML's 2 GPUs"
GOSOK_NVML_LIBRARY=/nonexistent "$GOSOK" info | grep -q "energy     not measured: NVML is not available" ||
  fail "gosok info does not say that energy is not measured without NVML"
echo "energy: all checks passed"
