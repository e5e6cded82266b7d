# Pipes and FIFOs (src/files/pipe.cpp).
# 60 KiB unread in a pipe of 1 MiB, both ends in one process.
add_roundtrip(pipe_data plain leave-running twice redump)
# A parent and child talking over two pipes, answers and 20 KiB queued.
add_roundtrip(pipe_tree plain leave-running twice redump)
# A lone read end whose writer is closed: the data, then EOF.
add_roundtrip(pipe_lone_reader plain leave-running twice redump)
# O_NONBLOCK on the write end only.
add_roundtrip(pipe_nonblock plain leave-running twice redump)
# Named pipes: both ends with data; a lone write end with data.
add_roundtrip(pipe_fifo plain leave-running twice redump)
# The other end is held by a process outside the tree.
add_refused(pipe_outside.refused pipe_outside
# (No brackets in EXPECT: CMake lists do not split inside them.)
  EXPECT "fd 4 of pid" "its write end of pipe:" "is also open in pid"
         "outside the tree: dump with --external pipe:" "and restore with --inherit-fd fd")
