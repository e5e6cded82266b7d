# Inet, netlink and packet sockets (src/files/inet_socket.cpp,
# netlink_socket.cpp).  Each test runs in a network namespace of its own,
# with lo up, so that ports never clash: the driver, ckpt and the program
# all in it (ckpt refuses a tree in another network namespace than its own).
set(INET_NETNS unshare -n sh -c "ip link set lo up && exec \"$0\" \"$@\"")

# add_inet_roundtrip(PROG MODE...): add_roundtrip in a network namespace.
function(add_inet_roundtrip prog)
  foreach(mode ${ARGN})
    add_test(NAME roundtrip.${prog}.${mode}
      COMMAND ${INET_NETNS} $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_${prog}>
              --mode ${mode} --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/${prog}.${mode})
    set_tests_properties(roundtrip.${prog}.${mode} PROPERTIES TIMEOUT 600 LABELS roundtrip)
  endforeach()
endfunction()

# add_inet_refused(NAME CASE [ARGS DRIVER-ARG...] EXPECT TEXT...): rt_inet_refused
# with CKPT_TEST_INET=CASE, its dump refused, in a network namespace.
function(add_inet_refused name case)
  cmake_parse_arguments(R "" "" "ARGS;EXPECT" ${ARGN})
  set(expects)
  foreach(text ${R_EXPECT})
    list(APPEND expects --expect "${text}")
  endforeach()
  add_test(NAME roundtrip.${name}
    COMMAND ${INET_NETNS} env CKPT_TEST_INET=${case} $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt>
            --prog $<TARGET_FILE:rt_inet_refused> --mode refused ${R_ARGS} ${expects}
            --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/${name})
  set_tests_properties(roundtrip.${name} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endfunction()

# Listening TCP sockets (IPv4, IPv6 only, dual stack) with options and
# backlogs, a bound and an unbound one: each accepts a new connection after.
add_inet_roundtrip(inet_listen plain leave-running twice redump)
# UDP sockets bound, connected and unbound, with options and queued
# datagrams put back from their senders' addresses.
add_inet_roundtrip(inet_udp plain leave-running twice redump)
# SO_REUSEPORT groups of two TCP listeners and two UDP sockets.
add_inet_roundtrip(inet_reuseport plain leave-running twice redump)
# A listener shared by a parent and its child: one description.
add_inet_roundtrip(inet_shared plain leave-running twice redump)
# Netlink sockets: port ids, groups and options; answers and announcements after.
add_inet_roundtrip(inet_netlink plain leave-running twice redump)

# Refusals, each naming the socket; the program runs on.
add_inet_refused(inet.established.refused established
  EXPECT "established TCP connection 127.0.0.1:41234 -> 127.0.0.1:5000: use --tcp-established"
         "established TCP connection 127.0.0.1:5000 -> 127.0.0.1:41234: use --tcp-established")
add_inet_refused(inet.accept-queue.refused queued ARGS --dump-arg --tcp-established
  EXPECT "a connection 127.0.0.1:5000 <- 127.0.0.1:41234 waits in its accept queue: connections not accepted yet "
         "cannot be restored; use --skip-in-flight to drop them")
# The same connection of the program to itself (both ends in the tree),
# dumped and restored with --tcp-established: both ends come back and talk.
foreach(mode plain leave-running twice redump)
  add_test(NAME roundtrip.inet.established.${mode}
    COMMAND ${INET_NETNS} env CKPT_TEST_INET=established $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt>
            --prog $<TARGET_FILE:rt_inet_refused> --mode ${mode} --dump-arg --tcp-established
            --restore-arg --tcp-established --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/inet.established.${mode})
  set_tests_properties(roundtrip.inet.established.${mode} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endforeach()
# The migration case: restored in a new network namespace with the same
# addresses but none of the dump's state (no lock table there: the restore
# makes its own and removes it).  Its network namespace is the new one, of
# course: the snapshot leaves it out.
add_test(NAME roundtrip.inet.established.other-netns
  COMMAND ${INET_NETNS} env CKPT_TEST_INET=established CKPT_REAL=$<TARGET_FILE:ckpt> $<TARGET_FILE:rt_driver>
          --ckpt ${CMAKE_CURRENT_SOURCE_DIR}/restore_in_new_netns.sh --prog $<TARGET_FILE:rt_inet_refused>
          --mode plain --dump-arg --tcp-established --restore-arg --tcp-established
          --snapshot-skip "ns net"
          --workdir ${CMAKE_CURRENT_BINARY_DIR}/work/inet.established.other-netns)
set_tests_properties(roundtrip.inet.established.other-netns PROPERTIES TIMEOUT 600 LABELS roundtrip)
add_inet_refused(inet.packet.refused packet
  EXPECT "AF_PACKET socket is not supported yet")
add_inet_refused(inet.netlink-unread.refused netlink-unread
  EXPECT "its netlink socket (NETLINK_ROUTE, port id" "bytes of messages not yet read, which the kernel would not send again: not supported yet")
add_inet_refused(inet.netlink-dump.refused netlink-dump
  EXPECT "its netlink socket (NETLINK_ROUTE, port id" "is in the middle of a dump the kernel sends it: not supported yet")
add_inet_refused(inet.filter.refused filter
  EXPECT "it has a socket filter attached (SO_ATTACH_FILTER or SO_ATTACH_BPF), which is not supported yet")
add_inet_refused(inet.netfilter.refused netfilter
  EXPECT "AF_NETLINK socket (NETLINK_NETFILTER) is not supported yet")

# Real servers from Debian, each in a network namespace of its own, started
# and torn down by the script, checked from outside (inet_servers.sh):
# nginx with a master and two workers, python3 -m http.server, memcached -t 4.
foreach(server nginx http memcached)
  add_test(NAME roundtrip.inet-server.${server}
    COMMAND ${INET_NETNS} $<TARGET_FILE:rt_subreaper> ${CMAKE_CURRENT_SOURCE_DIR}/inet_servers.sh
            $<TARGET_FILE:ckpt> ${CMAKE_CURRENT_BINARY_DIR}/work/inet-server.${server} ${server})
  set_tests_properties(roundtrip.inet-server.${server} PROPERTIES TIMEOUT 300 LABELS roundtrip)
endforeach()
