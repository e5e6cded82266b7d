#!/usr/bin/env bash
# A pipe from outside the tree, as a shell makes `loop | cat > out1`:
# refused by name without options; dumped with --external pipe:[INO] and
# restored with --inherit-fd fd[5]:pipe:[INO] onto a new pipe to another
# cat.  The two output files together hold an unbroken sequence.
#   pipe_external.sh CKPT WORKDIR
set -u
CKPT=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

lines() { cat "$@" 2>/dev/null | wc -l; }
more_than() { local n=$1; shift; [ "$(lines "$@")" -gt "$n" ]; }
check_sequence() {
  cat out1.txt out2.txt | awk '$1 != NR - 1 { printf "line %d is \"%s\", want %d\n", NR, $0, NR - 1; bad = 1; exit }
                               END { exit bad }'
}

scenario() {
  # The loop's stdout is a pipe to a cat outside the tree: our child, made
  # before the loop (a process substitution on the loop itself would make
  # cat the loop's child); we keep no end of it.
  exec 7> >(exec cat > out1.txt)
  setsid bash -c 'i=0; while :; do echo $i; i=$((i + 1)); sleep 0.01; done' </dev/null 2>loop.log >&7 7>&- &
  pid=$!
  echo $pid > pid
  exec 7>&-
  wait_for 30 more_than 50 out1.txt || fail "the loop writes nothing: $(cat loop.log)"
  ino=$(stat -L -c %i /proc/$pid/fd/1) || fail "no fd 1"
  key="pipe:[$ino]"

  "$CKPT" dump -t $pid -D "$WORK/refused" 2>refused.err && fail "a pipe to outside the tree was dumped"
  grep -qF "fd 1 of pid $pid: its write end of $key is connected to pid" refused.err ||
    fail "the refusal does not name fd 1 and $key: $(cat refused.err)"
  grep -qF -- "--external $key and restore with --inherit-fd fd[N]:$key" refused.err ||
    fail "the refusal does not name the options: $(cat refused.err)"
  healthy $pid || fail "the refused loop is not running as before: $(task_states $pid)"

  "$CKPT" dump -t $pid -D "$WORK/img" --external "$key" -v4 2>dump.err || fail "dump with --external: $(tail -5 dump.err)"
  wait_for 10 gone $pid || fail "the dumped loop $pid is still there"
  # (The first cat reads what was left in the pipe, then sees EOF: long
  # before the second has 50 lines.)

  # Without the pipe handed in, the restore is refused by name.
  "$CKPT" restore -D "$WORK/img" -d 2>norestore.err && fail "restored without --inherit-fd"
  grep -qF -- "--inherit-fd fd[N]:$key" norestore.err || fail "the restore refusal does not name the option: $(cat norestore.err)"

  exec 8> >(exec cat > out2.txt)
  "$CKPT" restore -D "$WORK/img" -d --inherit-fd "fd[5]:$key" -v4 2>restore.err 5>&8 8>&- ||
    fail "restore with --inherit-fd: $(tail -5 restore.err)"
  exec 8>&-
  wait_for 30 comm_is $pid bash || fail "the loop is not back with pid $pid"
  wait_for 30 more_than 50 out2.txt || fail "the restored loop does not write to the new pipe: $(cat loop.log)"
  kill -KILL -- -$pid
  wait_for 10 gone $pid || fail "the restored loop does not die"
  before=$(lines out1.txt)
  check_sequence || fail "the sequence is broken across the restore ($before lines before)"
  echo "$before numbers through the first pipe, $(lines out2.txt) through the one handed in, in order"
  echo PASS
}

( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
[ $rc -eq 0 ] || kill -KILL -- -$(cat "$WORK/pid" 2>/dev/null) 2>/dev/null
exit $rc
