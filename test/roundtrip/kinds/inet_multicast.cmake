# Multicast group memberships of UDP sockets (src/files/inet_multicast.cpp):
# IPv4 and IPv6 groups on lo, with source filters; after the restore the
# program checks them with getsockopt(MCAST_MSFILTER) and receives
# datagrams sent to the groups.  add_inet_roundtrip comes from inet.cmake
# (included before this file: the list is sorted).
add_inet_roundtrip(inet_multicast plain leave-running twice redump)
# The interface of a membership gone at restore: refused by name before
# anything is made (inet_multicast_refused.sh, in a network namespace).
add_test(NAME roundtrip.inet_multicast.refused
  COMMAND unshare -n ${CMAKE_CURRENT_SOURCE_DIR}/inet_multicast_refused.sh $<TARGET_FILE:ckpt>
          ${CMAKE_CURRENT_BINARY_DIR}/work/inet_multicast.refused)
set_tests_properties(roundtrip.inet_multicast.refused PROPERTIES TIMEOUT 120 LABELS roundtrip)
