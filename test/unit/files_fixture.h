// The fixture of the file modules' unit tests: a temporary images
// directory, our own fds dumped as if a frozen process held them, and the
// images written and read back as restore reads them.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/kcmp.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ckpt/unique_fd.h"
#include "files/files.h"
#include "image/image.h"

namespace ckpt::test {

class FilesFixture : public ::testing::Test {
 public:
  // The images of a process that does not exist: restore only uses the pid
  // to name images and errors.
  static constexpr int kImagePid = 4242;

 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ckpt-files-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    dir_ = std::make_unique<image::ImageDir>(image::ImageDir::create(tmp_ + "/images"));
  }
  void TearDown() override {
    for (int fd : restored_) close(fd);
    dir_.reset();
    std::filesystem::remove_all(tmp_);
  }

  // Opens a file with `flags` and returns the fd; closed at the end.
  int open_file(const std::string& path, int flags, mode_t mode = 0600) {
    int fd = open(path.c_str(), flags, mode);
    EXPECT_GE(fd, 0) << path << ": " << strerror(errno);
    owned_.emplace_back(fd);
    return fd;
  }
  int keep(int fd) {
    EXPECT_GE(fd, 0) << strerror(errno);
    owned_.emplace_back(fd);
    return fd;
  }

  // Dumps our own fds as if they belonged to a frozen process.
  std::vector<img::FdinfoEntry> dump(files::FileTable& table, const std::vector<int>& fds) {
    std::vector<files::OpenFd> open_fds;
    for (int fd : fds) open_fds.push_back(files::describe_fd(getpid(), fd, UniqueFd(fcntl(fd, F_DUPFD_CLOEXEC, 0))));
    return table.add_process(getpid(), getpid(), open_fds);
  }

  // files.img and the fdinfo images written so far (of kImagePid and the
  // pids after it), read as restore reads them.
  files::FilesImage images() {
    std::vector<int> pids;
    for (int pid = kImagePid; pid < kImagePid + 4; pid++)
      if (dir_->exists(image::Kind::Fdinfo, uint64_t(pid))) pids.push_back(pid);
    return files::FilesImage::read(*dir_, pids);
  }

  // Writes files.img and fdinfo-<kImagePid>.img, each fd renumbered from
  // its number here to `renumber[fd]`, so that restoring places it there.
  void write_images(const files::FileTable& table, std::vector<img::FdinfoEntry> fdinfo,
                    const std::map<int, int>& renumber) {
    write_files(table);
    write_fdinfo(kImagePid, std::move(fdinfo), renumber);
  }
  void write_files(const files::FileTable& table) { write_files(table.entries()); }
  void write_files(const std::vector<img::FileEntry>& entries) {
    image::ImageWriter files(*dir_, image::Kind::Files);
    for (const img::FileEntry& e : entries) files.write(e);
    files.commit();
  }
  void write_fdinfo(int pid, std::vector<img::FdinfoEntry> fdinfo, const std::map<int, int>& renumber) {
    image::ImageWriter fds(*dir_, image::Kind::Fdinfo, uint64_t(pid));
    for (img::FdinfoEntry& e : fdinfo) {
      e.set_fd(uint32_t(renumber.at(int(e.fd()))));
      restored_.push_back(int(e.fd()));
      fds.write(e);
    }
    fds.commit();
  }

  static bool same_description(int a, int b) {
    return syscall(SYS_kcmp, getpid(), getpid(), KCMP_FILE, a, b) == 0;
  }
  static bool cloexec(int fd) { return fcntl(fd, F_GETFD) & FD_CLOEXEC; }
  static off_t pos(int fd) { return lseek(fd, 0, SEEK_CUR); }

  std::string tmp_;
  std::unique_ptr<image::ImageDir> dir_;
  std::vector<UniqueFd> owned_;
  std::vector<int> restored_;
};


}  // namespace ckpt::test
