#!/usr/bin/env bash
# Runs every gg stage over a list of URLs:  pipelines/run.sh [options] urls.txt > results.ndjson
set -euo pipefail
usage() {
  cat <<'HELP'
usage: pipelines/run.sh [options] URLS-FILE > results.ndjson

Runs gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble over the URLs (one a line; "-" reads stdin).
Local paths are accepted unless --no-local is given.

options:
  --work-dir DIR       work root for media and keyframes (default: ./gg-work)
  --cache-dir DIR      gg-fetch URL cache (default: gg-fetch's)
  --jobs N             records processed at once in each stage
  --timeout S          seconds allowed per record in each stage
  --threshold X        gg-scenes content threshold      --detector MODE  adaptive or content
  --clips              gg-scenes writes per-scene clips
  --lang LANGS         gg-ocr languages (default eng)
  --engine NAME        gg-transcribe engine: auto (default), whisper or sphinx
  --model FILE         whisper model (default: $GG_WHISPER_MODEL, else .whisper/models/ggml-tiny.en-q8_0.bin if set up)
  --base64             embed keyframes, clips and images in the results
  --cleanup            delete work files once each record is assembled
  --array              write {"results": [...]} instead of NDJSON
  --no-local           refuse local paths and file:// URLs
  --bin DIR            folder holding the gg-* binaries (default: $GG_BIN, .build/release, .build/debug, PATH)
  --help               this help
The exit status is the first failing stage's (65 when some URL failed; see its result's "error").
HELP
}
here="$(cd "$(dirname "$0")/.." && pwd)"
common=() fetch=() local=(--allow-local) scenes=() ocr=() transcribe=() assemble=() bin="${GG_BIN:-}" input=""
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --work-dir|--jobs|--timeout) common+=("$1" "$2"); shift 2 ;;
    --cache-dir) fetch+=("$1" "$2"); shift 2 ;;
    --threshold|--detector) scenes+=("$1" "$2"); shift 2 ;;
    --clips) scenes+=("$1"); shift ;;
    --lang) ocr+=("$1" "$2"); shift 2 ;;
    --engine|--model) transcribe+=("$1" "$2"); shift 2 ;;
    --base64|--cleanup|--array) assemble+=("$1"); shift ;;
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
total=0
[ "$input" != "-" ] && total=$(grep -cv '^[[:space:]]*$' "$input" || true)
progress() {
  if [ -t 2 ]; then
    awk -v total="$total" '{ print; fflush(); n++; printf "\rgg: %d/%d results", n, total > "/dev/stderr" } END { if (n) printf "\n" > "/dev/stderr" }'
  else
    cat
  fi
}
cat "$input" \
  | "$(tool gg-fetch)" "${common[@]}" "${local[@]}" "${fetch[@]}" \
  | "$(tool gg-scenes)" "${common[@]}" "${scenes[@]}" \
  | "$(tool gg-ocr)" "${common[@]}" "${ocr[@]}" \
  | "$(tool gg-transcribe)" "${common[@]}" "${transcribe[@]}" \
  | "$(tool gg-assemble)" "${common[@]}" "${assemble[@]}" \
  | progress
