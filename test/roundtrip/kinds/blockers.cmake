# Every blocker of the tree is named in one refusal, in each process, and the
# tree runs on untouched.
add_refused(blockers.all blockers
  EXPECT "for 2 reasons" "io_uring is not supported yet" "userfaultfd is not supported yet")
