#!/usr/bin/env bash
# The main job, end to end on a fresh machine: set up, build, check the
# kernel, start a process, dump it, kill it, restore it, and show that it
# carried on from where it was.
set -euo pipefail
cd "$(dirname "$0")/.."
# Fds inherited from whoever started us (maybe from another mount namespace)
# must not reach the process we dump.
for fd in $(ls /proc/$$/fd); do [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done 2>/dev/null
scripts/install-deps.sh >/dev/null
# Only what the demo runs: the binary and the demo program, not the test
# suite.
scripts/build.sh ckpt ckpt_demo_ticker >/dev/null
CKPT=$PWD/build/ckpt
TICKER=$PWD/build/test/demo/ckpt_demo_ticker
WORK=$(mktemp -d /tmp/ckpt-demo.XXXXXX)
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "ckpt check"
"$CKPT" check

say "start a process that counts up (its count lives only in its memory)"
: >"$WORK/ticker.log"
setsid "$TICKER" </dev/null >"$WORK/ticker.log" 2>&1 &
pid=$!
end=$((SECONDS + 10))
until [ "$(wc -l <"$WORK/ticker.log")" -ge 5 ]; do
  [ $SECONDS -lt $end ] || { echo "the ticker does not tick"; exit 1; }
  sleep 0.1
done
tail -n 2 "$WORK/ticker.log"

say "ckpt dump -t $pid -D $WORK/images   (the process is frozen, saved, killed)"
"$CKPT" dump -t "$pid" -D "$WORK/images"
wait "$pid" 2>/dev/null || true
[ ! -d /proc/$pid ] && echo "pid $pid is gone"
last=$(tail -n 1 "$WORK/ticker.log")
echo "last line before the dump: $last"
ls -l "$WORK/images"

say "ckpt show $WORK/images/inventory.img"
"$CKPT" show "$WORK/images/inventory.img"

say "ckpt restore -D $WORK/images   (ckpt stays its parent)"
lines=$(wc -l <"$WORK/ticker.log")
"$CKPT" restore -D "$WORK/images" --pidfile "$WORK/restored.pid" &
restorer=$!
end=$((SECONDS + 10))
until [ -s "$WORK/restored.pid" ]; do
  [ $SECONDS -lt $end ] || { echo "restore did not start the process"; exit 1; }
  sleep 0.1
done
echo "restored as pid $(cat "$WORK/restored.pid")"
end=$((SECONDS + 10))
until [ "$(wc -l <"$WORK/ticker.log")" -ge $((lines + 5)) ]; do
  [ $SECONDS -lt $end ] || { echo "the restored ticker does not tick"; exit 1; }
  sleep 0.1
done
echo "it carried on:"
sed -n "$((lines - 1)),$((lines + 3))p" "$WORK/ticker.log"
kill "$pid"
wait "$restorer" || true
say "done: images and log in $WORK"
