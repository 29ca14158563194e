#!/usr/bin/env bash
# cmake --install, then a separate project finds gosok with find_package(gosok), builds
# against it and runs on 2 ranks; the installed gosok binary answers --version. The same
# project builds a workload of its own out of tree (gosok_add_workload and
# gosok_add_executables from the installed package) and runs it with its own gosok.
set -euo pipefail
: "${GOSOK_BINARY_DIR:?}" "${GOSOK_SOURCE_DIR:?}" "${GOSOK_MPIEXEC:?}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$GOSOK_BINARY_DIR" --prefix "$work/prefix" > "$work/install.log"
"$work/prefix/bin/gosok" --version | grep -q "^gosok "
test -f "$work/prefix/lib/cmake/gosok/gosokConfig.cmake"
test -f "$work/prefix/include/gosok/core/runtime.hpp"

cmake -S "$GOSOK_SOURCE_DIR/tests/install-consumer" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DCMAKE_BUILD_TYPE=Release > "$work/configure.log"
cmake --build "$work/build" -j2 > "$work/build.log"
# shellcheck disable=SC2086  # GOSOK_MPIEXEC holds the launcher and its flags
out=$($GOSOK_MPIEXEC -n 2 "$work/build/consumer")
echo "$out"
grep -q "consumer ok: gosok .*, ranks 2, sum 9900" <<<"$out"

# The out-of-tree workload: listed, checked by its schema, run on 2 ranks.
"$work/build/gosok" run decay --help | grep -q "decay rate"
if "$work/build/gosok" run decay --set k=-1 --results "$work/bad" > "$work/bad.log" 2>&1; then
  echo "a negative decay rate was accepted" >&2
  exit 1
fi
$GOSOK_MPIEXEC -n 2 "$work/build/gosok" run decay --set steps=40 --results "$work/decay" > "$work/decay.log" 2>&1 ||
  { cat "$work/decay.log"; exit 1; }
python3 - "$work/decay/diagnostics.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
# 40 products of (1 - 0.005): the same multiplications as the exact power, to round-off.
assert d["workload"] == "decay" and abs(d["u"] - d["exact"]) < 1e-14 and abs(d["exact"] - 0.995**40) < 1e-14, d
PY
echo "install test passed"
