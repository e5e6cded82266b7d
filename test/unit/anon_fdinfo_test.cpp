// The parsers of the anonymous-inode kinds: fdinfo object lines, times,
// file handles, mountinfo, and the names of the kinds refused.
#include <gtest/gtest.h>
#include <sys/sysmacros.h>

#include "ckpt/error.h"
#include "files/anon_fdinfo.h"
#include "files/fsnotify.h"
#include "files/open_fd.h"
#include "proc/fdinfo.h"
#include "proc/mountinfo.h"

using namespace ckpt;

namespace {

proc::Fdinfo parse(const char* text) { return proc::parse_fdinfo(text); }

}  // namespace

TEST(AnonFdinfo, InotifyWatchLines) {
  proc::Fdinfo info = parse(
      "pos:\t0\nflags:\t04000\nmnt_id:\t17\nino:\t18\n"
      "inotify wd:2 ino:3ad sdev:fe00000 mask:80000002 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 "
      "f_handle:ad0300003fe9a2c7\n"
      "inotify wd:1 ino:3c51a sdev:fe00000 mask:100 ignored_mask:0 fhandle-bytes:8 fhandle-type:1 "
      "f_handle:1ac5030000000000\n");
  std::vector<files::FdinfoFields> w = files::fdinfo_objects(info, "inotify wd");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[0].dec("wd"), 2u);
  EXPECT_EQ(w[0].hex("ino"), 0x3adu);
  EXPECT_EQ(w[0].hex("mask"), 0x80000002u);
  EXPECT_EQ(w[1].hex("sdev"), 0xfe00000u);
  EXPECT_EQ(files::fdinfo_hex_bytes(w[1].text("f_handle"), "f_handle"), std::string("\x1a\xc5\x03\0\0\0\0\0", 8));
  EXPECT_EQ(files::kernel_dev(0xfe00000), makedev(254, 0));
  EXPECT_EQ(files::kernel_dev(0x15), makedev(0, 21));
}

TEST(AnonFdinfo, EpollTargetLinesHaveSpacedFields) {
  proc::Fdinfo info = parse(
      "pos:\t0\nflags:\t02\nmnt_id:\t17\nino:\t18\n"
      "tfd:        4 events: 10000019 data:               4d  pos:0 ino:12 sdev:10\n"
      "tfd:      900 events:       19 data: ffffffffffffffff  pos:0 ino:2a sdev:10\n");
  std::vector<files::FdinfoFields> t = files::fdinfo_objects(info, "tfd");
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].dec("tfd"), 4u);
  EXPECT_EQ(t[0].hex("events"), 0x10000019u);
  EXPECT_EQ(t[0].hex("data"), 0x4du);
  EXPECT_EQ(t[1].dec("tfd"), 900u);
  EXPECT_EQ(t[1].hex("data"), UINT64_MAX);
  EXPECT_EQ(t[1].hex("ino"), 0x2au);
}

TEST(AnonFdinfo, FanotifyAndTimerfdLines) {
  proc::Fdinfo info = parse(
      "pos:\t0\nflags:\t04002\nmnt_id:\t17\nino:\t18\n"
      "fanotify flags:2 event-flags:8000\n"
      "fanotify mnt_id:1b mflags:0 mask:20 ignored_mask:0\n"
      "fanotify sdev:fe00000 mflags:40 mask:100 ignored_mask:8\n"
      "clockid: 1\nticks: 3\nsettime flags: 03\nit_value: (99, 993225929)\nit_interval: (1, 500)\n");
  files::FdinfoFields flags("fanotify flags", files::fdinfo_value(info, "fanotify flags"));
  EXPECT_EQ(flags.hex("flags"), 2u);
  EXPECT_EQ(flags.hex("event-flags"), 0x8000u);
  files::FdinfoFields mnt = files::fdinfo_objects(info, "fanotify mnt_id").at(0);
  EXPECT_EQ(mnt.hex("mnt_id"), 0x1bu);
  files::FdinfoFields sb = files::fdinfo_objects(info, "fanotify sdev").at(0);
  EXPECT_EQ(sb.hex("mflags"), 0x40u);
  EXPECT_EQ(sb.hex("ignored_mask"), 8u);
  EXPECT_EQ(files::fdinfo_number(files::fdinfo_value(info, "settime flags"), 8, "settime flags"), 3u);
  EXPECT_EQ(files::fdinfo_timespec_ns(files::fdinfo_value(info, "it_value"), "it_value"), 99993225929ull);
  EXPECT_EQ(files::fdinfo_timespec_ns(files::fdinfo_value(info, "it_interval"), "it_interval"), 1000000500ull);
}

TEST(AnonFdinfo, BadLinesAreErrorsNamingThem) {
  files::FdinfoFields f("inotify wd", "2 ino:zz");
  EXPECT_THROW(f.hex("ino"), Error);
  EXPECT_THROW(f.hex("mask"), Error);
  try {
    f.hex("mask");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inotify wd:2 ino:zz"), std::string::npos) << e.what();
  }
  EXPECT_THROW(files::fdinfo_timespec_ns("(1 2)", "it_value"), Error);
  EXPECT_THROW(files::fdinfo_timespec_ns("(1, 1000000000)", "it_value"), Error);
  EXPECT_THROW(files::fdinfo_timespec_ns("(99999999999999999999, 0)", "it_value"), Error);
  EXPECT_THROW(files::fdinfo_hex_bytes("abc", "f_handle"), Error);
  EXPECT_THROW(files::fdinfo_hex_bytes("zz", "f_handle"), Error);
  EXPECT_THROW(files::fdinfo_value(parse("pos:\t0\nflags:\t0\n"), "sigmask"), Error);
  EXPECT_THROW(files::FdinfoFields("", "5"), Error);  // a value with no name
}

TEST(AnonFdinfo, Mountinfo) {
  std::vector<proc::Mount> m = proc::parse_mountinfo(
      "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
      "30 25 0:27 /sub /dev/my\\040shm rw,relatime shared:5 - tmpfs tmpfs rw,size=10k\n");
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].id, 27);
  EXPECT_EQ(m[0].dev, makedev(254, 0));
  EXPECT_EQ(m[1].parent, 25);
  EXPECT_EQ(m[1].root, "/sub");
  EXPECT_EQ(m[1].mount_point, "/dev/my shm");
  EXPECT_EQ(m[1].fstype, "tmpfs");
  EXPECT_THROW(proc::parse_mountinfo("27 1 254:0 / /\n"), Error);
  EXPECT_THROW(proc::parse_mountinfo("x 1 254:0 / / rw - ext4 a b\n"), Error);
}

TEST(AnonFdinfo, RefusedKindsAreNamedInWords) {
  auto name = [](const char* link) {
    files::OpenFd fd;
    fd.link = link;
    return files::kind_name(fd);
  };
  EXPECT_EQ(name("anon_inode:[io_uring]"), "io_uring");
  EXPECT_EQ(name("anon_inode:[perf_event]"), "perf event");
  EXPECT_EQ(name("anon_inode:bpf-map"), "bpf map");
  EXPECT_EQ(name("anon_inode:bpf-prog"), "bpf program");
  EXPECT_EQ(name("anon_inode:bpf_link"), "bpf link");
  EXPECT_EQ(name("anon_inode:[userfaultfd]"), "userfaultfd");
  EXPECT_EQ(name("anon_inode:[eventpoll]"), "epoll");
}
