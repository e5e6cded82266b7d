# `ckpt check -t` on running trees: every blocker named with its remedy, the
# tree never stopped, a clean tree passed and then dumped (check_tree.sh).
# In a network namespace of its own: one tree holds a TCP connection.
add_test(NAME roundtrip.check_tree
  COMMAND unshare -n $<TARGET_FILE:rt_subreaper> ${CMAKE_CURRENT_SOURCE_DIR}/check_tree.sh $<TARGET_FILE:ckpt>
          $<TARGET_FILE:rt_check_tree> ${CMAKE_CURRENT_BINARY_DIR}/work/check_tree)
set_tests_properties(roundtrip.check_tree PROPERTIES TIMEOUT 300 LABELS roundtrip)
