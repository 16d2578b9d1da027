# Sourced by run.sh and parallel-stage.sh: the exit-status rule every gg tool uses (GGShared's
# ExitStatus), 70 internal > 74 I/O > 69 unavailable > 66 no input > 65 bad data > 64 usage > 75 retry later > 0.
# gg_worst_status STATUS...   prints the most severe of the statuses (0 when none is given)
gg_worst_status() {
  local worst=0 status
  rank() { case "$1" in 0) echo 0 ;; 75) echo 1 ;; 64) echo 2 ;; 65) echo 3 ;; 66) echo 4 ;; 69) echo 5 ;; 74) echo 6 ;; 70) echo 7 ;; *) echo 8 ;; esac; }
  for status in "$@"; do
    [ "$(rank "$status")" -gt "$(rank "$worst")" ] && worst=$status
  done
  echo "$worst"
}
