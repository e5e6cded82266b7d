#!/usr/bin/env bash
# check_tree.sh CKPT PROG WORK: `ckpt check -t` on running trees (PROG is
# rt_check_tree).  A tree with several blockers: each is named with its
# remedy, the remedies' options take theirs away, and the tree never stops
# (its counter moves on while it is checked, no task is ever stopped or
# traced).  A tree with an established TCP connection: named without
# --tcp-established, and without CAP_NET_ADMIN the capability is.  A clean
# tree: exit 0, and the dump then succeeds.  Run in a network namespace of
# its own (unshare -n), under rt_subreaper.
set -uo pipefail
CKPT=$1 PROG=$2 WORK=$3
. "$(dirname "$0")/testlib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" || fail "cannot make $WORK"
ip link set lo up || fail "cannot bring lo up (run in a network namespace of its own)"

ready_in() { grep -q '^ready' "$1" 2>/dev/null; }
count_of() { od -An -tu8 -N8 "$1" 2>/dev/null | tr -d ' '; }
# start MODE TAG ARGS...: the tree, PID its root, HB its heartbeat file.
start() {
  local mode=$1 tag=$2; shift 2
  HB=$WORK/$tag.beat OUT=$WORK/$tag.out
  "$PROG" "$mode" "$HB" "$@" </dev/null >"$OUT" 2>&1 &
  PID=$!
  wait_for 30 ready_in "$OUT" || fail "$tag: $PROG did not get ready: $(cat "$OUT")"
}
stop() {
  kill -TERM $PID
  wait_for 30 has_pass "$OUT" || fail "$1: no PASS from pid $PID after the checks: $(cat "$OUT")"
  wait $PID
}
# expect_line FILE TEXT: a line of FILE has TEXT.
expect_line() { grep -qF -- "$2" "$1" || fail "no line with '$2' in: $(cat "$1")"; }
expect_none() { ! grep -qF -- "$2" "$1" || fail "a line with '$2' in: $(cat "$1")"; }

# --- a tree with several blockers ---------------------------------------
"$PROG" serve "$WORK/server.sock" </dev/null >"$WORK/server.out" 2>&1 &
server=$!
wait_for 30 ready_in "$WORK/server.out" || fail "the unix server did not get ready"
# A pipe whose other end is held outside the tree (by sleep, and by this
# shell's fd 7 until the tree has its copy).
exec 7< <(exec sleep 600)
holder=$!
start blocked blocked "$WORK/server.sock" 3<&7 7<&-
exec 7<&-
child=$(cat /proc/$PID/task/*/children | tr -d " ")
[ -n "$child" ] || fail "pid $PID has no child"
pipe=$(readlink /proc/$PID/fd/3)

# Stopped or traced at any moment of the checks: recorded by a watcher.
watch_tree() {
  while [ ! -e "$WORK/checks-done" ]; do
    for p in $PID $child; do healthy $p || echo "$p: $(task_states $p)" >>"$WORK/unhealthy"; done
  done
}
watch_tree &
watcher=$!
before=$(count_of "$HB")
for i in $(seq 1 20); do
  "$CKPT" check -t $PID >"$WORK/check.out" 2>"$WORK/check.err"
  rc=$?
  [ $rc = 1 ] || fail "check -t exits $rc on a tree with blockers: $(cat "$WORK/check.out" "$WORK/check.err")"
done
touch "$WORK/checks-done"
wait $watcher
after=$(count_of "$HB")
[ ! -s "$WORK/unhealthy" ] || fail "the tree was stopped or traced during the checks: $(head -3 "$WORK/unhealthy")"
[ -n "$before" ] && [ -n "$after" ] && [ "$after" -gt "$before" ] ||
  fail "the counter did not move during the checks ($before, then $after)"
echo "the counter moved from $before to $after during 20 checks; no task stopped"

out=$WORK/check.out
cat "$out"
expect_line "$out" "pid $PID fd "
grep -qE "^pid $PID fd [0-9]+: io_uring is not supported yet$" "$out" || fail "no io_uring line: $(cat "$out")"
grep -qE "^pid $child fd [0-9]+: userfaultfd is not supported yet$" "$out" || fail "no userfaultfd line: $(cat "$out")"
grep -qE "^pid $PID fd [0-9]+: unix socket connected to a peer outside the tree \\($WORK/server.sock, inode [0-9]+\\): use --ext-unix-sk$" "$out" ||
  fail "no line for the unix socket: $(cat "$out")"
grep -qE "^pid $PID fd 3: pipe: its read end of ${pipe//[\[\]]/.} is connected to pid $holder \(fd 1\), outside the tree: dump with --external ${pipe//[\[\]]/.} and restore with --inherit-fd" "$out" ||
  fail "no line for the pipe to pid $holder: $(cat "$out")"
expect_line "$out" "cannot be dumped with these options: 4 blockers"

# The remedies take their blockers away.
"$CKPT" check -t $PID --ext-unix-sk --external "$pipe" >"$WORK/check2.out" 2>&1
rc=$?
[ $rc = 1 ] || fail "check -t --ext-unix-sk --external exits $rc: $(cat "$WORK/check2.out")"
expect_none "$WORK/check2.out" "unix socket"
expect_none "$WORK/check2.out" "$pipe"
expect_line "$WORK/check2.out" "2 blockers"

# The same pre-flight refuses the dump, naming every blocker.
"$CKPT" dump -t $PID -D "$WORK/blocked.img" >"$WORK/dump.out" 2>&1 && fail "the dump of a blocked tree succeeded"
for text in "for 4 reasons" "io_uring is not supported yet" "userfaultfd is not supported yet" "use --ext-unix-sk" "--external $pipe"; do
  expect_line "$WORK/dump.out" "$text"
done
healthy $PID || fail "pid $PID not running on after the refused dump: $(task_states $PID)"
stop blocked
kill $server $holder 2>/dev/null
wait $server $holder 2>/dev/null

# --- established TCP connections -----------------------------------------
start tcp tcp
"$CKPT" check -t $PID >"$WORK/check-tcp.out" 2>&1 && fail "check -t passes a tree with TCP connections"
cat "$WORK/check-tcp.out"
grep -qE "^pid $PID fd [0-9]+: inet socket: established TCP connection 127.0.0.1:[0-9]+ -> 127.0.0.1:[0-9]+: use --tcp-established$" "$WORK/check-tcp.out" ||
  fail "no line for the connection: $(cat "$WORK/check-tcp.out")"
"$CKPT" check -t $PID --tcp-established >"$WORK/check-tcp2.out" 2>&1 || fail "check -t --tcp-established: $(cat "$WORK/check-tcp2.out")"
capsh --drop=cap_net_admin -- -c "exec '$CKPT' check -t $PID --tcp-established" >"$WORK/check-tcp3.out" 2>&1 &&
  fail "check -t --tcp-established passes without CAP_NET_ADMIN: $(cat "$WORK/check-tcp3.out")"
cat "$WORK/check-tcp3.out"
expect_line "$WORK/check-tcp3.out" "pid $PID: the tree holds 2 established TCP connections, and ckpt needs CAP_NET_ADMIN to repair TCP connections"
stop tcp

# --- a tree that can be dumped --------------------------------------------
start clean clean
"$CKPT" check -t $PID >"$WORK/check-clean.out" 2>&1 || fail "check -t refuses a clean tree: $(cat "$WORK/check-clean.out")"
expect_line "$WORK/check-clean.out" "The tree of pid $PID (1 process) can be dumped with these options."
"$CKPT" dump -t $PID -D "$WORK/clean.img" >"$WORK/clean-dump.out" 2>&1 || fail "the dump after check -t failed: $(cat "$WORK/clean-dump.out")"
wait $PID 2>/dev/null
echo "PASS: check -t"
