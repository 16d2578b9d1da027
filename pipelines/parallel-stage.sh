#!/usr/bin/env bash
# Runs one gg stage under GNU parallel, spreading records over jobs or hosts while keeping input order.
set -euo pipefail
usage() {
  cat <<'HELP'
usage: pipelines/parallel-stage.sh gg-STAGE [stage options] < in.ndjson > out.ndjson

Runs one gg stage (gg-fetch, gg-scenes, gg-ocr, gg-transcribe or gg-assemble) under GNU parallel: the
input is cut into chunks of whole lines, each chunk runs as its own stage process on a local job slot or
on a host of GG_HOSTS, and the results come back in input order, the same lines a single stage writes.

Environment:
  GG_PARALLEL_JOBS    jobs per host (default 2)
  GG_HOSTS            GNU parallel -S list, e.g. "2/host1,2/ssh -p 2222 user@host2"
  GG_RECORDS_PER_JOB  input lines per chunk (default 1)
  GG_RETRIES          attempts for a chunk whose stage exits 75, retry later (default 3); chunks with bad
                      data (65) or any other failure are never run twice
  GG_BIN              folder of the gg-* binaries on every host (default: .build/release here)

Every host must see the same work root, input paths and this checkout (a shared file system) and have
the binaries at GG_BIN. Each chunk's stage gets --first-line with the chunk's place in the whole input,
so diagnostics name the original line; for gg-fetch, --copy-lines names the lines whose URL came
earlier, so record ids are those of a serial run.

The exit status is the most severe of the chunks' by the rule every gg tool uses: 70 internal > 74 I/O >
69 unavailable > 66 no input > 65 bad data > 64 usage > 75 retry later > 0.

example:
  GG_HOSTS="2/:,2/worker1" pipelines/parallel-stage.sh gg-scenes --work-dir /shared/work < fetched.ndjson
HELP
}
case "${1:-}" in
  -h|--help) usage; exit 0 ;;
  gg-fetch|gg-scenes|gg-ocr|gg-transcribe|gg-assemble) ;;
  "") usage >&2; exit 64 ;;
  *) echo "parallel-stage.sh: error: '$1' is not a gg stage" >&2; exit 64 ;;
esac
stage="$1"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${GG_BIN:-$here/.build/release}"
per="${GG_RECORDS_PER_JOB:-1}" retries="${GG_RETRIES:-3}" jobs="${GG_PARALLEL_JOBS:-2}"
for value in "$per" "$retries" "$jobs"; do
  case "$value" in ''|*[!0-9]*|0) echo "parallel-stage.sh: error: GG_RECORDS_PER_JOB, GG_RETRIES and GG_PARALLEL_JOBS are whole numbers from 1" >&2; exit 64 ;; esac
done
input=$(mktemp)
trap 'rm -f "$input"' EXIT
# GNU parallel's --pipe joins an empty line to the next chunk; a lone space (a blank line to every stage)
# keeps one line per record, so each chunk's first line is (job - 1) * GG_RECORDS_PER_JOB + 1.
sed 's/^$/ /' > "$input"
extra=()
if [ "$stage" = gg-fetch ]; then
  copies=$(awk '{ sub(/^[ \t]+/, ""); sub(/[ \t\r]+$/, "") } $0 == "" || /^#/ { next } seen[$0]++ { printf "%s%d", (n++ ? "," : ""), NR }' "$input")
  [ -n "$copies" ] && extra=(--copy-lines "$copies")
fi
hosts=()
[ -n "${GG_HOSTS:-}" ] && hosts=(-S "$GG_HOSTS")
command="$(printf '%q ' "$here/pipelines/stage-job.sh" "$bin/$stage" "$@" "${extra[@]}") --first-line {= \$_ = (\$job->seq() - 1) * $per + 1 =}"
# shellcheck source=pipelines/status.sh
. "$here/pipelines/status.sh"
set +e
{ parallel --will-cite --pipe -N "$per" --keep-order --retries "$retries" -j "$jobs" "${hosts[@]}" "$command" < "$input" 2>&1 1>&3 3>&- \
    | awk -v report="$input.status" '/^gg-parallel-status: [0-9]+$/ { print $2 > report; next } { print; fflush() }' >&2; } 3>&1
parallel_status=${PIPESTATUS[0]}
set -e
mapfile -t chunk_statuses < <(cat "$input.status" 2>/dev/null)
worst=$(gg_worst_status "${chunk_statuses[@]}")
chunks=${#chunk_statuses[@]}
rm -f "$input.status"
if [ "$parallel_status" != 0 ] && [ "$worst" = 0 ]; then
  echo "parallel-stage.sh: error: GNU parallel failed (status $parallel_status) after $chunks chunk(s) reported" >&2
  worst=69
fi
exit "$worst"
