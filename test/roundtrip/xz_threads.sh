#!/usr/bin/env bash
# A real multi-threaded program across the round trip: $TOOL -T4 (or pigz -p4)
# compressing ~200 MB of generated text (pseudo-random lines from a small
# vocabulary: compressible, but work for the compressor), dumped while its
# threads work.
#
#   xz_threads.sh CKPT WORK MODE [xz|pigz]      (run it under rt_subreaper)
#
#   plain          once the output has bytes (xz: its first block is done),
#                  dump; the compressor must be gone (killed); restore -d; the
#                  restored one must finish (bounded) and its output must
#                  decompress to the input
#   leave-running  dump --leave-running: it runs on, not stopped, not traced,
#                  ends with status 0 and a right output; then the output is
#                  cut back to its size at the dump (its fd's position in the
#                  image) and the image restored: the restored compressor must
#                  write the rest again, and the output must be right again
#   baseline       no ckpt: the compressor alone, the same checks (to check
#                  this script)
#
# $TOOL keeps a pipe to itself (a self-pipe for signals), so its round trip
# needs pipes as well as threads; pigz has threads only.
# XZ_THREADS (default 4) and XZ_INPUT_MIB (default 200) change the run, for
# trying the script itself: XZ_THREADS=1 runs a single-threaded compressor.
set -u
CKPT=$1
WORK=$2
MODE=$3
TOOL=${4:-xz}
THREADS=${XZ_THREADS:-4}
MIB=${XZ_INPUT_MIB:-200}
case $TOOL in
xz) COMPRESS=(xz -T"$THREADS" -k -c input); OUT=output.xz;;
pigz) COMPRESS=(pigz -p"$THREADS" -k -c input); OUT=output.gz;;
*) echo "FAIL: unknown compressor $TOOL"; exit 1;;
esac
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

. "$(dirname "$0")/testlib.sh"  # fail, wait_for (the path is absolute: ctest gives it)
# Ended: gone, or a zombie not reaped yet.
ended() { [ ! -d /proc/$1 ] || grep -q '^State:[[:space:]]*Z' /proc/$1/status 2>/dev/null; }
field() { sed -n "s/^$2:[[:space:]]*//p" /proc/$1/status 2>/dev/null; }

# Every task of $1 runs on: not stopped, not traced.
running_untraced() {
  local t st tracer
  [ -d /proc/$1 ] || fail "pid $1 is gone"
  for t in /proc/$1/task/*; do
    st=$(sed -n 's/^State:[[:space:]]*\(.\).*/\1/p' $t/status 2>/dev/null)
    case $st in T|t) fail "task ${t##*/} of pid $1 is stopped (State $st)";; esac
    tracer=$(sed -n 's/^TracerPid:[[:space:]]*//p' $t/status 2>/dev/null)
    [ -z "$tracer" ] || [ "$tracer" = 0 ] || fail "task ${t##*/} of pid $1 is traced by $tracer"
  done
}

check_output() {
  "$TOOL" -t $OUT 2>/dev/null || fail "$1: $OUT is not a whole compressed file ($(stat -c %s $OUT) bytes)"
  "$TOOL" -dc $OUT | cmp -s - input || fail "$1: $OUT does not decompress to the input"
  if [ -s err.txt ]; then fail "$1: $TOOL complained: $(cat err.txt)"; fi
  echo "$1: $OUT ($(stat -c %s $OUT) bytes) decompresses to the input"
}

# The position of the fd on the output in the image $1 (its size then).
dumped_size() {
  "$CKPT" show "$1" | grep -F "\"path\":\"$WORK/$OUT\"" | sed -n 's/.*"pos":"\([0-9]*\)".*/\1/p' | head -1
}

scenario() {
echo "== generating ${MIB} MiB of input"
perl -e '
  srand(20240601);  # perl drand48: the same text everywhere
  my @w = map { join "", map { chr(97 + int(rand(26))) } 1 .. 2 + int(rand(7)) } 1 .. 512;
  my @l = map { join(" ", map { $w[rand 512] } 1 .. 30 + int(rand(200))) . "\n" } 1 .. 1024;
  my ($want, $n) = ($ARGV[0] * 1024 * 1024, 0);
  while ($n < $want) {
    my $out = "";
    $out .= $l[rand 1024] for 1 .. 1024;
    $out = substr($out, 0, $want - $n) if $n + length($out) > $want;
    print $out;
    $n += length $out;
  }' "$MIB" > input || fail "cannot generate the input"
[ "$(stat -c %s input)" = $((MIB * 1024 * 1024)) ] || fail "the input has $(stat -c %s input) bytes"

echo "== ${COMPRESS[*]} > $OUT"
# Its own session (setsid execs the compressor itself: $! is it), stdin
# /dev/null, stderr to a file: nothing that ckpt cannot restore.
setsid "${COMPRESS[@]}" > $OUT 2> err.txt < /dev/null &
pid=$!
is_tool() { [ "$(cat /proc/$1/comm 2>/dev/null)" = "$TOOL" ]; }
wait_for 10 is_tool $pid || fail "pid $pid is not $TOOL"
wait_for 300 test -s $OUT || fail "$TOOL wrote nothing within 300 s"
ended $pid && fail "$TOOL ended before the dump (the input is too small for this machine)"
threads=$(field $pid Threads)
echo "$TOOL (pid $pid) has written $(stat -c %s $OUT) bytes, $threads threads"
if [ "$THREADS" -gt 1 ] && [ "${threads:-0}" -lt 2 ]; then fail "$TOOL runs with ${threads:-no} threads"; fi

case $MODE in
baseline)
  wait $pid; rc=$?
  [ $rc = 0 ] || fail "$TOOL exited with $rc"
  check_output "$TOOL alone"
  ;;
plain)
  "$CKPT" dump -t $pid -D "$WORK/img" -v4 > dump.log 2>&1 || fail "ckpt dump failed: $(tail -5 dump.log)"
  wait_for 30 ended $pid || fail "$TOOL still runs after the dump"
  { wait $pid; rc=$?; } 2>/dev/null  # (no "Killed" from bash)
  [ $rc = 137 ] || fail "after the dump $TOOL exited with $rc, want 137 (killed)"
  at_dump=$(stat -c %s $OUT)
  "$CKPT" restore -D "$WORK/img" -d -v4 > restore.log 2>&1 || fail "ckpt restore failed: $(tail -5 restore.log)"
  [ -d /proc/$pid ] || fail "$TOOL is not back as pid $pid"
  echo "$TOOL is back as pid $pid with $(field $pid Threads) threads ($at_dump bytes written at the dump)"
  # The restored $TOOL is rt_subreaper's child now: it reaps it.
  wait_for 400 ended $pid || fail "the restored $TOOL did not finish within 400 s"
  check_output "restored $TOOL"
  ;;
leave-running)
  "$CKPT" dump -t $pid -D "$WORK/img" --leave-running -v4 > dump.log 2>&1 || fail "ckpt dump failed: $(tail -5 dump.log)"
  running_untraced $pid
  size=$(dumped_size "$WORK/img")
  [ -n "$size" ] && [ "$size" -gt 0 ] || fail "no position of $OUT in the image"
  echo "dumped with --leave-running at $size bytes of output; $TOOL runs on"
  wait_for 400 ended $pid || fail "$TOOL did not finish within 400 s after the dump"
  wait $pid; rc=$?
  [ $rc = 0 ] || fail "$TOOL exited with $rc after the dump --leave-running"
  check_output "$TOOL after the dump"
  cp $OUT whole.out
  truncate -s "$size" $OUT || fail "truncate"
  "$CKPT" restore -D "$WORK/img" -d -v4 > restore.log 2>&1 || fail "ckpt restore failed: $(tail -5 restore.log)"
  [ -d /proc/$pid ] || fail "$TOOL is not back as pid $pid"
  echo "$TOOL is back as pid $pid with $(field $pid Threads) threads"
  wait_for 400 ended $pid || fail "the restored $TOOL did not finish within 400 s"
  check_output "restored $TOOL"
  cmp -s $OUT whole.out || fail "the restored $TOOL wrote another output than the original"
  ;;
*) fail "unknown mode $MODE";;
esac
rm -rf "$WORK/img"  # passed: the images go too (after a failure they stay)
echo PASS
}

# ctest hands us pipes; the compressor's stdio must be files ckpt restores.
( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
rm -f "$WORK/input" "$WORK/$OUT" "$WORK/whole.out"  # 200 MiB and more, made again each run
cat "$WORK/scenario.log"
exit $rc
