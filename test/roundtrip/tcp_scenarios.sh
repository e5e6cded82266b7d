#!/usr/bin/env bash
# Established TCP connections around dumps that leave the tree running:
#
#   tcp_scenarios.sh leave-running|failed-dump CKPT WORK PEER ECHO CLIENT
#
#   leave-running  rt_tcp_echo echoing rt_tcp_peer ping, dumped 20 times in
#                  a row with --leave-running --tcp-established: after each
#                  dump it runs untraced, no ckpt_ nftables table is left and
#                  the peer's echoes go on; at the end the peer saw no reset
#                  and no stall longer than twice the longest dump (a lock
#                  held that long, then a retransmission backed off as long
#                  again) plus a second
#   failed-dump    rt_tcp_client with 100 KiB queued each way, dumped with
#                  CKPT_DUMP_TEST_FAIL=after-network-lock: the dump fails
#                  (exit 1), no ckpt_ table is left, the client runs on and
#                  its exchange with the peer goes on byte-exact both ways
#
# Run in a network namespace of its own with lo up.
set -u
# Fds inherited from ctest must not reach the dumped target (ckpt would
# refuse a pipe to outside the tree).
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
CASE=$1 CKPT=$2 WORK=$3 PEER=$4 ECHO=$5 CLIENT=$6
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"  # fail, wait_for, gone, healthy, start_target, finish_target

no_lock_table() {
  ! nft list tables 2>/dev/null | grep -q ckpt_ || fail "$1: an nftables table of ckpt is left: $(nft list tables)"
}
ms_now() { local t=${EPOCHREALTIME/./}; echo $((t / 1000)); }

start_peer() {
  mkfifo ctl || fail "mkfifo"
  "$PEER" "$@" --ctl "$WORK/ctl" </dev/null >peer.out 2>&1 &
  PEER_PID=$!
  listening() { grep -q '^listening' peer.out; }
  wait_for 30 listening || fail "the peer does not listen: $(cat peer.out)"
}
# The peer's own verdict, once it ended by itself.
peer_verdict() {
  wait_for 120 gone $PEER_PID || fail "the peer did not end within 120 s: $(cat peer.out)"
  wait $PEER_PID
  local rc=$?
  echo "--- the peer (exit $rc):"; cat peer.out
  [ $rc = 0 ] && grep -q '^PEER PASS' peer.out || fail "the peer's verdict is not PASS"
}

leave_running() {
  start_peer ping --listen 127.0.0.1 5000 --progress "$WORK/progress"
  TARGET_PROG=$ECHO
  start_target echo "CKPT_TEST_TCP_PEER=127.0.0.1 5000"
  echoes() { cat progress 2>/dev/null || echo 0; }
  at_least() { [ "$(echoes)" -ge "$1" ] 2>/dev/null; }
  wait_for 30 at_least 10 || fail "the peer's echoes do not start: $(cat peer.out)"
  local i t0 dt longest=0 before
  for i in $(seq 20); do
    before=$(echoes)
    t0=$(ms_now)
    "$CKPT" dump -t $PID -D "$WORK/img" --leave-running --tcp-established -v4 >dump.$i.log 2>&1 ||
      fail "dump $i: $(tail -20 dump.$i.log)"
    dt=$(($(ms_now) - t0))
    [ $dt -gt $longest ] && longest=$dt
    healthy $PID || fail "dump $i: the echo client does not run on: $(task_states $PID)"
    no_lock_table "after dump $i"
    # Talking between each: 10 more echoes (each waits for the last).
    wait_for 30 at_least $((before + 10)) || fail "dump $i: the echoes stopped at $(echoes): $(cat peer.out)"
    echo "dump $i --leave-running: ${dt} ms, echoes $before -> $(echoes)"
    rm -rf "$WORK/img"
  done
  echo stop > ctl
  finish_target "after 20 dumps"
  peer_verdict
  local stall
  stall=$(grep -o 'max stall [0-9]* ms' peer.out | grep -o '[0-9]*')
  [ -n "$stall" ] || fail "the peer gave no stall figure"
  [ "$stall" -le $((2 * longest + 1000)) ] ||
    fail "the peer stalled $stall ms; the longest dump took $longest ms (limit $((2 * longest + 1000)) ms)"
  echo "the peer's longest stall: $stall ms; the longest dump: $longest ms"
}

failed_dump() {
  start_peer stream --listen 127.0.0.1 5000 --go-after 1
  TARGET_PROG=$CLIENT
  start_target client "CKPT_TEST_TCP_PEER=127.0.0.1 5000" "CKPT_TEST_TCP_LOCAL=127.0.0.1 41000"
  local rc
  CKPT_DUMP_TEST_FAIL=after-network-lock "$CKPT" dump -t $PID -D "$WORK/img" --tcp-established -v4 >dump.log 2>&1
  rc=$?
  echo "the dump made to fail after the lock: exit $rc; its last lines:"; tail -3 dump.log
  [ $rc = 1 ] || fail "the dump exited with $rc, want 1: $(tail -20 dump.log)"
  # (Failed where it was made to, not refused before the lock.)
  grep -q after-network-lock dump.log || fail "the dump's error does not name after-network-lock: $(tail -5 dump.log)"
  no_lock_table "after the failed dump"
  healthy $PID || fail "the client does not run on after the failed dump: $(task_states $PID)"
  ss -Htn state established | grep -q '127.0.0.1:41000' || fail "the connection is gone: $(ss -tan)"
  echo restore > ctl  # the peer may read now: both ways must go on
  finish_target "after the failed dump"
  peer_verdict
}

# (Whatever happens, nothing of the test runs on after it.)
( trap 'kill -KILL ${PID:-} ${PEER_PID:-} 2>/dev/null' EXIT
  case $CASE in
  leave-running) leave_running;;
  failed-dump) failed_dump;;
  *) fail "unknown case $CASE";;
  esac
  echo PASS ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
