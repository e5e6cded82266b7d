#!/usr/bin/env bash
# The user's scenario from the round-trip issue, literally, from a shell:
#   sleep 1000 &
#   ckpt dump -t $! -D DIR --shell-job --leave-running
#   kill $!
#   ckpt restore -D DIR --shell-job      # sleep runs again, same PID
# and the same for a shell loop that goes on appending to its file.
set -u
CKPT=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

. "$(dirname "$0")/testlib.sh"  # fail, wait_for (the path is absolute: ctest gives it)
is_running() { [ -d /proc/$1 ] && ! grep -q '^State:.*[ZX]' /proc/$1/status 2>/dev/null; }
gone() { [ ! -d /proc/$1 ]; }
comm_is() { [ "$(cat /proc/$1/comm 2>/dev/null)" = "$2" ]; }

scenario() {
echo "== sleep 1000"
sleep 1000 &
pid=$!
"$CKPT" dump -t $pid -D "$WORK/sleep" --shell-job --leave-running || fail "dump of sleep"
is_running $pid || fail "sleep is gone after --leave-running"
kill $pid; wait $pid 2>/dev/null
"$CKPT" restore -D "$WORK/sleep" --shell-job &
restorer=$!
wait_for 30 comm_is $pid sleep || fail "sleep is not back with pid $pid"
echo "sleep is back as pid $pid"
kill $pid
wait $restorer; rc=$?
[ $rc -eq 143 ] || fail "ckpt restore exited $rc, want 143 (sleep killed by SIGTERM)"

echo "== shell loop"
bash -c 'while :; do date; sleep 1; done > out.txt' &
pid=$!
wait_for 30 test -s out.txt || fail "the loop writes nothing"
"$CKPT" dump -t $pid -D "$WORK/loop" --shell-job --leave-running || fail "dump of the loop"
kids=$(cat /proc/$pid/task/$pid/children 2>/dev/null)
kill $pid; wait $pid 2>/dev/null
# The loop's `sleep 1` outlives bash by up to a second and holds its pid
# until then, as it would for a user at the prompt: restore once it is gone.
for k in $kids; do wait_for 10 gone $k || fail "the loop's child $k does not end"; done
lines=$(wc -l < out.txt)
"$CKPT" restore -D "$WORK/loop" --shell-job &
restorer=$!
wait_for 30 comm_is $pid bash || fail "the loop is not back with pid $pid"
more() { [ "$(wc -l < out.txt)" -gt $((lines + 1)) ]; }
wait_for 30 more || fail "the restored loop does not append to out.txt"
echo "the loop appends again: $(wc -l < out.txt) lines"
kill -KILL $pid
wait $restorer
# (rt_subreaper reaps the loop's last sleep.)
echo PASS
}

# ctest hands us pipes; the targets' stdio must be files ckpt restores.
# (bash keeps its own stdout aside close-on-exec; the subshell lets fail exit.)
( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
