#!/usr/bin/env bash
# One chunk of pipelines/parallel-stage.sh: runs the stage on the chunk, reports its exit status on
# stderr for parallel-stage.sh to combine, and fails (so that GNU parallel retries the chunk) only when
# the stage asks to retry later (75); bad data (65) and the rest are never run twice.
"$@"
status=$?
echo "gg-parallel-status: $status" >&2
[ "$status" = 75 ] && exit 75
exit 0
