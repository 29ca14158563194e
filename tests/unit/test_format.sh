#!/usr/bin/env bash
# Every C++ file follows .clang-format.
set -euo pipefail
exec "${GOSOK_SOURCE_DIR:?}/scripts/check-format"
