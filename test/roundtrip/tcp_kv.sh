#!/usr/bin/env bash
# A multi-threaded in-memory key-value server from Debian (memcached -t 4)
# with a client connection held open across its dump and restore:
#
#   tcp_kv.sh CKPT WORK
#
# This script is the client (bash's /dev/tcp on fd 3, outside the dumped
# tree): it stores 100 keys on its connection, memcached is dumped with
# --tcp-established (killed) and restored, and the SAME connection (the
# same ports, never reopened) then reads every key back and stores one
# more, which a new client reads.  Run it under rt_subreaper (the restored
# server is reaped there), in a network namespace of its own with lo up.
set -u
CKPT=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"  # fail, wait_for, gone
PORT=11211
listening() { ss -Htln "sport = :$PORT" 2>/dev/null | grep -q .; }
# The client's connection as ss sees it: "LOCAL PEER", both ends.
connection() { ss -Htn state established "dport = :$PORT" | awk '{print $3, $4}'; }
server_side() { ss -Htn state established "sport = :$PORT" | awk '{print $3, $4}'; }
value_of() { printf 'value-%d-%0300d' $1 $1; }

# One reply line from fd FD, bounded, without its \r.
reply() { local line; IFS= read -r -t 5 line <&$1 || return 1; echo "${line%$'\r'}"; }
store() {  # FD KEY VALUE
  printf 'set %s 0 0 %d\r\n%s\r\n' "$2" ${#3} "$3" >&$1
  local got; got=$(reply $1) || fail "set $2: no answer"
  [ "$got" = STORED ] || fail "set $2 answered '$got'"
}
fetch() {  # FD KEY: the value
  printf 'get %s\r\n' "$2" >&$1
  local head data end
  head=$(reply $1) || fail "get $2: no answer"
  [ "${head% *}" = "VALUE $2 0" ] || fail "get $2 answered '$head'"
  data=$(reply $1) || fail "get $2: no data"
  end=$(reply $1) || fail "get $2: no END"
  [ "$end" = END ] || fail "get $2: '$end' after the value"
  echo "$data"
}

scenario() {
  setsid memcached -t 4 -l 127.0.0.1 -p $PORT -U 0 -u root -m 16 </dev/null >server.out 2>&1 &
  PID=$!
  wait_for 30 listening || fail "memcached does not listen: $(cat server.out)"
  exec 3<>/dev/tcp/127.0.0.1/$PORT || fail "cannot connect to memcached"
  local i
  for i in $(seq 100); do store 3 key-$i "$(value_of $i)"; done
  local conn; conn=$(connection)
  [ -n "$conn" ] && [ -n "$(server_side)" ] || fail "no established connection: $(ss -tan)"
  echo "100 keys stored on $conn; memcached has $(ls /proc/$PID/task | wc -l) threads"

  "$CKPT" dump -t $PID -D "$WORK/img" --tcp-established -v4 >dump.log 2>&1 || fail "ckpt dump: $(tail -20 dump.log)"
  wait_for 30 gone $PID || fail "memcached runs on after the dump"
  wait $PID 2>/dev/null
  [ -z "$(server_side)" ] || fail "memcached's side of the connection is still there after the dump: $(ss -tan)"
  echo "dumped; memcached is gone, the client holds $(connection)"

  "$CKPT" restore -D "$WORK/img" -d --tcp-established -v4 >restore.log 2>&1 || fail "ckpt restore: $(tail -20 restore.log)"
  [ -d /proc/$PID ] || fail "memcached is not back as pid $PID"
  listening || fail "the restored memcached does not listen"
  ! nft list tables 2>/dev/null | grep -q ckpt_ || fail "a ckpt_ table is left after the restore: $(nft list tables)"
  for i in $(seq 100); do
    [ "$(fetch 3 key-$i)" = "$(value_of $i)" ] || fail "after the restore, key-$i has another value"
  done
  [ "$(connection)" = "$conn" ] || fail "the client's connection is '$(connection)', was '$conn'"
  [ -n "$(server_side)" ] || fail "memcached's side of the connection is not back: $(ss -tan)"
  echo "after the restore: the same connection ($conn) reads back the 100 keys"
  store 3 after "stored-after-the-restore"
  exec 4<>/dev/tcp/127.0.0.1/$PORT || fail "a new client cannot connect"
  [ "$(fetch 4 after)" = stored-after-the-restore ] || fail "the new client does not read 'after'"
  [ "$(fetch 4 key-42)" = "$(value_of 42)" ] || fail "the new client does not read key-42"
  exec 4>&-
  echo "a new client reads what the old connection stored"
  exec 3>&-
  kill -TERM $PID
  wait_for 30 gone $PID || fail "the restored memcached does not end on SIGTERM"
  echo PASS
}

# ctest hands us pipes; the server's stdio must be files ckpt restores.
( trap 'kill -KILL ${PID:-} 2>/dev/null' EXIT; scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
