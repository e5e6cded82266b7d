// Every CRIU option is honoured or refused by name, never ignored; config
// files in CRIU's syntax, their order, their errors; ckpt started as criu.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "cli/config.h"
#include "cli/options.h"

using namespace ckpt::cli;

namespace {

// CRIU 4.x's options of dump, restore and check, from its man page
// (criu(8): the common options, and each command's section) and the
// option parser's table for those the page leaves out (ext-unix-sk,
// exec-cmd, skip-mnt, ...).  Long names; the short ones follow from the
// table.  A new CRIU option goes here first, and the test says where it
// must go in options.cpp.
const char* const kCommon[] = {
    "verbosity", "config", "no-default-config", "pidfile", "log-file", "display-stats", "images-dir", "stream",
    "prev-images-dir", "work-dir", "close", "libdir", "enable-fs", "action-script", "version", "help",
    "unprivileged", "deprecated",
};
const char* const kDump[] = {
    "tree", "leave-running", "leave-stopped", "external", "freeze-cgroup", "manage-cgroups", "cgroup-props",
    "cgroup-props-file", "cgroup-dump-controller", "cgroup-yard", "tcp-established", "tcp-close", "skip-in-flight",
    "evasive-devices", "page-server", "address", "port", "ps-socket", "force-irmap", "auto-dedup", "file-locks",
    "link-remap", "timeout", "ghost-limit", "shell-job", "cpu-cap", "cgroup-root", "lazy-pages", "file-validation",
    "network-lock", "track-mem", "pre-dump-mode", "ext-unix-sk", "irmap-scan-path", "ext-mount-map", "skip-mnt",
    "enable-external-sharing", "enable-external-masters", "empty-ns", "allow-uprobes", "ghost-fiemap", "check-only",
    "tls", "tls-cacert", "tls-cacrl", "tls-cert", "tls-key", "tls-no-cn-verify", "log-pid", "status-fd",
};
const char* const kRestore[] = {
    "inherit-fd", "restore-detached", "leave-stopped", "restore-sibling", "log-pid", "root", "external", "join-ns",
    "manage-cgroups", "cgroup-yard", "cgroup-root", "tcp-established", "tcp-close", "veth-pair", "file-locks",
    "lsm-profile", "lsm-mount-context", "auto-dedup", "shell-job", "cpu-cap", "weak-sysctls", "lazy-pages",
    "file-validation", "skip-file-rwx-check", "mntns-compat-mode", "network-lock", "ext-unix-sk", "exec-cmd",
    "ext-mount-map", "empty-ns", "check-only", "status-fd", "tls", "tls-cacert", "tls-cacrl", "tls-cert", "tls-key",
    "tls-no-cn-verify",
};
const char* const kCheck[] = {"extra", "experimental", "all", "feature", "ms"};

// The common options CRIU's page lists that make no sense for one of the
// three commands, which ckpt therefore says "does not apply" to.
const std::set<std::pair<std::string, Command>> kNotFor = {
    {"pidfile", Command::Dump},     {"pidfile", Command::Check},     {"log-file", Command::Check},
    {"display-stats", Command::Check}, {"images-dir", Command::Check}, {"stream", Command::Check},
    {"prev-images-dir", Command::Restore}, {"prev-images-dir", Command::Check}, {"work-dir", Command::Check},
    {"enable-fs", Command::Check},  {"action-script", Command::Check},
};

std::map<Command, std::set<std::string>> criu_options() {
  std::map<Command, std::set<std::string>> m;
  for (Command c : {Command::Dump, Command::Restore, Command::Check})
    for (const char* name : kCommon)
      if (!kNotFor.count({name, c})) m[c].insert(name);
  for (const char* name : kDump) m[Command::Dump].insert(name);
  for (const char* name : kRestore) m[Command::Restore].insert(name);
  for (const char* name : kCheck) m[Command::Check].insert(name);
  return m;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/ckpt-config-test.XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string file = path + "/" + name;
    size_t slash = file.rfind('/');
    std::system(("mkdir -p '" + file.substr(0, slash) + "'").c_str());
    std::ofstream(file) << text;
    return file;
  }
};

Options parse_with(const ParseEnv& env, std::vector<std::string> args, const char* argv0 = "ckpt") {
  args.insert(args.begin(), argv0);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  return parse(int(args.size()), argv.data(), env);
}

std::string error_with(const ParseEnv& env, std::vector<std::string> args, const char* argv0 = "ckpt") {
  try {
    parse_with(env, std::move(args), argv0);
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

// A valid argument for each honoured option that needs one.
std::string sample_argument(const std::string& name, const std::string& empty_file) {
  static const std::map<std::string, std::string> samples = {
      {"tree", "1"}, {"images-dir", "d"}, {"log-file", "x.log"}, {"network-lock", "skip"},
      {"external", "pipe:[1]"}, {"inherit-fd", "fd[3]:pipe:[1]"}, {"ghost-limit", "1M"}, {"pidfile", "p"},
      {"feature", "list"}, {"timeout", "5"}, {"freeze-cgroup", "/sys/fs/cgroup/x"}, {"root", "/"},
      {"work-dir", "/tmp"}, {"action-script", "/bin/true"}, {"manage-cgroups", "none"}, {"verbosity", "3"},
  };
  if (name == "config") return empty_file;
  auto it = samples.find(name);
  return it == samples.end() ? "x" : it->second;
}

std::vector<std::string> base_args(Command c) {
  if (c == Command::Dump) return {"dump", "-t", "1", "-D", "d"};
  if (c == Command::Restore) return {"restore", "-D", "d"};
  return {"check"};
}

}  // namespace

// Every option of CRIU's dump, restore and check is, for that command,
// either honoured or refused by name: parsed without error, or refused
// with `option --X is not supported yet`.  Never unknown, never ignored.
TEST(CriuOptions, EveryOptionHonouredOrRefused) {
  TempDir dir;
  std::string empty = dir.write("empty.conf", "");
  int honoured = 0, refused = 0;
  for (const auto& [command, names] : criu_options()) {
    for (const std::string& name : names) {
      SCOPED_TRACE(std::string(command_name(command)) + " --" + name);
      const OptionSpec* spec = find_option(name);
      ASSERT_NE(spec, nullptr) << "CRIU's --" << name << " is not in options.cpp's table";
      ASSERT_FALSE(spec->ckpt_only);
      unsigned bit = command_bit(command);
      ASSERT_TRUE((spec->honoured | spec->refused) & bit) << "neither honoured nor refused";
      EXPECT_FALSE((spec->honoured & spec->refused) & bit) << "both honoured and refused";
      if (name == "help" || name == "version" || name == "exec-cmd") continue;  // they end the parse
      std::vector<std::string> args = base_args(command);
      std::string option = "--" + name;
      if (spec->arg == OptArg::Required || (spec->honoured & bit && spec->arg == OptArg::Optional &&
                                            name != "ext-unix-sk"))
        option += "=" + sample_argument(name, empty);
      args.push_back(option);
      std::string error = error_with(ParseEnv{}, args);
      if (spec->honoured & bit) {
        EXPECT_EQ(error, "");
        honoured++;
      } else {
        EXPECT_EQ(error, "option --" + name + " is not supported yet");
        refused++;
      }
    }
  }
  EXPECT_GT(honoured, 40);
  EXPECT_GT(refused, 60);
}

// And the other way: every CRIU row of the table is one of CRIU's options
// (a typo in a name would leave CRIU's real option unknown).
TEST(CriuOptions, TableHoldsOnlyCriusOptions) {
  auto criu = criu_options();
  std::set<std::string> all;
  for (const auto& [c, names] : criu) all.insert(names.begin(), names.end());
  std::set<std::string> seen;
  for (const OptionSpec& spec : option_table()) {
    EXPECT_TRUE(seen.insert(spec.name).second) << "--" << spec.name << " twice in the table";
    if (spec.ckpt_only) {
      EXPECT_FALSE(all.count(spec.name)) << "--" << spec.name << " is CRIU's";
      continue;
    }
    EXPECT_TRUE(all.count(spec.name)) << "--" << spec.name << " is not one of CRIU's options";
    EXPECT_NE(spec.honoured | spec.refused, 0u) << "--" << spec.name << " applies to nothing";
  }
  // CRIU's short options, as its getopt string has them.
  const std::map<char, std::string> shorts = {
      {'d', "restore-detached"}, {'S', "restore-sibling"}, {'s', "leave-stopped"}, {'R', "leave-running"},
      {'t', "tree"}, {'h', "help"}, {'D', "images-dir"}, {'o', "log-file"}, {'v', "verbosity"},
      {'x', "ext-unix-sk"}, {'V', "version"}, {'r', "root"}, {'j', "shell-job"}, {'J', "join-ns"},
      {'l', "file-locks"}, {'W', "work-dir"}, {'L', "libdir"}, {'M', "ext-mount-map"},
  };
  for (const auto& [c, name] : shorts) {
    const OptionSpec* spec = find_option(name);
    ASSERT_NE(spec, nullptr) << name;
    EXPECT_EQ(spec->short_name, c) << "--" << name;
  }
}

// The refused options' short forms are refused by their long name.
TEST(CriuOptions, RefusedShortForms) {
  EXPECT_EQ(error_with(ParseEnv{}, {"restore", "-D", "d", "-M", "a:b"}), "option --ext-mount-map is not supported yet");
  EXPECT_EQ(error_with(ParseEnv{}, {"dump", "-t", "1", "-D", "d", "-L", "/lib"}),
            "option --libdir is not supported yet");
}

TEST(ConfigSyntax, Lines) {
  auto items = parse_config_text(
      "# a comment\n"
      "\n"
      "   tcp-established   \n"
      "ghost-limit 4M\n"
      "work-dir=/tmp/w\n"
      "log-file \"my log.txt\"   # the rest is a comment\n"
      "action-script=\"/a b/\\\"c\\\"\"\n"
      "no-restore-sibling\r\n",
      "f.conf");
  ASSERT_EQ(items.size(), 6u);
  EXPECT_EQ(items[0].name, "tcp-established");
  EXPECT_FALSE(items[0].value);
  EXPECT_EQ(items[0].origin, "f.conf:3");
  EXPECT_EQ(items[1].name, "ghost-limit");
  EXPECT_EQ(*items[1].value, "4M");
  EXPECT_EQ(items[2].name, "work-dir");
  EXPECT_EQ(*items[2].value, "/tmp/w");
  EXPECT_EQ(*items[3].value, "my log.txt");
  EXPECT_EQ(*items[4].value, "/a b/\"c\"");
  EXPECT_EQ(items[5].name, "no-restore-sibling");
  EXPECT_EQ(items[5].origin, "f.conf:8");
}

TEST(ConfigSyntax, Errors) {
  auto error = [](const std::string& text) {
    try {
      parse_config_text(text, "/etc/x.conf");
    } catch (const UsageError& e) {
      EXPECT_FALSE(e.show_usage);
      return e.message;
    }
    return std::string();
  };
  EXPECT_EQ(error("\nghost-limit 1 2\n"),
            "/etc/x.conf:2: option 'ghost-limit' has more than one argument (quote an argument that holds spaces)");
  EXPECT_EQ(error("work-dir \"/tmp\n"), "/etc/x.conf:1: unterminated double quote");
  EXPECT_EQ(error("--tcp-established\n"),
            "/etc/x.conf:1: '--tcp-established': write the option without its leading dashes");
  EXPECT_EQ(error("a=b c\n"), "/etc/x.conf:1: option 'a' has more than one argument");
  EXPECT_EQ(error("=b\n"), "/etc/x.conf:1: an argument without an option name");
}

TEST(ConfigFiles, OrderAndOverride) {
  TempDir dir;
  ParseEnv env;
  env.global_config = dir.write("etc/default.conf", "log-file global.log\naction-script /global\nverbosity 0\n");
  env.home = dir.path + "/home";
  dir.write("home/.ckpt/default.conf", "log-file home.log\naction-script /home\n");
  std::string one = dir.write("one.conf", "log-file one.log\naction-script /one\n");
  std::string two = dir.write("two.conf", "action-script /two\ntcp-established\n");

  Options o = parse_with(env, {"dump", "-t", "1", "-D", "d", "--config", one, "--config=" + two});
  EXPECT_EQ(o.log_file, "one.log");  // the last file that says it
  EXPECT_EQ(o.verbosity, 0);
  EXPECT_TRUE(o.tcp_established);
  EXPECT_EQ(o.action_scripts, (std::vector<std::string>{"/global", "/home", "/one", "/two"}));
  EXPECT_EQ(o.config_files, (std::vector<std::string>{one, two}));

  // The command line last, winning; its repeatable values after the files'.
  Options c = parse_with(env, {"dump", "-t", "1", "-D", "d", "-o", "cli.log", "--action-script", "/cli", "-v4",
                               "--config", one, "--no-tcp-established", "--config", two});
  EXPECT_EQ(c.log_file, "cli.log");
  EXPECT_EQ(c.verbosity, 4);
  EXPECT_FALSE(c.tcp_established);
  EXPECT_EQ(c.action_scripts, (std::vector<std::string>{"/global", "/home", "/one", "/two", "/cli"}));
}

TEST(ConfigFiles, NoDefaultConfigAndHome) {
  TempDir dir;
  ParseEnv env;
  env.global_config = dir.write("etc/default.conf", "tcp-established\n");
  env.home = dir.path + "/home";
  dir.write("home/.ckpt/default.conf", "file-locks\n");
  std::string mine = dir.write("mine.conf", "ext-unix-sk\n");

  Options both = parse_with(env, {"restore", "-D", "d"});
  EXPECT_TRUE(both.tcp_established);
  EXPECT_TRUE(both.file_locks);

  Options none = parse_with(env, {"restore", "-D", "d", "--no-default-config", "--config", mine});
  EXPECT_TRUE(none.no_default_config);
  EXPECT_FALSE(none.tcp_established);
  EXPECT_FALSE(none.file_locks);
  EXPECT_TRUE(none.ext_unix_sk);  // --config is still read

  ParseEnv no_home = env;
  no_home.home.reset();
  Options g = parse_with(no_home, {"restore", "-D", "d"});
  EXPECT_TRUE(g.tcp_established);
  EXPECT_FALSE(g.file_locks);

  // Missing default files are fine; a missing --config is not.
  ParseEnv missing;
  missing.global_config = dir.path + "/nope.conf";
  missing.home = dir.path + "/nohome";
  EXPECT_EQ(error_with(missing, {"check"}), "");
  EXPECT_EQ(error_with(missing, {"check", "--config", dir.path + "/absent.conf"}),
            "cannot read config file " + dir.path + "/absent.conf: No such file or directory");
  EXPECT_EQ(error_with(missing, {"check", "--config", dir.path}),
            "cannot read config file " + dir.path + ": it is not a regular file");
}

TEST(ConfigFiles, ErrorsNameTheFileAndLine) {
  TempDir dir;
  ParseEnv env;
  std::string f = dir.write("bad.conf", "# ok\ntcp-established\nbogus-option\n");
  EXPECT_EQ(error_with(env, {"dump", "-t", "1", "-D", "d", "--config", f}), f + ":3: unknown option 'bogus-option'");
  std::string r = dir.write("refused.conf", "\nauto-dedup\n");
  EXPECT_EQ(error_with(env, {"dump", "-t", "1", "-D", "d", "--config", r}),
            r + ":2: option --auto-dedup is not supported yet");
  std::string v = dir.write("value.conf", "ghost-limit lots\n");
  EXPECT_EQ(error_with(env, {"dump", "-t", "1", "-D", "d", "--config", v}),
            v + ":1: invalid size 'lots' for --ghost-limit (use e.g. 1048576, 512K, 2M, 1G)");
  std::string a = dir.write("arg.conf", "pidfile\n");
  EXPECT_EQ(error_with(env, {"restore", "-D", "d", "--config", a}), a + ":1: option '--pidfile' needs an argument");
  std::string n = dir.write("noarg.conf", "tcp-close yes\n");
  EXPECT_EQ(error_with(env, {"restore", "-D", "d", "--config", n}), n + ":1: option '--tcp-close' takes no argument");
  std::string c = dir.write("nested.conf", "config /etc/other.conf\n");
  EXPECT_EQ(error_with(env, {"restore", "-D", "d", "--config", c}),
            c + ":1: option '--config' belongs on the command line, not in a config file");
  std::string m = dir.write("mode.conf", "manage-cgroups full\n");
  EXPECT_EQ(error_with(env, {"restore", "-D", "d", "--config", m}),
            m + ":1: option --manage-cgroups full is not supported yet (ckpt takes --manage-cgroups=none or ignore)");
  // A refused mode taken back by the command line is no error.
  EXPECT_EQ(parse_with(env, {"restore", "-D", "d", "--config", m, "--manage-cgroups=none"}).manage_cgroups,
            Options::ManageCgroups::None);
  // The default files' errors are errors too, named the same way.
  ParseEnv broken;
  broken.global_config = f;
  EXPECT_EQ(error_with(broken, {"check"}), f + ":3: unknown option 'bogus-option'");
  // But --help still helps.
  EXPECT_EQ(parse_with(broken, {"dump", "--help"}).help_for, Command::Dump);
}

// One default file serves every command: what does not apply to this one
// is skipped there (on the command line it is an error).
TEST(ConfigFiles, OtherCommandsOptionsAreSkipped) {
  TempDir dir;
  ParseEnv env;
  env.global_config = dir.write("default.conf",
                                "ghost-limit 8M\nrestore-sibling\nlink-remap\ntcp-established\nauto-dedup\n"
                                "manage-cgroups=ignore\nextra\n");
  Options r = parse_with(env, {"show", "d"});
  EXPECT_FALSE(r.tcp_established);
  EXPECT_EQ(error_with(env, {"restore", "-D", "d"}),
            env.global_config + ":5: option --auto-dedup is not supported yet");
  // The command line takes a config file's refused option back.
  Options d = parse_with(env, {"restore", "-D", "d", "--no-auto-dedup"});
  EXPECT_EQ(d.manage_cgroups, Options::ManageCgroups::Ignore);
  ParseEnv ok;
  ok.global_config = dir.write("ok.conf", "ghost-limit 8M\nrestore-sibling\nlink-remap\ntcp-established\n");
  Options dump = parse_with(ok, {"dump", "-t", "1", "-D", "d"});
  EXPECT_EQ(dump.ghost_limit, 8u << 20);
  EXPECT_TRUE(dump.link_remap);
  EXPECT_TRUE(dump.tcp_established);
  EXPECT_FALSE(dump.restore_sibling);
  Options restore = parse_with(ok, {"restore", "-D", "d"});
  EXPECT_TRUE(restore.restore_sibling);
  EXPECT_EQ(restore.ghost_limit, 1u << 20);
}

TEST(ConfigFiles, HomeFromTheEnvironment) {
  TempDir dir;
  dir.write("h/.ckpt/default.conf", "file-locks\n");
  dir.write("h/.criu/default.conf", "tcp-established\n");
  const char* old = getenv("HOME");
  std::string saved = old ? old : "";
  setenv("HOME", (dir.path + "/h").c_str(), 1);
  ParseEnv env = system_parse_env(false);
  EXPECT_EQ(env.global_config, "/etc/ckpt/default.conf");
  env.global_config.clear();  // not this machine's /etc
  Options o = parse_with(env, {"restore", "-D", "d"});
  EXPECT_TRUE(o.file_locks);
  EXPECT_FALSE(o.tcp_established);
  ParseEnv criu_env = system_parse_env(true);
  EXPECT_EQ(criu_env.global_config, "/etc/criu/default.conf");
  criu_env.global_config.clear();
  Options c = parse_with(criu_env, {"restore", "-D", "d"}, "/usr/sbin/criu");
  EXPECT_TRUE(c.as_criu);
  EXPECT_TRUE(c.tcp_established);  // criu's own ~/.criu/default.conf
  EXPECT_FALSE(c.file_locks);
  if (old) setenv("HOME", saved.c_str(), 1);
  else unsetenv("HOME");
}

// Started as criu, config files are CRIU's: ~/.criu, $CRIU_CONFIG_FILE,
// and a --config replaces the default files.
TEST(ConfigFiles, AsCriu) {
  TempDir dir;
  ParseEnv env;
  env.global_config = dir.write("etc/criu/default.conf", "tcp-established\n");
  env.home = dir.path + "/home";
  dir.write("home/.criu/default.conf", "file-locks\n");
  env.config_env = dir.write("env.conf", "ext-unix-sk\nlog-file env.log\n");
  std::string mine = dir.write("mine.conf", "log-file mine.log\n");

  Options o = parse_with(env, {"restore", "-D", "d"}, "criu");
  EXPECT_TRUE(o.tcp_established);
  EXPECT_TRUE(o.file_locks);
  EXPECT_TRUE(o.ext_unix_sk);
  EXPECT_EQ(o.log_file, "env.log");

  Options c = parse_with(env, {"restore", "-D", "d", "--config", mine}, "criu");
  EXPECT_FALSE(c.tcp_established);
  EXPECT_FALSE(c.file_locks);
  EXPECT_TRUE(c.ext_unix_sk);
  EXPECT_EQ(c.log_file, "mine.log");

  // As ckpt, $CRIU_CONFIG_FILE means nothing and --config adds to the defaults.
  Options k = parse_with(env, {"restore", "-D", "d", "--config", mine});
  EXPECT_TRUE(k.tcp_established);
  EXPECT_FALSE(k.ext_unix_sk);
}
