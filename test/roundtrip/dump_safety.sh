#!/usr/bin/env bash
# What ckpt writes cannot be turned against anyone, and a dump killed at any
# named point leaves a directory that is either the previous set, intact, or
# refused as incomplete:
#
#  links   every file ckpt writes (dump.log, restore.log, the pidfile, each
#          image and its .tmp name) planted beforehand as a symlink, then as
#          a hard link, to a victim file outside; dump and restore must work
#          and leave every victim as it was.
#  kills   CKPT_DUMP_TEST_KILL makes `ckpt dump` SIGKILL itself at each named
#          point, with and without --leave-running, into a directory holding
#          a complete earlier set (in-commit: among the renames): the
#          earlier set must be intact and restore, a kill into an empty
#          directory or among the renames must be refused as incomplete,
#          and the next dump into the directory must leave no .tmp behind
#          (stale ones of other pids removed, a user's file kept).  What a
#          kill does to the target is fault_injection.sh's to judge, at
#          these points and at random times; here the target is only
#          required to run on where the next step needs it.
#
#   dump_safety.sh CKPT PROG WORK
# PROG is a round-trip program (testlib.h: ready, SIGTERM, PASS): rt_sleeper,
# or rt_threads for a multi-threaded target.
set -u
CKPT=$1
SLEEPER=$2
WORK=$3
COMM=$(basename "$SLEEPER" | cut -c1-15)
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

TARGET_PROG=$SLEEPER
. "$(dirname "$0")/testlib.sh"  # the path is absolute: ctest gives it
restore_detached() {  # DIR [args]
  local dir=$1; shift
  "$CKPT" restore -D "$dir" -d "$@" || fail "restore of $dir: $(tail -3 "$dir/restore.log" 2>/dev/null)"
  wait_for 30 comm_is $PID "$COMM" || fail "pid $PID is not back after the restore of $dir"
}

links() {
  local how=$1  # symlink | hardlink
  echo "== planted ${how}s"
  start_target links-$how
  # The names a dump of this target writes, from a first dump elsewhere.
  "$CKPT" dump -t $PID -D "$WORK/ref-$how" --leave-running || fail "reference dump"
  local names=(dump.log restore.log pidfile pidfile.tmp)
  local f
  for f in $(cd "$WORK/ref-$how" && ls *.img); do names+=("$f" "$f.tmp"); done
  local dir=$WORK/planted-$how victims=$WORK/victims-$how
  mkdir -p "$dir" "$victims"
  for f in "${names[@]}"; do
    echo "victim $f" > "$victims/$f"
    if [ $how = symlink ]; then ln -s "$victims/$f" "$dir/$f"; else ln "$victims/$f" "$dir/$f"; fi
  done
  (cd "$victims" && sha256sum *) > "$WORK/victims-$how.sum"
  "$CKPT" dump -t $PID -D "$dir" --leave-running || fail "dump into planted $how names"
  healthy $PID || fail "the target is not running on after the dump"
  kill_target
  restore_detached "$dir" --pidfile "$dir/pidfile"
  [ "$(cat "$dir/pidfile")" = "$PID" ] || fail "the pidfile says $(cat "$dir/pidfile"), not $PID"
  [ ! -L "$dir/pidfile" ] || fail "the pidfile is still a symlink"
  finish_target links-$how
  (cd "$victims" && sha256sum -c --quiet "$WORK/victims-$how.sum") || fail "a $how victim was written through"
  for f in "${names[@]}"; do
    [ -L "$dir/$f" ] && fail "$dir/$f is still a planted symlink"
  done
  echo "every victim untouched behind ${#names[@]} planted ${how}s"
}

kills() {
  local point=$1 mode=$2  # mode: leave-running | kill
  local tag=$point.$mode dir=$WORK/kill-$point.$mode
  local args=()
  [ $mode = leave-running ] && args=(--leave-running)
  echo "== killed at $point ($mode)"
  start_target kill-$tag
  "$CKPT" dump -t $PID -D "$dir" --leave-running || fail "$tag: the first, complete dump"
  local before
  before=$(sums "$dir")
  CKPT_DUMP_TEST_KILL=$point "$CKPT" dump -t $PID -D "$dir" "${args[@]}" 2>"$WORK/$tag.err"
  local rc=$?
  [ $rc -eq 137 ] || fail "$tag: the dump exited $rc, not by SIGKILL: $(cat "$WORK/$tag.err")"
  if [ $point = in-commit ]; then
    # Killed among the renames: no inventory, and restore says so.
    [ -e "$dir/inventory.img" ] && fail "$tag: an inventory in a half-committed directory"
    local msg
    msg=$("$CKPT" restore -D "$dir" -d 2>&1) && fail "$tag: the restore of a half-committed set succeeded"
    case $msg in *incomplete*"$dir"*|*"$dir"*incomplete*) ;; *) fail "$tag: the restore did not say incomplete: $msg" ;; esac
    # A complete dump over it makes it whole again.
    wait_for 10 healthy $PID || fail "$tag: the target does not run on for the next dump: $(task_states $PID)"
    "$CKPT" dump -t $PID -D "$dir" --leave-running || fail "$tag: the dump after the half commit"
  else
    [ -e "$dir/inventory.img" ] || fail "$tag: no inventory: the directory is neither the old set nor a new one"
  fi
  if [ $point != after-commit ] && [ $point != in-commit ]; then
    [ "$(sums "$dir")" = "$before" ] || fail "$tag: the previous image set changed"
  fi
  # A kill into a directory without an earlier set: refused as incomplete.
  if [ $point = after-freeze ] || [ $point = before-commit ]; then
    local fresh=$WORK/fresh-$tag
    wait_for 10 healthy $PID || fail "$tag: the target does not run on for the next dump: $(task_states $PID)"
    CKPT_DUMP_TEST_KILL=$point "$CKPT" dump -t $PID -D "$fresh" "${args[@]}" 2>/dev/null
    wait_for 10 healthy $PID || fail "$tag: the target is not running on after a second kill"
    local msg
    msg=$("$CKPT" restore -D "$fresh" -d 2>&1) && fail "$tag: the restore of an interrupted dump succeeded"
    case $msg in *incomplete*"$fresh"*|*"$fresh"*incomplete*) ;; *) fail "$tag: the restore did not say incomplete: $msg" ;; esac
  fi
  kill_target
  restore_detached "$dir"
  # What a killed dump of a tree with other pids would have left, and a
  # file of the user's that only looks like one.
  echo stale > "$dir/core-4190001.img.tmp"
  echo stale > "$dir/pages-4190001.img.tmp"
  echo mine > "$dir/notes.tmp"
  "$CKPT" dump -t $PID -D "$dir" --leave-running || fail "$tag: the next dump"
  [ -e "$dir/notes.tmp" ] || fail "$tag: the next dump removed the user's notes.tmp"
  rm "$dir/notes.tmp"
  ls "$dir" | grep -q '\.tmp$' && fail "$tag: .tmp left after the next dump: $(ls "$dir" | grep '\.tmp$')"
  finish_target kill-$tag
  echo "ok: $tag"
}

scenario() {
  links symlink
  links hardlink
  local n=0 point mode
  for point in after-freeze after-infect after-pages before-commit in-commit after-commit; do
    for mode in leave-running kill; do
      kills $point $mode
      n=$((n + 1))
    done
  done
  echo "$n kill points passed"
  echo PASS
}

( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
