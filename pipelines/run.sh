#!/usr/bin/env bash
# Runs every gg stage over a list of URLs:  pipelines/run.sh [options] urls.txt > results.ndjson
set -euo pipefail
usage() {
  cat <<'HELP'
usage: pipelines/run.sh [options] URLS-FILE > results.ndjson

Runs gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble over the URLs (one a line; "-" reads stdin).
Local paths are accepted unless --no-local is given.

options:
  --work-dir DIR       work root for media and keyframes (default: a new folder under $TMPDIR, removed
                       after the run with --cleanup); two runs on one work root are refused
  --cache-dir DIR      gg-fetch URL cache (default: gg-fetch's)
  --jobs N             records processed at once in each stage
  --timeout S          seconds allowed per record in each stage
  --threshold X        gg-scenes cut threshold, 0-1 (ffmpeg's scene score scale; the old service's 0.22 means the same)
  --detector MODE      gg-scenes detector: adaptive (default) or content
  --clips              gg-scenes writes per-scene clips
  --lang LANGS         gg-ocr languages (default eng)
  --engine NAME        gg-transcribe engine: auto (default), whisper or sphinx
  --model FILE         whisper model (default: $GG_WHISPER_MODEL, else .whisper/models/ggml-tiny.en-q8_0.bin if set up)
  --base64             embed keyframes, clips and images in the results
  --cleanup            delete work files once each record is assembled
  --array              write {"results": [...]} instead of NDJSON
  --no-local           refuse local paths and file:// URLs
  --keep-going         (the default) a line a stage cannot read becomes an error result in its place
  --bin DIR            folder holding the gg-* binaries (default: $GG_BIN, .build/release, .build/debug, PATH)
  --help               this help
The exit status is the most severe of the stages' (70 internal > 74 I/O > 69 unavailable > 66 no input >
65 bad data > 64 usage > 75 retry later > 0): 65 when some URL failed (see its result's "error"), 75 when
the only failures are worth retrying (timeouts, network).
HELP
}
here="$(cd "$(dirname "$0")/.." && pwd)"
work="" cleanup=false
common=(--keep-going) timed=() fetch=() local=(--allow-local) scenes=() ocr=() transcribe=() assemble=() bin="${GG_BIN:-}" input=""
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --work-dir) work="$2"; shift 2 ;;
    --jobs) common+=("$1" "$2"); shift 2 ;;
    --timeout) timed+=("$1" "$2"); shift 2 ;;
    --cache-dir) fetch+=("$1" "$2"); shift 2 ;;
    --threshold|--detector) scenes+=("$1" "$2"); shift 2 ;;
    --clips) scenes+=("$1"); shift ;;
    --lang) ocr+=("$1" "$2"); shift 2 ;;
    --engine|--model) transcribe+=("$1" "$2"); shift 2 ;;
    --cleanup) assemble+=("$1"); cleanup=true; shift ;;
    --base64|--array) assemble+=("$1"); shift ;;
    --keep-going) shift ;;
    --no-local) local=(); shift ;;
    --bin) bin="$2"; shift 2 ;;
    -) input="-"; shift ;;
    -*) echo "run.sh: error: unknown option '$1'" >&2; usage >&2; exit 64 ;;
    *) input="$1"; shift ;;
  esac
done
[ -n "$input" ] || { usage >&2; exit 64; }
if [ -z "${GG_WHISPER_MODEL:-}" ] && [ -r "$here/.whisper/models/ggml-tiny.en-q8_0.bin" ]; then
  export GG_WHISPER_MODEL="$here/.whisper/models/ggml-tiny.en-q8_0.bin"
fi
if [ -z "$bin" ]; then
  for candidate in "$here/.build/release" "$here/.build/debug"; do
    [ -x "$candidate/gg-fetch" ] && { bin="$candidate"; break; }
  done
fi
tool() { if [ -n "$bin" ]; then echo "$bin/$1"; else command -v "$1"; fi; }
if [ "$input" != "-" ] && [ ! -r "$input" ]; then echo "run.sh: error: cannot read $input" >&2; exit 66; fi
own_work=false
if [ -z "$work" ]; then
  work=$(mktemp -d "${TMPDIR:-/tmp}/gg-work.XXXXXX")
  own_work=true
fi
mkdir -p "$work"
exec 9<"$work"
if ! flock -n 9; then
  echo "run.sh: error: another run is using the work root $work; give each run its own --work-dir" >&2
  exit 75
fi
if $own_work && $cleanup; then trap 'rm -rf "$work"' EXIT; fi
common+=(--work-dir "$work")
total=0
[ "$input" != "-" ] && total=$(grep -cv '^[[:space:]]*$' "$input" || true)
progress() {
  if [ -t 2 ]; then
    awk -v total="$total" '{ print; fflush(); n++; printf "\rgg: %d/%d results", n, total > "/dev/stderr" } END { if (n) printf "\n" > "/dev/stderr" }'
  else
    cat
  fi
}
set +e
cat "$input" \
  | "$(tool gg-fetch)" "${common[@]}" "${timed[@]}" "${local[@]}" "${fetch[@]}" \
  | "$(tool gg-scenes)" "${common[@]}" "${timed[@]}" "${scenes[@]}" \
  | "$(tool gg-ocr)" "${common[@]}" "${timed[@]}" "${ocr[@]}" \
  | "$(tool gg-transcribe)" "${common[@]}" "${timed[@]}" "${transcribe[@]}" \
  | "$(tool gg-assemble)" "${common[@]}" "${assemble[@]}" \
  | progress
statuses=("${PIPESTATUS[@]}")
set -e
# The most severe status of all stages, by the rule every gg tool uses.
rank() { case "$1" in 0) echo 0 ;; 75) echo 1 ;; 64) echo 2 ;; 65) echo 3 ;; 66) echo 4 ;; 69) echo 5 ;; 74) echo 6 ;; 70) echo 7 ;; *) echo 8 ;; esac; }
worst=0
for s in "${statuses[@]:1}"; do
  [ "$(rank "$s")" -gt "$(rank "$worst")" ] && worst=$s
done
exit "$worst"
