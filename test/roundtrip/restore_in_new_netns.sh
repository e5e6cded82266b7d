#!/bin/sh
# Stands in for ckpt (the driver's --ckpt) so that `restore` runs in a new
# network namespace of its own, with only lo up: the migration case, where
# the images meet a network with the same addresses but none of the dump's
# state (no lock table).  Every other command is ckpt's own.
# Usage: CKPT_REAL=/path/to/ckpt restore_in_new_netns.sh COMMAND ARGS...
ckpt=${CKPT_REAL:?CKPT_REAL names the ckpt binary}
if [ "$1" = restore ]; then
  exec unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' "$ckpt" "$@"
fi
exec "$ckpt" "$@"
