// A temporary directory for a test, removed with everything in it when the
// owner goes out of scope.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <stdexcept>
#include <string>

namespace ckpt::test {

class TempDir {
 public:
  // `tag` names the test in the directory's name: /tmp/ckpt-TAG-XXXXXX.
  explicit TempDir(const std::string& tag) {
    std::string tmpl = "/tmp/ckpt-" + tag + "-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + " failed");
    path_ = tmpl;
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace ckpt::test
