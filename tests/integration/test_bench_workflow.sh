#!/usr/bin/env bash
# bench/workflow/run.sh runs as its header documents it, on the test Slurm, with a small
# ensemble, once: every line of figures is printed and the queue holds what both sides
# submitted. The figures are not checked (speed is for the benchmark itself, never a test).
set -euo pipefail
: "${GOSOK_BINARY_DIR:?}" "${GOSOK_SOURCE_DIR:?}"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
[[ -n ${SLURM_CONF:-} ]] && scontrol ping | grep -q UP ||
  fail "needs the test Slurm (scripts/test starts one; or scripts/slurm-local start DIR and source DIR/env)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bash "$GOSOK_SOURCE_DIR/bench/workflow/run.sh" --build "$GOSOK_BINARY_DIR" 1 20 >"$log" 2>&1 ||
  { cat "$log"; fail "bench/workflow/run.sh --build $GOSOK_BINARY_DIR 1 20"; }
cat "$log"
for row in "gosok validate" "gosok submit --dry-run (plan)" "raw sbatch --array + --dependency" \
  "gosok submit (plan, reserve, sbatch)" "gosok adds" "gosok status w1 (21 jobs)"; do
  grep -qF "  $row" "$log" || fail "the benchmark printed no '$row' line"
done
grep -q "^queue: 42 jobs and tasks held for account .* (expected 42)$" "$log" || fail "the queue does not hold both sides' jobs"
