# Deleted files that still have another name (dump --link-remap, see
# src/dump/link_remap.h and src/restore/link_remap.cpp): progs/link_remap.cpp
# holds an fd and a MAP_SHARED mapping of a file whose other name stays.
# With --link-remap the dump links the inode back, the restore takes that
# very inode again (writes through the fd reach the other name) and removes
# the link; the program checks no link is left (but in leave-running, whose
# original keeps it until the restore).
foreach(mode plain leave-running redump fail-cleanup)
  add_test(NAME roundtrip.link_remap.${mode}
    COMMAND $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_link_remap> --mode ${mode}
            --dump-arg --link-remap --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/link_remap.${mode})
  set_tests_properties(roundtrip.link_remap.${mode} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endforeach()
# The first restore removes the link: a second restore of the same images
# is refused, naming the file and the missing link, and leaves nothing.
set(lr_work ${CMAKE_CURRENT_BINARY_DIR}/work/link_remap.second-restore)
add_test(NAME roundtrip.link_remap.second-restore
  COMMAND $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_link_remap> --mode twice-refused
          --dump-arg --link-remap
          --expect "cannot restore the deleted file ${lr_work}/link-remap.dat"
          --expect "its link ${lr_work}/.ckpt_link_remap."
          --expect "(made by dump --link-remap) is gone"
          --workdir ${lr_work})
set_tests_properties(roundtrip.link_remap.second-restore PROPERTIES TIMEOUT 600 LABELS roundtrip)
# The file's deleted name taken again before the restore: refused, naming
# both the path and the link (which stays, for a restore once it is free).
set(lr_work ${CMAKE_CURRENT_BINARY_DIR}/work/link_remap.path-taken)
add_test(NAME roundtrip.link_remap.path-taken
  COMMAND $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_link_remap> --mode restore-refused
          --dump-arg --link-remap --before-restore "echo other > link-remap.dat"
          --expect "cannot restore the deleted file ${lr_work}/link-remap.dat"
          --expect "from its link ${lr_work}/.ckpt_link_remap."
          --expect "${lr_work}/link-remap.dat is taken by another file"
          --workdir ${lr_work})
set_tests_properties(roundtrip.link_remap.path-taken PROPERTIES TIMEOUT 600 LABELS roundtrip)
# Without --link-remap: refused by the pre-flight, naming the file and the
# option; the program runs on.
add_refused(link_remap.refused link_remap
  EXPECT "@WORKDIR@/link-remap.dat was deleted but still has 1 other link: use --link-remap")
# A dump that fails after the link is made (CKPT_DUMP_TEST_FAIL, just
# before the commit) removes it: the program, run on, finds no link left.
add_refused(link_remap.failed-dump link_remap ENV CKPT_DUMP_TEST_FAIL=before-commit ARGS --dump-arg --link-remap
  EXPECT "failing before-commit, as CKPT_DUMP_TEST_FAIL asks")
# `ckpt check -t` names the fd and the area without the option, passes the
# tree with it, and makes no link (link_remap_check.sh).
add_test(NAME roundtrip.link_remap.check
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/link_remap_check.sh $<TARGET_FILE:ckpt> $<TARGET_FILE:rt_link_remap>
          ${CMAKE_CURRENT_BINARY_DIR}/work/link_remap.check)
set_tests_properties(roundtrip.link_remap.check PROPERTIES TIMEOUT 300 LABELS roundtrip)
