#!/usr/bin/env bash
# A shell pipeline of three processes (a counter loop | sed | cat >> a file)
# dumped and restored while it runs: the numbers in its output file, read
# from outside, go on with no gap and no duplicate.  Whatever sat in the
# two pipes between the stages at dump comes out after restore, once.
#   pipe_pipeline.sh CKPT WORKDIR
set -u
CKPT=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

lines() { cat out.txt 2>/dev/null | wc -l; }
more_than() { [ "$(lines)" -gt "$1" ]; }
# Every line is "n K" with K = 0, 1, 2 ... in order; a last line without
# its newline (cut by the kill) is left out.
check_sequence() {
  awk 'substr($0, 1, 2) != "n " || $2 != NR - 1 { printf "line %d is \"%s\", want \"n %d\"\n", NR, $0, NR - 1; bad = 1; exit }
       END { exit bad }' out.txt
}
kill_tree() {
  kill -KILL -- -$1 2>/dev/null
  wait_for 10 gone $1 || fail "the pipeline $1 does not die"
}

scenario() {
  # In a session of its own (so that it is killed by process group), stdio
  # on files ckpt restores.  The loop writes 200 numbers every 50 ms, sed
  # passes them on in blocks of 4 KiB, and the last stage, a shell loop,
  # rests 0.2 s every 500 lines: it is the slowest, so the pipes before it
  # are mostly full and the dump finds bytes in them (the test does not
  # count on it; it prints how many).
  setsid bash -c 'i=0; while :; do seq $i $((i + 199)); i=$((i + 200)); sleep 0.05; done | sed "s/^/n /" |
                  while read -r line; do echo "$line"; [ $((++n % 500)) = 0 ] && sleep 0.2; done >> out.txt' \
    </dev/null >pipeline.log 2>&1 &
  pid=$!
  echo $pid > pid
  # sed buffers its output (4 KiB) before cat sees any.
  wait_for 60 more_than 100 || fail "the pipeline writes nothing: $(cat pipeline.log)"
  "$CKPT" dump -t $pid -D "$WORK/img" -v4 2>dump.err || fail "dump of the pipeline: $(tail -5 dump.err)"
  wait_for 10 gone $pid || fail "the dumped pipeline $pid is still there"
  before=$(lines)
  check_sequence || fail "the sequence is broken before the restore"
  "$CKPT" restore -D "$WORK/img" -d -v4 2>restore.err || fail "restore of the pipeline: $(tail -5 restore.err)"
  wait_for 30 comm_is $pid bash || fail "the pipeline is not back with pid $pid"
  queued=$(grep -o '[0-9]* bytes queued' dump.err | awk '{ n += $1 } END { print n + 0 }')
  wait_for 60 more_than $((before + 300)) || fail "the restored pipeline does not write: $(lines) lines, $before at dump"
  kill_tree $pid
  check_sequence || fail "the sequence is broken after the restore ($before lines at dump)"
  echo "$(lines) numbers in order, $before of them before the dump, $queued bytes in the pipes at dump"
  echo PASS
}

( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
[ $rc -eq 0 ] || kill -KILL -- -$(cat "$WORK/pid" 2>/dev/null) 2>/dev/null
exit $rc
