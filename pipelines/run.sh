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
  --result-cache DIR   with --cleanup, a cache of final results: a URL processed before with the same stage
                       options is answered from it ("result_cache": "hit"); gg-serve keeps one in CACHE/results
  --jobs N             records processed at once in each stage
  --timeout S          seconds allowed per record in each stage
  --threshold X        gg-scenes cut threshold, 0-1 (ffmpeg's scene score scale; the old service's 0.22 means the same)
  --detector MODE      gg-scenes detector: adaptive (default) or content
  --clips              gg-scenes writes per-scene clips
  --lang LANGS         gg-ocr languages: auto (default: English, and the script of each line English cannot read) or LANG+LANG
  --engine NAME        gg-transcribe engine: auto (default), whisper or sphinx
  --model FILE         whisper model (default: $GG_WHISPER_MODEL, else .whisper/models/ggml-base-q8_0.bin if set up)
  --base64             embed keyframes, clips and images in the results
  --cleanup            delete work files once each record is assembled
  --array              write {"results": [...]} instead of NDJSON
  --no-local           refuse local paths and file:// URLs
  --keep-going         (the default) a line a stage cannot read becomes an error result in its place
  --bin DIR            folder holding the gg-* binaries (default: $GG_BIN, .build/release, .build/debug, PATH)
  --fetch-opts "..."   more options for one stage, split at spaces (also --scenes-opts, --ocr-opts,
                       --transcribe-opts, --assemble-opts, or $GG_FETCH_OPTS, $GG_SCENES_OPTS, ...)
  --progress           show progress when stderr is not a terminal too (one line for all stages every 2 s;
                       on a terminal it is shown anyway: a line per stage, diagnostics printed above them)
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
work="" result_cache="" cleanup=false show_version=false progress_forced=false quiet=false
common=(--keep-going) timed=() fetch=() local=(--allow-local) scenes=() ocr=() transcribe=() assemble=() bin="${GG_BIN:-}" input=""
for stage in fetch scenes ocr transcribe assemble; do
  variable="GG_$(echo "$stage" | tr '[:lower:]' '[:upper:]')_OPTS"
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
      # shellcheck disable=SC2034 # read by the eval below
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
    --result-cache) result_cache="$2"; shift 2 ;;
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
if [ -z "${GG_WHISPER_MODEL:-}" ] && [ -r "$here/.whisper/models/ggml-base-q8_0.bin" ]; then
  export GG_WHISPER_MODEL="$here/.whisper/models/ggml-base-q8_0.bin"
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
if [ -n "$result_cache" ]; then
  if $cleanup; then
    # The options of the stages after gg-fetch are part of each result's key (gg-fetch and gg-assemble
    # leave out those that do not change a result, and sort the rest).
    result_options="${scenes[*]} ${ocr[*]} ${transcribe[*]}"
    case " ${assemble[*]} " in *" --base64 "*) result_options+=" --base64" ;; esac
    fetch+=(--result-cache "$result_cache" --result-options "$result_options")
    assemble+=(--result-cache "$result_cache" --result-options "$result_options")
  else
    echo "run.sh: warning: --result-cache is used with --cleanup only (a kept work folder's files would not match a cached result); ignored" >&2
  fi
fi
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
progress_dir="" renderer="" diagnostics=2
if ! $quiet && { [ -t 2 ] || $progress_forced; }; then
  progress_dir="$work/.progress.$$"
  mkdir -p "$progress_dir"
  stage_line() { cat "$progress_dir/$1" 2>/dev/null || echo "gg-$1: waiting"; }
  if [ -t 2 ]; then
    # A block of one line per stage at the bottom of the terminal. The stages' diagnostics come through a
    # FIFO and are printed above the block, which is then drawn again, so neither garbles the other.
    mkfifo "$progress_dir/stderr"
    exec 8<>"$progress_dir/stderr"
    diagnostics=8
    ( width="${COLUMNS:-$(tput cols 2>/dev/null || echo 120)}" drawn=false stopping=false
      trap 'stopping=true' TERM
      draw() {
        local s text
        $drawn && printf '\033[5A' >&2
        for s in fetch scenes ocr transcribe assemble; do text=$(stage_line "$s"); printf '\r\033[K%s\n' "${text:0:$((width - 1))}" >&2; done
        drawn=true
      }
      while :; do
        while IFS= read -r -t 0.3 line <&8; do
          $drawn && printf '\033[5A\033[J' >&2
          drawn=false
          printf '%s\n' "$line" >&2
        done
        draw
        if $stopping; then exit 0; fi
      done ) &
    renderer=$!
  else
    # One line for all stages every 2 s; the last one is printed by run.sh itself once the renderer is gone.
    combined() {
      local line="" s text
      for s in fetch scenes ocr transcribe assemble; do text=$(stage_line "$s"); line+="${line:+ | }${text#gg-}"; done
      printf '%s\n' "$line" >&2
    }
    ( trap 'kill $! 2>/dev/null; exit 0' TERM
      while :; do combined; sleep 2 & wait $!; done ) &
    renderer=$!
  fi
fi
stage_env() { if [ -n "$progress_dir" ]; then echo "GG_PROGRESS_FILE=$progress_dir/$1"; else echo "GG_PROGRESS_FILE="; fi; }
# The stages run as a job of their own process group, so that SIGTERM or SIGINT to run.sh reaches every
# stage and run.sh waits for them to write what they finished (they exit 75) before it removes anything.
status_file="$work/.status.$$"
job="" stopped=""
# shellcheck disable=SC2317 # called by the trap
forward() { stopped=75; if [ -n "$job" ]; then kill -TERM -- "-$job" 2>/dev/null; fi; }
trap forward TERM INT
set +e
set -m
( trap '' TERM INT  # ignored here and in env and cat until each gg stage takes the signals over as it loads
  # shellcheck disable=SC2002 # cat's status is the first of PIPESTATUS, and it reads a FIFO as the stages do
  cat "$input" \
  | env "$(stage_env fetch)" "$(tool gg-fetch)" "${common[@]}" "${timed[@]}" "${local[@]}" "${fetch[@]}" 2>&$diagnostics \
  | env "$(stage_env scenes)" "$(tool gg-scenes)" "${common[@]}" "${timed[@]}" "${scenes[@]}" 2>&$diagnostics \
  | env "$(stage_env ocr)" "$(tool gg-ocr)" "${common[@]}" "${timed[@]}" "${ocr[@]}" 2>&$diagnostics \
  | env "$(stage_env transcribe)" "$(tool gg-transcribe)" "${common[@]}" "${timed[@]}" "${transcribe[@]}" 2>&$diagnostics \
  | env "$(stage_env assemble)" "$(tool gg-assemble)" "${common[@]}" "${assemble[@]}" 2>&$diagnostics
  echo "${PIPESTATUS[@]}" > "$status_file" ) &
job=$!
set +m
if [ -n "$stopped" ]; then kill -TERM -- "-$job" 2>/dev/null; fi
while kill -0 "$job" 2>/dev/null; do wait "$job"; done
trap - TERM INT
read -r -a statuses < "$status_file" 2>/dev/null || statuses=(75 75 75 75 75 75)
rm -f "$status_file"
set -e
if [ -n "$renderer" ]; then
  kill -TERM "$renderer" 2>/dev/null; wait "$renderer" 2>/dev/null
  if [ "$diagnostics" = 8 ]; then exec 8>&-; else combined; fi
  rm -rf "$progress_dir"
fi
# The most severe status of all stages, by the rule every gg tool uses.
# shellcheck source=pipelines/status.sh
. "$here/pipelines/status.sh"
exit "$(gg_worst_status "${statuses[@]:1}" ${stopped:+"$stopped"})"
