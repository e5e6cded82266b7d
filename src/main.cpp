#include <google/protobuf/stubs/common.h>
#include <google/protobuf/stubs/logging.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/unique_fd.h"
#include "cli/options.h"
#include "commands.h"
#include "version.h"

using namespace ckpt;

namespace {

// Dump and restore log to a file in the images directory (CRIU's dump.log /
// restore.log), -o naming another file relative to it.
void open_log_file(const cli::Options& o) {
  std::string name = o.log_file.empty() ? cli::default_log_name(o.command) : o.log_file;
  if (name.empty() || o.images_dir.empty()) return;
  // dump creates its images directory, and its log goes in there; for a
  // restore from a directory that does not exist the command itself says so.
  if (o.command == cli::Command::Dump) mkdir(o.images_dir.c_str(), 0700);
  UniqueFd dir(open(o.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return;
  std::string path = name[0] == '/' ? name : o.images_dir + "/" + name;
  // Relative to the directory's fd: the name is looked up where the images
  // are, whatever happens to the path meanwhile.
  log::open_file(name[0] == '/' ? AT_FDCWD : dir.get(), name, path);
}

// protobuf's own complaints (e.g. a path that is not UTF-8 in a string
// field) go to ckpt's log at debug level instead of raw stderr lines.
void protobuf_log(google::protobuf::LogLevel, const char* file, int line, const std::string& msg) {
  log::write(log::Level::Debug, "protobuf %s:%d: %s", file, line, msg.c_str());
}

int dispatch(const cli::Options& o) {
  switch (o.command) {
    case cli::Command::Check: return run_check(o);
    case cli::Command::Show: return run_show(o);
    case cli::Command::Dump: return run_dump(o);
    case cli::Command::Restore: return run_restore(o);
    case cli::Command::Verify: return run_verify(o);
    case cli::Command::Version:
      printf("ckpt version %s\n", CKPT_VERSION);
      return 0;
    case cli::Command::Help:
      fputs(cli::usage().c_str(), stdout);
      return 0;
  }
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  google::protobuf::SetLogHandler(protobuf_log);
  cli::Options opts;
  try {
    opts = cli::parse(argc, argv);
  } catch (const cli::UsageError& e) {
    fprintf(stderr, "ckpt: %s\n", e.message.c_str());
    fputs(cli::usage(e.command).c_str(), stderr);
    return 1;
  }
  if (opts.help_for) {
    fputs(cli::usage(opts.help_for).c_str(), stdout);
    return 0;
  }
  log::set_verbosity(opts.verbosity);
  try {
    open_log_file(opts);
    int rc = dispatch(opts);
    log::close_file();
    return rc;
  } catch (const std::exception& e) {
    log::file_only(log::Level::Error, "%s", e.what());
    fprintf(stderr, "ckpt %s: %s\n", cli::command_name(opts.command), e.what());
    log::close_file();
    return 1;
  }
}
