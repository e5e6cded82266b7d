# Shared by the shell round trips (sourced): a failure message, a bounded
# wait, and what the tests that kill ckpt check in a target.  The caller
# sets WORK (its work dir) and TARGET_PROG (a round-trip program: testlib.h's
# ready, SIGTERM, PASS) before start_target.

fail() { echo "FAIL: $*"; exit 1; }

# Bounded wait for a condition: wait_for SECONDS CMD..., looking again
# every WAIT_STEP seconds.
WAIT_STEP=0.05
# (The deadline in microseconds: $SECONDS may tick just after the start.)
wait_for() {
  local limit=$1; shift
  local now=${EPOCHREALTIME/./}
  local end=$((now + limit * 1000000))
  until "$@"; do
    now=${EPOCHREALTIME/./}
    [ $now -ge $end ] && return 1
    sleep $WAIT_STEP
  done
}

gone() { [ ! -d /proc/$1 ] || grep -q '^State:.*[ZX]' /proc/$1/status 2>/dev/null; }
comm_is() { [ "$(cat /proc/$1/comm 2>/dev/null)" = "$2" ]; }
# Running as before: alive, no thread stopped or traced.
# (One awk over every thread's status: this runs after each of hundreds of
# kills.)
healthy() {
  [ -d /proc/$1 ] || return 1
  awk '/^State:/ { seen++; if ($2 ~ /[TtZX]/) bad = 1 } /^TracerPid:/ && $2 != 0 { bad = 1 }
       END { exit bad || !seen }' /proc/$1/task/*/status 2>/dev/null
}
# What a task's state says when it is not healthy, on one line.
task_states() {
  local t
  for t in /proc/$1/task/*; do
    echo "${t##*/}: $(grep -E '^(State|TracerPid)' $t/status 2>/dev/null | tr '\n\t' '  ')"
  done 2>/dev/null | tr '\n' ';'
}
# What must not change in a target a dump let go: its areas, each thread's
# signal mask, dispositions and pending signals, its fds.
fingerprint() {
  {
    cat /proc/$1/maps
    awk '/^(Sig(Blk|Ign|Cgt|Pnd)|ShdPnd):/ { line[FILENAME] = line[FILENAME] " " $1 " " $2 }
         END { for (f in line) print f line[f] }' /proc/$1/task/*/status | sort
    ls -l /proc/$1/fd | awk '{print $9, $10, $11}'
  } 2>/dev/null
}
has_pass() { grep -q '^PASS' "$1"; }

READY=0
ready_seen() { [ $READY = 1 ]; }
# start_target TAG [VAR=VALUE...]: TARGET_PROG in a session of its own, with
# those variables; sets PID, OUT (its stdout and stderr) once it is ready.
start_target() {
  local tag=$1; shift
  OUT=$WORK/$tag.out
  READY=0
  # (In the caller's subshell: $BASHPID, and the trap set here; $BASHPID
  # inside the & would be the child's own.)
  trap 'READY=1' USR1
  local me=$BASHPID
  env CKPT_TEST_DRIVER=$me "$@" setsid "$TARGET_PROG" </dev/null >"$OUT" 2>&1 &
  PID=$!
  wait_for 30 ready_seen || fail "$tag: $TARGET_PROG did not get ready: $(cat "$OUT")"
}
# SIGTERM to a (restored) target, whose verdict is PASS in OUT.
finish_target() {
  kill -TERM $PID
  wait_for 30 has_pass "$OUT" || fail "$1: no PASS from pid $PID: $(cat "$OUT")"
  wait_for 10 gone $PID || fail "$1: pid $PID does not end"
}
kill_target() {
  kill -KILL $PID 2>/dev/null
  wait_for 10 gone $PID || fail "pid $PID does not die"
  wait $PID 2>/dev/null
}
# The images of DIR, each with its checksum and size; one over 1 MiB (a
# pages image, read again and again by the fault-injection test) with its
# inode, size, mtime and ctime instead, which any write, truncation or
# rename over it changes.  The stats images are left out: written after
# the set is committed, and stats-restore.img by every restore
# (docs/image-format.md, "Stats images").
sums() {
  (cd "$1" && find . -maxdepth 1 -name '*.img' ! -name 'stats-*.img' -size -1025k -exec cksum -a crc {} + 2>/dev/null |
    sort -k3 &&
    find . -maxdepth 1 -name '*.img' ! -name 'stats-*.img' -size +1024k -printf '%i %s %T@ %C@ %f\n' | sort -k5)
}
