#!/usr/bin/env bash
# Fault injection: `ckpt dump` and `ckpt restore` killed with SIGKILL at
# every named point (CKPT_DUMP_TEST_KILL, CKPT_RESTORE_TEST_KILL) and at
# random times, and after each kill the target and the image directory
# checked.
#
# Targets: rt_heartbeat with 200 MiB of touched memory (CKPT_FAULT_MIB=M
# for M MiB: a bigger target takes longer to die), single-threaded and
# with 4 counting threads; each counter is published in a heartbeat file, so
# the test sees the target make progress on its own.  One target serves
# trial after trial while it stays healthy; a broken one is killed and
# replaced.
#
# Dump trials, with and without --leave-running, into a directory holding a
# complete set: after each kill (or a dump that ended before its kill)
#   - the target is alive, no thread stopped or traced, its maps, each
#     thread's SigBlk/SigIgn/SigCgt/SigPnd/ShdPnd and its fds exactly as
#     before, and every counter moves on; without --leave-running it may be
#     gone (or dying of the dump's SIGKILL: waited for) only if the
#     directory holds the new, complete set, which must then restore (the
#     trials go on with the restored target);
#   - the directory holds the previous set, unchanged (same checksums), or
#     a new complete one (its inventory is new and its manifest there: it must restore, and does,
#     the target killed first if it runs), or no inventory or no manifest: `ckpt restore`
#     refuses it saying `incomplete`, and a complete dump into it leaves no
#     *.tmp (as after every named kill and every batch).
# Restore trials, from a complete set of the killed target: after each kill
# either no process is left (the pid is free, nothing of the tree was
# reparented to us) or, if the restore had released the tree (its log says
# so), the target is there complete (as above, compared with what it was at
# the dump); a restore from the directory afterwards works.  At the end of
# each target's trials it gets SIGTERM and must say PASS.
#
# Random kill times are uniform over the duration of a complete dump
# (restore) of the same target and mode, measured first (the median of 3).
# They come from the seed (CKPT_FAULT_SEED=N replays them, as fractions of
# the durations measured in that run; printed at the start and in the
# summary).  Counts: CKPT_FAULT_NAMED_ROUNDS (rounds over every named point,
# per target and mode, default 2; in-kill only without --leave-running),
# CKPT_FAULT_RANDOM_DUMP (random dump kills per target and mode, default 38:
# 204 dump kills in all),
# CKPT_FAULT_RANDOM_RESTORE (random restore kills per target, default 20:
# 52 restore kills with the named ones).  A random trial whose ckpt ends
# before its kill is judged like the others but not counted as a kill.
#
# Prints one summary line; exits 1 if any target broke, listing each broken
# trial: target, what was killed at which point or time, mode, what was wrong.
#
#   fault_injection.sh CKPT PROG WORK    (PROG: rt_heartbeat; under rt_subreaper)
set -u
CKPT=$1
TARGET_PROG=$2
WORK=$3
COMM=$(basename "$TARGET_PROG" | cut -c1-15)
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"  # the path is absolute: ctest gives it
WAIT_STEP=0.01  # (the counters move every 2 ms: the waits are short)

SEED=${CKPT_FAULT_SEED:-$(( $(date +%s%N) / 1000 % 1000000 ))}
NAMED_ROUNDS=${CKPT_FAULT_NAMED_ROUNDS:-2}
RANDOM_DUMP=${CKPT_FAULT_RANDOM_DUMP:-38}
RANDOM_RESTORE=${CKPT_FAULT_RANDOM_RESTORE:-20}
MIB=${CKPT_FAULT_MIB:-200}
DUMP_POINTS=(after-freeze after-infect after-pages before-commit in-commit after-commit in-kill)
RESTORE_POINTS=(after-fork after-go first-trap all-held before-release in-release)
# The images (hundreds of 200 MiB sets written) on tmpfs, one directory per
# work dir, removed at the end.
IMAGES=/dev/shm/ckpt-fault-injection.$(echo "$WORK" | cksum | cut -d' ' -f1)
SUBREAPER=$PPID

# ---- what was found ---------------------------------------------------------
BROKEN=()          # "trial: what was wrong"
declare -A KILLS   # per kind of kill: dump:POINT, dump:random, restore:POINT, restore:random
declare -A PHASES  # random kills per phase they landed in
FINISHED_FIRST=0   # random trials whose ckpt ended before the kill
RELEASED=0         # restore kills after the tree was let go: the target whole
TRIAL=""           # the trial being judged, for broken()
TRIAL_BROKEN=0
broken() {
  BROKEN+=("$TRIAL: $*")
  TRIAL_BROKEN=1
  echo "BROKEN: $TRIAL: $*"
}
count() { KILLS[$1]=$(( ${KILLS[$1]:-0} + 1 )); }
phase() { PHASES[$1]=$(( ${PHASES[$1]:-0} + 1 )); }

# ---- random times -------------------------------------------------------------
RANDOM=$SEED
# US: uniform in [0, DURATION_US), the next of the seeded sequence (not in
# a subshell: it would not move the sequence on).
random_us() { US=$(( (RANDOM * 32768 + RANDOM) * $1 / 1073741824 )); }
now_us() { local t=$EPOCHREALTIME; echo "${t/./}"; }
# timed_kill US CMD...: CMD in the background, SIGKILLed US microseconds
# after it started; RC is its exit status, AT_US when the kill went out.
timed_kill() {
  local us=$1; shift
  local start
  start=$(now_us)
  "$@" &
  local p=$!
  sleep "$(printf '%d.%06d' $((us / 1000000)) $((us % 1000000)))"
  # (Only while it is still ours: bash may have reaped it already.)
  local comm=""
  read -r comm </proc/$p/comm 2>/dev/null
  [ "$comm" = "${1##*/}" ] && kill -KILL $p 2>/dev/null
  AT_US=$(( $(now_us) - start ))
  wait $p 2>/dev/null  # (no "Killed" from bash)
  RC=$?
}
median() { printf '%s\n' "$@" | sort -n | sed -n $(( ($# + 1) / 2 ))p; }

# ---- the target -----------------------------------------------------------------
# KIND (single | threads), THREADS, HB (its heartbeat file), DIR (its images),
# PRINT (its fingerprint when it was ready), PID, OUT.
new_target() {
  TARGETS=$(( ${TARGETS:-0} + 1 ))
  HB=$WORK/$KIND-$TARGETS.heartbeat
  start_target $KIND-$TARGETS CKPT_TEST_THREADS=$THREADS CKPT_TEST_HEARTBEAT=$HB CKPT_TEST_MIB=$MIB
  OURS=1
  wait_for 10 counting || fail "$KIND-$TARGETS: its counters do not move"
  PRINT=$(fingerprint $PID)
  # A complete set in its directory, for the trials to find.
  complete_dump || fail "$KIND-$TARGETS: the first dump failed: $(tail -2 "$WORK/dump.err")"
}
complete_dump() {
  "$CKPT" dump -t $PID -D "$DIR" --leave-running 2>"$WORK/dump.err" || return 1
  SUMS=$(sums "$DIR")
  if ls "$DIR" | grep -q '\.tmp$'; then
    broken "a complete dump left $(ls "$DIR" | grep '\.tmp$' | tr '\n' ' ')behind"
  fi
}
slots() { od -An -tu8 -v -w8 "$HB" 2>/dev/null | tr -d ' '; }
counters() { local n=$THREADS; [ $n = 0 ] && n=1; echo $n; }
# Every counter differs from its value in VAR (the name of a variable
# holding slots).
changed_since() {
  local now
  now=$(slots)
  [ "$(echo "$now" | wc -l)" -ge "$(counters)" ] || return 1
  paste <(echo "${!1}") <(echo "$now") | awk '$1 == $2 { bad = 1 } END { exit bad }'
}
# Every counter changed twice: a restored one may first go back to its
# count at the dump, then it counts on.
counting() {
  local first second
  first=$(slots)
  wait_for 5 changed_since first || return 1
  second=$(slots)
  wait_for 5 changed_since second
}
# Its pid free again (a killed target that is not our child is reaped by
# the subreaper; a multi-threaded one is a zombie until its last thread ends).
pid_free() { [ ! -d /proc/$PID ]; }
# A task with SIGKILL pending (the dump's kill of the tree; a killed
# restore's, PTRACE_O_EXITKILL), or already exiting (PF_EXITING in the
# flags of its stat), or gone: the process is on its way out.  (A kill(2)
# of the process leaves SIGKILL in ShdPnd until the process is reaped.)
dying() {
  local t hex stat
  [ -d /proc/$1 ] || return 0
  for t in /proc/$1/task/*; do
    for hex in $(grep -E '^(SigPnd|ShdPnd)' $t/status 2>/dev/null | awk '{print $2}'); do
      (( 0x$hex & 0x100 )) && return 0
    done
    stat=$(cat $t/stat 2>/dev/null) || return 0
    set -- ${stat##*) }
    (( ${7:-4} & 0x4 )) && return 0
  done
  grep -q '^State:.*[ZX]' /proc/$1/status 2>/dev/null
}
# OURS: the target is this shell's child (not a restored one, which the
# subreaper reaps); its status, once it ended, is STATUS.  (bash keeps the
# status of an old child by its pid: a restored target with that pid must
# not be waited for.)
reap_target() {
  STATUS=0
  if [ $OURS = 1 ]; then
    wait $PID 2>/dev/null
    STATUS=$?
  fi
  OURS=0
}
same_print() { [ "$(fingerprint $PID)" = "$PRINT" ]; }
# The target as it was: running, untraced, unchanged, counting.  Says what
# is wrong otherwise (and returns 1); if it died meanwhile, how it died.
judge_target() {
  local why=""
  if gone $PID; then why=gone
  elif ! wait_for 5 healthy $PID; then why="stopped or traced: $(task_states $PID)"
  elif ! wait_for 5 same_print; then
    why="changed: $(diff <(echo "$PRINT") <(fingerprint $PID) | grep '^[<>]' | head -4 | tr '\n' ' ')"
  elif ! counting; then why="does not count on: heartbeat $(slots | tr '\n' ' ')"
  fi
  [ -z "$why" ] && return 0
  if [ "$why" = gone ] || gone $PID; then
    how_gone
    why=$HOW
  fi
  broken "$why"
  return 1
}
# HOW: how a target that is gone ended, if it was ours (not in a subshell:
# only this shell may wait for it).
how_gone() {
  HOW="the target is gone"
  [ $OURS = 0 ] && return
  reap_target
  if [ $STATUS -gt 128 ] && [ $STATUS -lt 160 ]; then HOW="the target is killed by SIG$(kill -l $((STATUS - 128)))"
  else HOW="the target is gone (exit $STATUS)"
  fi
}
# A target found broken is ended and replaced (with a fresh set in DIR).
replace_if_broken() {
  [ $TRIAL_BROKEN = 0 ] && return
  kill -KILL $PID 2>/dev/null
  wait_for 10 gone $PID || fail "$TRIAL: pid $PID does not even die of SIGKILL"
  reap_target
  new_target
}
# Restores DIR and judges the target that comes back (the trials go on with
# it).  The old one must be gone.
restore_and_judge() {
  wait_for 10 pid_free || fail "$TRIAL: pid $PID is not free for the restore: $(task_states $PID)"
  if ! "$CKPT" restore -D "$DIR" -d 2>"$WORK/restore.err"; then
    broken "$1 does not restore: $(tail -1 "$WORK/restore.err")"
    return 1
  fi
  wait_for 10 comm_is $PID "$COMM" || { broken "pid $PID is not back after the restore of $1"; return 1; }
  judge_target
}
kill_and_restore() {
  kill -KILL $PID 2>/dev/null
  wait_for 10 gone $PID || fail "$TRIAL: pid $PID does not die"
  reap_target
  restore_and_judge "$1"
}

# ---- the image directory ---------------------------------------------------------
inventory_sum() { echo "$1" | grep '/inventory.img$'; }
# new: the inventory changed and the manifest is there (the new set is
# complete: the manifest comes last, right after the inventory); old: every
# image as before; incomplete: no inventory or no manifest (the old manifest
# goes first, with the old inventory); mixed: the old inventory with other
# images changed (never allowed).
dir_state() {
  local now
  now=$(sums "$DIR")
  if [ "$now" = "$SUMS" ]; then echo old
  elif [ ! -e "$DIR/inventory.img" ] || [ ! -e "$DIR/manifest.img" ]; then echo incomplete
  elif [ "$(inventory_sum "$now")" != "$(inventory_sum "$SUMS")" ]; then echo new
  else echo mixed
  fi
}
judge_incomplete() {
  local msg
  if msg=$("$CKPT" restore -D "$DIR" -d 2>&1); then
    broken "a directory without inventory or manifest restored"
  else
    case $msg in *incomplete*) ;; *) broken "restore of the incomplete directory did not say incomplete: $msg" ;; esac
  fi
}

# Where a dump or restore was when it died: the phase of the last of these
# texts its log reached (_ for a space).
last_phase() {  # LOG TEXT=PHASE...
  local log=$1; shift
  awk -v marks="$*" 'BEGIN { n = split(marks, m, " "); phase = "starting"
      for (i = 1; i <= n; i++) { split(m[i], kv, "="); gsub("_", " ", kv[1]); text[i] = kv[1]; name[i] = kv[2] } }
    { for (i = 1; i <= n; i++) if (index($0, text[i])) phase = name[i] }
    END { print phase }' "$log" 2>/dev/null
}
dump_phase() {
  last_phase "$DIR/dump.log" Froze=frozen Infecting_pid=infected Cured_pid=cured \
    Removed_the_inventory_of_the_previous=in-commit Committed_the_images=committed Killed_the_tree=tree-killed
}
restore_phase() {
  last_phase "$DIR/restore.log" restorer_area=making _exists=threads left_rt_sigreturn=threads \
    every_thread_in_place=held _restored_in_=released
}

# ---- dump trials ------------------------------------------------------------------
# dump_trial MODE named POINT | dump_trial MODE random US
dump_trial() {
  local t0
  t0=$(now_us)
  dump_trial_body "$@"
  echo "$( [ $TRIAL_BROKEN = 0 ] && echo ok || echo broken ): $TRIAL ($(( ($(now_us) - t0) / 1000 )) ms)"
}
dump_trial_body() {
  local mode=$1 how=$2 what=$3 args=()
  [ $mode = leave-running ] && args=(--leave-running)
  TRIAL_BROKEN=0
  if [ $how = named ]; then
    TRIAL="$KIND dump killed at $what ($mode)"
    { CKPT_DUMP_TEST_KILL=$what "$CKPT" dump -t $PID -D "$DIR" "${args[@]}" 2>"$WORK/dump.err"; } 2>/dev/null
    RC=$?
  else
    timed_kill $what "$CKPT" dump -t $PID -D "$DIR" "${args[@]}" 2>"$WORK/dump.err"
    TRIAL="$KIND dump killed at $((AT_US / 1000)) ms ($mode, seed $SEED)"
  fi
  local phase_now
  phase_now=$(dump_phase)
  TRIAL+=" [$phase_now]"
  case $RC in
    137) count dump:$( [ $how = named ] && echo $what || echo random ); [ $how = random ] && phase dump:$phase_now ;;
    0) if [ $how = named ]; then broken "the dump was not killed"; else FINISHED_FIRST=$((FINISHED_FIRST + 1)); fi ;;
    *) broken "the dump failed (exit $RC): $(tail -1 "$WORK/dump.err")" ;;
  esac
  local state
  state=$(dir_state)
  case $state in
    old) [ $RC = 0 ] && broken "the dump succeeded and left the old set" ;;
    new)
      # A new set must restore: checked whenever the target is gone (it
      # may be, then) and after each kill but the random ones with
      # --leave-running, where the target runs on (a restore each would
      # cost a third of a second).  A dump killed once it had sent the tree
      # its SIGKILL (in-kill, or a random kill then) leaves the target
      # dying: its exit (200 MiB to free) can end well after ckpt's, the
      # more so under load, and until then /proc shows it running,
      # untraced.  That is the dump's kill, not a broken target: wait for
      # it to end (bounded), then restore.
      if [ $mode = kill ] && dying $PID; then
        if wait_for 10 gone $PID; then
          reap_target
          restore_and_judge "the new set after the kill"
        else
          broken "pid $PID, killed by the dump, does not end: $(task_states $PID)"
        fi
      elif judge_target && { [ $how = named ] || [ $mode = kill ]; }; then
        kill_and_restore "the new set after the kill"
      fi
      SUMS=$(sums "$DIR")
      ;;
    incomplete) judge_target; judge_incomplete ;;
    mixed) judge_target; broken "the previous set changed and kept its inventory" ;;
  esac
  if [ $state = old ]; then judge_target; fi
  replace_if_broken
  # A complete dump into the directory leaves no .tmp (and sets SUMS): after
  # an incomplete one, the first round of named kills (and every batch).
  if [ $state = incomplete ] || { [ $how = named ] && [ $ROUND = 0 ]; }; then
    complete_dump || { broken "the next complete dump failed: $(tail -1 "$WORK/dump.err")"; replace_if_broken; }
  fi
}

# ---- restore trials ----------------------------------------------------------------
# Nothing of the tree is left: the pid is free and nothing but this script
# is a child of the subreaper (orphans of a killed restore come to it).
strays() {
  local kids k
  kids=$(cat /proc/$SUBREAPER/task/$SUBREAPER/children 2>/dev/null)
  for k in $kids; do
    [ $k = $$ ] && continue
    grep -q '^State:.*Z' /proc/$k/status 2>/dev/null && continue  # being reaped
    [ -d /proc/$k ] && echo "$k($(cat /proc/$k/comm 2>/dev/null))"
  done
}
no_strays() { [ -z "$(strays)" ] && pid_free; }
# What a killed restore left has settled: nothing, or the pid alone, alive
# and on its own (no task traced or dying).
settled() {
  local s
  s=$(strays)
  [ -z "$s" ] && pid_free && return 0
  [ "$s" = "$PID($COMM)" ] && ! dying $PID && healthy $PID
}
# restore_trial named POINT | restore_trial random US
restore_trial() {
  local t0
  t0=$(now_us)
  restore_trial_body "$@"
  echo "$( [ $TRIAL_BROKEN = 0 ] && echo ok || echo broken ): $TRIAL ($(( ($(now_us) - t0) / 1000 )) ms)"
}
restore_trial_body() {
  local how=$1 what=$2
  TRIAL_BROKEN=0
  if [ $how = named ]; then
    TRIAL="$KIND restore killed at $what"
    { CKPT_RESTORE_TEST_KILL=$what "$CKPT" restore -D "$DIR" -d 2>"$WORK/restore.err"; } 2>/dev/null
    RC=$?
  else
    timed_kill $what "$CKPT" restore -D "$DIR" -d 2>"$WORK/restore.err"
    TRIAL="$KIND restore killed at $((AT_US / 1000)) ms (seed $SEED)"
  fi
  local phase_now
  phase_now=$(restore_phase)
  TRIAL+=" [$phase_now]"
  case $RC in
    137) count restore:$( [ $how = named ] && echo $what || echo random ); [ $how = random ] && phase restore:$phase_now ;;
    0) if [ $how = named ]; then broken "the restore was not killed"; else FINISHED_FIRST=$((FINISHED_FIRST + 1)); fi ;;
    *) broken "the restore failed (exit $RC): $(tail -1 "$WORK/restore.err")" ;;
  esac
  [ "$(sums "$DIR")" = "$SUMS" ] || broken "the restore changed the images"
  # Nothing left, or (the tree let go before ckpt died) the whole target.
  if [ $RC = 0 ] && ! wait_for 10 comm_is $PID "$COMM"; then
    broken "the restore succeeded, but pid $PID is not there"
  elif ! wait_for 5 settled; then
    broken "half-restored: left behind: $(strays) $(pid_free || echo "pid $PID: $(task_states $PID)")"
  elif ! pid_free; then
    judge_target
    RELEASED=$((RELEASED + 1))
  fi
  # Whatever is left goes, for the next trial.
  local k
  for k in $(strays); do kill -KILL ${k%%(*}; done
  wait_for 10 no_strays || fail "$TRIAL: $(strays) do not die"
}

# ---- one target kind ------------------------------------------------------------------
run_kind() {
  KIND=$1 THREADS=$2 DIR=$IMAGES/$1
  echo "== $KIND target ($THREADS threads)"
  new_target
  measure_dumps
  echo "$KIND: a dump takes $((LR_US / 1000)) ms with --leave-running, $((KILL_US / 1000)) ms without (median of 3)"
  local point mode i
  for mode in leave-running kill; do
    for ((ROUND = 0; ROUND < NAMED_ROUNDS; ROUND++)); do
      for point in "${DUMP_POINTS[@]}"; do
        # (--leave-running never kills the tree: no in-kill.)
        [ $mode = leave-running ] && [ $point = in-kill ] && continue
        dump_trial $mode named $point
      done
    done
    local d=$LR_US
    [ $mode = kill ] && d=$KILL_US
    # Trials whose dump ends before its kill do not count (bounded).
    local until=$(( ${KILLS[dump:random]:-0} + RANDOM_DUMP ))
    for ((i = 0; i < 3 * RANDOM_DUMP && ${KILLS[dump:random]:-0} < until; i++)); do
      random_us $d
      dump_trial $mode random $US
    done
    complete_dump || { TRIAL="$KIND after the $mode trials"; broken "a complete dump failed"; replace_if_broken; }
  done

  # Restore trials, from the set of the target as it is now.
  TRIAL="$KIND dump for the restore trials"
  TRIAL_BROKEN=0
  "$CKPT" dump -t $PID -D "$DIR" 2>"$WORK/dump.err" || fail "$TRIAL: $(tail -2 "$WORK/dump.err")"
  wait_for 10 gone $PID || fail "$TRIAL: pid $PID outlived its dump"
  reap_target
  SUMS=$(sums "$DIR")
  measure_restores
  echo "$KIND: a restore takes $((RESTORE_US / 1000)) ms (median of 3)"
  for point in "${RESTORE_POINTS[@]}"; do restore_trial named $point; done
  local until=$(( ${KILLS[restore:random]:-0} + RANDOM_RESTORE ))
  for ((i = 0; i < 3 * RANDOM_RESTORE && ${KILLS[restore:random]:-0} < until; i++)); do
    random_us $RESTORE_US
    restore_trial random $US
  done

  TRIAL="$KIND restore after the restore trials"
  TRIAL_BROKEN=0
  restore_and_judge "the directory after the restore kills" || fail "$TRIAL: the target is not whole"
  # It lived through it all: its own check passes.
  finish_target "$TRIAL"
}
# LR_US, KILL_US: the median durations of complete dumps with and without
# --leave-running (each of the latter followed by a restore, judged).
measure_dumps() {
  local lr=() kl=() i s
  TRIAL="$KIND measuring" TRIAL_BROKEN=0
  for i in 1 2 3; do
    s=$(now_us)
    complete_dump || fail "$KIND: a complete dump failed: $(tail -2 "$WORK/dump.err")"
    lr+=($(( $(now_us) - s )))
  done
  for i in 1 2 3; do
    s=$(now_us)
    "$CKPT" dump -t $PID -D "$DIR" 2>"$WORK/dump.err" || fail "$KIND: a complete dump failed: $(tail -2 "$WORK/dump.err")"
    kl+=($(( $(now_us) - s )))
    wait_for 10 gone $PID || fail "$KIND: pid $PID outlived its dump"
    reap_target
    SUMS=$(sums "$DIR")
    restore_and_judge "a complete set" || fail "$KIND: the restore of a complete dump is broken"
  done
  LR_US=$(median "${lr[@]}") KILL_US=$(median "${kl[@]}")
}
# RESTORE_US: the median duration of complete restores (each restored
# target killed again).
measure_restores() {
  local runs=() i s
  wait_for 10 pid_free || fail "$KIND: pid $PID is not free for a restore: $(task_states $PID)"
  for i in 1 2 3; do
    s=$(now_us)
    "$CKPT" restore -D "$DIR" -d 2>"$WORK/restore.err" || fail "$KIND: a complete restore failed: $(tail -2 "$WORK/restore.err")"
    runs+=($(( $(now_us) - s )))
    wait_for 10 comm_is $PID "$COMM" || fail "$KIND: pid $PID is not back after a complete restore"
    kill -KILL $PID
    wait_for 10 no_strays || fail "$KIND: $(strays) do not die"
  done
  RESTORE_US=$(median "${runs[@]}")
}

scenario() {
  [ "$(cat /proc/$SUBREAPER/comm)" = rt_subreaper ] || fail "run me under rt_subreaper (my parent is $(cat /proc/$SUBREAPER/comm))"
  rm -rf "$IMAGES" && mkdir -p "$IMAGES" || fail "cannot make $IMAGES"
  echo "seed $SEED (CKPT_FAULT_SEED=$SEED replays the random times)"
  run_kind single 0
  run_kind threads 4
  rm -rf "$IMAGES"

  local named=0 random=0 k details=""
  for k in $(printf '%s\n' "${!KILLS[@]}" | sort); do
    case $k in *:random) random=$((random + KILLS[$k])) ;; *) named=$((named + KILLS[$k])) ;; esac
    details+=" $k=${KILLS[$k]}"
  done
  local phases=""
  for k in $(printf '%s\n' "${!PHASES[@]}" | sort); do phases+=" $k=${PHASES[$k]}"; done
  echo "kills per point:$details"
  echo "random kills per phase reached:$phases; $FINISHED_FIRST random trials ended before their kill;" \
    "$RELEASED killed restores had let the target go (whole)"
  echo "fault-injection: $((named + random)) kills ($named named, $random random, seed $SEED): ${#BROKEN[@]} broken targets"
  if [ ${#BROKEN[@]} -gt 0 ]; then
    printf '  %s\n' "${BROKEN[@]}"
    exit 1
  fi
  echo PASS
}

( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
rm -rf "$IMAGES"
cat "$WORK/scenario.log"
exit $rc
