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
  EXPECT "fd 4 of pid" "its write end of pipe:" "is connected to pid"
         "outside the tree: dump with --external pipe:" "and restore with --inherit-fd fd")

# Real programs, from a shell, checked from outside.
# A pipeline of three processes keeps producing an unbroken sequence.
add_test(NAME roundtrip.pipe-pipeline
  COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/pipe_pipeline.sh $<TARGET_FILE:ckpt>
          ${CMAKE_CURRENT_BINARY_DIR}/work/pipe-pipeline)
set_tests_properties(roundtrip.pipe-pipeline PROPERTIES TIMEOUT 300 LABELS roundtrip)
# An SQL shell reading a FIFO, mid-transaction at dump, commits after restore.
add_test(NAME roundtrip.pipe-sqlite
  COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/pipe_sqlite.sh $<TARGET_FILE:ckpt>
          ${CMAKE_CURRENT_BINARY_DIR}/work/pipe-sqlite)
set_tests_properties(roundtrip.pipe-sqlite PROPERTIES TIMEOUT 300 LABELS roundtrip)
# A pipe to a process outside the tree: --external at dump, --inherit-fd
# at restore onto a new pipe.
add_test(NAME roundtrip.pipe-external
  COMMAND rt_subreaper ${CMAKE_CURRENT_SOURCE_DIR}/pipe_external.sh $<TARGET_FILE:ckpt>
          ${CMAKE_CURRENT_BINARY_DIR}/work/pipe-external)
set_tests_properties(roundtrip.pipe-external PROPERTIES TIMEOUT 300 LABELS roundtrip)
