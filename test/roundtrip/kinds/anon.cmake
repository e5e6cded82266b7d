# The anonymous-inode kinds and epoll (src/files/eventfd.cpp ... epoll.cpp;
# docs/fd-kinds.md), and the kinds ckpt refuses by name.

# eventfd counters and a semaphore, one shared with a child.
add_roundtrip(eventfd plain leave-running twice redump)
# signalfd masks; signals pending at dump read through them after.
add_roundtrip(signalfd plain leave-running twice redump)
# timerfds: relative and absolute, intervals, unread expiries, clocks.
add_roundtrip(timerfd plain leave-running twice redump)
# inotify watches with their paths, masks and numbers (freed ones too).
add_roundtrip(inotify plain leave-running twice redump)
# fanotify groups with inode, mount and filesystem marks and ignore masks.
add_roundtrip(fanotify plain leave-running twice redump)
# pidfds of a child, a zombie child, the process itself and its parent.
add_roundtrip(pidfd plain leave-running twice redump)
# An epoll set of five kinds of fds, one held by a child only, one closed
# but still registered, one another set.
add_roundtrip(epoll plain leave-running twice redump)
# One-shot registrations that fired and were not re-armed come back
# disarmed; one still armed comes back armed.
add_roundtrip(epoll_oneshot plain leave-running twice redump)

# Refused by name; the program runs on with its object.
add_refused(anon.io_uring.refused anon_refused ENV CKPT_TEST_KIND=io_uring
  EXPECT "io_uring is not supported yet")
add_refused(anon.perf.refused anon_refused ENV CKPT_TEST_KIND=perf
  EXPECT "perf event is not supported yet")
add_refused(anon.bpf-map.refused anon_refused ENV CKPT_TEST_KIND=bpf-map
  EXPECT "bpf map is not supported yet")
add_refused(anon.bpf-prog.refused anon_refused ENV CKPT_TEST_KIND=bpf-prog
  EXPECT "bpf program is not supported yet")
add_refused(anon.userfaultfd.refused anon_refused ENV CKPT_TEST_KIND=userfaultfd
  EXPECT "userfaultfd is not supported yet")
add_refused(anon.pidfd-reaped.refused anon_refused ENV CKPT_TEST_KIND=pidfd-reaped
  EXPECT "it is a pidfd of a process that has ended and been reaped; not supported yet")
# Refused once the whole tree is seen (after the parasite went in): the
# tree must run on all the same.
add_refused(anon.epoll-outside.refused anon_refused ENV CKPT_TEST_KIND=epoll-outside
  EXPECT "its epoll target fd" "is a file no process of the tree holds; not supported yet")
