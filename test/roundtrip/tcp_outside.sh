#!/usr/bin/env bash
# tcp_outside.sh WORK PEER PEER-ARG... -- COMMAND...: runs COMMAND (the
# round-trip driver, with the program in the tree) while rt_tcp_peer runs
# outside the driver's tree (a child of this script, not of the driver).
# The peer gets `--ctl WORK/ctl`, a FIFO the driver's --before-restore
# writes "restore" to.  Passes if COMMAND passes, the peer says PEER PASS
# (its own verdict on the connections) and no ckpt_ nftables table is left.
# Run it in a network namespace of its own with lo up.
set -u
WORK=$1
PEER=$2
shift 2
peer_args=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do peer_args+=("$1"); shift; done
[ "${1:-}" = -- ] || { echo "FAIL: usage: tcp_outside.sh WORK PEER PEER-ARG... -- COMMAND..."; exit 2; }
shift
. "$(dirname "$0")/testlib.sh"  # fail, wait_for, gone
rm -rf "$WORK" && mkdir -p "$WORK" || exit 1
mkfifo "$WORK/ctl" || exit 1

"$PEER" "${peer_args[@]}" --ctl "$WORK/ctl" </dev/null >"$WORK/peer.out" 2>&1 &
peer=$!
trap 'kill -KILL $peer 2>/dev/null' EXIT
listening() { grep -q "^listening" "$WORK/peer.out" 2>/dev/null; }
case " ${peer_args[*]} " in
*" --listen "*) wait_for 30 listening || fail "the peer does not listen: $(cat "$WORK/peer.out")";;
esac

"$@"
rc=$?
# The peer ends by itself once its connections did (or failed); after a
# failed driver it may wait for a restore that never comes.
[ $rc = 0 ] || kill -KILL $peer 2>/dev/null
wait_for 120 gone $peer || { kill -KILL $peer; echo "the peer did not end within 120 s"; }
wait $peer 2>/dev/null
peer_rc=$?
echo "--- the peer (exit $peer_rc):"
cat "$WORK/peer.out"
[ $rc = 0 ] || fail "the driver failed ($rc)"
[ $peer_rc = 0 ] && grep -q '^PEER PASS' "$WORK/peer.out" || fail "the peer's verdict is not PASS"
if nft list tables 2>/dev/null | grep -q ckpt_; then fail "an nftables table of ckpt is left: $(nft list tables)"; fi
echo PASS
