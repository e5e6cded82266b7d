#!/bin/bash
# A UDP socket in a multicast group on a veth interface, dumped; the
# interface deleted; the restore must refuse, naming the socket, the group
# and the interface, before making anything.  Runs in a network namespace
# of its own (kinds/inet_multicast.cmake).  Usage: CKPT WORKDIR
set -u
ckpt=$1 work=$2
rm -rf "$work" && mkdir -p "$work/img" || exit 1
export READY=$work/ready
ip link set lo up && ip link add mcast7 type veth peer name mcast8 && ip link set mcast7 up || exit 1
python3 -c '
import os, socket, struct, time
os.closerange(3, 1024)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 7000))
mreqn = struct.pack("4s4si", socket.inet_aton("239.9.9.9"), b"\0" * 4, socket.if_nametoindex("mcast7"))
s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
open(os.environ["READY"], "w").close()
time.sleep(60)' </dev/null >"$work/prog.log" 2>&1 &
prog=$!
for i in $(seq 100); do [ -e "$READY" ] && break; sleep 0.1; done
[ -e "$READY" ] || { echo "FAIL: the program did not start"; cat "$work/prog.log"; kill $prog; exit 1; }
if ! "$ckpt" dump -t $prog -D "$work/img" >"$work/dump.log" 2>&1; then
  echo "FAIL: dump failed"; cat "$work/dump.log"; kill $prog 2>/dev/null; wait; exit 1
fi
wait
ip link del mcast7
out=$("$ckpt" restore -D "$work/img" -d 2>&1)
rc=$?
want="its UDP socket 0.0.0.0:7000 is a member of multicast group 239.9.9.9 on interface mcast7 (index"
if [ $rc -eq 0 ]; then echo "FAIL: the restore did not refuse: $out"; exit 1; fi
case "$out" in
  *"$want"*"which does not exist here"*) echo "PASS: $out" ;;
  *) echo "FAIL: want '$want ...', got: $out"; exit 1 ;;
esac
