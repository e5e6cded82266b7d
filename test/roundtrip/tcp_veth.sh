#!/usr/bin/env bash
# Two test hosts joined by a veth pair, made here and torn down whatever
# happens: network namespaces ckpt-tcp-PID-a (the peer, 10.77.0.1/24) and
# ckpt-tcp-PID-b (the client, 10.77.0.2/24), addresses only inside them.
# rt_tcp_client in b, connected to rt_tcp_peer in a with 100 KiB queued
# each way, is dumped and restored in b by the round-trip driver (run
# there with ip netns exec); the peer keeps its connection, which goes on
# byte-exact (its verdict), and b is left with no ckpt_ nftables table.
#
#   tcp_veth.sh CKPT WORK PEER DRIVER CLIENT
set -u
CKPT=$1 WORK=$2 PEER=$3 DRIVER=$4 CLIENT=$5
rm -rf "$WORK" && mkdir -p "$WORK" && cd "$WORK" || exit 1
. "$(dirname "$0")/testlib.sh"  # fail, wait_for, gone
A=ckpt-tcp-$$-a
B=ckpt-tcp-$$-b
peer=
teardown() {
  [ -z "$peer" ] || kill -KILL $peer 2>/dev/null
  ip netns del $A 2>/dev/null
  ip netns del $B 2>/dev/null
}
trap teardown EXIT

scenario() {
  ip netns add $A && ip netns add $B || fail "ip netns add"
  ip -n $A link set lo up && ip -n $B link set lo up || fail "lo up"
  ip -n $A link add vt-a type veth peer name vt-b netns $B || fail "ip link add veth"
  ip -n $A addr add 10.77.0.1/24 dev vt-a && ip -n $A link set vt-a up || fail "address of a"
  ip -n $B addr add 10.77.0.2/24 dev vt-b && ip -n $B link set vt-b up || fail "address of b"
  mkfifo ctl || fail mkfifo
  ip netns exec $A "$PEER" stream --listen 10.77.0.1 5000 --go-after 1 --ctl "$WORK/ctl" </dev/null >peer.out 2>&1 &
  peer=$!
  listening() { grep -q '^listening' peer.out; }
  wait_for 30 listening || fail "the peer does not listen: $(cat peer.out)"
  ip netns exec $B env "CKPT_TEST_TCP_PEER=10.77.0.1 5000" "CKPT_TEST_TCP_LOCAL=10.77.0.2 41000" \
    "$DRIVER" --ckpt "$CKPT" --prog "$CLIENT" --mode plain \
    --dump-arg --tcp-established --restore-arg --tcp-established \
    --before-restore "echo restore > $WORK/ctl" --workdir "$WORK/driver"
  local rc=$?
  # (After a failed driver the peer may wait for a restore that never comes.)
  [ $rc = 0 ] || kill -KILL $peer 2>/dev/null
  wait_for 120 gone $peer || fail "the peer did not end within 120 s: $(cat peer.out)"
  wait $peer
  local peer_rc=$?
  peer=
  echo "--- the peer in $A (exit $peer_rc):"; cat peer.out
  [ $rc = 0 ] || fail "the driver in $B failed ($rc)"
  [ $peer_rc = 0 ] && grep -q '^PEER PASS' peer.out || fail "the peer's verdict is not PASS"
  ! ip netns exec $B nft list tables | grep -q ckpt_ || fail "a ckpt_ table is left in $B"
  echo PASS
}
# (The subshell tears down too: fail exits it, the peer is its child.)
( trap teardown EXIT; scenario ) </dev/null >"$WORK/scenario.log" 2>&1
rc=$?
cat "$WORK/scenario.log"
exit $rc
