#include "cli/options.h"

#include <getopt.h>

#include <cstdlib>
#include <cstring>

namespace ckpt::cli {
namespace {

struct CommandInfo {
  Command command;
  const char* name;
  const char* synopsis;
  const char* help;
};

const CommandInfo kCommands[] = {
    {Command::Check, "check", "ckpt check [--all] [--feature NAME]",
     "  Probes the kernel facilities ckpt needs and prints 'Looks good.' when\n"
     "  dump and restore can work here.\n"
     "    --all            also report optional facilities\n"
     "    --feature NAME   check only NAME (repeatable; --feature list names them)\n"},
    {Command::Dump, "dump", "ckpt dump -t PID -D DIR [options]",
     "  Freezes the process tree rooted at PID and writes its images to DIR.\n"
     "    -t, --tree PID          root of the tree to dump\n"
     "    -D, --images-dir DIR    where to write the images (created if missing)\n"
     "    -R, --leave-running     let the tree run on after the dump\n"
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
     "        --file-locks        save the flock, POSIX and OFD locks the tree\n"
     "                            holds (without it such a tree is refused)\n"
     "        --external RES      save the fds on RES (as /proc/PID/fd shows it,\n"
     "                            e.g. pipe:[1234]) as external: restore takes\n"
     "                            them from --inherit-fd (repeatable)\n"
     "        --ext-unix-sk       allow unix sockets connected to a named peer\n"
     "                            outside the tree (connected again at restore)\n"
     "    -o, --log-file FILE     log file, relative to DIR (default dump.log)\n"
     "    -v[0-4]                 verbosity on stderr (default 2)\n"},
    {Command::Restore, "restore", "ckpt restore -D DIR [options]",
     "  Brings back the tree saved in DIR with its original PIDs.\n"
     "    -D, --images-dir DIR    images to restore\n"
     "    -d, --restore-detached  exit once the tree runs instead of waiting\n"
     "    -j, --shell-job         give the restored tree ckpt's terminal\n"
     "        --pidfile FILE      write the restored root PID to FILE\n"
     "        --inherit-fd fd[N]:RES  ckpt's fd N stands in for the external\n"
     "                            file RES of the images (repeatable)\n"
     "        --tcp-established   restore established TCP connections\n"
     "        --tcp-close         restore them closed instead\n"
     "        --network-lock M    nftables (default): keep the connections locked\n"
     "                            until the tree runs, then remove the lock; skip:\n"
     "                            the caller locks and unlocks the network\n"
     "        --file-locks        take the saved file locks again (images with\n"
     "                            locks are refused without it)\n"
     "        --ext-unix-sk       connect unix sockets again to their peers\n"
     "                            outside the tree (dumped with --ext-unix-sk)\n"
     "    -o, --log-file FILE     log file, relative to DIR (default restore.log)\n"
     "    -v[0-4]                 verbosity on stderr (default 2)\n"},
    {Command::Show, "show", "ckpt show FILE|DIR ... | ckpt show DIR --ps|--fds|--mems",
     "  Prints images as JSON: a single image file, or every image of a\n"
     "  directory.  Page data files are summarised, not printed.\n"
     "        --ps                the process tree: pid, ppid, threads, command\n"
     "        --fds               every fd of every process, with its kind\n"
     "        --mems              every memory area, its size and pages saved\n"},
    {Command::Verify, "verify", "ckpt verify DIR",
     "  Checks every image in DIR against the set's manifest (size and\n"
     "  SHA-256): names each file missing, truncated, changed or not listed.\n"},
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

enum LongOnly {
  OPT_TCP_ESTABLISHED = 1000,
  OPT_PIDFILE,
  OPT_ALL,
  OPT_FEATURE,
  OPT_VERSION,
  OPT_GHOST_LIMIT,
  OPT_FILE_LOCKS,
  OPT_EXTERNAL,
  OPT_INHERIT_FD,
  OPT_EXT_UNIX_SK,
  OPT_TCP_CLOSE,
  OPT_SKIP_IN_FLIGHT,
  OPT_NETWORK_LOCK,
  OPT_SHOW_PS,
  OPT_SHOW_FDS,
  OPT_SHOW_MEMS,
};

const option kLongOptions[] = {
    {"tree", required_argument, nullptr, 't'},
    {"images-dir", required_argument, nullptr, 'D'},
    {"log-file", required_argument, nullptr, 'o'},
    {"leave-running", no_argument, nullptr, 'R'},
    {"shell-job", no_argument, nullptr, 'j'},
    {"restore-detached", no_argument, nullptr, 'd'},
    {"tcp-established", no_argument, nullptr, OPT_TCP_ESTABLISHED},
    {"pidfile", required_argument, nullptr, OPT_PIDFILE},
    {"all", no_argument, nullptr, OPT_ALL},
    {"feature", required_argument, nullptr, OPT_FEATURE},
    {"help", no_argument, nullptr, 'h'},
    {"version", no_argument, nullptr, OPT_VERSION},
    {"ghost-limit", required_argument, nullptr, OPT_GHOST_LIMIT},
    {"file-locks", no_argument, nullptr, OPT_FILE_LOCKS},
    {"external", required_argument, nullptr, OPT_EXTERNAL},
    {"inherit-fd", required_argument, nullptr, OPT_INHERIT_FD},
    {"ext-unix-sk", no_argument, nullptr, OPT_EXT_UNIX_SK},
    {"tcp-close", no_argument, nullptr, OPT_TCP_CLOSE},
    {"skip-in-flight", no_argument, nullptr, OPT_SKIP_IN_FLIGHT},
    {"network-lock", required_argument, nullptr, OPT_NETWORK_LOCK},
    {"ps", no_argument, nullptr, OPT_SHOW_PS},
    {"fds", no_argument, nullptr, OPT_SHOW_FDS},
    {"mems", no_argument, nullptr, OPT_SHOW_MEMS},
    {nullptr, 0, nullptr, 0},
};

// Which options each command accepts: anything else is an error, so a typo
// never silently changes what a dump does.
bool accepts(Command c, int opt) {
  switch (opt) {
    case 'h': case 'v': case OPT_VERSION: return true;
    case 'o': return c == Command::Dump || c == Command::Restore;
    case 'D': case 'j': case OPT_TCP_ESTABLISHED: case OPT_FILE_LOCKS: case OPT_EXT_UNIX_SK: case OPT_TCP_CLOSE:
    case OPT_NETWORK_LOCK:
      return c == Command::Dump || c == Command::Restore;
    case 't': case 'R': case OPT_GHOST_LIMIT: case OPT_EXTERNAL: case OPT_SKIP_IN_FLIGHT: return c == Command::Dump;
    case 'd': case OPT_PIDFILE: case OPT_INHERIT_FD: return c == Command::Restore;
    case OPT_ALL: case OPT_FEATURE: return c == Command::Check;
    case OPT_SHOW_PS: case OPT_SHOW_FDS: case OPT_SHOW_MEMS: return c == Command::Show;
  }
  return false;
}

// How the user spelled an option, for error messages.
std::string spelling(int opt) {
  if (opt < 256) return std::string("-") + char(opt);
  for (const option* o = kLongOptions; o->name; o++)
    if (o->val == opt) return std::string("--") + o->name;
  return "?";
}

int parse_int(const char* s, const char* what, Command c) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(s, &end, 10);
  if (errno || !end || *end || end == s || v <= 0 || v > (1L << 22))
    throw UsageError{std::string("invalid ") + what + " '" + s + "'", c};
  return int(v);
}

// CRIU's "fd[N]:RES": ckpt's fd N stands in for the external file RES.
std::pair<int, std::string> parse_inherit_fd(const char* arg, Command c) {
  std::string text = arg;
  size_t close = text.find("]:");
  if (!text.starts_with("fd[") || close == std::string::npos || close == 3 || close + 2 == text.size())
    throw UsageError{"invalid --inherit-fd '" + text + "' (use fd[N]:RESOURCE, e.g. fd[3]:pipe:[1234])", c};
  std::string number = text.substr(3, close - 3);
  if (number.find_first_not_of("0123456789") != std::string::npos || number.size() > 7)
    throw UsageError{"invalid fd number '" + number + "' in --inherit-fd '" + text + "'", c};
  return {std::stoi(number), text.substr(close + 2)};
}

}  // namespace

const char* command_name(Command c) { return info(c).name; }

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

std::string usage(std::optional<Command> command) {
  if (command && *command != Command::Help && *command != Command::Version) {
    const auto& ci = info(*command);
    return std::string("Usage: ") + ci.synopsis + "\n" + ci.help;
  }
  std::string s = "Usage: ckpt <command> [options]\n\nCommands:\n";
  for (const auto& c : kCommands) s += std::string("  ") + c.synopsis + "\n";
  s += "\n`ckpt <command> --help` describes a command; `ckpt --version` prints the version.\n";
  return s;
}

Options parse(int argc, char** argv) {
  Options o;
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

  optind = 2;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, ":t:D:o:Rjdhv::", kLongOptions, nullptr)) != -1) {
    if (opt == '?') {
      std::string bad = optopt ? std::string("-") + char(optopt) : std::string(argv[optind - 1]);
      throw UsageError{"unknown option '" + bad + "' for " + ci->name, o.command};
    }
    if (opt == ':') {
      std::string bad = optopt && optopt < 256 ? std::string("-") + char(optopt) : std::string(argv[optind - 1]);
      throw UsageError{"option '" + bad + "' needs an argument", o.command};
    }
    if (!accepts(o.command, opt))
      throw UsageError{"option '" + spelling(opt) + "' does not apply to " + ci->name, o.command};
    switch (opt) {
      case 't': o.tree_pid = parse_int(optarg, "PID", o.command); break;
      case 'D': o.images_dir = optarg; break;
      case 'o': o.log_file = optarg; break;
      case 'R': o.leave_running = true; break;
      case 'j': o.shell_job = true; break;
      case 'd': o.detach = true; break;
      case OPT_TCP_ESTABLISHED: o.tcp_established = true; break;
      case OPT_PIDFILE: o.pidfile = optarg; break;
      case OPT_FILE_LOCKS: o.file_locks = true; break;
      case OPT_EXTERNAL: o.externals.push_back(optarg); break;
      case OPT_EXT_UNIX_SK: o.ext_unix_sk = true; break;
      case OPT_TCP_CLOSE: o.tcp_close = true; break;
      case OPT_SKIP_IN_FLIGHT: o.skip_in_flight = true; break;
      case OPT_NETWORK_LOCK:
        if (std::strcmp(optarg, "nftables") == 0) o.network_lock = Options::NetworkLock::Nftables;
        else if (std::strcmp(optarg, "skip") == 0) o.network_lock = Options::NetworkLock::Skip;
        else if (std::strcmp(optarg, "iptables") == 0)
          throw UsageError{"--network-lock iptables is not supported: use nftables (the default) or skip", o.command};
        else
          throw UsageError{std::string("invalid network lock '") + optarg + "' (use nftables or skip)", o.command};
        break;
      case OPT_INHERIT_FD: o.inherit_fds.push_back(parse_inherit_fd(optarg, o.command)); break;
      case OPT_GHOST_LIMIT: {
        std::optional<uint64_t> size = parse_size(optarg);
        if (!size)
          throw UsageError{std::string("invalid size '") + optarg + "' for --ghost-limit (use e.g. 1048576, 512K, 2M, 1G)",
                           o.command};
        o.ghost_limit = *size;
        break;
      }
      case OPT_ALL: o.check_all = true; break;
      case OPT_FEATURE: o.features.push_back(optarg); break;
      case OPT_SHOW_PS: o.show_ps = true; break;
      case OPT_SHOW_FDS: o.show_fds = true; break;
      case OPT_SHOW_MEMS: o.show_mems = true; break;
      case 'h': o.help_for = o.command; break;
      case OPT_VERSION: o.command = Command::Version; return o;
      case 'v':
        if (!optarg) {
          o.verbosity++;
        } else if (optarg[0] >= '0' && optarg[0] <= '4' && !optarg[1]) {
          o.verbosity = optarg[0] - '0';
        } else if (std::strspn(optarg, "v") == std::strlen(optarg)) {
          o.verbosity += 1 + int(std::strlen(optarg));  // -vvv
        } else {
          throw UsageError{std::string("invalid verbosity '-v") + optarg + "' (use -v0 .. -v4)", o.command};
        }
        if (o.verbosity > 4) o.verbosity = 4;
        break;
    }
  }
  if (o.help_for) return o;

  for (int i = optind; i < argc; i++) o.paths.push_back(argv[i]);
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
      break;
    default:
      break;
  }
  if (o.command != Command::Show && o.command != Command::Verify && !o.paths.empty())
    throw UsageError{"unexpected argument '" + o.paths.front() + "'", o.command};
  return o;
}

}  // namespace ckpt::cli
