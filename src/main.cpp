#include <google/protobuf/stubs/common.h>
#include <google/protobuf/stubs/logging.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <string_view>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/unique_fd.h"
#include "cli/options.h"
#include "commands.h"
#include "report/report.h"
#include "version.h"

using namespace ckpt;

namespace {

// Dump and restore log to a file in the work directory (-W; by default the
// images directory), CRIU's dump.log / restore.log, -o naming another file
// relative to it.
void open_log_file(const cli::Options& o) {
  std::string name = o.log_file.empty() ? cli::default_log_name(o.command) : o.log_file;
  if (name.empty()) return;
  // --log-pid: the name gets ckpt's pid, as CRIU's per-process logs do (the
  // restored tasks log nothing of their own).
  if (o.log_pid) name += "." + std::to_string(getpid());
  if (name[0] == '/') {
    log::open_file(AT_FDCWD, name, name);
    return;
  }
  if (!o.work_dir.empty()) {
    // A work directory named by the user must be there: CRIU does not make
    // it either, and a typo should not scatter logs.
    UniqueFd dir(open(o.work_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) throw sys_error("cannot open the work directory " + o.work_dir);
    log::open_file(dir.get(), name, o.work_dir + "/" + name);
    return;
  }
  if (o.images_dir.empty()) return;
  // dump creates its images directory, and its log goes in there; for a
  // restore from a directory that does not exist the command itself says so.
  if (o.command == cli::Command::Dump) mkdir(o.images_dir.c_str(), 0700);
  UniqueFd dir(open(o.images_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return;
  // Relative to the directory's fd: the name is looked up where the images
  // are, whatever happens to the path meanwhile.
  log::open_file(dir.get(), name, o.images_dir + "/" + name);
}

// protobuf's own complaints (e.g. a path that is not UTF-8 in a string
// field) go to ckpt's log at debug level instead of raw stderr lines.
void protobuf_log(google::protobuf::LogLevel, const char* file, int line, const std::string& msg) {
  log::write(log::Level::Debug, "protobuf %s:%d: %s", file, line, msg.c_str());
}

// --json on a command line that does not parse: the report still comes, of
// class "usage" (the options were not read, so --json is looked for by hand).
void report_usage_error(int argc, char** argv, const cli::UsageError& e) {
  bool json = false;
  for (int i = 1; i < argc; i++)
    if (std::string_view(argv[i]) == "--json") json = true;
  if (!json) return;
  report::Report r;
  r.command = e.command ? cli::command_name(*e.command) : (argc > 1 ? argv[1] : "");
  r.ok = false;
  r.failure = report::FailureClass::Usage;
  r.error = e.message;
  report::print(r);
}

int dispatch(const cli::Options& o) {
  switch (o.command) {
    case cli::Command::Check: return run_check(o);
    case cli::Command::Show: return run_show(o);
    case cli::Command::Dump: return run_dump(o);
    case cli::Command::Restore: {
      int rc = run_restore(o);
      // Attached, ckpt exits with the restored root's status, as a shell
      // would; criu exits 0 once it has restored the tree (a failed restore
      // throws, and exits 1 below).
      return o.as_criu ? 0 : rc;
    }
    case cli::Command::Verify: return run_verify(o);
    case cli::Command::Version:
      // CRIU's spelling, which scripts that ask criu for its version parse.
      if (o.as_criu) printf("Version: %s\n", CKPT_VERSION);
      else printf("ckpt version %s\n", CKPT_VERSION);
      return 0;
    case cli::Command::Help:
      fputs(cli::usage(std::nullopt, o.as_criu).c_str(), stdout);
      return 0;
  }
  return 1;
}

// The name ckpt was started as, for messages: "criu" when it stands in for
// CRIU (argv[0]), else "ckpt".
const char* prog_name(bool as_criu) { return as_criu ? "criu" : "ckpt"; }

// Exit status 0 on success and 1 on any failure, as CRIU; the one
// exception is ckpt's attached restore, which passes on the restored
// root's own status (see dispatch()).
int exit_status(const cli::Options& o, int rc) {
  if (o.command == cli::Command::Restore && !o.as_criu) return rc;
  return rc == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  google::protobuf::SetLogHandler(protobuf_log);
  cli::Options opts;
  try {
    opts = cli::parse(argc, argv);
  } catch (const cli::UsageError& e) {
    bool as_criu = argc > 0 && cli::started_as_criu(argv[0]);
    fprintf(stderr, "%s: %s\n", prog_name(as_criu), e.message.c_str());
    if (e.show_usage) fputs(cli::usage(e.command, as_criu).c_str(), stderr);
    report_usage_error(argc, argv, e);
    return 1;
  }
  if (opts.help_for) {
    fputs(cli::usage(opts.help_for, opts.as_criu).c_str(), stdout);
    return 0;
  }
  log::set_verbosity(opts.verbosity);
  try {
    open_log_file(opts);
    int rc = dispatch(opts);
    log::close_file();
    return exit_status(opts, rc);
  } catch (const std::exception& e) {
    log::file_only(log::Level::Error, "%s", e.what());
    fprintf(stderr, "%s %s: %s\n", prog_name(opts.as_criu), cli::command_name(opts.command), e.what());
    log::close_file();
    return 1;
  }
}
