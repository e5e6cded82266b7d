#!/usr/bin/env bash
# tcp_twice_hook.sh PEER-WORK PORT: the driver's --before-restore for mode
# twice with a peer outside the tree.  Two restores of one image set give
# the peer's one connection two lives in turn; the first only looks and
# leaves silently (tcp_client.cpp), and from the end of its restore (which
# unlocks) until the second restore locks again, nothing may answer the
# peer: its segments would find no socket on PORT and the kernel would
# reset the connection.  So the test locks it itself meanwhile, as a
# caller of `--network-lock skip` would: a table of its own, rt_tcp_twice,
# dropping PORT's packets.
#   before restore 1: the table is made
#   before restore 2: in the background, once the restore has its own lock
#                     (a ckpt_ table) or the socket is back, the table goes
#                     and the peer is told to go on ("restore" twice on its
#                     FIFO); bounded
# Run in the test's network namespace.
set -u
WORK=$1 PORT=$2
n=$(($(cat "$WORK/restores" 2>/dev/null || echo 0) + 1))
echo $n >"$WORK/restores"
if [ $n = 1 ]; then
  nft -f - <<NFT || exit 1
table inet rt_tcp_twice {
  chain in { type filter hook input priority -10; policy accept; tcp sport $PORT drop; tcp dport $PORT drop; }
  chain out { type filter hook output priority -10; policy accept; tcp sport $PORT drop; tcp dport $PORT drop; }
}
NFT
  echo restore >"$WORK/ctl"
  exit 0
fi
relocked() {
  nft list tables 2>/dev/null | grep -q ckpt_ || [ -n "$(ss -Htn state established "sport = :$PORT")" ]
}
(
  for _ in $(seq 6000); do relocked && break; sleep 0.01; done
  nft delete table inet rt_tcp_twice
  echo restore >"$WORK/ctl"
) </dev/null >"$WORK/hook.out" 2>&1 &
