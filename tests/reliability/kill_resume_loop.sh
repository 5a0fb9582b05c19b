#!/usr/bin/env bash
# reliability.kill_resume_loop — synthesize_texture killed at random moments and resumed until done
# must end exactly where an uninterrupted run ends.
#
#   kill_resume_loop.sh PROGRAM PROBE WORK_DIR [MAX_KILLS] [SEED] [MAX_DELAY_MS]   (SEED: default the pid)
#
# 1. An uninterrupted run at a tiny size (one thread) gives the reference outputs.
# 2. The same run in another directory is started, and after a random delay sent SIGTERM (it finishes
#    its iteration, writes its checkpoint and exits 143) or SIGKILL (it dies at once; the next start
#    resumes from the last periodic checkpoint and removes the temporary file of an atomic write it
#    may have left). It is resumed with --resume until it completes; after MAX_KILLS kills (60) it is
#    left to finish. After every kill every file on disk must be complete (reliability_probe: checkpoints
#    and weights load and are finite, PNGs decode); after a SIGTERM no temporary file may exist.
# 3. The final weights, checkpoint, synthesized PNGs, contact sheet and snapshots must equal the
#    reference byte for byte, log.csv row for row (all columns but the wall time), and no temporary
#    file may remain.
# Prints how many kills the run survived.
set -u
PROGRAM=$1
PROBE=$2
WORK=$3
MAX_KILLS=${4:-60}
SEED=${5:-$$}
MAX_DELAY_MS=${6:-60}
export OMP_NUM_THREADS=1

fail() {
  echo "kill_resume_loop: FAILED: $*" >&2
  exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK"
ARGS=(--size 24 --chains 2 --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu --iterations 100 --snapshot-every 4
      --seed 5 --threads 1)

# 1. The reference.
start=$(date +%s%N)
"$PROGRAM" --out "$WORK/reference" "${ARGS[@]}" > "$WORK/reference.log" 2>&1 ||
  fail "the uninterrupted run exited with status $? (see $WORK/reference.log)"
full_ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "kill_resume_loop: uninterrupted run: ${full_ms} ms"

# 2. Killed and resumed. The delay is uniform in [0, MAX_DELAY_MS): a run starts in some tens of ms
#    and does an iteration in a few, so attempts are stopped in start-up, mid-iteration, during an
#    atomic write, and each gets a few iterations further (a SIGKILL loses those since the last
#    periodic checkpoint): the run survives some tens of kills before it completes.
echo "kill_resume_loop: seed $SEED"
RANDOM=$SEED
total=200
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
  files=()
  for f in "$out"/*.safetensors "$out"/*.png "$out"/snapshots/*.png; do
    if [ -f "$f" ]; then files+=("$f"); fi
  done
  if [ "${#files[@]}" -gt 0 ]; then
    "$PROBE" "${files[@]}" > "$WORK/probe.log" ||
      fail "after kill $kills (SIG$sig) a file is incomplete:"$'\n'"$(grep BAD "$WORK/probe.log")"
  fi
  stale=$(find "$out" -name '*.tmp-*' | wc -l)
  # Only a SIGTERM the program caught must leave no temporary file: one that arrives before main()
  # installs the handler (start-up, slow under ASan) ends the process by default, like SIGKILL, before
  # it removed a previous SIGKILL's leftovers. Both exit with 143, so the log tells them apart.
  if [ "$sig" = TERM ] && grep -q "interrupted (SIGTERM)" "$log" && [ "$stale" -ne 0 ]; then
    fail "after SIGTERM (kill $kills) temporary files remain: $(find "$out" -name '*.tmp-*')"
  fi
  stale_seen=$((stale_seen + stale))
  # A SIGTERM the program caught: the checkpoint holds the iteration it reports.
  if [ "$sig" = TERM ] && grep -q "interrupted (SIGTERM) after iteration" "$log"; then
    said=$(sed -n 's/.*interrupted (SIGTERM) after iteration \([0-9]*\) of.*/\1/p' "$log")
    held=$("$PROBE" "$out/checkpoint.safetensors" | sed -n 's/.* iteration \([0-9]*\)$/\1/p')
    [ "$said" = "$held" ] || fail "SIGTERM after iteration $said, but the checkpoint holds iteration $held"
  fi
done
echo "kill_resume_loop: survived $kills kills ($terms SIGTERM, $killeds SIGKILL) in $attempts runs;" \
     "$stale_seen temporary files of killed runs were found and removed at the next start"

# 3. The same outputs as the uninterrupted run.
ref="$WORK/reference"
[ -z "$(find "$out" -name '*.tmp-*')" ] || fail "temporary files remain after the run completed: $(find "$out" -name '*.tmp-*')"
for f in weights.safetensors checkpoint.safetensors contact_sheet.png synthesized_00.png synthesized_01.png; do
  cmp -s "$ref/$f" "$out/$f" || fail "$f differs from the uninterrupted run's"
done
ref_snaps=$(cd "$ref/snapshots" && ls)
out_snaps=$(cd "$out/snapshots" && ls)
[ "$ref_snaps" = "$out_snaps" ] || fail "the snapshots differ: [$ref_snaps] against [$out_snaps]"
for f in $ref_snaps; do
  cmp -s "$ref/snapshots/$f" "$out/snapshots/$f" || fail "snapshots/$f differs from the uninterrupted run's"
done
# log.csv: every column but the 7th (seconds of wall time)
diff <(cut -d, -f1-6,8- "$ref/log.csv") <(cut -d, -f1-6,8- "$out/log.csv") > "$WORK/log.diff" ||
  fail "log.csv differs from the uninterrupted run's:"$'\n'"$(head -20 "$WORK/log.diff")"
rows=$(wc -l < "$out/log.csv")
[ "$rows" -eq $((total + 1)) ] || fail "log.csv has $rows lines, expected $((total + 1)) (header + 2 stages x 100 iterations)"
echo "kill_resume_loop: weights, checkpoint, PNGs and log.csv identical to the uninterrupted run"
