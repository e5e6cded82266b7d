# restore --root PATH (root.sh, progs/root_files.cpp): in a mount namespace
# of the test's own, PATH a bind mount of /; refusals (a missing root, an
# empty one, a file missing under PATH) that create nothing, a round trip
# whose root, cwd, fds and mapped files are all under PATH, and --root /.
add_test(NAME roundtrip.root.files
  COMMAND unshare -m --propagation private $<TARGET_FILE:rt_subreaper> ${CMAKE_CURRENT_SOURCE_DIR}/root.sh
          $<TARGET_FILE:ckpt> $<TARGET_FILE:rt_root_files> ${CMAKE_CURRENT_BINARY_DIR}/work/root.files)
set_tests_properties(roundtrip.root.files PROPERTIES TIMEOUT 300 LABELS roundtrip)
