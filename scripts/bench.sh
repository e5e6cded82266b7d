#!/usr/bin/env bash
# Benchmarks (figures, not tests): dump and restore of processes holding
# touched anonymous memory, with the images on tmpfs and on disk; then
# compel's infect/cure cycle.
#
#   scripts/bench.sh [SCENARIO...]
#
# A scenario is KIND:ARGS, memory in MiB:
#   single:MIB            one single-threaded process
#   threads:N:MIB         one process with N threads
#   tree:N:MIB            a tree of N processes of MIB each
#   shared:MIB            MIB of MAP_SHARED memory mapped by two processes
#   protnone:MIB          one process, a PROT_NONE page every MiB (1 area
#                         per MiB; those pages are read through /proc/PID/mem)
#   pipe:MIB              one process holding both ends of a pipe of MIB
#                         with MIB of data in it (a Python process, so its
#                         own memory adds about 10 MiB; 1 MiB is the most
#                         without CAP_SYS_RESOURCE)
#   fds:N                 one process with N eventfds
#   epoll:N               one process with N eventfds in one epoll set
# default: single:256 single:1024 single:4096 threads:64:1024 tree:64:16 shared:1024 pipe:1
#          fds:10000 epoll:10000
#
# Prints, per memory scenario and medium: dump wall time, how long the tree
# was frozen (from dump.log), restore wall time, throughput over all the
# memory, ckpt's peak RSS; per fd scenario (images on tmpfs): dump and
# restore wall times and ckpt's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
# Fds inherited from whoever started us (maybe from another mount namespace)
# must not reach the process we dump.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
scripts/install-deps.sh >/dev/null
scripts/build.sh >/dev/null
# Restored processes are detached (-d); run under a subreaper so that they
# are reaped when they exit (PID 1 here may not reap orphans).
if [ -z "${CKPT_BENCH_REAPED:-}" ]; then
  export CKPT_BENCH_REAPED=1
  exec build/test/roundtrip/rt_subreaper "$0" "$@"
fi
CKPT=$PWD/build/ckpt
HOG=$PWD/build/test/bench/ckpt_bench_memhog
SCENARIOS=("$@")
[ ${#SCENARIOS[@]} -gt 0 ] ||
  SCENARIOS=(single:256 single:1024 single:4096 threads:64:1024 tree:64:16 shared:1024 pipe:1 fds:10000 epoll:10000)
FDHOG=$PWD/build/test/bench/ckpt_bench_fdhog
MEM_SCENARIOS=() FD_SCENARIOS=()
for s in "${SCENARIOS[@]}"; do
  case $s in fds:* | epoll:*) FD_SCENARIOS+=("$s") ;; *) MEM_SCENARIOS+=("$s") ;; esac
done

TMPFS=/dev/shm/ckpt-bench
DISK=/var/tmp/ckpt-bench
# Runs a command and prints "WALL_SECONDS MAXRSS_KIB" (RSS from /usr/bin/time).
timed() {
  local t start end
  t=$(mktemp)
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$t" "$@" >/dev/null
  end=$(date +%s.%N)
  echo "$(echo "$end - $start" | bc -l) $(tail -n 1 "$t")"
  rm -f "$t"
}

# The memhog arguments and the total MiB of a scenario.
hog_args() {
  IFS=: read -r kind a b <<<"$1"
  case $kind in
    single) echo "$a" ;;
    threads) echo "$b --threads $a" ;;
    tree) echo "$b --procs $a" ;;
    shared) echo "$a --shared" ;;
    protnone) echo "$a --prot-none" ;;
    pipe) echo "$a" ;;
    *) echo "unknown scenario $1" >&2; exit 2 ;;
  esac
}
total_mib() {
  IFS=: read -r kind a b <<<"$1"
  case $kind in
    single | shared | protnone | pipe) echo "$a" ;;
    threads) echo "$b" ;;
    tree) echo $((a * b)) ;;
  esac
}

# The pipe scenario's process: like the memhog, "ready" once set up, and on
# SIGTERM "OK" if the pipe gives back every byte in order, else "BAD".
PIPE_HOLDER='
import fcntl, os, signal, sys
size = int(sys.argv[1]) << 20
data = bytes(range(256)) * (size // 256)
r, w = os.pipe()
fcntl.fcntl(w, fcntl.F_SETPIPE_SZ, size)
os.write(w, data)
def check(signo, frame):
    got = b""
    while len(got) < size:
        got += os.read(r, size - len(got))
    print("OK" if got == data else "BAD", flush=True)
    os._exit(0)
signal.signal(signal.SIGTERM, check)
print("ready", flush=True)
while True:
    signal.pause()
'
# Starts the process of a scenario in a session of its own, output to $1.
start_scenario() {
  local log=$1 scenario=$2; shift 2
  if [ "${scenario%%:*}" = pipe ]; then
    setsid python3 -c "$PIPE_HOLDER" "$@" </dev/null >"$log" 2>&1 &
  else
    setsid "$HOG" "$@" </dev/null >"$log" 2>&1 &
  fi
}

[ ${#MEM_SCENARIOS[@]} -eq 0 ] ||
printf '%-16s %-6s %9s %9s %9s %10s %10s %9s %9s\n' scenario images dump_s frozen_ms restore_s dump_GB/s rest_GB/s dump_rss restore_rss
for scenario in "${MEM_SCENARIOS[@]}"; do
  read -r -a args < <(hog_args "$scenario")
  mib=$(total_mib "$scenario")
  for medium in tmpfs disk; do
    dir=$TMPFS; [ $medium = disk ] && dir=$DISK
    rm -rf "$dir"; mkdir -p "$dir"
    log=$dir/hog.log
    start_scenario "$log" "$scenario" "${args[@]}"
    pid=$!
    until grep -q ready "$log" 2>/dev/null; do sleep 0.05; done
    read -r dump_s dump_rss < <(timed "$CKPT" dump -t "$pid" -D "$dir/img")
    wait "$pid" 2>/dev/null || true
    frozen=$(grep -o 'frozen for [0-9.]* ms' "$dir/img/dump.log" | grep -o '[0-9.]*' | tail -1 || echo "?")
    [ $medium = disk ] && sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    read -r rest_s rest_rss < <(timed "$CKPT" restore -D "$dir/img" -d)
    kill -TERM "$pid"
    for _ in $(seq 200); do grep -q -e OK -e BAD "$log" && break; sleep 0.05; done
    grep -q OK "$log" || echo "WARNING: restored memory of $scenario did not verify"
    gb=$(echo "$mib / 1024" | bc -l)
    printf '%-16s %-6s %9.3f %9s %9.3f %10.2f %10.2f %7dMB %7dMB\n' "$scenario" $medium "$dump_s" "${frozen:-?}" "$rest_s" \
      "$(echo "$gb / $dump_s" | bc -l)" "$(echo "$gb / $rest_s" | bc -l)" $((dump_rss / 1024)) $((rest_rss / 1024))
    rm -rf "$dir"
  done
done

# Many fds: the file table (kcmp per description), fdinfo and, for epoll,
# one kcmp search per registration at dump and one EPOLL_CTL_ADD at restore.
[ ${#FD_SCENARIOS[@]} -eq 0 ] || { echo; printf '%-16s %9s %9s %9s %9s\n' scenario dump_s restore_s dump_rss restore_rss; }
for scenario in "${FD_SCENARIOS[@]}"; do
  IFS=: read -r kind n <<<"$scenario"
  args=("$n"); [ "$kind" = epoll ] && args+=(--epoll)
  dir=$TMPFS
  rm -rf "$dir"; mkdir -p "$dir"
  log=$dir/fdhog.log
  setsid "$FDHOG" "${args[@]}" </dev/null >"$log" 2>&1 &
  pid=$!
  until grep -q -e ready -e BAD "$log" 2>/dev/null; do sleep 0.05; done
  grep -q BAD "$log" && { cat "$log"; exit 1; }
  read -r dump_s dump_rss < <(timed "$CKPT" dump -t "$pid" -D "$dir/img")
  wait "$pid" 2>/dev/null || true
  read -r rest_s rest_rss < <(timed "$CKPT" restore -D "$dir/img" -d)
  kill -TERM "$pid"
  for _ in $(seq 600); do grep -q -e OK -e BAD "$log" && break; sleep 0.05; done
  grep -q OK "$log" || echo "WARNING: the restored fds of $scenario did not verify"
  printf '%-16s %9.3f %9.3f %7dMB %7dMB\n' "$scenario" "$dump_s" "$rest_s" $((dump_rss / 1024)) $((rest_rss / 1024))
  rm -rf "$dir"
done

if [ -x scripts/bench-compel.sh ]; then
  echo
  scripts/bench-compel.sh
fi
