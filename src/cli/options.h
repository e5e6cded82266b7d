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
  std::string root;                       // -r / --root PATH (restore): its file system is under PATH
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

// Thrown for a bad command line; the message is one line.  The caller prints
// the usage after it unless show_usage is false (an option refused by name,
// a config file's error: the line says all there is to say).
struct UsageError {
  std::string message;
  std::optional<Command> command;
  bool show_usage = true;
};

// Where parse() looks for config files.  The default is the real system's
// (see system_parse_env); the tests point it elsewhere.
struct ParseEnv {
  std::string global_config;               // "" for none
  std::optional<std::string> home;         // $HOME: HOME/.ckpt/default.conf
  std::optional<std::string> config_env;   // as criu: $CRIU_CONFIG_FILE
};
// /etc/ckpt/default.conf and $HOME; as criu (argv[0]), /etc/criu and
// ~/.criu, as CRIU reads them, and $CRIU_CONFIG_FILE.
ParseEnv system_parse_env(bool as_criu);
// argv[0]'s basename is "criu": ckpt stands in for CRIU (Options::as_criu).
bool started_as_criu(const char* argv0);

Options parse(int argc, char** argv);  // throws UsageError
Options parse(int argc, char** argv, const ParseEnv& env);
std::string usage(std::optional<Command> command = std::nullopt, bool as_criu = false);
const char* command_name(Command c);
// "1048576", "64K", "2M", "1G" (binary multiples) -> bytes; nullopt if it is
// not such a size.
std::optional<uint64_t> parse_size(const std::string& text);
// The default log file name of a command ("dump.log"), or "" for none.
std::string default_log_name(Command c);

// The option table, as data: every option ckpt knows, CRIU's and its own,
// and for each command whether it is honoured or refused by name.  An
// option of neither set "does not apply" to that command.
enum class OptArg { None, Required, Optional };
struct OptionSpec {
  const char* name;        // long name, without the dashes
  char short_name;         // 0: none
  OptArg arg;
  unsigned honoured;       // command_bit()s where it takes effect
  unsigned refused;        // command_bit()s where it is refused by name
  bool negatable;          // CRIU's boolean: --no-NAME too
  bool ckpt_only;          // not CRIU's
  int id;
};
constexpr unsigned command_bit(Command c) { return 1u << static_cast<unsigned>(c); }
const std::vector<OptionSpec>& option_table();
// The spec of --NAME (exact long name), or nullptr.
const OptionSpec* find_option(const std::string& name);

}  // namespace ckpt::cli
