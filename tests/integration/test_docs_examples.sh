#!/usr/bin/env bash
# Runs every example in docs/: each fenced block whose info string is `sh` runs with bash
# (-euo pipefail) in a fresh temporary folder that links the repository's examples/,
# site_configs/, job_templates/, scripts/ and regression/, with the gosok under test first
# on PATH. A block fenced with a language and a path of the repository (`toml
# examples/workflows/quickstart.toml`) shows that file and must be it, byte for byte.
# Blocks fenced `text` or anything else are prose.
# With the argument `slurm` it runs the blocks fenced `sh slurm` instead, which need the
# test Slurm (scripts/test starts one) and fail without it; ctest runs that mode as its own
# test, labelled slurm, so a developer without Slurm can leave it out (ctest -LE slurm).
# With `postgresql` it runs the blocks fenced `sh postgresql` (and `sh slurm postgresql`),
# which need the test PostgreSQL (GOSOK_TEST_POSTGRES, from scripts/pg-local; and the test
# Slurm for the second kind) and fail without it; ctest labels that mode postgresql. Each
# such block gets a fresh database, named by the libpq service `gosok` in $PGSERVICEFILE
# (dropped afterwards), and a folder the other Unix users it runs commands as may enter.
set -euo pipefail
: "${GOSOK_BINARY:?}" "${GOSOK_SOURCE_DIR:?}"
info=sh
kinds='sh'
slurm_up() { [[ -n ${SLURM_CONF:-} ]] && scontrol ping 2>/dev/null | grep -q UP; }
if [[ ${1:-} == slurm ]]; then
  info="sh slurm"
  kinds='sh slurm'
  if ! slurm_up; then
    echo "FAIL: the \`sh slurm\` examples need the test Slurm (scripts/test starts one;" \
      "or scripts/slurm-local start DIR and source DIR/env; without Slurm run ctest -LE slurm)" >&2
    exit 1
  fi
elif [[ ${1:-} == postgresql ]]; then
  info="sh postgresql"
  kinds='sh (slurm )?postgresql'
  if ! { [[ -n ${GOSOK_TEST_POSTGRES:-} ]] &&
    psql "$GOSOK_TEST_POSTGRES user=postgres dbname=postgres" -X -q -t -c 'SELECT 1' > /dev/null 2>&1 && slurm_up; }; then
    echo "FAIL: the \`sh postgresql\` examples need the test PostgreSQL and Slurm (scripts/test starts" \
      "both; or scripts/pg-local start DIR and source DIR/env; without them run ctest -LE 'slurm|postgresql')" >&2
    exit 1
  fi
fi
bin_dir=$(mktemp -d)
trap 'rm -rf "$bin_dir"' EXIT
ln -s "$GOSOK_BINARY" "$bin_dir/gosok"
export PATH="$bin_dir:$PATH"
# Docs show plain `mpirun -np 2`; as root on a 2-core machine Open MPI needs these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1

ran=0
docs=0
failed=0
shown=0
while IFS= read -r -d '' doc; do
  # Split the document into numbered blocks: $work/blocks/N.sh with the info string in N.kind.
  work=$(mktemp -d)
  mkdir -p "$work/blocks"
  awk -v dir="$work/blocks" '
    /^```/ {
      if (inside) { inside = 0; close(file); next }
      inside = 1; n++; file = dir "/" n ".sh"; info = substr($0, 4)
      print info > (dir "/" n ".kind"); close(dir "/" n ".kind"); printf "" > file; next
    }
    inside { print >> file }' "$doc"
  grep -qxE "\`\`\`$kinds" "$doc" && docs=$((docs + 1))
  for kind_file in "$work"/blocks/*.kind; do
    [[ -e $kind_file ]] || continue
    kind=$(<"$kind_file")
    block=${kind_file%.kind}.sh
    if [[ ! $kind =~ ^($kinds)$ ]]; then
      if [[ $info == sh && $kind == *" "* && ! $kind =~ ^sh\ (slurm|postgresql|slurm\ postgresql)$ ]]; then
        shows=${kind#* }
        name="${doc#"$GOSOK_SOURCE_DIR"/} block $(basename "$block" .sh) ($shows)"
        if [[ -f $GOSOK_SOURCE_DIR/$shows ]] && cmp -s "$block" "$GOSOK_SOURCE_DIR/$shows"; then
          shown=$((shown + 1))
          echo "ok   $name is the file"
        else
          failed=$((failed + 1))
          echo "FAIL $name is not the file:"
          diff "$block" "$GOSOK_SOURCE_DIR/$shows" | sed 's/^/     /' | head -20 || true
        fi
      fi
      continue
    fi
    sandbox=$(mktemp -d)
    database=""
    if [[ $info == "sh postgresql" ]]; then
      database=gosok_docs_$$_$(basename "$block" .sh)
      psql "$GOSOK_TEST_POSTGRES user=postgres dbname=postgres" -X -q -c "CREATE DATABASE $database"
      printf '[gosok]\n%s\ndbname=%s\n' "$(tr ' ' '\n' <<<"$GOSOK_TEST_POSTGRES")" "$database" >"$sandbox/pg_service.conf"
      chmod 755 "$sandbox" "$bin_dir"
      chmod 644 "$sandbox/pg_service.conf"
    fi
    for d in examples site_configs job_templates scripts regression; do
      [[ -e "$GOSOK_SOURCE_DIR/$d" ]] && ln -s "$GOSOK_SOURCE_DIR/$d" "$sandbox/$d"
    done
    name="${doc#"$GOSOK_SOURCE_DIR"/} block $(basename "$block" .sh)"
    # stdin is /dev/null: a block must not read (mpirun forwards stdin to rank 0) the list of
    # documents this loop reads, or the documents after it would never run.
    if (cd "$sandbox" && PGSERVICEFILE="$sandbox/pg_service.conf" GOSOK_LEDGER="$sandbox/ledger.sqlite" \
      bash -euo pipefail "$block") < /dev/null > "$sandbox.log" 2>&1; then
      ran=$((ran + 1))
      echo "ok   $name"
    else
      failed=$((failed + 1))
      echo "FAIL $name"
      sed 's/^/     | /' "$block"
      sed 's/^/     > /' "$sandbox.log" | tail -40
    fi
    if [[ -n $database ]]; then
      psql "$GOSOK_TEST_POSTGRES user=postgres dbname=postgres" -X -q -c "DROP DATABASE $database WITH (FORCE)"
    fi
    rm -rf "$sandbox" "$sandbox.log"
  done
  rm -rf "$work"
done < <(find "$GOSOK_SOURCE_DIR/docs" -name '*.md' -print0 | sort -z)

echo "docs examples ($info): $ran ran, $shown files shown as they are, $failed failed in $docs documents"
if (( ran == 0 )); then
  echo "no runnable example found in docs/" >&2
  exit 1
fi
# Every document with a runnable block was reached.
expected=$(grep -lxE "\`\`\`$kinds" -r "$GOSOK_SOURCE_DIR/docs" --include='*.md' | wc -l)
if (( docs != expected )); then
  echo "only $docs of the $expected documents with examples were reached" >&2
  exit 1
fi
(( failed == 0 ))
