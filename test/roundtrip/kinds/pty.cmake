# Ptys made in the tree (src/files/pty.cpp).  A restored pty has its dumped
# index only if that is free at restore (other tests make ptys too): else
# the slave's path (/dev/pts/N), its inode on devpts, the master's tty-index
# and the session's tty_nr legitimately change.
set(RT_PTY_SKIPS "fd [3-9]" "fdinfo * ino" "fdinfo * tty-index" "stat tty_nr")
# A shell-like reader on the slave, a session leader with it as controlling
# terminal; queued data both ways, termios, window size, SIGWINCH.
set(RT_SNAPSHOT_SKIP_pty_shell ${RT_PTY_SKIPS})
add_roundtrip(pty_shell plain leave-running twice redump)
# Raw mode, packet mode, exclusive slave, a master left locked.
set(RT_SNAPSHOT_SKIP_pty_modes ${RT_PTY_SKIPS})
add_roundtrip(pty_modes plain leave-running twice redump)
# The reader a foreground job of the session leader (a shell waiting for
# it): it has the terminal and is its foreground group after the restore.
foreach(mode plain leave-running twice redump)
  set(skips)
  foreach(pattern ${RT_PTY_SKIPS})
    list(APPEND skips --snapshot-skip ${pattern})
  endforeach()
  add_test(NAME roundtrip.pty_shell.job.${mode}
    COMMAND env CKPT_TEST_PTY=job
            $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_pty_shell> --mode ${mode}
            ${skips} --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/pty_shell.job.${mode})
  set_tests_properties(roundtrip.pty_shell.job.${mode} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endforeach()
# The controlling terminal of a session whose leader holds no fd of it.
add_refused(pty.ctty-without-fd.refused pty_ctty_nofd
  EXPECT "a pty of the tree, is the controlling terminal of session" "whose leader holds no fd of it; not supported yet")
