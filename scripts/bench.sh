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
#   tcp:N                 one process with N established TCP connections
#                         (--tcp-established), each with 64 KiB queued it has
#                         not read, to peers in one helper process outside
#                         the tree, all in a private network namespace
# default: single:256 single:1024 single:4096 threads:64:1024 tree:64:16 shared:1024 pipe:1
#          fds:10000 epoll:10000 tcp:1000 (about 10 s)
#
# Prints, per memory scenario and medium: dump wall time, how long the tree
# was frozen (from dump.log), restore wall time, throughput over all the
# memory, ckpt's peak RSS; per fd scenario (images on tmpfs): dump and
# restore wall times and ckpt's peak RSS; per tcp scenario (images on
# tmpfs): dump and restore wall times, and how long the peers' connections
# stall: from the dump's start until the helper sees the holder's
# heartbeats (one byte per connection every max(20, N/5) ms) flow again
# after the restore, the median and the longest over the connections; and
# the segment size of the holder's connections (ss -i's mss, the most common
# value) before the dump and once they flow again.
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
  SCENARIOS=(single:256 single:1024 single:4096 threads:64:1024 tree:64:16 shared:1024 pipe:1 fds:10000 epoll:10000
    tcp:1000)
FDHOG=$PWD/build/test/bench/ckpt_bench_fdhog
MEM_SCENARIOS=() FD_SCENARIOS=() TCP_SCENARIOS=()
for s in "${SCENARIOS[@]}"; do
  case $s in fds:* | epoll:*) FD_SCENARIOS+=("$s") ;; tcp:*) TCP_SCENARIOS+=("$s") ;; *) MEM_SCENARIOS+=("$s") ;; esac
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

# Many established TCP connections, each locked by the dump's nftables
# table and saved and restored with TCP_REPAIR.  The holder and its peers
# (rt_tcp_many, test/roundtrip/progs/tcp_many.cpp) and ckpt in a network
# namespace of their own; it prints "dump_s restore_s stall_median_ms
# stall_max_ms mss_before mss_after verdict".
TCPHOG=$PWD/build/test/roundtrip/rt_tcp_many
TCP_BENCH='
set -u
CKPT=$1 HOG=$2 N=$3 DIR=$4
ip link set lo up
ulimit -n $((2 * N + 256))
period=$((N / 5)); [ $period -lt 20 ] && period=20
# A bounded wait for a line in a log: until LIMIT_S PATTERN FILE.
until_seen() { local i; for i in $(seq $(($1 * 20))); do grep -q "$2" "$3" 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# The most common segment size of the holder connections (those to port 5000).
holder_mss() { ss -Htin state established "( dport = :5000 )" | grep -o " mss:[0-9]*" | sort | uniq -c | sort -rn |
  awk "NR == 1 { sub(/mss:/, \"\", \$2); print \$2 }"; }
setsid "$HOG" helper $N 5000 </dev/null >"$DIR/helper.log" 2>&1 &
helper=$!
until_seen 30 listening "$DIR/helper.log" || { echo "- - - - - - helper-did-not-listen"; exit 1; }
setsid "$HOG" holder $N 5000 $period </dev/null >"$DIR/holder.log" 2>&1 &
pid=$!
until_seen 120 "^ready" "$DIR/holder.log" && until_seen 120 "^ready" "$DIR/helper.log" ||
  { echo "- - - - - - not-ready"; kill -KILL $pid $helper; exit 1; }
sleep 0.5  # a few heartbeats before the dump
mss_before=$(holder_mss)
start=$(date +%s.%N)
"$CKPT" dump -t $pid -D "$DIR/img" --tcp-established >"$DIR/dump.out" 2>&1 || { echo "- - - - - - dump-failed"; cat "$DIR/dump.out" >&2; kill -KILL $helper; exit 1; }
dumped=$(date +%s.%N)
wait $pid 2>/dev/null
"$CKPT" restore -D "$DIR/img" -d --tcp-established >"$DIR/restore.out" 2>&1 || { echo "- - - - - - restore-failed"; cat "$DIR/restore.out" >&2; kill -KILL $helper; exit 1; }
restored=$(date +%s.%N)
kill -USR1 $helper
until_seen 60 flowing "$DIR/helper.log" || echo "WARNING: not every connection flows again within 60 s" >&2
mss_after=$(holder_mss)
kill -TERM $pid
until_seen 120 "OK\|BAD" "$DIR/holder.log"
until_seen 60 gap_max "$DIR/helper.log" || kill -KILL $helper
read -r _ gap_max _ gap_med _ resume_max _ resume_med _ resets _ eofs < <(grep gap_max "$DIR/helper.log")
verdict=$(grep -o -e OK -e "BAD.*" "$DIR/holder.log" | head -1)
[ "${resets:-1}" = 0 ] || verdict="$verdict,resets:${resets:-?}"
printf "%.3f %.3f %.0f %.0f %s %s %s\n" "$(echo "$dumped - $start" | bc -l)" "$(echo "$restored - $dumped" | bc -l)" \
  "$(echo "($resume_med - $start) * 1000" | bc -l)" "$(echo "($resume_max - $start) * 1000" | bc -l)" \
  "${mss_before:-?}" "${mss_after:-?}" "${verdict:-none}"
'
[ ${#TCP_SCENARIOS[@]} -eq 0 ] || { echo; printf '%-16s %9s %9s %16s %13s %10s %9s %s\n' scenario dump_s restore_s stall_median_ms stall_max_ms mss_before mss_after verdict; }
for scenario in "${TCP_SCENARIOS[@]}"; do
  IFS=: read -r kind n <<<"$scenario"
  dir=$TMPFS
  rm -rf "$dir"; mkdir -p "$dir"
  read -r dump_s rest_s stall_med stall_max mss_before mss_after verdict < \
    <(unshare -n bash -c "$TCP_BENCH" tcp-bench "$CKPT" "$TCPHOG" "$n" "$dir") || true
  printf '%-16s %9s %9s %16s %13s %10s %9s %s\n' "$scenario" "$dump_s" "$rest_s" "$stall_med" "$stall_max" \
    "$mss_before" "$mss_after" "$verdict"
  [ "$verdict" = OK ] || echo "WARNING: the connections of $scenario did not verify (see $dir)"
  [ "$mss_before" = "$mss_after" ] || echo "WARNING: the restored connections of $scenario send segments of another size"
  [ "$verdict" = OK ] && rm -rf "$dir"
done

if [ -x scripts/bench-compel.sh ]; then
  echo
  scripts/bench-compel.sh
fi
