#!/usr/bin/env bash
# Runs one gg stage under GNU parallel, spreading records over jobs or hosts while keeping
# input order:   pipelines/parallel-stage.sh gg-scenes [stage options] < in.ndjson > out.ndjson
# Environment:
#   GG_PARALLEL_JOBS  jobs per host (default 2)        GG_HOSTS     parallel -S list, e.g. "2/host1,2/host2"
#   GG_RECORDS_PER_JOB records per chunk (default 1)    GG_RETRIES   attempts per chunk (default 3)
#   GG_BIN            folder of the gg-* binaries on every host (default: .build/release here)
# Every host must see the same work root and input paths (a shared file system) and have the
# binaries at GG_BIN. Records are sent whole (--pipe -N), results come back in input order (--keep-order).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 gg-STAGE [options] < in.ndjson > out.ndjson" >&2; exit 64; }
stage="$1"; shift
here="$(cd "$(dirname "$0")/.." && pwd)"
bin="${GG_BIN:-$here/.build/release}"
hosts=()
[ -n "${GG_HOSTS:-}" ] && hosts=(-S "$GG_HOSTS" --transferfile /dev/null)
quoted=$(printf '%q ' "$bin/$stage" "$@")
exec parallel --will-cite --pipe -N "${GG_RECORDS_PER_JOB:-1}" --keep-order --retries "${GG_RETRIES:-3}" \
  -j "${GG_PARALLEL_JOBS:-2}" "${hosts[@]}" "$quoted"
