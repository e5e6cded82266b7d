#!/bin/sh
# unix_outside.sh PROG DRIVER-COMMAND...: runs the driver with a datagram
# server outside the tested tree (PROG --serve NAME, a child of this shell,
# not of the driver), named in CKPT_TEST_UNIX_SERVER; stops it afterwards.
prog=$1
shift
name="@ckpt-rt-outside-$$"
"$prog" --serve "$name" </dev/null >/dev/null 2>&1 &
server=$!
CKPT_TEST_UNIX_SERVER=$name "$@"
rc=$?
kill "$server" 2>/dev/null
wait "$server" 2>/dev/null
exit $rc
