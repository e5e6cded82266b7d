# Multicast group memberships of UDP sockets (src/files/inet_multicast.cpp):
# IPv4 and IPv6 groups on lo, with source filters; after the restore the
# program checks them with getsockopt(MCAST_MSFILTER) and receives
# datagrams sent to the groups.  add_inet_roundtrip comes from inet.cmake
# (included before this file: the list is sorted).
add_inet_roundtrip(inet_multicast plain leave-running twice redump)
