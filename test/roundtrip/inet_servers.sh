#!/usr/bin/env bash
# Real servers from Debian across a dump, a kill and a restore, each checked
# from outside through what it serves:
#
#   inet_servers.sh CKPT WORK nginx|http|memcached
#
#   nginx       nginx, a master and two workers (worker_processes 2, daemon
#               off, a config of its own in WORK): the same page before and
#               after, the master and both workers back with their pids
#   http        python3 -m http.server: the same file before and after
#   memcached   memcached -t 4: a value set before the dump is there after,
#               and a new client stores and reads another
#
# Run it under rt_subreaper (restored processes are reaped there), in a
# network namespace of its own with lo up (ckpt must share the target's
# network namespace, and ports never clash).  Clients close their
# connections before the dump (established TCP connections are refused),
# and the dump waits until the server has closed its side too.
set -u
CKPT=$1
WORK=$2
SERVER=$3
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1

. "$(dirname "$0")/testlib.sh"  # fail, wait_for, gone (the path is absolute: ctest gives it)

# No TCP connection held by anyone: only listeners and TIME_WAIT left.
no_connections() {
  [ -z "$(ss -Htan state established state syn-sent state syn-recv state fin-wait-1 state fin-wait-2 \
          state close-wait state last-ack state closing 2>/dev/null)" ]
}
listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }
children_of() { cat /proc/$1/task/*/children 2>/dev/null | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '; }

# One request over bash's /dev/tcp, bounded: prints the answer's lines
# until `END` or the server closes.
memcached_ask() {
  local request=$1 line
  exec 3<>/dev/tcp/127.0.0.1/11211 || return 1
  printf '%b' "$request" >&3
  while IFS= read -r -t 5 line <&3; do
    line=${line%$'\r'}
    echo "$line"
    case $line in END|STORED|ERROR*|CLIENT_ERROR*|SERVER_ERROR*) break;; esac
  done
  exec 3>&-
}

start_server() {
  case $SERVER in
  nginx)
    PORT=8080
    mkdir -p www logs tmp
    echo "the page of $$ at $(date +%s%N)" > www/index.html
    cat > nginx.conf <<EOF
worker_processes 2;
daemon off;
master_process on;
# (Workers as root too: the test is about sockets, not credentials.)
user root;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log info;
events { worker_connections 64; }
http {
  access_log $WORK/logs/access.log;
  client_body_temp_path $WORK/tmp;
  proxy_temp_path $WORK/tmp;
  fastcgi_temp_path $WORK/tmp;
  uwsgi_temp_path $WORK/tmp;
  scgi_temp_path $WORK/tmp;
  server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
EOF
    setsid nginx -p "$WORK" -c "$WORK/nginx.conf" </dev/null >server.out 2>&1 &
    ;;
  http)
    PORT=8081
    mkdir -p www
    echo "the file of $$ at $(date +%s%N)" > www/index.html
    setsid python3 -m http.server $PORT --bind 127.0.0.1 --directory www </dev/null >server.out 2>&1 &
    ;;
  memcached)
    PORT=11211
    setsid memcached -t 4 -l 127.0.0.1 -p $PORT -U 0 -u root -m 16 </dev/null >server.out 2>&1 &
    ;;
  *) fail "unknown server $SERVER";;
  esac
  PID=$!
  wait_for 30 listening $PORT || fail "$SERVER does not listen on port $PORT: $(cat server.out)"
}

fetch() { curl -s --max-time 5 "http://127.0.0.1:$PORT/index.html"; }

# What the server serves, checked; $1 names the moment.
check_serving() {
  case $SERVER in
  nginx|http)
    local got
    got=$(fetch) || fail "$1: no answer from $SERVER"
    [ "$got" = "$(cat www/index.html)" ] || fail "$1: $SERVER served '$got'"
    echo "$1: $SERVER serves the page"
    ;;
  memcached)
    local got
    got=$(memcached_ask 'get kept\r\n' | tr '\n' ' ')
    [ "$got" = "VALUE kept 0 11 the-value-1 END " ] || fail "$1: get kept answered '$got'"
    echo "$1: memcached keeps its value"
    ;;
  esac
}

scenario() {
  start_server
  if [ $SERVER = nginx ]; then
    wait_for 30 test -s nginx.pid || fail "nginx wrote no pid file"
    [ "$(cat nginx.pid)" = $PID ] || fail "nginx.pid says $(cat nginx.pid), the master is $PID"
    two_workers() { [ $(children_of $PID | wc -w) = 2 ]; }
    wait_for 30 two_workers || fail "nginx has workers '$(children_of $PID)'"
  fi
  if [ $SERVER = memcached ]; then
    got=$(memcached_ask 'set kept 0 0 11\r\nthe-value-1\r\n')
    [ "$got" = STORED ] || fail "set kept answered '$got'"
  fi
  check_serving "before the dump"
  local kids_before
  kids_before=$(children_of $PID)

  wait_for 10 no_connections || fail "connections left before the dump: $(ss -tan)"
  "$CKPT" dump -t $PID -D "$WORK/img" -v4 >dump.log 2>&1 || fail "ckpt dump: $(tail -20 dump.log)"
  wait_for 30 gone $PID || fail "$SERVER runs on after the dump"
  wait $PID 2>/dev/null
  for k in $kids_before; do wait_for 10 gone $k || fail "child $k of $SERVER runs on after the dump"; done
  ! listening $PORT || fail "port $PORT still listens after the dump"
  echo "dumped; $SERVER is gone"

  "$CKPT" restore -D "$WORK/img" -d -v4 >restore.log 2>&1 || fail "ckpt restore: $(tail -20 restore.log)"
  [ -d /proc/$PID ] || fail "$SERVER is not back as pid $PID"
  [ "$(children_of $PID)" = "$kids_before" ] || fail "children '$(children_of $PID)', were '$kids_before'"
  listening $PORT || fail "the restored $SERVER does not listen on port $PORT"
  check_serving "after the restore"
  check_serving "again after the restore"
  if [ $SERVER = memcached ]; then
    got=$(memcached_ask 'set new 0 0 3\r\nnew\r\n')
    [ "$got" = STORED ] || fail "after the restore, set new answered '$got'"
    got=$(memcached_ask 'get new\r\n' | tr '\n' ' ')
    [ "$got" = "VALUE new 0 3 new END " ] || fail "after the restore, get new answered '$got'"
    echo "after the restore: a new client stores and reads"
  fi
  kill -TERM $PID
  wait_for 30 gone $PID || fail "the restored $SERVER does not end on SIGTERM"
  echo PASS
}

# ctest hands us pipes; the servers' stdio must be files ckpt restores.
( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
