#!/usr/bin/env bash
# restore --root PATH (kinds/root.cmake):
#   root.sh CKPT TARGET_PROG WORK
# Run in a private mount namespace of the test's own (unshare -m
# --propagation private): PATH is a bind mount of / (mount --rbind), so the
# files are the same inodes, as ckpt checks, with a tmpfs over PATH's copy
# of fresh/ (the unix socket and the deleted file are made again there, or
# nowhere).  The target (progs/root_files.cpp) is dumped once; then
#   - --root /nonexistent, an empty directory, and PATH with a file of the
#     images hidden (an fd's, an inotify watch's), are each refused, naming the path as looked up, and
#     nothing is created (the pid stays free, fresh/ stays empty);
#   - --root PATH: the restored task's root is PATH, its cwd and every file
#     (fds, mapped files, exe) PATH + what the dump saw, and the program
#     finds its files working;
#   - --root / is the host's root, as no --root.
# dump --root is still refused by the parser (a restore option, as CRIU's).
# Runs under rt_subreaper, which reaps what -d leaves behind.
set -u
CKPT=$1
TARGET_PROG=$2
WORK=$3
. "$(dirname "$0")/testlib.sh"

# The mounts below must never reach the host's namespace (nor an rm -rf
# reach through PATH into /).
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] ||
  { echo "FAIL: not in a mount namespace of its own (run under unshare -m --propagation private)"; exit 1; }
rm -rf --one-file-system "$WORK" && mkdir -p "$WORK/files" "$WORK/watched" "$WORK/fresh" && cd "$WORK" || exit 1

R=$WORK/R
link_of() { readlink "/proc/$PID/$1"; }
pid_free() { [ ! -d /proc/$PID ]; }

restore_refused() {  # restore_refused TAG EXPECTED-TEXT ROOT
  if "$CKPT" restore -D "$WORK/img" -d --root "$3" 2>"$WORK/restore.err"; then
    fail "$1: the restore with --root $3 succeeded"
  fi
  grep -qF "$2" "$WORK/restore.err" || fail "$1: the error does not name $2: $(cat "$WORK/restore.err")"
  pid_free || fail "$1: pid $PID exists after the refused restore"
  [ -z "$(ls -A "$R$WORK/fresh")" ] || fail "$1: the refused restore made $(ls -A "$R$WORK/fresh") under $R"
  echo "$1: refused: $(tail -1 "$WORK/restore.err")"
}

# Every file of the restored task, as the host sees it: under PATH.
check_under_root() {
  [ "$(link_of root)" = "$R" ] || fail "its root is $(link_of root), not $R"
  [ "$(link_of cwd)" = "$R$WORK/cwd" ] || fail "its cwd is $(link_of cwd), not $R$WORK/cwd"
  [ "$(link_of exe)" = "$R$TARGET_PROG" ] || fail "its exe is $(link_of exe), not $R$TARGET_PROG"
  local fd link n=0
  for fd in /proc/$PID/fd/*; do
    link=$(readlink "$fd")
    case $link in
      /*) n=$((n + 1)); [ "${link#"$R"/}" != "$link" ] || fail "fd ${fd##*/} is $link, not under $R" ;;
    esac
  done
  for want in "$R$WORK/files/data.txt" "$R$WORK/files/fifo" "$R$WORK/fresh/ghost (deleted)" "$R/dev/null"; do
    ls -l /proc/$PID/fd | grep -qF -- "-> $want" || fail "no fd on $want: $(ls -l /proc/$PID/fd)"
  done
  awk '$6 ~ /^\// { print $6 }' /proc/$PID/maps | sort -u >"$WORK/maps.paths"
  grep -qxF "$R$WORK/files/mapped.bin" "$WORK/maps.paths" || fail "$WORK/files/mapped.bin is not mapped from $R"
  ! grep -v "^$R/" "$WORK/maps.paths" || fail "areas mapped from outside $R"
  # The socket file is in PATH's fresh/ (a tmpfs of PATH's only).
  [ -S "$R$WORK/fresh/sock" ] || fail "no socket file $R$WORK/fresh/sock: $(ls -A "$R$WORK/fresh")"
  echo "--root $R: root, cwd, exe, $n fds with paths and the mapped files all under $R"
}

start_target root
"$CKPT" dump -t $PID -D "$WORK/img" 2>"$WORK/dump.err" || fail "dump: $(cat "$WORK/dump.err")"
wait_for 10 gone $PID || fail "pid $PID still runs after the dump"
{ wait $PID; } 2>/dev/null

# A restore option: dump refuses it by name.
if "$CKPT" dump -t $BASHPID -D "$WORK/img2" --root / 2>"$WORK/dump.err"; then fail "dump --root was accepted"; fi
grep -qF "option '--root' does not apply to dump" "$WORK/dump.err" || fail "dump --root: $(cat "$WORK/dump.err")"

mkdir "$R" "$WORK/empty" || fail "mkdir"
mount --rbind / "$R" || fail "cannot bind / at $R"
mount -t tmpfs -o size=1m ckpt-root-test "$R$WORK/fresh" || fail "cannot mount a tmpfs at $R$WORK/fresh"
trap 'umount -l "$R" 2>/dev/null' EXIT

restore_refused "--root /nonexistent" \
  "cannot use /nonexistent-ckpt-root as the root (--root): No such file or directory" /nonexistent-ckpt-root
restore_refused "an empty root" "$WORK/empty/" "$WORK/empty"
# The images' regular file hidden under PATH (a tmpfs over its directory there).
mount -t tmpfs -o size=1m ckpt-root-test "$R$WORK/files" || fail "cannot mount a tmpfs at $R$WORK/files"
restore_refused "a file missing under the root" "$R$WORK/files/data.txt: No such file or directory" "$R"
umount "$R$WORK/files" || fail "cannot unmount $R$WORK/files"
# The inotify watch's file hidden the same way.
mount -t tmpfs -o size=1m ckpt-root-test "$R$WORK/watched" || fail "cannot mount a tmpfs at $R$WORK/watched"
restore_refused "a watched file missing under the root" "$R$WORK/watched/target, which cannot be opened" "$R"
umount "$R$WORK/watched" || fail "cannot unmount $R$WORK/watched"

"$CKPT" restore -D "$WORK/img" -d --root "$R" 2>"$WORK/restore.err" || fail "restore --root: $(cat "$WORK/restore.err")"
wait_for 10 comm_is $PID "$(basename "$TARGET_PROG" | cut -c1-15)" || fail "pid $PID is not back"
check_under_root
finish_target "restore --root $R"
echo "--root $R: the program's files work in its root"

# --root / is no --root at all.
"$CKPT" restore -D "$WORK/img" -d --root / 2>"$WORK/restore.err" || fail "restore --root /: $(cat "$WORK/restore.err")"
wait_for 10 comm_is $PID "$(basename "$TARGET_PROG" | cut -c1-15)" || fail "pid $PID is not back"
[ "$(link_of root)" = / ] && [ "$(link_of cwd)" = "$WORK/cwd" ] && [ "$(link_of exe)" = "$TARGET_PROG" ] ||
  fail "--root /: root $(link_of root), cwd $(link_of cwd), exe $(link_of exe)"
ls -l /proc/$PID/fd | grep -qF -- "-> $WORK/files/data.txt" || fail "--root /: no fd on $WORK/files/data.txt"
finish_target "restore --root /"
echo "--root /: the host's root"
echo PASS
