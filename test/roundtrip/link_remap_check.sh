#!/usr/bin/env bash
# link_remap_check.sh CKPT PROG WORK: `ckpt check -t` on a tree that holds
# and maps a deleted file with another name (PROG is rt_link_remap): without
# --link-remap the fd and the area are named with the option as remedy (exit
# 1), with it the tree can be dumped (exit 0); check makes no link, and the
# tree runs on and passes its own check (no link left behind).
set -uo pipefail
CKPT=$1 TARGET_PROG=$2 WORK=$3
. "$(dirname "$0")/testlib.sh"
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || fail "cannot make $WORK"

start_target check CKPT_TEST_MODE=check
# Whatever happens, the target goes with the test.
trap 'kill -KILL $PID 2>/dev/null' EXIT
"$CKPT" check -t $PID >without.out 2>&1
rc=$?
[ $rc = 1 ] || fail "check -t without --link-remap exited $rc: $(cat without.out)"
# (The fd's number is the program's first free one: 3 when it inherits none.)
for want in "^pid $PID fd [0-9]+: deleted file: $WORK/link-remap.dat was deleted but still has 1 other link: use --link-remap\$" \
            "^pid $PID memory area [0-9a-f]+-[0-9a-f]+ \($WORK/link-remap.dat \(deleted\)\): its file $WORK/link-remap.dat was deleted but still has 1 other link: use --link-remap\$"; do
  grep -qE -- "$want" without.out || fail "no line like '$want' in: $(cat without.out)"
done
"$CKPT" check -t $PID --link-remap >with.out 2>&1 || fail "check -t --link-remap refused: $(cat with.out)"
grep -qF "The tree of pid $PID (1 process) can be dumped with these options." with.out || fail "$(cat with.out)"
healthy $PID || fail "the tree is not running as before after the checks: $(task_states $PID)"
ls -A | grep -q '^\.ckpt_link_remap' && fail "check left a link: $(ls -A)"
finish_target "after the checks"
echo PASS
