#!/usr/bin/env bash
# CRIU's options that change what dump and restore do (kinds/criu_options.cmake):
#   criu_options.sh CASE CKPT TARGET_PROG WORK
# Each case runs a round-trip program (testlib.h: ready, SIGTERM, PASS) from
# a shell, dumps and restores it with the option, and checks what the option
# promises.  Runs under rt_subreaper, which reaps what -d leaves behind.
set -u
CASE=$1
CKPT=$2
TARGET_PROG=$3
WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

# Every thread of $1 in a group stop (State T), not traced.
all_stopped() {
  [ -d /proc/$1 ] || return 1
  awk '/^State:/ { seen++; if ($2 != "T") bad = 1 } /^TracerPid:/ && $2 != 0 { bad = 1 }
       END { exit bad || !seen }' /proc/$1/task/*/status 2>/dev/null
}
ppid_of() { awk '{print $4}' /proc/$1/stat; }
# The cgroup v2 mount (/sys/fs/cgroup, or /sys/fs/cgroup/unified on a hybrid system).
cgroup2_root() { awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts; }
v2_cgroup_of() { sed -n 's/^0:://p' /proc/$1/cgroup; }
CGROUP=
make_cgroup() {
  local root
  root=$(cgroup2_root)
  [ -n "$root" ] || fail "no cgroup v2 file system is mounted"
  CGROUP=$root/ckpt-criu-options-$$
  mkdir "$CGROUP" || fail "cannot make $CGROUP"
}
remove_cgroup() {
  [ -n "$CGROUP" ] && [ -d "$CGROUP" ] || return 0
  for p in $(cat "$CGROUP/cgroup.procs" 2>/dev/null); do kill -KILL $p 2>/dev/null; done
  # (cgroup files show size 0: their content says whether one is left.)
  cgroup_empty() { [ -z "$(cat "$CGROUP/cgroup.procs" 2>/dev/null)" ]; }
  wait_for 10 cgroup_empty
  rmdir "$CGROUP" || echo "(cannot remove $CGROUP)"
}
dump_killed() {
  "$CKPT" dump -t $PID -D "$WORK/img" "$@" 2>"$WORK/dump.err" || fail "dump $*: $(cat "$WORK/dump.err")"
  wait_for 10 gone $PID || fail "pid $PID still runs after the dump"
  wait $PID 2>/dev/null
}
restore_detached() {
  "$CKPT" restore -D "$WORK/img" -d "$@" 2>"$WORK/restore.err" || fail "restore $*: $(cat "$WORK/restore.err")"
  wait_for 10 comm_is $PID "$(basename "$TARGET_PROG" | cut -c1-15)" || fail "pid $PID is not back"
}

case_leave_stopped() {
  start_target dump
  "$CKPT" dump -t $PID -D "$WORK/img" -s 2>"$WORK/dump.err" || fail "dump -s: $(cat "$WORK/dump.err")"
  wait_for 10 all_stopped $PID || fail "dump -s: pid $PID is not stopped: $(task_states $PID)"
  sleep 0.3
  all_stopped $PID || fail "dump -s: pid $PID did not stay stopped: $(task_states $PID)"
  [ -s "$WORK/img/inventory.img" ] || fail "dump -s wrote no images"
  kill -CONT $PID
  wait_for 10 healthy $PID || fail "pid $PID does not run on after SIGCONT: $(task_states $PID)"
  echo "dump -s: the tree was left stopped, and runs on after SIGCONT"
  kill_target
  restore_detached -s
  wait_for 10 all_stopped $PID || fail "restore -s: pid $PID is not stopped: $(task_states $PID)"
  sleep 0.3
  all_stopped $PID || fail "restore -s: pid $PID did not stay stopped: $(task_states $PID)"
  kill -CONT $PID
  wait_for 10 healthy $PID || fail "restored pid $PID does not run after SIGCONT: $(task_states $PID)"
  finish_target "restore -s"
  echo "restore -s: the restored tree was stopped; continued, it checks out"
}

case_restore_sibling() {
  start_target sibling
  dump_killed
  "$CKPT" restore -D "$WORK/img" -S 2>"$WORK/restore.err" || fail "restore -S: $(cat "$WORK/restore.err")"
  # ckpt has exited: the root runs, a child of this shell (ckpt's parent).
  wait_for 10 comm_is $PID "$(basename "$TARGET_PROG" | cut -c1-15)" || fail "pid $PID is not back"
  local parent
  parent=$(ppid_of $PID)
  [ "$parent" = "$BASHPID" ] || fail "restore -S: the parent of pid $PID is $parent, not the shell $BASHPID"
  finish_target "restore -S"
  echo "restore -S: the restored root was the shell's child ($BASHPID)"
}

# Two scripts, each appending "NAME STAGE INIT_PID IMAGE_DIR" per stage.
write_scripts() {
  for name in a b; do
    cat >"$WORK/script-$name.sh" <<SCRIPT
#!/bin/sh
echo "$name \$CRTOOLS_SCRIPT_ACTION \${CRTOOLS_INIT_PID:--} \$CRTOOLS_IMAGE_DIR" >> "$WORK/stages"
[ "\$CRTOOLS_SCRIPT_ACTION" = "\${FAIL_AT:-}" ] && exit 3
exit 0
SCRIPT
    chmod +x "$WORK/script-$name.sh"
  done
}
expect_stages() {
  local want=$1 got
  got=$(cat "$WORK/stages" 2>/dev/null)
  [ "$got" = "$want" ] || fail "$2: the stages ran as
$got
and not as
$want"
  rm -f "$WORK/stages"
}
case_action_script() {
  write_scripts
  local scripts=(--action-script "$WORK/script-a.sh" --action-script "$WORK/script-b.sh")
  start_target scripts
  dump_killed "${scripts[@]}"
  expect_stages "a pre-dump - $WORK/img
b pre-dump - $WORK/img
a post-dump $PID $WORK/img
b post-dump $PID $WORK/img" dump
  restore_detached "${scripts[@]}"
  expect_stages "a pre-restore - $WORK/img
b pre-restore - $WORK/img
a post-restore $PID $WORK/img
b post-restore $PID $WORK/img
a pre-resume $PID $WORK/img
b pre-resume $PID $WORK/img
a post-resume $PID $WORK/img
b post-resume $PID $WORK/img" restore
  finish_target "restore with action scripts"
  echo "action scripts: each stage in order, dump and restore"

  # A script failing at post-dump fails the dump; the tree runs on.
  start_target scripts-fail
  if FAIL_AT=post-dump "$CKPT" dump -t $PID -D "$WORK/img2" "${scripts[@]}" 2>"$WORK/dump.err"; then
    fail "a dump whose post-dump script fails succeeded"
  fi
  grep -q "action script $WORK/script-a.sh failed at stage post-dump: it exited with status 3" "$WORK/dump.err" ||
    fail "the failed dump does not name the script, stage and status: $(cat "$WORK/dump.err")"
  expect_stages "a pre-dump - $WORK/img2
b pre-dump - $WORK/img2
a post-dump $PID $WORK/img2" "failed dump"
  wait_for 10 healthy $PID || fail "pid $PID does not run on after the failed dump: $(task_states $PID)"
  finish_target "after the failed dump"
  echo "action scripts: a failing post-dump script fails the dump, the tree runs on"

  # One failing at pre-restore: nothing is restored.
  if FAIL_AT=pre-restore "$CKPT" restore -D "$WORK/img" -d "${scripts[@]}" 2>"$WORK/restore.err"; then
    fail "a restore whose pre-restore script fails succeeded"
  fi
  grep -q "action script $WORK/script-a.sh failed at stage pre-restore: it exited with status 3" "$WORK/restore.err" ||
    fail "the failed restore does not name the script, stage and status: $(cat "$WORK/restore.err")"
  [ ! -d /proc/$PID ] || fail "pid $PID exists after a restore that failed at pre-restore"
  echo "action scripts: a failing pre-restore script fails the restore before anything exists"
}

# The network stages, with a TCP connection of the program to itself
# (rt_inet_refused, CKPT_TEST_INET=established; in a network namespace).
case_action_script_tcp() {
  cat >"$WORK/script.sh" <<SCRIPT
#!/bin/sh
echo "\$CRTOOLS_SCRIPT_ACTION" >> "$WORK/stages"
SCRIPT
  chmod +x "$WORK/script.sh"
  local opts=(--tcp-established --action-script "$WORK/script.sh")
  start_target tcp-running CKPT_TEST_INET=established
  "$CKPT" dump -t $PID -D "$WORK/img-r" -R "${opts[@]}" 2>"$WORK/dump.err" || fail "dump -R: $(cat "$WORK/dump.err")"
  expect_stages "pre-dump
network-lock
post-dump
network-unlock" "dump -R --tcp-established"
  finish_target "dump -R"
  start_target tcp CKPT_TEST_INET=established
  dump_killed "${opts[@]}"
  expect_stages "pre-dump
network-lock
post-dump" "dump --tcp-established"
  restore_detached "${opts[@]}"
  expect_stages "pre-restore
network-lock
post-restore
pre-resume
network-unlock
post-resume" "restore --tcp-established"
  finish_target "restore --tcp-established"
  echo "action scripts: the network stages in order, dump -R, dump and restore"
}

case_exec_cmd() {
  start_target exec
  dump_killed
  cat >"$WORK/exec.sh" <<'SCRIPT'
#!/bin/sh
# $1: the restored root; says who runs this and who its parent is.
echo "$$ $(awk '{print $4}' /proc/$1/stat)" > "$2.tmp" && mv "$2.tmp" "$2"
SCRIPT
  chmod +x "$WORK/exec.sh"
  "$CKPT" restore -D "$WORK/img" --exec-cmd -- "$WORK/exec.sh" $PID "$WORK/exec-cmd.result" 2>"$WORK/restore.err" &
  local ckpt=$!
  wait_for 30 test -s "$WORK/exec-cmd.result" || fail "--exec-cmd: the command did not run: $(cat "$WORK/restore.err")"
  wait $ckpt || fail "--exec-cmd: ckpt (the command) exited $?"
  [ "$(cat "$WORK/exec-cmd.result")" = "$ckpt $ckpt" ] ||
    fail "--exec-cmd: want the command as ckpt's pid $ckpt and the root's parent, got '$(cat "$WORK/exec-cmd.result")'"
  finish_target "--exec-cmd"
  echo "--exec-cmd: the command ran in ckpt's place, as the restored root's parent"
}

case_manage_cgroups() {
  make_cgroup
  trap remove_cgroup EXIT
  start_target cgroups
  echo $PID > "$CGROUP/cgroup.procs" || fail "cannot move pid $PID into $CGROUP"
  local want=${CGROUP#$(cgroup2_root)} mine
  mine=$(v2_cgroup_of $BASHPID)
  dump_killed
  restore_detached --manage-cgroups ignore
  [ "$(v2_cgroup_of $PID)" = "$mine" ] ||
    fail "--manage-cgroups ignore: pid $PID is in $(v2_cgroup_of $PID), not in ckpt's $mine"
  kill_target
  # Without it, the same images go back into the cgroup (the control).
  restore_detached
  [ "$(v2_cgroup_of $PID)" = "$want" ] || fail "by default pid $PID is in $(v2_cgroup_of $PID), not $want"
  finish_target "cgroups"
  echo "--manage-cgroups ignore: the restored tree stays in ckpt's cgroup"
}

case_timeout() {
  start_target timeout CKPT_TEST_HOLD_S=20
  has_child() { [ -n "$(cat /proc/$PID/task/$PID/children 2>/dev/null)" ]; }
  wait_for 10 has_child || fail "pid $PID did not vfork"
  local start=${EPOCHREALTIME/./}
  if "$CKPT" dump -t $PID -D "$WORK/img" --timeout 1 2>"$WORK/dump.err"; then
    fail "the dump of a vfork parent with --timeout 1 succeeded"
  fi
  local took=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
  grep -q "of pid $PID: it did not stop within 1000 ms" "$WORK/dump.err" ||
    fail "--timeout 1: the error does not name pid $PID and 1000 ms: $(cat "$WORK/dump.err")"
  echo "--timeout 1: refused in $took ms: $(cat "$WORK/dump.err")"
  for k in $(cat /proc/$PID/task/$PID/children); do kill -KILL $k; done
  wait_for 10 healthy $PID || fail "pid $PID does not run on after the failed dump: $(task_states $PID)"
  finish_target "--timeout"
}

# Counts the notifications of cgroup.events (a freeze and a thaw each make
# one) until the file $2 appears; the count goes to $3.
watch_events() {
  python3 - "$CGROUP/cgroup.events" "$WORK/stop-watch" "$WORK/events" <<'PY' &
import os, select, sys, time
events, stop, out = sys.argv[1:4]
f = open(events)
f.read()
p = select.poll()
p.register(f, select.POLLPRI | select.POLLERR)
open(out + ".ready", "w").close()
n, frozen, end = 0, 0, time.time() + 60
while time.time() < end and not os.path.exists(stop):
    if p.poll(50):
        f.seek(0)
        n += 1
        if "frozen 1" in f.read():
            frozen += 1
with open(out, "w") as o:
    o.write("%d %d\n" % (n, frozen))
PY
  WATCHER=$!
  wait_for 10 test -e "$WORK/events.ready" || fail "the cgroup.events watcher did not start"
}
case_freeze_cgroup() {
  make_cgroup
  trap remove_cgroup EXIT
  start_target freeze
  echo $PID > "$CGROUP/cgroup.procs" || fail "cannot move pid $PID into $CGROUP"
  watch_events
  "$CKPT" dump -t $PID -D "$WORK/img" -R --freeze-cgroup "$CGROUP" 2>"$WORK/dump.err" ||
    fail "dump --freeze-cgroup: $(cat "$WORK/dump.err")"
  touch "$WORK/stop-watch"
  wait $WATCHER
  read -r n frozen < "$WORK/events"
  [ "$n" -ge 1 ] || fail "dump --freeze-cgroup: $CGROUP was never frozen (no cgroup.events change)"
  grep -q "^frozen 0" "$CGROUP/cgroup.events" || fail "$CGROUP is still frozen after the dump"
  wait_for 10 healthy $PID || fail "pid $PID does not run on after the dump: $(task_states $PID)"
  echo "--freeze-cgroup: $n cgroup.events changes ($frozen read as frozen), thawed after"
  kill_target
  restore_detached
  finish_target "--freeze-cgroup"
  # Not a cgroup v2 directory: refused by name.
  if "$CKPT" dump -t $BASHPID -D "$WORK/img3" --freeze-cgroup "$WORK" 2>"$WORK/dump.err"; then
    fail "--freeze-cgroup $WORK was accepted"
  fi
  grep -q "cannot freeze cgroup $WORK (--freeze-cgroup): it is not a cgroup v2 directory" "$WORK/dump.err" ||
    fail "--freeze-cgroup $WORK: $(cat "$WORK/dump.err")"
  echo "--freeze-cgroup $WORK: refused, not a cgroup v2 directory"
}

case_logs() {
  start_target logs
  mkdir "$WORK/logs"
  "$CKPT" dump -t $PID -D "$WORK/img" -W "$WORK/logs" --log-pid 2>"$WORK/dump.err" &
  local ckpt=$!
  wait $ckpt || fail "dump -W --log-pid: $(cat "$WORK/dump.err")"
  wait_for 10 gone $PID
  wait $PID 2>/dev/null
  [ -s "$WORK/logs/dump.log.$ckpt" ] || fail "no log $WORK/logs/dump.log.$ckpt: $(ls "$WORK/logs")"
  [ ! -e "$WORK/img/dump.log" ] || fail "-W: the log is still written in the images directory"
  "$CKPT" restore -D "$WORK/img" -d -W "$WORK/logs" 2>"$WORK/restore.err" || fail "restore -W: $(cat "$WORK/restore.err")"
  [ -s "$WORK/logs/restore.log" ] || fail "no $WORK/logs/restore.log"
  finish_target "-W"
  echo "-W and --log-pid: the logs are $(ls "$WORK/logs" | tr '\n' ' ')"
  # --root is restore's (kinds/root.cmake): dump refuses it.
  if "$CKPT" dump -t $BASHPID -D "$WORK/img-root" --root / 2>"$WORK/dump.err"; then fail "dump --root was accepted"; fi
  grep -q "option '--root' does not apply to dump" "$WORK/dump.err" || fail "dump --root: $(cat "$WORK/dump.err")"
  echo "dump --root: refused"
}

run() {
  case $CASE in
    leave-stopped) case_leave_stopped ;;
    restore-sibling) case_restore_sibling ;;
    action-script) case_action_script ;;
    action-script-tcp) case_action_script_tcp ;;
    exec-cmd) case_exec_cmd ;;
    manage-cgroups) case_manage_cgroups ;;
    timeout) case_timeout ;;
    freeze-cgroup) case_freeze_cgroup ;;
    logs) case_logs ;;
    *) fail "unknown case $CASE" ;;
  esac
  echo PASS
}

( run ) </dev/null >"$WORK/case.log" 2>&1
rc=$?
cat "$WORK/case.log"
exit $rc
