#!/usr/bin/env bash
# An SQL shell (sqlite3) reading its commands from a FIFO, dumped in the
# middle of a transaction (BEGIN; INSERT ...): after restore it is sent
# COMMIT through the FIFO, and another sqlite3 then finds the rows.
#   pipe_sqlite.sh CKPT WORKDIR
# sqlite3 opens the database with the unix-none VFS, which takes no file
# locks: ckpt refuses held POSIX locks without --file-locks (file locks are
# their own kind).  sqlite3 reads the FIFO opened read-write (<>), as a
# daemon would, so that each writer's close is no EOF for it.
set -u
CKPT=$1
WORK=$2
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"

DB=$WORK/test.db
# What sqlite3 has done so far: it touches a flag file when it gets there
# (.shell), which also shows it read and ran every command before it.
send() { printf '%s\n' "$@" > cmd.fifo; }
flag() { [ -e "$1" ]; }
rows() { sqlite3 "file:$DB?immutable=1" 'SELECT count(*), coalesce(sum(x), 0) FROM t'; }

scenario() {
  mkfifo cmd.fifo || fail "mkfifo"
  setsid bash -c 'exec sqlite3 -batch "file:$0?vfs=unix-none" <>cmd.fifo' "$DB" >sql.out 2>&1 &
  pid=$!
  echo $pid > pid
  wait_for 30 comm_is $pid sqlite3 || fail "sqlite3 does not start: $(cat sql.out)"
  send 'CREATE TABLE t(x INTEGER);' 'BEGIN;' 'INSERT INTO t VALUES (1);' 'INSERT INTO t VALUES (2);' \
    'INSERT INTO t VALUES (39);' '.shell touch mid.flag'
  wait_for 30 flag mid.flag || fail "sqlite3 does not get to the middle of its transaction: $(cat sql.out)"
  # (immutable=1: no look at the journal, which a plain reader would take
  # for a crashed writer's and roll back.)
  [ "$(rows)" = "0|0" ] || fail "the rows are in the database before COMMIT: $(rows)"
  [ -s test.db-journal ] || fail "no transaction is open (no journal)"
  "$CKPT" dump -t $pid -D "$WORK/img" -v4 2>dump.err || fail "dump of sqlite3: $(tail -5 dump.err)"
  wait_for 10 gone $pid || fail "the dumped sqlite3 $pid is still there"
  [ "$(rows)" = "0|0" ] || fail "the rows are in the database after the dump: $(rows)"
  "$CKPT" restore -D "$WORK/img" -d -v4 2>restore.err || fail "restore of sqlite3: $(tail -5 restore.err)"
  wait_for 30 comm_is $pid sqlite3 || fail "sqlite3 is not back with pid $pid"
  send 'INSERT INTO t VALUES (100);' 'COMMIT;' '.shell touch done.flag'
  wait_for 30 flag done.flag || fail "the restored sqlite3 does not commit: $(cat sql.out)"
  got=$(sqlite3 "$DB" 'SELECT count(*), sum(x) FROM t')
  [ "$got" = "4|142" ] || fail "after COMMIT the table has (count|sum) $got, want 4|142; sqlite3 said: $(cat sql.out)"
  send '.quit'
  wait_for 30 gone $pid || fail "sqlite3 does not quit"
  [ ! -s sql.out ] || fail "sqlite3 complained: $(cat sql.out)"
  echo "the transaction begun before the dump committed after the restore: $got"
  echo PASS
}

( scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
[ $rc -eq 0 ] || kill -KILL $(cat "$WORK/pid" 2>/dev/null) 2>/dev/null
exit $rc
