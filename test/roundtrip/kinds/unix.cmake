# Unix sockets (src/files/unix_socket.cpp, docs/fd-kinds.md "Unix sockets").
# Datagram and seqpacket pairs keeping message boundaries, a bound server
# with datagrams queued from named and unnamed senders, socket options.
add_roundtrip(unix_dgram plain leave-running twice redump)
# Stream pairs: data both ways, a shutdown seen as EOF, a closed peer, a
# parent and child that go on talking.
add_roundtrip(unix_stream plain leave-running twice redump)
# Listening sockets (path and abstract) with pending connections accepted
# after the restore, an accepted connection with data, a deleted socket file.
add_roundtrip(unix_listen plain leave-running twice redump)
# A regular file's fd in flight, credentials, a socket filter, a pair's end
# in flight to its other end.
add_roundtrip(unix_inflight plain leave-running twice redump)
# A socket connected to a server outside the tree (unix_outside.sh starts
# it, outside the driver's tree): refused without --ext-unix-sk (the program
# runs on), connected again by name with it.
add_test(NAME roundtrip.unix_outside.refused
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/unix_outside.sh $<TARGET_FILE:rt_unix_outside>
          $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_unix_outside> --mode refused
          --expect "unix socket connected to a peer outside the tree (@ckpt-rt-outside-"
          --expect "use --ext-unix-sk"
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/unix_outside.refused)
add_test(NAME roundtrip.unix_outside.ext-unix-sk
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/unix_outside.sh $<TARGET_FILE:rt_unix_outside>
          $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_unix_outside> --mode plain
          --dump-arg --ext-unix-sk --restore-arg --ext-unix-sk
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/unix_outside.ext-unix-sk)
set_tests_properties(roundtrip.unix_outside.refused roundtrip.unix_outside.ext-unix-sk
  PROPERTIES TIMEOUT 600 LABELS roundtrip)
# Refused by name, the program running on: data written on a connection not
# accepted yet; two pairs with an end in flight in each other's queue.
add_refused(unix_refused.pending-data unix_refused ENV CKPT_TEST_UNIX=pending-data
  EXPECT "has sent data on a connection to @ckpt-rt-refused-" "that is not accepted yet: not supported yet")
add_refused(unix_refused.inflight-cycle unix_refused ENV CKPT_TEST_UNIX=inflight-cycle
  EXPECT "unix sockets are in flight in each other's queues (files" "not supported yet")
