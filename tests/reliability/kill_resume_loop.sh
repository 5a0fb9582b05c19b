#!/usr/bin/env bash
# reliability.kill_resume_loop.<program> — a learning program killed at random moments and resumed
# until done must end exactly where an uninterrupted run ends.
#
#   kill_resume_loop.sh PROGRAM PROBE WORK_DIR [--kills N] [--seed N] [--max-delay-ms N] -- ARGS...
#
# ARGS: the program's options for a tiny run (without --out and --resume). MAX_KILLS (--kills) 60, SEED
# the pid, MAX_DELAY_MS 60 by default.
# 1. An uninterrupted run (one thread) gives the reference outputs.
# 2. The same run in another directory is started, and after a random delay sent SIGTERM (it finishes
#    its iteration, writes its checkpoint and exits 143) or SIGKILL (it dies at once; the next start
#    resumes from the last periodic checkpoint and removes the temporary file of an atomic write it
#    may have left). It is resumed with --resume until it completes; after MAX_KILLS kills it is left
#    to finish. After every kill every file on disk must be complete (reliability_probe: checkpoints
#    and weights load and are finite, PNGs decode); after a SIGTERM no temporary file may exist.
# 3. Every file of the reference must be there and equal byte for byte, log.csv row for row (all
#    columns but "seconds", the wall time), and no temporary file may remain.
# Prints how many kills the run survived.
set -u
PROGRAM=$1
PROBE=$2
WORK=$3
shift 3
MAX_KILLS=60
SEED=$$
MAX_DELAY_MS=60
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  case "$1" in
    --kills) MAX_KILLS=$2 ;;
    --seed) SEED=$2 ;;
    --max-delay-ms) MAX_DELAY_MS=$2 ;;
    *) echo "kill_resume_loop: unknown option $1" >&2; exit 2 ;;
  esac
  shift 2
done
[ "${1:-}" = "--" ] || { echo "kill_resume_loop: expected -- before the program's options" >&2; exit 2; }
shift
ARGS=("$@")
NAME=$(basename "$PROGRAM")
export OMP_NUM_THREADS=1

fail() {
  echo "kill_resume_loop: $NAME: FAILED: $*" >&2
  exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK"

# 1. The reference.
start=$(date +%s%N)
"$PROGRAM" --out "$WORK/reference" "${ARGS[@]}" > "$WORK/reference.log" 2>&1 ||
  fail "the uninterrupted run exited with status $? (see $WORK/reference.log)"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "kill_resume_loop: $NAME: uninterrupted run: ${full_ms} ms"

# The iteration a checkpoint holds, across stages: its own count, plus where its stage began when the
# program numbers stages apart (stages.csv: "stage,first_iteration", the last row is the checkpoint's).
checkpoint_iteration() {
  local held offset=0
  held=$("$PROBE" "$1/checkpoint.safetensors" | sed -n 's/.* iteration \([0-9]*\)$/\1/p')
  if [ -f "$1/stages.csv" ]; then offset=$(tail -1 "$1/stages.csv" | cut -d, -f2); fi
  echo $((held + offset))
}

# 2. Killed and resumed. The delay is uniform in [0, MAX_DELAY_MS): a run starts in some tens of ms
#    and does an iteration in a few, so attempts are stopped in start-up, mid-iteration, during an
#    atomic write, and each gets a few iterations further (a SIGKILL loses those since the last
#    periodic checkpoint): the run survives some tens of kills before it completes.
echo "kill_resume_loop: $NAME: seed $SEED"
RANDOM=$SEED
out="$WORK/interrupted"
mkdir -p "$out"
kills=0 terms=0 killeds=0 attempts=0 stale_seen=0
while :; do
  attempts=$((attempts + 1))
  extra=()
  if [ -f "$out/checkpoint.safetensors" ]; then extra=(--resume "$out/checkpoint.safetensors"); fi
  log="$WORK/attempt_$attempts.log"
  "$PROGRAM" --out "$out" "${ARGS[@]}" "${extra[@]}" > "$log" 2>&1 &
  pid=$!
  sig=none
  if [ "$kills" -lt "$MAX_KILLS" ]; then
    delay_ms=$(( (RANDOM * 32768 + RANDOM) % MAX_DELAY_MS ))
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    if [ $((RANDOM % 2)) -eq 0 ]; then sig=TERM; else sig=KILL; fi
    kill -s "$sig" "$pid" 2> /dev/null || sig=none  # it may have finished already
  fi
  { wait "$pid"; } 2> /dev/null  # (no "Killed" notice from the shell)
  rc=$?
  if [ "$rc" -eq 0 ]; then break; fi
  case "$sig:$rc" in
    TERM:143) terms=$((terms + 1)) ;;  # stopped itself after writing its checkpoint (or died in start-up)
    KILL:137) killeds=$((killeds + 1)) ;;
    *) fail "attempt $attempts (signal $sig) exited with status $rc; its output:"$'\n'"$(cat "$log")" ;;
  esac
  kills=$((kills + 1))
  # Every file on disk is complete.
  mapfile -t files < <(find "$out" -type f \( -name '*.safetensors' -o -name '*.png' \) ! -name '*.tmp-*')
  if [ "${#files[@]}" -gt 0 ]; then
    "$PROBE" "${files[@]}" > "$WORK/probe.log" ||
      fail "after kill $kills (SIG$sig) a file is incomplete:"$'\n'"$(grep BAD "$WORK/probe.log")"
  fi
  stale=$(find "$out" -name '*.tmp-*' | wc -l)
  # Only a SIGTERM the program caught must leave no temporary file: one that arrives before the
  # learning loop installs the handler (start-up, slow under ASan) ends the process by default, like
  # SIGKILL, before it removed a previous SIGKILL's leftovers. Both exit with 143, so the log tells
  # them apart.
  if [ "$sig" = TERM ] && grep -q "interrupted (SIGTERM)" "$log" && [ "$stale" -ne 0 ]; then
    fail "after SIGTERM (kill $kills) temporary files remain: $(find "$out" -name '*.tmp-*')"
  fi
  stale_seen=$((stale_seen + stale))
  # A SIGTERM the program caught: the checkpoint holds the iteration it reports.
  if [ "$sig" = TERM ] && grep -q "interrupted (SIGTERM) after iteration" "$log"; then
    said=$(sed -n 's/.*interrupted (SIGTERM) after iteration \([0-9]*\) of.*/\1/p' "$log")
    held=$(checkpoint_iteration "$out")
    [ "$said" = "$held" ] || fail "SIGTERM after iteration $said, but the checkpoint holds iteration $held"
  fi
done
echo "kill_resume_loop: $NAME: survived $kills kills ($terms SIGTERM, $killeds SIGKILL) in $attempts runs;" \
     "$stale_seen temporary files of killed runs were found and removed at the next start"

# 3. The same outputs as the uninterrupted run.
ref="$WORK/reference"
[ -z "$(find "$out" -name '*.tmp-*')" ] || fail "temporary files remain after the run completed: $(find "$out" -name '*.tmp-*')"
ref_files=$(cd "$ref" && find . -type f | sort)
out_files=$(cd "$out" && find . -type f | sort)
[ "$ref_files" = "$out_files" ] || fail "the files differ:"$'\n'"$(diff <(echo "$ref_files") <(echo "$out_files"))"
for f in $ref_files; do
  [ "$f" = ./log.csv ] || cmp -s "$ref/$f" "$out/$f" || fail "$f differs from the uninterrupted run's"
done
# log.csv: every column but the wall time
seconds=$(head -1 "$ref/log.csv" | tr , '\n' | grep -nx seconds | cut -d: -f1)
other_columns() { awk -F, -v s="$seconds" '{ for (i = 1; i <= NF; ++i) if (i != s) printf "%s,", $i; print "" }' "$1"; }
diff <(other_columns "$ref/log.csv") <(other_columns "$out/log.csv") > "$WORK/log.diff" ||
  fail "log.csv differs from the uninterrupted run's:"$'\n'"$(head -20 "$WORK/log.diff")"
echo "kill_resume_loop: $NAME: $(echo "$ref_files" | wc -l) files identical to the uninterrupted run's" \
     "($(($(wc -l < "$out/log.csv") - 1)) log rows)"
