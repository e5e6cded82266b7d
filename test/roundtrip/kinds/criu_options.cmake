# CRIU's options that change what dump and restore do, each from a shell
# (criu_options.sh CASE): -s/--leave-stopped on both sides, -S/--restore-sibling,
# --action-script stages in order (and a failing script), --exec-cmd,
# --manage-cgroups ignore, --timeout on a vfork parent, --freeze-cgroup on a
# cgroup v2 directory of the test's, -W and --log-pid (and dump --root refused).
foreach(case leave-stopped restore-sibling action-script exec-cmd manage-cgroups freeze-cgroup logs)
  add_test(NAME roundtrip.criu_options.${case}
    COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/criu_options.sh ${case} $<TARGET_FILE:ckpt>
            $<TARGET_FILE:rt_sleeper> ${CMAKE_CURRENT_BINARY_DIR}/work/criu_options.${case})
  set_tests_properties(roundtrip.criu_options.${case} PROPERTIES TIMEOUT 300 LABELS roundtrip)
endforeach()
add_test(NAME roundtrip.criu_options.timeout
  COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/criu_options.sh timeout $<TARGET_FILE:ckpt>
          $<TARGET_FILE:rt_vfork_hold> ${CMAKE_CURRENT_BINARY_DIR}/work/criu_options.timeout)
set_tests_properties(roundtrip.criu_options.timeout PROPERTIES TIMEOUT 300 LABELS roundtrip)
# The network stages of the action scripts, around a TCP connection of the
# program to itself, in a network namespace of the test's own.
add_test(NAME roundtrip.criu_options.action-script-tcp
  COMMAND unshare -n sh -c "ip link set lo up && exec \"$0\" \"$@\""
          $<TARGET_FILE:rt_subreaper> ${CMAKE_CURRENT_SOURCE_DIR}/criu_options.sh action-script-tcp
          $<TARGET_FILE:ckpt> $<TARGET_FILE:rt_inet_refused> ${CMAKE_CURRENT_BINARY_DIR}/work/criu_options.action-script-tcp)
set_tests_properties(roundtrip.criu_options.action-script-tcp PROPERTIES TIMEOUT 300 LABELS roundtrip)
