// The fixture of the dump tests: a temporary directory, the options of a
// dump into it, and readers of the images it holds.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cli/options.h"
#include "commands.h"
#include "image/image.h"
#include "proc/read.h"
#include "proc/status.h"

namespace ckpt::test {

class DumpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ckpt-dump-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(tmp_); }

  cli::Options options(pid_t pid, bool leave_running = true) {
    cli::Options o;
    o.command = cli::Command::Dump;
    o.images_dir = tmp_ + "/images";
    o.tree_pid = pid;
    o.leave_running = leave_running;
    return o;
  }
  std::string dump_error(pid_t pid) {
    try {
      run_dump(options(pid));
    } catch (const std::exception& e) {
      return e.what();
    }
    return "no error";
  }
  std::set<std::string> images() {
    std::set<std::string> names;
    if (!std::filesystem::exists(tmp_ + "/images")) return names;
    for (auto& e : std::filesystem::directory_iterator(tmp_ + "/images")) names.insert(e.path().filename());
    return names;
  }
  template <typename M>
  std::vector<M> read_all(image::Kind kind, std::optional<uint64_t> id = std::nullopt) {
    image::ImageDir dir = image::ImageDir::open(tmp_ + "/images");
    image::ImageReader reader(dir, kind, id);
    std::vector<M> out;
    M m;
    while (reader.read(m)) out.push_back(m);
    return out;
  }
  static bool traced_or_stopped(pid_t pid) {
    proc::Status s = proc::parse_status(proc::read_file(proc::path(pid, "status")));
    return s.tracer_pid != 0 || s.state == 't' || s.state == 'T';
  }

  std::string tmp_;
};

}  // namespace ckpt::test
