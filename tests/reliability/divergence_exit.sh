#!/usr/bin/env bash
# reliability.divergence_exit — synthesize_texture with an absurd --step-size or --learning-rate
# stops with exit status 3 and ONE line that names the iteration, the layer, gives a hint and the last
# good checkpoint; that checkpoint is left as it was and loads.
#
#   divergence_exit.sh PROGRAM PROBE WORK_DIR
#
# a. --step-size 1e6 from the start: diverges in iteration 0, before any checkpoint; none is written.
# b. a good run of 2 x 3 iterations writes its checkpoint; resumed with --step-size 1e6 it diverges
#    in iteration 6: the checkpoint is byte for byte the one before, the message names it, and a
#    resume from it with the normal step size completes.
# c. --learning-rate 1e30 with a checkpoint every iteration: the weights explode within a few
#    iterations; the checkpoint on disk is that of the last good iteration (its iteration = the one
#    that failed), finite, and log.csv has one row per good iteration.
set -u
PROGRAM=$1
PROBE=$2
WORK=$3
export OMP_NUM_THREADS=1

fail() {
  echo "divergence_exit: FAILED: $*" >&2
  exit 1
}

rm -rf "$WORK"
mkdir -p "$WORK"
TINY=(--size 24 --chains 2 --layers conv:4:5:2:2,relu,conv:3:3:1:1,relu --seed 3 --threads 1)

# run NAME ARGS...: runs the program, keeps stdout/stderr in $WORK/NAME.{out,err}, sets $rc.
run() {
  local name=$1
  shift
  "$PROGRAM" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err"
  rc=$?
}

# expect_divergence NAME ITERATION LAYER_WORDS CHECKPOINT_OR_EMPTY: exit 3 and one line saying so.
expect_divergence() {
  local name=$1 iteration=$2 words=$3 checkpoint=$4
  [ "$rc" -eq 3 ] || fail "$name: exit status $rc, expected 3; stderr:"$'\n'"$(cat "$WORK/$name.err")"
  local lines
  lines=$(grep -c "synthesize_texture: the run diverged" "$WORK/$name.err")
  [ "$lines" -eq 1 ] || fail "$name: $lines lines say the run diverged, expected 1"
  local line
  line=$(grep "synthesize_texture: the run diverged" "$WORK/$name.err")
  echo "divergence_exit: $name: $line"
  case "$line" in *"iteration $iteration ("*) ;; *) fail "$name: the line does not name iteration $iteration" ;; esac
  case "$line" in *"$words"*) ;; *) fail "$name: the line does not say '$words'" ;; esac
  case "$line" in *"hint: rerun with a smaller --step-size or --learning-rate"*) ;; *) fail "$name: no hint" ;; esac
  if [ -n "$checkpoint" ]; then
    case "$line" in *"--resume $checkpoint"*) ;; *) fail "$name: the line does not name the checkpoint $checkpoint" ;; esac
  else
    case "$line" in *"no checkpoint was written"*) ;; *) fail "$name: the line claims a checkpoint" ;; esac
  fi
  if find "$WORK" -name '*.tmp-*' | grep -q .; then fail "$name: temporary files remain"; fi
}

# a. No checkpoint yet.
run a --out "$WORK/a" --iterations 3 --step-size 1e6 "${TINY[@]}"
expect_divergence a 0 "the synthesized chains (the input of layer 0) became NaN or Inf" ""
[ ! -e "$WORK/a/checkpoint.safetensors" ] || fail "a: a checkpoint was written by a diverged run"

# b. A good checkpoint, then a resume that diverges at once.
run b1 --out "$WORK/b" --iterations 3 --snapshot-every 2 "${TINY[@]}"
[ "$rc" -eq 0 ] || fail "b: the good run exited with $rc"
ckpt="$WORK/b/checkpoint.safetensors"
cp "$ckpt" "$WORK/b_checkpoint_before"
run b2 --out "$WORK/b" --iterations 6 --step-size 1e6 --resume "$ckpt" "${TINY[@]}"
expect_divergence b2 6 "became NaN or Inf" "$ckpt"
cmp -s "$ckpt" "$WORK/b_checkpoint_before" || fail "b: the checkpoint changed"
"$PROBE" "$ckpt" > /dev/null || fail "b: the checkpoint does not load"
run b3 --out "$WORK/b" --iterations 6 --resume "$ckpt" "${TINY[@]}"
[ "$rc" -eq 0 ] || fail "b: resuming from the kept checkpoint exited with $rc: $(cat "$WORK/b3.err")"

# c. The weights explode mid-run; a checkpoint after every good iteration.
run c --out "$WORK/c" --iterations 10 --learning-rate 1e30 --snapshot-every 1 "${TINY[@]}"
line=$(grep "synthesize_texture: the run diverged" "$WORK/c.err")
failed=$(echo "$line" | sed -n 's/.*step: iteration \([0-9]*\) (stage.*/\1/p')
[ -n "$failed" ] || fail "c: no iteration in: $line"
[ "$failed" -ge 1 ] || fail "c: diverged in iteration $failed, expected a later one (the test needs a checkpoint before)"
expect_divergence c "$failed" "of layer" "$WORK/c/checkpoint.safetensors"
held=$("$PROBE" "$WORK/c/checkpoint.safetensors" | sed -n 's/.* iteration \([0-9]*\)$/\1/p')
[ "$held" = "$failed" ] || fail "c: the checkpoint holds iteration $held, the run failed in iteration $failed"
rows=$(($(wc -l < "$WORK/c/log.csv") - 1))
[ "$rows" -eq "$failed" ] || fail "c: log.csv has $rows rows for $failed good iterations"
echo "divergence_exit: passed (exit 3, one line with a hint; checkpoints intact and loadable)"
