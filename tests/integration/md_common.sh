# Shared helpers for the md integration tests (sourced; not a test itself).
# ctest sets GOSOK_BINARY, GOSOK_MPIEXEC ("mpiexec --flags ..."); defaults let a developer
# run a script by hand from the build folder.
set -euo pipefail
GOSOK=${GOSOK_BINARY:-$PWD/framework/cli/gosok}
MPIEXEC=${GOSOK_MPIEXEC:-mpirun --allow-run-as-root --oversubscribe}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

# gosok_np RANKS ARGS... : gosok under mpiexec (1 rank runs through mpiexec too).
gosok_np() {
  local ranks=$1
  shift
  # shellcheck disable=SC2086
  $MPIEXEC -n "$ranks" "$GOSOK" "$@"
}

need_lmp() {
  command -v lmp >/dev/null || fail "LAMMPS ('lmp', Debian package 'lammps') is needed for this test"
}

# last_row FILE STEP : the gosok thermo.dat row of STEP without its time column
# (step temp e_pair e_mol etotal press).
thermo_row() {
  awk -v s="$2" '$1 == s { print $1, $3, $4, $5, $6, $7 }' "$1" | tail -1
}

# lammps_row LOG STEP : LAMMPS' thermo row (Step Temp E_pair E_mol TotEng Press) of STEP.
lammps_row() {
  awk -v s="$2" 'NF == 6 && $1 == s && $2 ~ /^[-0-9.]/ { print }' "$1" | tail -1
}

# same_numbers WHAT "A" "B" REL : every number of A equals B's within relative REL
# (absolute REL where B is zero).
same_numbers() {
  local what=$1 a=$2 b=$3 rel=$4
  [[ -n $a && -n $b ]] || fail "$what: missing thermo row ('$a' vs '$b')"
  awk -v a="$a" -v b="$b" -v rel="$rel" -v what="$what" 'BEGIN {
    n = split(a, x, " "); m = split(b, y, " ");
    if (n != m) { printf "%s: %d vs %d columns\n", what, n, m; exit 1 }
    bad = 0;
    for (k = 1; k <= n; ++k) {
      d = x[k] - y[k]; if (d < 0) d = -d;
      s = y[k]; if (s < 0) s = -s;
      lim = (s > 0 ? rel * s : rel);
      if (d > lim) { printf "%s: column %d: %.17g vs %.17g (|diff| %.3g > %.3g)\n", what, k, x[k], y[k], d, lim; bad = 1 }
    }
    if (bad) exit 1;
    printf "%s: equal within %g: %s\n", what, rel, a;
  }' || fail "$what differs"
}
