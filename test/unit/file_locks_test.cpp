// --file-locks: the locks of fdinfo lines saved on a FileEntry, and the
// restore's refusal of images with locks without the option.
#include <gtest/gtest.h>

#include "ckpt/error.h"
#include "files/file_locks.h"
#include "files/files.h"

namespace ckpt {
namespace {

proc::Fdinfo info_with(std::initializer_list<const char*> locks) {
  proc::Fdinfo info;
  info.extra.push_back({"pos", "0"});
  for (const char* l : locks) info.extra.push_back({"lock", l});
  return info;
}

TEST(FileLocks, SavedOnTheEntry) {
  img::FileEntry e;
  files::save_file_locks(info_with({"1: FLOCK  ADVISORY  WRITE 29136 fe:00:1 0 EOF",
                                    "2: POSIX  ADVISORY  READ 29136 fe:00:1 5 14",
                                    "3: OFDLCK ADVISORY  WRITE -1 fe:00:1 100 EOF"}),
                         812, e);
  ASSERT_EQ(e.locks_size(), 3);
  EXPECT_EQ(e.locks(0).kind(), img::LOCK_FLOCK);
  EXPECT_TRUE(e.locks(0).write());
  EXPECT_FALSE(e.locks(0).has_pid());  // a flock belongs to the description
  EXPECT_EQ(e.locks(1).kind(), img::LOCK_POSIX);
  EXPECT_FALSE(e.locks(1).write());
  EXPECT_EQ(e.locks(1).start(), 5u);
  EXPECT_EQ(e.locks(1).end(), 14u);
  EXPECT_EQ(e.locks(1).pid(), 812u);   // a POSIX lock to its owner
  EXPECT_EQ(e.locks(2).kind(), img::LOCK_OFD);
  EXPECT_EQ(e.locks(2).start(), 100u);
  EXPECT_FALSE(e.locks(2).has_end());  // to the end of the file
  EXPECT_EQ(files::describe_lock(e.locks(1)), "a POSIX read lock (bytes 5-14) of pid 812");
}

// A flock shows on every fd of its description, in every process: once.
// POSIX locks of two processes on one description are two.
TEST(FileLocks, EachOnce) {
  img::FileEntry e;
  proc::Fdinfo parent = info_with({"1: FLOCK  ADVISORY  WRITE 1 fe:00:1 0 EOF", "2: POSIX  ADVISORY  WRITE 1 fe:00:1 0 EOF"});
  files::save_file_locks(parent, 1, e);
  files::save_file_locks(parent, 1, e);
  files::save_file_locks(info_with({"1: FLOCK  ADVISORY  WRITE 1 fe:00:1 0 EOF",
                                    "2: POSIX  ADVISORY  WRITE 2 fe:00:1 0 EOF"}),
                         2, e);
  ASSERT_EQ(e.locks_size(), 3);
  EXPECT_EQ(e.locks(2).pid(), 2u);
}

TEST(FileLocks, LeaseRefused) {
  img::FileEntry e;
  try {
    files::save_file_locks(info_with({"1: LEASE  ACTIVE    READ 1 fe:00:1 0 EOF"}), 1, e);
    FAIL() << "a lease was saved";
  } catch (const Error& err) {
    EXPECT_STREQ(err.what(), "it holds a read lease: leases are not supported yet");
  }
}

TEST(FileLocks, RestoreNeedsTheOption) {
  img::FileEntry e;
  files::save_file_locks(info_with({"1: FLOCK  ADVISORY  WRITE 1 fe:00:1 0 EOF"}), 1, e);
  files::RestoreFdOptions opts;
  try {
    files::check_file_locks(e, opts);
    FAIL() << "restored without --file-locks";
  } catch (const Error& err) {
    EXPECT_STREQ(err.what(), "it holds a flock write lock; restore with --file-locks");
  }
  opts.file_locks = true;
  EXPECT_NO_THROW(files::check_file_locks(e, opts));
  img::FileEntry none;
  EXPECT_NO_THROW(files::check_file_locks(none, files::RestoreFdOptions{}));
}

}  // namespace
}  // namespace ckpt
