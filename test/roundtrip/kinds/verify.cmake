# The manifest (docs/image-format.md#the-manifest): `ckpt verify` and restore
# on each corruption of a real tree's images, and `ckpt show --ps --fds
# --mems` on them (verify.sh says what is checked).
add_test(NAME roundtrip.verify
  COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/verify.sh $<TARGET_FILE:ckpt> $<TARGET_FILE:rt_tree>
          ${CMAKE_CURRENT_BINARY_DIR}/work/verify)
set_tests_properties(roundtrip.verify PROPERTIES TIMEOUT 300 LABELS roundtrip)
