#!/usr/bin/env bash
# Stats, --json and the progress line (docs/user-guide.md, "Stats, progress
# and --json"), from outside, one case per run:
#   stats.sh CKPT PROGDIR WORKDIR CASE
#   display   dump and restore with --display-stats: the text, the
#             stats-dump.img and stats-restore.img images and `ckpt show` of
#             them; a second restore from the same set works.
#   json      --json of a dump, a restore, a refused restore, a usage error.
#   blocked   --json of a dump refused for two blockers (io_uring and
#             userfaultfd in two processes): both listed with pid and fd.
#   progress  a dump and a restore of 1.5 GiB on a pseudo-terminal (script)
#             show the progress line; with stderr in a file, nothing of it.
set -u
CKPT=$1
PROGS=$2
WORK=$3
CASE=$4
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

# python3 reads the JSON: exactly one object on stdout, then the checks.
# json_check FILE PYTHON-EXPR...: each expression of `o` must be true.
json_check() {
  local file=$1; shift
  python3 - "$file" "$@" <<'PY' || fail "$file: $(cat "$file")"
import json, sys
text = open(sys.argv[1]).read()
lines = [l for l in text.splitlines() if l.strip()]
if len(lines) != 1:
    sys.exit("not exactly one line of JSON on stdout: %r" % text)
o = json.loads(lines[0])
for expr in sys.argv[2:]:
    if not eval(expr):
        sys.exit("%s is false for %s" % (expr, lines[0]))
PY
}

case_display() {
  TARGET_PROG=$PROGS/rt_memory
  start_target first
  disown $PID  # its end (killed by the dump) is no job of this shell to report
  "$CKPT" dump -t $PID -D img --display-stats >dump.out 2>dump.err || fail "dump: $(tail -5 dump.err)"
  wait_for 10 gone $PID || fail "the dumped pid $PID is still there"
  for line in "Dump stats:" "freezing time" "memory dump time" "frozen time" "pages scanned" "pages written" \
              "pages skipped (zero)" "bytes written" "processes              1"; do
    grep -qF "$line" dump.out || fail "--display-stats of the dump lacks '$line': $(cat dump.out)"
  done
  [ -f img/stats-dump.img ] || fail "no stats-dump.img"
  "$CKPT" show img/stats-dump.img >show-dump.json || fail "ckpt show stats-dump.img"
  python3 -c '
import json, sys
[o] = json.load(open("show-dump.json"))["entries"]
# 128 MiB with a hole every 16th page, and more: at least 30000 pages.
assert int(o["pages_written"]) > 30000 and int(o["pages_scanned"]) > int(o["pages_written"]), o
assert int(o["pages_skipped_zero"]) > 2000, o
assert int(o["bytes_written"]) > int(o["pages_written"]) * 4096, o
assert o["processes"] == 1 and o["threads"] == 1 and int(o["frozen_ns"]) > 0, o
' || fail "stats-dump.img: $(cat show-dump.json)"
  "$CKPT" show img >show-dir.json || fail "ckpt show of the directory"
  grep -q '"stats-dump.img"' show-dir.json || fail "ckpt show DIR does not show stats-dump.img"

  "$CKPT" restore -D img -d --display-stats >restore.out 2>restore.err || fail "restore: $(tail -5 restore.err)"
  for line in "Restore stats:" "loading time" "forking time" "memory time (sum)" "pages restored" "processes"; do
    grep -qF "$line" restore.out || fail "--display-stats of the restore lacks '$line': $(cat restore.out)"
  done
  "$CKPT" show img/stats-restore.img >show-restore.json || fail "ckpt show stats-restore.img"
  python3 -c '
import json
[o] = json.load(open("show-restore.json"))["entries"]
assert int(o["pages_restored"]) > 30000 and o["processes"] == 1 and int(o["load_ns"]) > 0, o
' || fail "stats-restore.img: $(cat show-restore.json)"
  # The set with its stats images restores again (they are no foreign files).
  kill -KILL $PID
  wait_for 10 gone $PID || fail "the restored pid $PID does not die"
  "$CKPT" restore -D img -d >restore2.out 2>restore2.err || fail "second restore from the set: $(tail -5 restore2.err)"
  [ ! -s restore2.out ] || fail "a restore without --display-stats printed: $(cat restore2.out)"
  finish_target "after the second restore"
  echo PASS
}

case_json() {
  TARGET_PROG=$PROGS/rt_sleeper
  start_target first
  disown $PID  # its end (killed by the dump) is no job of this shell to report
  "$CKPT" dump -t $PID -D img --json >dump.json 2>dump.err || fail "dump --json: $(tail -5 dump.err)"
  json_check dump.json 'o["command"] == "dump"' 'o["status"] == "ok"' 'o["blockers"] == []' \
    'o["stats"]["pages_written"] > 0' 'o["stats"]["processes"] == 1' '"class" not in o'
  "$CKPT" restore -D img -d --json >restore.json 2>restore.err || fail "restore --json: $(tail -5 restore.err)"
  json_check restore.json 'o["command"] == "restore"' 'o["status"] == "ok"' 'o["stats"]["pages_restored"] > 0'
  # Again while the pid is taken: refused by the restore's checks, the pid
  # its one blocker.
  "$CKPT" restore -D img -d --json >taken.json 2>taken.err && fail "a restore over a live pid succeeded"
  json_check taken.json 'o["command"] == "restore"' 'o["status"] == "error"' 'o["class"] == "blocked"' \
    "str($PID) in o['error']" 'len(o["blockers"]) == 1' "o['blockers'][0]['pid'] == $PID" \
    'o["blockers"][0]["kind"] == "pid"' 'o["stats"] == {}'
  # A flipped header byte: the images class.
  cp -r img bad && printf 'X' | dd of=bad/core-$PID.img bs=1 seek=9 conv=notrunc status=none
  "$CKPT" restore -D bad -d --json >bad.json 2>bad.err && fail "a corrupted image restored"
  json_check bad.json 'o["status"] == "error"' 'o["class"] == "images"' '"core-" in o["error"]'
  # Usage: a parse error, and a dump without its pid.
  "$CKPT" dump --json --no-such-option >usage1.json 2>/dev/null && fail "an unknown option was accepted"
  json_check usage1.json 'o["command"] == "dump"' 'o["class"] == "usage"' '"no-such-option" in o["error"]'
  "$CKPT" dump --json -D img2 >usage2.json 2>/dev/null && fail "a dump without -t succeeded"
  json_check usage2.json 'o["class"] == "usage"' '"-t PID" in o["error"]'
  # Without --json nothing on stdout.
  "$CKPT" restore -D img -d >plain.out 2>/dev/null
  [ ! -s plain.out ] || fail "a failed restore without --json printed on stdout: $(cat plain.out)"
  finish_target "after the restore"
  echo PASS
}

case_blocked() {
  TARGET_PROG=$PROGS/rt_blockers
  start_target first
  disown $PID  # its end (killed by the dump) is no job of this shell to report
  "$CKPT" dump -t $PID -D img --json >dump.json 2>dump.err && fail "the tree with blockers was dumped"
  json_check dump.json 'o["status"] == "error"' 'o["class"] == "blocked"' 'len(o["blockers"]) == 2' \
    'all(b["fd"] >= 0 and b["pid"] > 0 for b in o["blockers"])' \
    'any("io_uring" in b["reason"] and b["pid"] == '$PID' for b in o["blockers"])' \
    'any("userfaultfd" in b["reason"] and b["pid"] != '$PID' for b in o["blockers"])' \
    'all(("fd %d of pid %d" % (b["fd"], b["pid"])) in b["text"] for b in o["blockers"])' \
    '"for 2 reasons" in o["error"]'
  grep -q "for 2 reasons" dump.err || fail "the refusal on stderr: $(cat dump.err)"
  healthy $PID || fail "the refused tree is not running as before: $(task_states $PID)"
  finish_target "after the refusal"
  echo PASS
}

# What the progress line leaves: "dump: N MiB of N.N GiB (N.N GiB/s)".
progress_seen() { grep -aqE "$1: [0-9.]+ [KMG]iB of [0-9.]+ [KMG]iB \([0-9.]+ [KMG]?i?B/s\)" "$2"; }

case_progress() {
  TARGET_PROG=$PROGS/rt_big_memory
  local images=/dev/shm/ckpt-stats-progress.$$
  rm -rf $images
  trap 'rm -rf '$images' '$images'.file' EXIT
  start_target first CKPT_TEST_MIB=1536
  disown $PID  # its end (killed by the dump) is no job of this shell to report
  # On a pseudo-terminal: script runs the dump with its stderr on one.  The
  # first second's quiet is for people: a quiet machine dumps this in less,
  # so the test shows the line from the start (CKPT_PROGRESS_AFTER_MS).
  export CKPT_PROGRESS_AFTER_MS=0
  script -qfec "'$CKPT' dump -t $PID -D $images" pty-dump.log </dev/null >/dev/null ||
    fail "dump on a terminal: $(tail -c 2000 pty-dump.log)"
  wait_for 10 gone $PID || fail "the dumped pid $PID is still there"
  progress_seen dump pty-dump.log || fail "no progress line on the terminal: $(tail -c 500 pty-dump.log | od -c | tail -20)"
  grep -aq $'\r\033\[K' pty-dump.log || fail "the progress line is not redrawn in place"
  script -qfec "'$CKPT' restore -D $images -d" pty-restore.log </dev/null >/dev/null ||
    fail "restore on a terminal: $(tail -c 2000 pty-restore.log)"
  wait_for 10 comm_is $PID rt_big_memory || fail "pid $PID is not back"
  progress_seen restore pty-restore.log ||
    fail "no progress line of the restore on the terminal: $(tail -c 500 pty-restore.log | od -c | tail -20)"
  # The same dump with stderr in a file: not a byte of progress.
  "$CKPT" dump -t $PID -D $images.file --leave-running 2>dump.err || fail "dump into a file: $(tail -5 dump.err)"
  if grep -aq "dump: \|"$'\r' dump.err; then fail "progress output with stderr in a file: $(od -c dump.err | head)"; fi
  "$CKPT" show $images/stats-dump.img >stats.json || fail "ckpt show stats-dump.img"
  python3 -c '
import json
[o] = json.load(open("stats.json"))["entries"]
assert int(o["total_ns"]) > 0 and int(o["pages_written"]) > 0, o
' || fail "$(cat stats.json)"
  finish_target "after the restore"
  echo PASS
}

case_$CASE
