#!/usr/bin/env bash
# Runs every gg stage over a list of URLs:  pipelines/run.sh [options] urls.txt > results.ndjson
set -euo pipefail
usage() {
  cat <<'HELP'
usage: pipelines/run.sh [options] URLS-FILE > results.ndjson

Runs gg-fetch | gg-scenes | gg-ocr | gg-transcribe | gg-assemble over the URLs (one a line; "-" reads stdin;
blank lines and lines starting with # are skipped). Local paths are accepted unless --no-local is given.

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
  --fetch-opts "..."   more options for one stage, split at spaces (also --scenes-opts, --ocr-opts,
                       --transcribe-opts, --assemble-opts, or $GG_FETCH_OPTS, $GG_SCENES_OPTS, ...)
  --progress           show every stage's progress on one line of stderr even when it is not a terminal
  -v, --verbose        more notes from every stage        -q, --quiet   errors only, no progress
  --version            print the versions of run.sh and every stage
  -h, --help           this help

examples:
  pipelines/run.sh urls.txt > results.ndjson
  pipelines/run.sh --array --base64 --cleanup urls.txt > results.json
  pipelines/run.sh --scenes-opts "--clips --threshold 0.22" --timeout 600 - < urls.txt
The exit status is the most severe of the stages' (70 internal > 74 I/O > 69 unavailable > 66 no input >
65 bad data > 64 usage > 75 retry later > 0): 65 when some URL failed (see its result's "error"), 75 when
the only failures are worth retrying (timeouts, network).
HELP
}
here="$(cd "$(dirname "$0")/.." && pwd)"
work="" cleanup=false show_version=false progress_forced=false quiet=false
common=(--keep-going) timed=() fetch=() local=(--allow-local) scenes=() ocr=() transcribe=() assemble=() bin="${GG_BIN:-}" input=""
for stage in fetch scenes ocr transcribe assemble; do
  variable="GG_$(echo "$stage" | tr a-z A-Z)_OPTS"
  read -ra extra <<< "${!variable:-}"
  eval "$stage+=(\"\${extra[@]}\")"
done
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --version) show_version=true; shift ;;
    --fetch-opts|--scenes-opts|--ocr-opts|--transcribe-opts|--assemble-opts)
      [ $# -ge 2 ] || { echo "run.sh: error: $1 needs a value" >&2; exit 64; }
      stage="${1#--}"; stage="${stage%-opts}"
      read -ra extra <<< "$2"
      eval "$stage+=(\"\${extra[@]}\")"
      shift 2 ;;
    --progress) progress_forced=true; shift ;;
    -v|--verbose) common+=(--verbose); shift ;;
    -q|--quiet) common+=(--quiet); quiet=true; shift ;;
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
if [ -z "${GG_WHISPER_MODEL:-}" ] && [ -r "$here/.whisper/models/ggml-tiny.en-q8_0.bin" ]; then
  export GG_WHISPER_MODEL="$here/.whisper/models/ggml-tiny.en-q8_0.bin"
fi
if [ -z "$bin" ]; then
  for candidate in "$here/.build/release" "$here/.build/debug"; do
    [ -x "$candidate/gg-fetch" ] && { bin="$candidate"; break; }
  done
fi
tool() { if [ -n "$bin" ]; then echo "$bin/$1"; else command -v "$1"; fi; }
if $show_version; then
  echo "run.sh (gg pipeline)"
  for stage in gg-fetch gg-scenes gg-ocr gg-transcribe gg-assemble; do "$(tool "$stage")" --version | sed 's/^/  /'; done
  exit 0
fi
[ -n "$input" ] || { usage >&2; exit 64; }
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
if [ "$input" = "-" ]; then
  input="$work/.urls.$$"
  cat > "$input"
  trap 'rm -f "$input"' EXIT
  if $own_work && $cleanup; then trap 'rm -rf "$work"' EXIT; fi
fi
GG_PROGRESS_TOTAL=$(grep -cv '^[[:space:]]*\(#.*\)\{0,1\}$' "$input" || true)
export GG_PROGRESS_TOTAL
progress_dir="" renderer=""
if ! $quiet && { [ -t 2 ] || $progress_forced; }; then
  progress_dir="$work/.progress.$$"
  mkdir -p "$progress_dir"
  # One status line with every stage's progress, redrawn in place on a terminal (stage diagnostics
  # clear it and it comes back below them); a line every 2 s otherwise.
  render() {
    local line="" s text width="${COLUMNS:-$(tput cols 2>/dev/null || echo 120)}"
    for s in fetch scenes ocr transcribe assemble; do
      text=$(cat "$progress_dir/$s" 2>/dev/null || echo "gg-$s: waiting")
      line+="${line:+ | }${text#gg-}"
    done
    if [ -t 2 ]; then printf '\r\033[K%s' "${line:0:$((width - 1))}" >&2; else printf '%s\n' "$line" >&2; fi
  }
  ( trap 'render; [ -t 2 ] && printf "\n" >&2; exit 0' TERM
    while :; do render; if [ -t 2 ]; then sleep 0.3; else sleep 2; fi; done ) &
  renderer=$!
fi
stage_env() { if [ -n "$progress_dir" ]; then echo "GG_PROGRESS_FILE=$progress_dir/$1"; else echo "GG_PROGRESS_FILE="; fi; }
set +e
cat "$input" \
  | env "$(stage_env fetch)" "$(tool gg-fetch)" "${common[@]}" "${timed[@]}" "${local[@]}" "${fetch[@]}" \
  | env "$(stage_env scenes)" "$(tool gg-scenes)" "${common[@]}" "${timed[@]}" "${scenes[@]}" \
  | env "$(stage_env ocr)" "$(tool gg-ocr)" "${common[@]}" "${timed[@]}" "${ocr[@]}" \
  | env "$(stage_env transcribe)" "$(tool gg-transcribe)" "${common[@]}" "${timed[@]}" "${transcribe[@]}" \
  | env "$(stage_env assemble)" "$(tool gg-assemble)" "${common[@]}" "${assemble[@]}"
statuses=("${PIPESTATUS[@]}")
set -e
if [ -n "$renderer" ]; then kill -TERM "$renderer" 2>/dev/null; wait "$renderer" 2>/dev/null; rm -rf "$progress_dir"; fi
# The most severe status of all stages, by the rule every gg tool uses.
rank() { case "$1" in 0) echo 0 ;; 75) echo 1 ;; 64) echo 2 ;; 65) echo 3 ;; 66) echo 4 ;; 69) echo 5 ;; 74) echo 6 ;; 70) echo 7 ;; *) echo 8 ;; esac; }
worst=0
for s in "${statuses[@]:1}"; do
  [ "$(rank "$s")" -gt "$(rank "$worst")" ] && worst=$s
done
exit "$worst"
