#!/usr/bin/env bash
# cmake --install, then a separate project finds gosok with find_package(gosok), builds
# against it and runs on 2 ranks; the installed gosok binary answers --version.
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
echo "install test passed"
