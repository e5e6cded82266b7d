#include "cli/options.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "cli/config.h"

namespace ckpt::cli {
namespace {

struct CommandInfo {
  Command command;
  const char* name;
  const char* synopsis;  // starts with "ckpt ", which usage() may spell "criu "
  const char* help;
};

// Options every command takes, printed after each command's own.
const char kCommonHelp[] =
    "    -v[0-4], --verbosity[=N]  verbosity on stderr (default 2); -v, -vv add\n"
    "        --config FILE       read options from FILE (CRIU's syntax), after\n"
    "                            the default config files (repeatable)\n"
    "        --no-default-config do not read /etc/ckpt/default.conf and\n"
    "                            ~/.ckpt/default.conf\n"
    "    -h, --help              this help\n";

const CommandInfo kCommands[] = {
    {Command::Check, "check", "ckpt check [--all] [--feature NAME] | check -t PID [dump options]",
     "  Probes the kernel facilities ckpt needs and prints 'Looks good.' when\n"
     "  dump and restore can work here.\n"
     "        --all               also report optional facilities\n"
     "        --feature NAME      check only NAME (repeatable; --feature list names them)\n"
     "  With -t, checks whether the running tree of PID can be dumped, without\n"
     "  stopping it, and lists every blocker with its remedy (exit 1 if any).\n"
     "    -t, --tree PID          root of the tree to check\n"
     "    -j, --shell-job, --tcp-established, --tcp-close, --skip-in-flight,\n"
     "    --file-locks, --ext-unix-sk, --external RES, --ghost-limit SIZE,\n"
     "    --link-remap:           as for dump\n"
     "        --json              print one JSON object at the end\n"},
    {Command::Dump, "dump", "ckpt dump -t PID -D DIR [options]",
     "  Freezes the process tree rooted at PID and writes its images to DIR.\n"
     "    -t, --tree PID          root of the tree to dump\n"
     "    -D, --images-dir DIR    where to write the images (created if missing)\n"
     "    -R, --leave-running     let the tree run on after the dump\n"
     "    -s, --leave-stopped     leave the tree stopped (SIGSTOP) after the dump\n"
     "    -j, --shell-job         the tree was started from a shell: its terminal\n"
     "                            fds are re-attached to ckpt's at restore\n"
     "        --tcp-established   dump established TCP connections (locked\n"
     "                            from the network until the restore)\n"
     "        --tcp-close         dump established TCP connections without their\n"
     "                            state: they come back closed\n"
     "        --skip-in-flight    drop connections still waiting to be accepted\n"
     "        --network-lock M    nftables (default): lock the saved connections\n"
     "                            with a table of ckpt's own; skip: the caller\n"
     "                            locks the network itself\n"
     "        --ghost-limit SIZE  save deleted files the tree holds up to SIZE\n"
     "                            bytes each (K, M, G suffixes; default 1M)\n"
     "        --link-remap        link deleted files that still have other names\n"
     "                            back into their directory (.ckpt_link_remap.*,\n"
     "                            removed by the restore) instead of refusing them\n"
     "    -l, --file-locks        save the flock, POSIX and OFD locks the tree\n"
     "                            holds (without it such a tree is refused)\n"
     "        --external RES      save the fds on RES (as /proc/PID/fd shows it,\n"
     "                            e.g. pipe:[1234]) as external: restore takes\n"
     "                            them from --inherit-fd (repeatable)\n"
     "    -x, --ext-unix-sk       allow unix sockets connected to a named peer\n"
     "                            outside the tree (connected again at restore)\n"
     "        --timeout SEC       give up when the tree is not frozen within SEC\n"
     "                            seconds (default 10)\n"
     "        --freeze-cgroup PATH  freeze the tree with cgroup PATH's freezer\n"
     "        --manage-cgroups none|ignore  cgroups: none, saved without their\n"
     "                            properties; ignore, not saved\n"
     "        --action-script FILE  run FILE at each stage, the stage in\n"
     "                            $CRTOOLS_SCRIPT_ACTION (repeatable)\n"
     "        --display-stats     print the dump's statistics at the end\n"
     "        --json              print one JSON object at the end\n"
     "    -W, --work-dir DIR      where the log and statistics go (default: DIR)\n"
     "    -o, --log-file FILE     log file, relative to the work dir (default dump.log)\n"
     "        --log-pid           one log file per process, FILE.PID\n"},
    {Command::Restore, "restore", "ckpt restore -D DIR [options]",
     "  Brings back the tree saved in DIR with its original PIDs.\n"
     "    -D, --images-dir DIR    images to restore\n"
     "    -d, --restore-detached  exit once the tree runs instead of waiting\n"
     "    -S, --restore-sibling   the tree's root becomes ckpt's sibling, not its\n"
     "                            child\n"
     "    -s, --leave-stopped     leave the tree stopped (SIGSTOP) instead of\n"
     "                            running it\n"
     "    -j, --shell-job         give the restored tree ckpt's terminal\n"
     "        --pidfile FILE      write the restored root PID to FILE\n"
     "    -r, --root PATH         the tree's file system is the tree under PATH\n"
     "        --inherit-fd fd[N]:RES  ckpt's fd N stands in for the external\n"
     "                            file RES of the images (repeatable)\n"
     "        --tcp-established   restore established TCP connections\n"
     "        --tcp-close         restore them closed instead\n"
     "        --network-lock M    nftables (default): keep the connections locked\n"
     "                            until the tree runs, then remove the lock; skip:\n"
     "                            the caller locks and unlocks the network\n"
     "    -l, --file-locks        take the saved file locks again (images with\n"
     "                            locks are refused without it)\n"
     "    -x, --ext-unix-sk       connect unix sockets again to their peers\n"
     "                            outside the tree (dumped with --ext-unix-sk)\n"
     "        --manage-cgroups none|ignore  cgroups: none, put back in the\n"
     "                            existing cgroups; ignore, left where ckpt is\n"
     "        --action-script FILE  run FILE at each stage, the stage in\n"
     "                            $CRTOOLS_SCRIPT_ACTION (repeatable)\n"
     "        --exec-cmd CMD...   once the tree runs, exec CMD (the rest of the\n"
     "                            command line) in ckpt's place\n"
     "        --display-stats     print the restore's statistics at the end\n"
     "        --json              print one JSON object at the end\n"
     "    -W, --work-dir DIR      where the log and statistics go (default: DIR)\n"
     "    -o, --log-file FILE     log file, relative to the work dir (default restore.log)\n"
     "        --log-pid           one log file per process, FILE.PID\n"},
    {Command::Show, "show", "ckpt show FILE|DIR ... [--ps|--fds|--mems]",
     "  Prints images as JSON: a single image file, or every image of a\n"
     "  directory.  Page data files are summarised, not printed.\n"
     "        --ps                the process tree: pids, commands, threads\n"
     "        --fds               every fd of every process\n"
     "        --mems              memory areas, their sizes and pages saved\n"},
    {Command::Verify, "verify", "ckpt verify DIR",
     "  Checks the image set in DIR against its manifest: every image file\n"
     "  there, none foreign, each with its checksum.\n"},
};

const CommandInfo* find_command(const char* name) {
  for (const auto& c : kCommands)
    if (std::strcmp(c.name, name) == 0) return &c;
  return nullptr;
}

const CommandInfo& info(Command c) {
  for (const auto& ci : kCommands)
    if (ci.command == c) return ci;
  return kCommands[0];
}

// The option ids: the honoured options, each with its effect in apply().
// Every refused option shares kRefused: its row is all there is to it.
enum Id {
  kRefused,
  kTree, kImagesDir, kLogFile, kVerbosity, kLeaveRunning, kLeaveStopped, kShellJob, kDetach,
  kRestoreSibling, kTcpEstablished, kTcpClose, kSkipInFlight, kNetworkLock, kFileLocks, kExtUnixSk,
  kExternal, kInheritFd, kGhostLimit, kPidfile, kAll, kFeature, kHelp, kVersion, kTimeout,
  kFreezeCgroup, kLogPid, kDisplayStats, kRoot, kWorkDir, kLinkRemap, kManageCgroups,
  kActionScript, kExecCmd, kJson, kConfig, kNoDefaultConfig, kShowPs, kShowFds, kShowMems,
};

constexpr unsigned D = command_bit(Command::Dump);
constexpr unsigned R = command_bit(Command::Restore);
constexpr unsigned C = command_bit(Command::Check);
constexpr unsigned S = command_bit(Command::Show);
constexpr unsigned V = command_bit(Command::Verify);
constexpr unsigned ALL = D | R | C | S | V;
constexpr OptArg NO = OptArg::None, REQ = OptArg::Required, OPT = OptArg::Optional;
constexpr bool NEG = true, CKPT = true;

// THE table: every option of CRIU's dump, restore and check (its man page
// and its option parser), and ckpt's own.  docs/criu-options.md says the
// same in words; test/unit/config_test.cpp walks both against CRIU's list.
//   name, short, argument, honoured for, refused for, --no-NAME, ckpt's own, id
const std::vector<OptionSpec> kOptions = {
    // --- honoured -----------------------------------------------------------
    {"tree", 't', REQ, D | C, 0, false, false, kTree},
    {"images-dir", 'D', REQ, D | R, 0, false, false, kImagesDir},
    {"log-file", 'o', REQ, D | R, 0, false, false, kLogFile},
    {"verbosity", 'v', OPT, ALL, 0, false, false, kVerbosity},
    {"leave-running", 'R', NO, D, 0, false, false, kLeaveRunning},
    {"leave-stopped", 's', NO, D | R, 0, false, false, kLeaveStopped},
    {"shell-job", 'j', NO, D | R | C, 0, NEG, false, kShellJob},
    {"restore-detached", 'd', NO, R, 0, NEG, false, kDetach},
    {"restore-sibling", 'S', NO, R, 0, NEG, false, kRestoreSibling},
    {"tcp-established", 0, NO, D | R | C, 0, NEG, false, kTcpEstablished},
    {"tcp-close", 0, NO, D | R | C, 0, NEG, false, kTcpClose},
    {"skip-in-flight", 0, NO, D | C, 0, NEG, false, kSkipInFlight},
    {"network-lock", 0, REQ, D | R, 0, false, false, kNetworkLock},
    {"file-locks", 'l', NO, D | R | C, 0, NEG, false, kFileLocks},
    {"ext-unix-sk", 'x', OPT, D | R | C, 0, false, false, kExtUnixSk},
    {"external", 0, REQ, D | C, R, false, false, kExternal},  // restore's mnt/dev/veth/macvlan: refused
    {"inherit-fd", 0, REQ, R, 0, false, false, kInheritFd},
    {"ghost-limit", 0, REQ, D | C, 0, false, false, kGhostLimit},
    {"pidfile", 0, REQ, R, 0, false, false, kPidfile},
    {"all", 0, NO, C, 0, false, false, kAll},
    {"feature", 0, REQ, C, 0, false, false, kFeature},
    {"help", 'h', NO, ALL, 0, false, false, kHelp},
    {"version", 'V', NO, ALL, 0, false, false, kVersion},
    {"timeout", 0, REQ, D, 0, false, false, kTimeout},
    {"freeze-cgroup", 0, REQ, D, 0, false, false, kFreezeCgroup},
    {"log-pid", 0, NO, D | R, 0, NEG, false, kLogPid},
    {"display-stats", 0, NO, D | R, 0, NEG, false, kDisplayStats},
    {"root", 'r', REQ, R, 0, false, false, kRoot},  // restore only, as CRIU's (dump: "does not apply")
    {"work-dir", 'W', REQ, D | R, 0, false, false, kWorkDir},
    {"link-remap", 0, NO, D | C, 0, NEG, false, kLinkRemap},
    {"manage-cgroups", 0, OPT, D | R, 0, false, false, kManageCgroups},  // none|ignore; other modes refused
    {"action-script", 0, REQ, D | R, 0, false, false, kActionScript},
    {"exec-cmd", 0, NO, R, 0, false, false, kExecCmd},
    {"config", 0, REQ, ALL, 0, false, false, kConfig},
    {"no-default-config", 0, NO, ALL, 0, false, false, kNoDefaultConfig},
    {"json", 0, NO, D | R | C, 0, false, CKPT, kJson},
    {"ps", 0, NO, S, 0, false, CKPT, kShowPs},
    {"fds", 0, NO, S, 0, false, CKPT, kShowFds},
    {"mems", 0, NO, S, 0, false, CKPT, kShowMems},
    // --- refused by name: `option --X is not supported yet` -----------------
    // Common options.
    {"stream", 0, NO, 0, D | R, NEG, false, kRefused},
    {"prev-images-dir", 0, REQ, 0, D, false, false, kRefused},
    {"close", 0, REQ, 0, D | R | C, false, false, kRefused},
    {"libdir", 'L', REQ, 0, D | R | C, false, false, kRefused},
    {"enable-fs", 0, REQ, 0, D | R, false, false, kRefused},
    {"unprivileged", 0, NO, 0, D | R | C, NEG, false, kRefused},
    {"deprecated", 0, NO, 0, D | R | C, NEG, false, kRefused},
    // pre-dump's, which CRIU's dump takes too (incremental dumps).
    {"track-mem", 0, NO, 0, D, NEG, false, kRefused},
    {"pre-dump-mode", 0, REQ, 0, D, false, false, kRefused},
    // dump.
    {"cgroup-props", 0, REQ, 0, D, false, false, kRefused},
    {"cgroup-props-file", 0, REQ, 0, D, false, false, kRefused},
    {"cgroup-dump-controller", 0, REQ, 0, D, false, false, kRefused},
    {"evasive-devices", 0, NO, 0, D, NEG, false, kRefused},
    {"page-server", 0, NO, 0, D, NEG, false, kRefused},
    {"address", 0, REQ, 0, D, false, false, kRefused},
    {"port", 0, REQ, 0, D, false, false, kRefused},
    {"ps-socket", 0, REQ, 0, D, false, false, kRefused},
    {"force-irmap", 0, NO, 0, D, NEG, false, kRefused},
    {"irmap-scan-path", 0, REQ, 0, D, false, false, kRefused},
    {"skip-mnt", 0, REQ, 0, D, false, false, kRefused},
    {"enable-external-sharing", 0, NO, 0, D, false, false, kRefused},
    {"enable-external-masters", 0, NO, 0, D, false, false, kRefused},
    {"allow-uprobes", 0, NO, 0, D, NEG, false, kRefused},
    {"ghost-fiemap", 0, NO, 0, D, NEG, false, kRefused},
    // dump and restore.
    {"cgroup-yard", 0, REQ, 0, D | R, false, false, kRefused},
    {"cgroup-root", 0, REQ, 0, D | R, false, false, kRefused},
    {"auto-dedup", 0, NO, 0, D | R, NEG, false, kRefused},
    {"cpu-cap", 0, OPT, 0, D | R, false, false, kRefused},
    {"lazy-pages", 0, NO, 0, D | R, false, false, kRefused},
    {"file-validation", 0, REQ, 0, D | R, false, false, kRefused},
    {"ext-mount-map", 'M', REQ, 0, D | R, false, false, kRefused},
    {"empty-ns", 0, REQ, 0, D | R, false, false, kRefused},
    {"check-only", 0, NO, 0, D | R, NEG, false, kRefused},
    {"status-fd", 0, REQ, 0, D | R, false, false, kRefused},
    {"tls", 0, NO, 0, D | R, NEG, false, kRefused},
    {"tls-cacert", 0, REQ, 0, D | R, false, false, kRefused},
    {"tls-cacrl", 0, REQ, 0, D | R, false, false, kRefused},
    {"tls-cert", 0, REQ, 0, D | R, false, false, kRefused},
    {"tls-key", 0, REQ, 0, D | R, false, false, kRefused},
    {"tls-no-cn-verify", 0, NO, 0, D | R, false, false, kRefused},
    // restore.
    {"join-ns", 'J', REQ, 0, R, false, false, kRefused},
    {"veth-pair", 0, REQ, 0, R, false, false, kRefused},
    {"lsm-profile", 0, REQ, 0, R, false, false, kRefused},
    {"lsm-mount-context", 0, REQ, 0, R, false, false, kRefused},
    {"weak-sysctls", 0, NO, 0, R, NEG, false, kRefused},
    {"mntns-compat-mode", 0, NO, 0, R, NEG, false, kRefused},
    {"skip-file-rwx-check", 0, NO, 0, R, NEG, false, kRefused},
    // check.
    {"extra", 0, NO, 0, C, NEG, false, kRefused},
    {"experimental", 0, NO, 0, C, NEG, false, kRefused},
    {"ms", 0, NO, 0, C, false, false, kRefused},
};

// An optional argument is normally attached (--manage-cgroups=none), as
// getopt has it; for these the next word is taken too when it is one of
// the option's words, since `--manage-cgroups none` is how people write it.
struct OptionalWords {
  const char* option;
  std::vector<std::string_view> words;
};
const OptionalWords kOptionalWords[] = {
    {"manage-cgroups", {"none", "ignore", "props", "soft", "full", "strict"}},
};

bool takes_word(const OptionSpec& spec, const char* word) {
  for (const auto& ow : kOptionalWords)
    if (std::strcmp(ow.option, spec.name) == 0)
      for (auto w : ow.words)
        if (w == word) return true;
  return false;
}

const OptionSpec* find_short(char c) {
  for (const auto& o : kOptions)
    if (o.short_name == c) return &o;
  return nullptr;
}

// One option as given, on the command line or in a config file.
struct Item {
  const OptionSpec* spec;
  std::optional<std::string> value;
  bool negated;          // --no-NAME
  std::string spelled;   // as the user wrote it: "-t", "--tree"
};

struct Resolved {
  const OptionSpec* spec;
  bool negated;
};

// --NAME or --no-NAME, or an unambiguous prefix of one (as getopt_long).
std::optional<Resolved> resolve_long(const std::string& name, bool* ambiguous) {
  *ambiguous = false;
  for (const auto& o : kOptions) {
    if (name == o.name) return Resolved{&o, false};
    if (o.negatable && name == std::string("no-") + o.name) return Resolved{&o, true};
  }
  std::optional<Resolved> found;
  for (const auto& o : kOptions) {
    std::string forms[2] = {o.name, o.negatable ? std::string("no-") + o.name : std::string()};
    for (int f = 0; f < 2; f++) {
      if (forms[f].empty() || !forms[f].starts_with(name) || name.empty()) continue;
      if (found && (found->spec != &o || found->negated != (f == 1))) {
        *ambiguous = true;
        return std::nullopt;
      }
      found = Resolved{&o, f == 1};
    }
  }
  return found;
}

int parse_int(const std::string& s, const char* what, Command c) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno || !end || *end || s.empty() || v <= 0 || v > (1L << 22))
    throw UsageError{std::string("invalid ") + what + " '" + s + "'", c};
  return int(v);
}

// CRIU's "fd[N]:RES": ckpt's fd N stands in for the external file RES.
std::pair<int, std::string> parse_inherit_fd(const std::string& text, Command c) {
  size_t close = text.find("]:");
  if (!text.starts_with("fd[") || close == std::string::npos || close == 3 || close + 2 == text.size())
    throw UsageError{"invalid --inherit-fd '" + text + "' (use fd[N]:RESOURCE, e.g. fd[3]:pipe:[1234])", c};
  std::string number = text.substr(3, close - 3);
  if (number.find_first_not_of("0123456789") != std::string::npos || number.size() > 7)
    throw UsageError{"invalid fd number '" + number + "' in --inherit-fd '" + text + "'", c};
  return {std::stoi(number), text.substr(close + 2)};
}

// An option refused by name.  Not thrown at once: a later setting of the
// same option may take it back (`auto-dedup` in a config file, then
// --no-auto-dedup on the command line), so parse() keeps it pending.
struct Refusal {
  UsageError error;
};

[[noreturn]] void refuse(const std::string& what, Command c, const std::string& hint = "") {
  throw Refusal{{"option " + what + " is not supported yet" + (hint.empty() ? "" : " (" + hint + ")"), c, false}};
}

// The boolean options, each its field.
bool* flag_of(Options& o, int id) {
  switch (id) {
    case kShellJob: return &o.shell_job;
    case kDetach: return &o.detach;
    case kRestoreSibling: return &o.restore_sibling;
    case kTcpEstablished: return &o.tcp_established;
    case kTcpClose: return &o.tcp_close;
    case kSkipInFlight: return &o.skip_in_flight;
    case kFileLocks: return &o.file_locks;
    case kLogPid: return &o.log_pid;
    case kDisplayStats: return &o.display_stats;
    case kLinkRemap: return &o.link_remap;
    case kJson: return &o.json;
    case kAll: return &o.check_all;
    case kShowPs: return &o.show_ps;
    case kShowFds: return &o.show_fds;
    case kShowMems: return &o.show_mems;
  }
  return nullptr;
}

void set_verbosity(Options& o, const std::optional<std::string>& value) {
  if (!value || value->empty()) {
    o.verbosity++;
  } else if (value->size() == 1 && (*value)[0] >= '0' && (*value)[0] <= '4') {
    o.verbosity = (*value)[0] - '0';
  } else if (value->find_first_not_of('v') == std::string::npos) {
    o.verbosity += 1 + int(value->size());  // -vvv: "vv" after the first
  } else {
    throw UsageError{"invalid verbosity '-v" + *value + "' (use -v0 .. -v4)", o.command};
  }
  if (o.verbosity > 4) o.verbosity = 4;
}

void set_manage_cgroups(Options& o, const std::optional<std::string>& mode) {
  const char* hint = "ckpt takes --manage-cgroups=none or ignore";
  if (!mode) refuse("--manage-cgroups without a mode (CRIU's soft)", o.command, hint);
  if (*mode == "none") o.manage_cgroups = Options::ManageCgroups::None;
  else if (*mode == "ignore") o.manage_cgroups = Options::ManageCgroups::Ignore;
  else if (*mode == "props" || *mode == "soft" || *mode == "full" || *mode == "strict")
    refuse("--manage-cgroups " + *mode, o.command, hint);
  else
    throw UsageError{"invalid cgroup mode '" + *mode + "' for --manage-cgroups (use none or ignore)", o.command};
}

void set_network_lock(Options& o, const std::string& method) {
  if (method == "nftables") o.network_lock = Options::NetworkLock::Nftables;
  else if (method == "skip") o.network_lock = Options::NetworkLock::Skip;
  else if (method == "iptables") refuse("--network-lock iptables", o.command, "use nftables, the default, or skip");
  else throw UsageError{"invalid network lock '" + method + "' (use nftables or skip)", o.command};
}

// The dump options `check -t PID` takes: they change whether the tree can
// be dumped.  Without -t they would change nothing, so they are refused.
bool changes_tree_verdict(int id) {
  switch (id) {
    case kShellJob: case kTcpEstablished: case kTcpClose: case kSkipInFlight: case kFileLocks: case kExtUnixSk:
    case kExternal: case kGhostLimit:
      return true;
    default:
      return false;
  }
}

// The effect of one option on o, or why it has none.
void apply(Options& o, const Item& item) {
  const OptionSpec& spec = *item.spec;
  unsigned bit = command_bit(o.command);
  if (!(spec.honoured & bit)) {
    if (!(spec.refused & bit))
      throw UsageError{"option '" + item.spelled + "' does not apply to " + command_name(o.command), o.command};
    // --no-NAME asks for what ckpt does anyway: the option's absence.
    if (item.negated) return;
    refuse(std::string("--") + spec.name, o.command);
  }
  if (item.negated) {
    *flag_of(o, spec.id) = false;
    return;
  }
  if (bool* flag = flag_of(o, spec.id)) {
    *flag = true;
    return;
  }
  const std::string value = item.value.value_or("");
  switch (spec.id) {
    case kTree: o.tree_pid = parse_int(value, "PID", o.command); break;
    case kImagesDir: o.images_dir = value; break;
    case kLogFile: o.log_file = value; break;
    case kVerbosity: set_verbosity(o, item.value); break;
    // One final state, as CRIU's: the last of -R and -s wins.
    case kLeaveRunning: o.leave_running = true; o.leave_stopped = false; break;
    case kLeaveStopped: o.leave_stopped = true; o.leave_running = false; break;
    case kNetworkLock: set_network_lock(o, value); break;
    case kExtUnixSk:
      if (item.value) refuse("--ext-unix-sk with socket ids", o.command, "use --ext-unix-sk alone");
      o.ext_unix_sk = true;
      break;
    case kExternal: o.externals.push_back(value); break;
    case kInheritFd: o.inherit_fds.push_back(parse_inherit_fd(value, o.command)); break;
    case kGhostLimit: {
      std::optional<uint64_t> size = parse_size(value);
      if (!size)
        throw UsageError{"invalid size '" + value + "' for --ghost-limit (use e.g. 1048576, 512K, 2M, 1G)", o.command};
      o.ghost_limit = *size;
      break;
    }
    case kPidfile: o.pidfile = value; break;
    case kFeature: o.features.push_back(value); break;
    case kTimeout: o.freeze_timeout_s = parse_int(value, "timeout", o.command); break;
    case kFreezeCgroup: o.freeze_cgroup = value; break;
    case kRoot: o.root = value; break;
    case kWorkDir: o.work_dir = value; break;
    case kManageCgroups: set_manage_cgroups(o, item.value); break;
    case kActionScript: o.action_scripts.push_back(value); break;
    // Taken before anything is applied (parse()): help, version, the
    // config files, and --exec-cmd's command.
    case kHelp: case kVersion: case kConfig: case kNoDefaultConfig: case kExecCmd: break;
  }
}

// The refusals still standing, each with the option it refuses, in the
// order they were met.
using Pending = std::vector<std::pair<const OptionSpec*, UsageError>>;

// apply(), keeping a refusal pending until the same option is set again;
// origin ("FILE:LINE", or "" for the command line) prefixes its errors.
void apply_item(Options& o, const Item& item, const std::string& origin, Pending* pending) {
  auto prefixed = [&](const UsageError& e) {
    return origin.empty() ? e : UsageError{origin + ": " + e.message, e.command, false};
  };
  std::erase_if(*pending, [&](const auto& p) { return p.first == item.spec; });
  try {
    apply(o, item);
  } catch (const Refusal& r) {
    pending->emplace_back(item.spec, prefixed(r.error));
  } catch (const UsageError& e) {
    throw prefixed(e);
  }
}

// What the command line says, before any of it is applied.
struct CommandLine {
  std::vector<Item> items;
  std::vector<std::string> paths;
  std::optional<std::vector<std::string>> exec_cmd;  // after --exec-cmd
};

std::string take_value(int argc, char** argv, int* i, const std::string& spelled, Command c) {
  if (*i + 1 >= argc) throw UsageError{"option '" + spelled + "' needs an argument", c};
  return argv[++*i];
}

void read_long(const std::string& arg, int argc, char** argv, int* i, Command c, CommandLine* out) {
  std::string body = arg.substr(2);
  std::optional<std::string> value;
  if (size_t eq = body.find('='); eq != std::string::npos) {
    value = body.substr(eq + 1);
    body.resize(eq);
  }
  bool ambiguous = false;
  std::optional<Resolved> r = resolve_long(body, &ambiguous);
  if (ambiguous) throw UsageError{"option '--" + body + "' is ambiguous", c};
  if (!r) throw UsageError{"unknown option '--" + body + "' for " + command_name(c), c};
  const OptionSpec& spec = *r->spec;
  std::string spelled = std::string(r->negated ? "--no-" : "--") + spec.name;
  if (value && (spec.arg == OptArg::None || r->negated))
    throw UsageError{"option '" + spelled + "' takes no argument", c};
  if (!r->negated && spec.arg == OptArg::Required && !value) value = take_value(argc, argv, i, spelled, c);
  if (!r->negated && spec.arg == OptArg::Optional && !value && *i + 1 < argc && takes_word(spec, argv[*i + 1]))
    value = argv[++*i];
  out->items.push_back({&spec, value, r->negated, spelled});
}

void read_shorts(const std::string& arg, int argc, char** argv, int* i, Command c, CommandLine* out) {
  for (size_t k = 1; k < arg.size(); k++) {
    const OptionSpec* spec = find_short(arg[k]);
    std::string spelled = std::string("-") + arg[k];
    if (!spec) throw UsageError{"unknown option '" + spelled + "' for " + command_name(c), c};
    std::string rest = arg.substr(k + 1);
    if (spec->arg == OptArg::None) {
      out->items.push_back({spec, std::nullopt, false, spelled});
      continue;
    }
    std::optional<std::string> value;
    if (!rest.empty()) value = rest;
    else if (spec->arg == OptArg::Required) value = take_value(argc, argv, i, spelled, c);
    out->items.push_back({spec, value, false, spelled});
    return;  // the rest of the word was the argument
  }
}

CommandLine read_command_line(int argc, char** argv, Command c) {
  CommandLine cl;
  for (int i = 2; i < argc; i++) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (i++; i < argc; i++) cl.paths.push_back(argv[i]);
      break;
    }
    if (arg.starts_with("--")) {
      read_long(arg, argc, argv, &i, c, &cl);
      // As CRIU's: the rest of the command line is the command to exec.
      const Item& last = cl.items.back();
      if (last.spec->id == kExecCmd && !last.negated && (last.spec->honoured & command_bit(c))) {
        int first = i + 1;
        if (first < argc && std::strcmp(argv[first], "--") == 0) first++;
        cl.exec_cmd.emplace(argv + first, argv + argc);
        break;
      }
    } else if (arg.size() > 1 && arg[0] == '-') {
      read_shorts(arg, argc, argv, &i, c, &cl);
    } else {
      cl.paths.push_back(arg);
    }
  }
  return cl;
}

// A config file's line as an Item, or nothing when the option is not one
// of this command's: the default files serve every command, so `ghost-limit
// 4M` there does not break a restore.
std::optional<Item> config_item(const ConfigItem& ci, Command c) {
  auto fail = [&](const std::string& reason) -> UsageError { return {ci.origin + ": " + reason, c, false}; };
  bool ambiguous = false;
  std::optional<Resolved> r = resolve_long(ci.name, &ambiguous);
  if (ambiguous) throw fail("option '" + ci.name + "' is ambiguous");
  if (!r) throw fail("unknown option '" + ci.name + "'");
  const OptionSpec& spec = *r->spec;
  std::string spelled = std::string(r->negated ? "--no-" : "--") + spec.name;
  if (spec.id == kConfig || spec.id == kNoDefaultConfig || spec.id == kExecCmd || spec.id == kHelp ||
      spec.id == kVersion)
    throw fail("option '" + spelled + "' belongs on the command line, not in a config file");
  if (!((spec.honoured | spec.refused) & command_bit(c))) return std::nullopt;
  if (ci.value && (spec.arg == OptArg::None || r->negated)) throw fail("option '" + spelled + "' takes no argument");
  if (!ci.value && spec.arg == OptArg::Required && !r->negated)
    throw fail("option '" + spelled + "' needs an argument");
  return Item{&spec, ci.value, r->negated, spelled};
}

void apply_config_file(Options& o, const std::string& path, bool missing_ok, Pending* pending) {
  for (const ConfigItem& ci : read_config_file(path, missing_ok)) {
    std::optional<Item> item = config_item(ci, o.command);
    if (item) apply_item(o, *item, ci.origin, pending);
  }
}

// The config files, in order: the defaults (unless --no-default-config),
// then each --config.  As criu, CRIU's: a --config replaces the defaults,
// and $CRIU_CONFIG_FILE comes between.
void apply_config_files(Options& o, const ParseEnv& env, Pending* pending) {
  bool defaults = !o.no_default_config && !(o.as_criu && !o.config_files.empty());
  if (defaults) {
    if (!env.global_config.empty()) apply_config_file(o, env.global_config, true, pending);
    if (env.home && !env.home->empty())
      apply_config_file(o, *env.home + (o.as_criu ? "/.criu/default.conf" : "/.ckpt/default.conf"), true, pending);
  }
  if (o.as_criu && env.config_env && !env.config_env->empty())
    apply_config_file(o, *env.config_env, false, pending);
  for (const std::string& path : o.config_files) apply_config_file(o, path, false, pending);
}

void check_paths(const Options& o) {
  switch (o.command) {
    case Command::Dump:
      if (!o.tree_pid) throw UsageError{"dump needs -t PID", o.command};
      if (o.images_dir.empty()) throw UsageError{"dump needs -D DIR", o.command};
      break;
    case Command::Restore:
      if (o.images_dir.empty()) throw UsageError{"restore needs -D DIR", o.command};
      break;
    case Command::Show:
      if (o.paths.empty()) throw UsageError{"show needs a FILE or DIR", o.command};
      break;
    case Command::Verify:
      if (o.paths.empty()) throw UsageError{"verify needs a DIR", o.command};
      if (o.paths.size() > 1)
        throw UsageError{"unexpected argument '" + o.paths[1] + "' (verify takes one DIR)", o.command};
      break;
    default:
      break;
  }
  if (o.command != Command::Show && o.command != Command::Verify && !o.paths.empty())
    throw UsageError{"unexpected argument '" + o.paths.front() + "'", o.command};
}

}  // namespace

bool started_as_criu(const char* argv0) {
  if (!argv0) return false;
  const char* slash = std::strrchr(argv0, '/');
  return std::strcmp(slash ? slash + 1 : argv0, "criu") == 0;
}

const std::vector<OptionSpec>& option_table() { return kOptions; }

const OptionSpec* find_option(const std::string& name) {
  for (const auto& o : kOptions)
    if (name == o.name) return &o;
  return nullptr;
}

const char* command_name(Command c) {
  if (c == Command::Help) return "help";
  if (c == Command::Version) return "version";
  return info(c).name;
}

std::optional<uint64_t> parse_size(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') digits++;
  if (digits == 0 || digits > 19) return std::nullopt;
  std::string suffix = text.substr(digits);
  int shift = 0;
  if (suffix == "K" || suffix == "k") shift = 10;
  else if (suffix == "M" || suffix == "m") shift = 20;
  else if (suffix == "G" || suffix == "g") shift = 30;
  else if (!suffix.empty()) return std::nullopt;
  uint64_t v = std::strtoull(text.substr(0, digits).c_str(), nullptr, 10);
  if (v > (UINT64_MAX >> shift)) return std::nullopt;
  return v << shift;
}

std::string default_log_name(Command c) {
  if (c == Command::Dump) return "dump.log";
  if (c == Command::Restore) return "restore.log";
  return "";
}

std::string usage(std::optional<Command> command, bool as_criu) {
  std::string prog = as_criu ? "criu" : "ckpt";
  auto spelled = [&](const char* synopsis) { return prog + (synopsis + 4); };
  if (command && *command != Command::Help && *command != Command::Version) {
    const auto& ci = info(*command);
    std::string common = kCommonHelp;
    if (as_criu)  // criu's default config files are criu's
      for (size_t at; (at = common.find("ckpt/default.conf")) != std::string::npos;) common.replace(at, 4, "criu");
    return "Usage: " + spelled(ci.synopsis) + "\n" + ci.help + common;
  }
  std::string s = "Usage: " + prog + " <command> [options]\n\nCommands:\n";
  for (const auto& c : kCommands) s += "  " + spelled(c.synopsis) + "\n";
  s += "\n`" + prog + " <command> --help` describes a command; `" + prog + " --version` prints the version.\n";
  s += "CRIU's options that " + prog + " does not support yet are refused by name.\n";
  return s;
}

ParseEnv system_parse_env(bool as_criu) {
  ParseEnv env;
  env.global_config = as_criu ? "/etc/criu/default.conf" : "/etc/ckpt/default.conf";
  if (const char* home = std::getenv("HOME")) env.home = home;
  if (as_criu)
    if (const char* file = std::getenv("CRIU_CONFIG_FILE")) env.config_env = file;
  return env;
}

Options parse(int argc, char** argv) {
  return parse(argc, argv, system_parse_env(argc > 0 && started_as_criu(argv[0])));
}

Options parse(int argc, char** argv, const ParseEnv& env) {
  Options o;
  o.as_criu = argc > 0 && started_as_criu(argv[0]);
  if (argc < 2) throw UsageError{"no command given", std::nullopt};
  const char* first = argv[1];
  if (!std::strcmp(first, "--help") || !std::strcmp(first, "-h") || !std::strcmp(first, "help")) {
    o.command = Command::Help;
    return o;
  }
  if (!std::strcmp(first, "--version") || !std::strcmp(first, "-V")) {
    o.command = Command::Version;
    return o;
  }
  const CommandInfo* ci = find_command(first);
  if (!ci) throw UsageError{std::string("unknown command '") + first + "'", std::nullopt};
  o.command = ci->command;

  CommandLine cl = read_command_line(argc, argv, o.command);
  // --help and --version win over everything else, config files included
  // (a broken config file must not hide the help).
  for (const Item& item : cl.items) {
    if (item.spec->id == kHelp) {
      o.help_for = o.command;
      return o;
    }
    if (item.spec->id == kVersion) {
      o.command = Command::Version;
      return o;
    }
  }
  for (const Item& item : cl.items) {
    if (item.spec->id == kConfig) o.config_files.push_back(*item.value);
    if (item.spec->id == kNoDefaultConfig) o.no_default_config = true;
  }
  Pending pending;
  apply_config_files(o, env, &pending);
  // The command line last: it wins over every config file (and a
  // repeatable option's values from the files come first).
  for (const Item& item : cl.items) apply_item(o, item, "", &pending);
  if (!pending.empty()) throw pending.front().second;
  if (o.command == Command::Check && !o.tree_pid)
    for (const Item& item : cl.items)
      if (changes_tree_verdict(item.spec->id))
        throw UsageError{std::string("option --") + item.spec->name + " applies to check only with -t PID", o.command};

  o.paths = cl.paths;
  if (cl.exec_cmd) {
    if (cl.exec_cmd->empty()) throw UsageError{"--exec-cmd needs a command after it", o.command};
    if (o.detach) throw UsageError{"--restore-detached and --exec-cmd cannot be used together", o.command};
    o.exec_cmd = cl.exec_cmd->front();
    o.exec_cmd_args.assign(cl.exec_cmd->begin() + 1, cl.exec_cmd->end());
  }
  check_paths(o);
  return o;
}

}  // namespace ckpt::cli
