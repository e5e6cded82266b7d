# Established TCP connections (--tcp-established; src/files/inet_socket.cpp,
# soccr/, src/net/network_lock.cpp).  Each test in a network namespace of
# its own with lo up (the veth test in two it makes itself), so that no
# port or nftables table of the host is touched; the peer of each
# connection runs outside the dumped tree (rt_tcp_peer, started by the
# script before the driver) and judges the connection from its side.
set(TCP_NETNS unshare -n sh -c "ip link set lo up && exec \"$0\" \"$@\"")
set(TCP_DIR ${CMAKE_CURRENT_SOURCE_DIR})
set(TCP_WORK ${CMAKE_CURRENT_BINARY_DIR}/work)

# add_tcp_outside(NAME PROG MODE PEER-ARGS ENV DRIVER-ARGS): rt_driver in
# MODE on PROG with the peer outside (tcp_outside.sh).  The driver's
# --before-restore tells the peer a restore comes ("restore" on its FIFO).
# Mode twice keeps the connection locked between the two restored lives
# itself (tcp_twice_hook.sh).
function(add_tcp_outside name prog mode peer_args env driver_args)
  set(peer_work ${TCP_WORK}/${name}.peer)
  set(hook "echo restore > ${peer_work}/ctl")
  if(mode STREQUAL "twice")
    set(hook "bash ${TCP_DIR}/tcp_twice_hook.sh ${peer_work} 41000")
  endif()
  add_test(NAME roundtrip.${name}
    COMMAND ${TCP_NETNS} bash ${TCP_DIR}/tcp_outside.sh ${peer_work} $<TARGET_FILE:rt_tcp_peer> ${peer_args} --
            env ${env} $<TARGET_FILE:rt_driver> --ckpt $<TARGET_FILE:ckpt> --prog $<TARGET_FILE:rt_${prog}>
            --mode ${mode} --before-restore "${hook}" ${driver_args}
            --workdir ${TCP_WORK}/${name})
  set_tests_properties(roundtrip.${name} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endfunction()

set(TCP_OPTS --dump-arg --tcp-established --restore-arg --tcp-established)

# A client with 100 KiB queued each way, unread, at dump time: byte-exact
# after, no reset.  The peer reads nothing before the last restore (twice:
# the first restored process only looks and leaves in repair mode, the
# connection locked by the test meanwhile).
foreach(family 4 6)
  if(family EQUAL 4)
    set(env "CKPT_TEST_TCP_PEER=127.0.0.1 5000" "CKPT_TEST_TCP_LOCAL=127.0.0.1 41000")
    set(listen --listen 127.0.0.1 5000)
    set(suffix "")
  else()
    set(env "CKPT_TEST_TCP_PEER=::1 5000" "CKPT_TEST_TCP_LOCAL=::1 41000")
    set(listen --listen ::1 5000)
    set(suffix ".ipv6")
  endif()
  foreach(mode plain redump twice)
    set(go 1)
    if(mode STREQUAL "twice")
      set(go 2)
    endif()
    add_tcp_outside(tcp_client${suffix}.${mode} tcp_client ${mode} "stream;${listen};--go-after;${go}" "${env}"
                    "${TCP_OPTS}")
  endforeach()
endforeach()

# A server: its listener and two accepted connections; both go on after the
# restore and the listener accepts a third.
foreach(mode plain redump)
  add_tcp_outside(tcp_server.${mode} tcp_server ${mode} "stream;--connect;127.0.0.1;5000;--conns;2;--third;--go-after;1"
                  "CKPT_TEST_TCP_LISTEN=127.0.0.1 5000" "${TCP_OPTS}")
endforeach()

# Without --tcp-established: refused naming the connection and the option;
# the program runs on and the peer exchanges everything with it after.
add_tcp_outside(tcp_client.refused tcp_client refused "stream;--listen;127.0.0.1;5000"
                "CKPT_TEST_TCP_PEER=127.0.0.1 5000;CKPT_TEST_TCP_LOCAL=127.0.0.1 41000"
                "--expect;established TCP connection 127.0.0.1:41000 -> 127.0.0.1:5000;--expect;--tcp-established")
add_tcp_outside(tcp_client.ipv6.refused tcp_client refused "stream;--listen;::1;5000"
                "CKPT_TEST_TCP_PEER=::1 5000;CKPT_TEST_TCP_LOCAL=::1 41000"
                "--expect;established TCP connection [::1]:41000 -> [::1]:5000;--expect;--tcp-established")

# --leave-running 20 times, the peer pinging throughout; a dump made to
# fail after the lock (no table left, the connection works); two hosts on
# a veth pair; memcached -t 4 with a client connection held across.
foreach(case leave-running failed-dump)
  add_test(NAME roundtrip.tcp.${case}
    COMMAND ${TCP_NETNS} bash ${TCP_DIR}/tcp_scenarios.sh ${case} $<TARGET_FILE:ckpt> ${TCP_WORK}/tcp.${case}
            $<TARGET_FILE:rt_tcp_peer> $<TARGET_FILE:rt_tcp_echo> $<TARGET_FILE:rt_tcp_client>)
  set_tests_properties(roundtrip.tcp.${case} PROPERTIES TIMEOUT 600 LABELS roundtrip)
endforeach()
add_test(NAME roundtrip.tcp.veth
  # A mount namespace of its own: the /run/netns mounts `ip netns add`
  # makes would otherwise show in every other test's /proc snapshot, and
  # vanish from it when this test tears them down.
  COMMAND unshare -m --propagation private ${TCP_NETNS} bash ${TCP_DIR}/tcp_veth.sh $<TARGET_FILE:ckpt> ${TCP_WORK}/tcp.veth
          $<TARGET_FILE:rt_tcp_peer> $<TARGET_FILE:rt_driver> $<TARGET_FILE:rt_tcp_client>)
set_tests_properties(roundtrip.tcp.veth PROPERTIES TIMEOUT 600 LABELS roundtrip)
add_test(NAME roundtrip.tcp.memcached
  COMMAND ${TCP_NETNS} $<TARGET_FILE:rt_subreaper> ${TCP_DIR}/tcp_kv.sh $<TARGET_FILE:ckpt> ${TCP_WORK}/tcp.memcached)
set_tests_properties(roundtrip.tcp.memcached PROPERTIES TIMEOUT 300 LABELS roundtrip)
