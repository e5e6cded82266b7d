# File locks with --file-locks on both sides (src/files/file_locks.cpp):
# after the restore, processes made then find each lock held by the same
# holder, and the holder can release it.  (Without the option the dump is
# refused: the add_refused(file_locks...) tests of ../CMakeLists.txt.)
foreach(lock flock posix-read posix-write ofd child-posix inherited-flock all)
  set(skips)
  # The kernel shows a flock with the pid that took it: the parent, which
  # then closed its fd; restore takes it in the child, the description's
  # only holder, so the child's pid shows.
  if(lock STREQUAL "inherited-flock")
    set(skips --snapshot-skip "fdinfo 3 lock")
  endif()
  foreach(mode plain leave-running twice redump)
    add_test(NAME roundtrip.file_locks.${lock}.${mode}
      COMMAND env CKPT_TEST_LOCK=${lock}
              $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_file_locks> --mode ${mode}
              --dump-arg --file-locks --restore-arg --file-locks ${skips}
              --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/file_locks.${lock}.${mode})
    set_tests_properties(roundtrip.file_locks.${lock}.${mode} PROPERTIES TIMEOUT 600 LABELS roundtrip)
  endforeach()
endforeach()
# A lease is refused even with --file-locks.
add_refused(file_locks.lease.file-locks.refused file_locks ENV CKPT_TEST_LOCK=lease ARGS --dump-arg --file-locks
  EXPECT "holds a read lease on @WORKDIR@/locked-file: leases are not supported yet")
# Images with locks, restored without --file-locks: refused, naming the option.
add_test(NAME roundtrip.file_locks.restore-without-option
  COMMAND env CKPT_TEST_LOCK=flock
          $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_file_locks> --mode restore-refused
          --dump-arg --file-locks --expect "it holds a flock write lock; restore with --file-locks"
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/file_locks.restore-without-option)
set_tests_properties(roundtrip.file_locks.restore-without-option PROPERTIES TIMEOUT 600 LABELS roundtrip)
# A POSIX lock on a file the process also maps: the restorer's fd of the
# mapping, closed after the lock is taken, would drop it; refused.
add_refused(file_locks.posix-mapped.refused file_locks ENV CKPT_TEST_LOCK=posix-mapped ARGS --dump-arg --file-locks
  EXPECT "holds a POSIX write lock on @WORKDIR@/locked-file: the process also maps that file")
