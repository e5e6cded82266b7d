// The command line, CRIU style: `ckpt <command> [options]`.
// Parsing produces an immutable Options value passed down as context; no
// module reaches for global option state.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ckpt::cli {

enum class Command { Check, Dump, Restore, Show, Verify, Help, Version };

struct Options {
  Command command = Command::Help;
  std::string images_dir;                 // -D / --images-dir
  int tree_pid = 0;                       // -t / --tree
  std::string log_file;                   // -o / --log-file (relative to images dir)
  int verbosity = 2;                      // -v[0-4]; bare -v adds one
  bool leave_running = false;             // --leave-running
  bool shell_job = false;                 // -j / --shell-job
  bool tcp_established = false;           // --tcp-established
  bool tcp_close = false;                 // --tcp-close: connections not saved (dump) or come back closed
  bool skip_in_flight = false;            // dump --skip-in-flight: connections not accepted yet are dropped
  enum class NetworkLock { Nftables, Skip };
  NetworkLock network_lock = NetworkLock::Nftables;  // --network-lock nftables|skip
  bool file_locks = false;                // --file-locks
  bool ext_unix_sk = false;               // --ext-unix-sk
  std::vector<std::string> externals;     // dump --external RES (repeatable): "pipe:[1234]"
  // restore --inherit-fd fd[N]:RES (repeatable): ckpt's fd N stands in for RES.
  std::vector<std::pair<int, std::string>> inherit_fds;
  uint64_t ghost_limit = 1 << 20;         // dump --ghost-limit SIZE: deleted files saved up to this size
  bool detach = false;                    // -d / --restore-detached
  std::string pidfile;                    // --pidfile
  bool check_all = false;                 // check --all
  std::vector<std::string> features;      // check --feature NAME (repeatable)
  std::vector<std::string> paths;         // show FILE|DIR ..., verify DIR
  std::optional<Command> help_for;        // `ckpt CMD --help`

  // CRIU's options (issue 12).  Parsed by cli/; each honoured by the
  // command that takes it (the comment says where), or refused by name at
  // parse time.
  bool leave_stopped = false;             // -s / --leave-stopped (dump, restore): stopped with SIGSTOP, not run
  int freeze_timeout_s = 10;              // --timeout SEC (dump): how long seizing and freezing may take
  std::string freeze_cgroup;              // --freeze-cgroup PATH (dump): freeze the tree with this cgroup's freezer
  bool restore_sibling = false;           // -S / --restore-sibling (restore): the root is ckpt's sibling, not child
  bool log_pid = false;                   // --log-pid: each process logs to its own FILE.PID
  bool display_stats = false;             // --display-stats (dump, restore): print the stats at the end
  std::string root;                       // -r / --root PATH (restore): the tree's root directory
  std::string work_dir;                   // -W / --work-dir DIR: logs and stats go here (default: images dir)
  bool link_remap = false;                // --link-remap (dump): deleted files linked back instead of copied
  enum class ManageCgroups { Default, None, Ignore };
  ManageCgroups manage_cgroups = ManageCgroups::Default;  // --manage-cgroups [MODE]
  std::vector<std::string> action_scripts;  // --action-script FILE (repeatable): run at each stage
  std::string exec_cmd;                   // --exec-cmd CMD... (restore): exec CMD once the tree runs (rest of argv)
  std::vector<std::string> exec_cmd_args; // its arguments
  bool json = false;                      // --json (dump, restore, check -t): one JSON object at the end
  std::vector<std::string> config_files;  // --config FILE (read, in order, after the defaults)
  bool no_default_config = false;         // --no-default-config
  bool as_criu = false;                   // started as `criu` (argv[0]): CRIU's spellings only
  // show DIR summaries instead of JSON:
  bool show_ps = false;                   // --ps: the process tree
  bool show_fds = false;                  // --fds: every fd of every process
  bool show_mems = false;                 // --mems: memory areas with sizes and pages saved
};

// Thrown for a bad command line; the message is one line and the caller
// prints the usage after it.
struct UsageError {
  std::string message;
  std::optional<Command> command;
};

Options parse(int argc, char** argv);  // throws UsageError
std::string usage(std::optional<Command> command = std::nullopt);
const char* command_name(Command c);
// "1048576", "64K", "2M", "1G" (binary multiples) -> bytes; nullopt if it is
// not such a size.
std::optional<uint64_t> parse_size(const std::string& text);
// The default log file name of a command ("dump.log"), or "" for none.
std::string default_log_name(Command c);

}  // namespace ckpt::cli
