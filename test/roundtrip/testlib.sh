# Shared by the shell round trips (sourced): a failure message and a bounded
# wait, so that no script waits without a limit.

fail() { echo "FAIL: $*"; exit 1; }

# Bounded wait for a condition: wait_for SECONDS CMD...
wait_for() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@"; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.05
  done
}
