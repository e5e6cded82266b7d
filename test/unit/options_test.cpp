#include <gtest/gtest.h>

#include <vector>

#include "cli/options.h"

using namespace ckpt::cli;

namespace {

Options parse_args(std::vector<const char*> args) {
  args.insert(args.begin(), "ckpt");
  std::vector<char*> argv;
  for (const char* a : args) argv.push_back(const_cast<char*>(a));
  argv.push_back(nullptr);
  // No config files: these tests are about the command line alone.
  return parse(int(args.size()), argv.data(), ParseEnv{});
}

std::string error_of(std::vector<const char*> args) {
  try {
    parse_args(std::move(args));
  } catch (const UsageError& e) {
    return e.message;
  }
  return "";
}

}  // namespace

TEST(Options, DumpWithEverything) {
  Options o = parse_args({"dump", "-t", "1234", "-D", "/tmp/d", "--leave-running", "--shell-job",
                          "--tcp-established", "-o", "my.log", "-v4"});
  EXPECT_EQ(o.command, Command::Dump);
  EXPECT_EQ(o.tree_pid, 1234);
  EXPECT_EQ(o.images_dir, "/tmp/d");
  EXPECT_TRUE(o.leave_running);
  EXPECT_TRUE(o.shell_job);
  EXPECT_TRUE(o.tcp_established);
  EXPECT_EQ(o.log_file, "my.log");
  EXPECT_EQ(o.verbosity, 4);
}

TEST(Options, LongFormsAndShortAliases) {
  Options o = parse_args({"dump", "--tree=7", "--images-dir", "d", "-R", "-j"});
  EXPECT_EQ(o.tree_pid, 7);
  EXPECT_EQ(o.images_dir, "d");
  EXPECT_TRUE(o.leave_running);
  EXPECT_TRUE(o.shell_job);
}

TEST(Options, Restore) {
  Options o = parse_args({"restore", "-D", "d", "-d", "--pidfile", "p", "-j"});
  EXPECT_EQ(o.command, Command::Restore);
  EXPECT_TRUE(o.detach);
  EXPECT_EQ(o.pidfile, "p");
  EXPECT_TRUE(o.shell_job);
}

TEST(Options, CheckAndShow) {
  Options c = parse_args({"check", "--all", "--feature", "kcmp", "--feature", "memfd"});
  EXPECT_TRUE(c.check_all);
  ASSERT_EQ(c.features.size(), 2u);
  EXPECT_EQ(c.features[1], "memfd");
  Options s = parse_args({"show", "a.img", "dir"});
  EXPECT_EQ(s.paths.size(), 2u);
}

TEST(Options, Verbosity) {
  EXPECT_EQ(parse_args({"check", "-v0"}).verbosity, 0);
  EXPECT_EQ(parse_args({"check", "-v"}).verbosity, 3);
  EXPECT_EQ(parse_args({"check", "-vv"}).verbosity, 4);
  EXPECT_NE(error_of({"check", "-v9"}), "");
}

TEST(Options, Errors) {
  EXPECT_EQ(error_of({"frobnicate"}), "unknown command 'frobnicate'");
  EXPECT_EQ(error_of({"dump", "-D", "d"}), "dump needs -t PID");
  EXPECT_EQ(error_of({"dump", "-t", "12"}), "dump needs -D DIR");
  EXPECT_EQ(error_of({"dump", "-t", "abc", "-D", "d"}), "invalid PID 'abc'");
  EXPECT_EQ(error_of({"dump", "-t"}), "option '-t' needs an argument");
  EXPECT_EQ(error_of({"dump", "--bogus"}), "unknown option '--bogus' for dump");
  EXPECT_EQ(error_of({"restore", "-t", "1", "-D", "d"}), "option '-t' does not apply to restore");
  EXPECT_EQ(error_of({"show"}), "show needs a FILE or DIR");
  EXPECT_EQ(error_of({"restore", "-D", "d", "extra"}), "unexpected argument 'extra'");
  EXPECT_EQ(error_of({}), "no command given");
}

// --file-locks is taken by dump and restore (CRIU needs it on both sides),
// and by nothing else.
TEST(Options, FileLocks) {
  EXPECT_FALSE(parse_args({"dump", "-t", "1", "-D", "d"}).file_locks);
  EXPECT_TRUE(parse_args({"dump", "-t", "1", "-D", "d", "--file-locks"}).file_locks);
  EXPECT_FALSE(parse_args({"restore", "-D", "d"}).file_locks);
  EXPECT_TRUE(parse_args({"restore", "-D", "d", "--file-locks"}).file_locks);
  // check takes the dump options that change check -t's verdict, and
  // only with -t.
  EXPECT_TRUE(parse_args({"check", "-t", "1", "--file-locks"}).file_locks);
  EXPECT_EQ(error_of({"check", "--file-locks"}), "option --file-locks applies to check only with -t PID");
  EXPECT_EQ(error_of({"check", "--leave-running"}), "option '--leave-running' does not apply to check");
  EXPECT_EQ(error_of({"show", "--file-locks", "d"}), "option '--file-locks' does not apply to show");
  EXPECT_NE(usage(Command::Dump).find("--file-locks"), std::string::npos);
  EXPECT_NE(usage(Command::Restore).find("--file-locks"), std::string::npos);
}

TEST(Options, Help) {
  EXPECT_EQ(parse_args({"dump", "--help"}).help_for, Command::Dump);
  EXPECT_EQ(parse_args({"--help"}).command, Command::Help);
  EXPECT_EQ(parse_args({"--version"}).command, Command::Version);
  EXPECT_NE(usage(Command::Restore).find("--restore-detached"), std::string::npos);
}

TEST(Options, GhostLimit) {
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d"}).ghost_limit, 1u << 20);  // CRIU's default
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", "--ghost-limit", "4096"}).ghost_limit, 4096u);
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", "--ghost-limit=64K"}).ghost_limit, 64u << 10);
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", "--ghost-limit", "2M"}).ghost_limit, 2u << 20);
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", "--ghost-limit", "1g"}).ghost_limit, 1ull << 30);
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", "--ghost-limit", "0"}).ghost_limit, 0u);
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--ghost-limit", "1.5M"}),
            "invalid size '1.5M' for --ghost-limit (use e.g. 1048576, 512K, 2M, 1G)");
  EXPECT_NE(error_of({"dump", "-t", "1", "-D", "d", "--ghost-limit", "M"}), "");
  EXPECT_NE(error_of({"dump", "-t", "1", "-D", "d", "--ghost-limit", "-1"}), "");
  EXPECT_NE(error_of({"dump", "-t", "1", "-D", "d", "--ghost-limit", "99999999999999999999"}), "");
  EXPECT_NE(error_of({"dump", "-t", "1", "-D", "d", "--ghost-limit", "17179869184G"}), "");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--ghost-limit", "1M"}), "option '--ghost-limit' does not apply to restore");
  EXPECT_EQ(parse_size("3k"), 3u << 10);
  EXPECT_FALSE(parse_size(""));
  EXPECT_FALSE(parse_size("12KB"));
}

TEST(Options, TcpConnections) {
  Options d = parse_args({"dump", "-t", "1", "-D", "d", "--tcp-established", "--skip-in-flight", "--network-lock",
                          "skip"});
  EXPECT_TRUE(d.tcp_established);
  EXPECT_TRUE(d.skip_in_flight);
  EXPECT_EQ(d.network_lock, Options::NetworkLock::Skip);
  EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d"}).network_lock, Options::NetworkLock::Nftables);
  Options r = parse_args({"restore", "-D", "d", "--tcp-close", "--network-lock=nftables"});
  EXPECT_TRUE(r.tcp_close);
  EXPECT_EQ(r.network_lock, Options::NetworkLock::Nftables);
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--network-lock", "iptables"}),
            "option --network-lock iptables is not supported yet (use nftables, the default, or skip)");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--network-lock", "pf"}),
            "invalid network lock 'pf' (use nftables or skip)");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--skip-in-flight"}),
            "option '--skip-in-flight' does not apply to restore");
}

// Issue 12: the CRIU options ckpt honours land in their Options fields.
TEST(Options, CriuDumpOptions) {
  Options o = parse_args({"dump", "-t", "5", "-D", "d", "-s", "--timeout", "30", "--freeze-cgroup", "/sys/fs/cgroup/x",
                          "--log-pid", "--display-stats", "-W", "/tmp/w", "--link-remap", "--manage-cgroups", "none",
                          "--action-script", "/a", "--action-script=/b", "--json", "-l", "-x"});
  EXPECT_TRUE(o.leave_stopped);
  EXPECT_FALSE(o.leave_running);
  EXPECT_EQ(o.freeze_timeout_s, 30);
  EXPECT_EQ(o.freeze_cgroup, "/sys/fs/cgroup/x");
  EXPECT_TRUE(o.log_pid);
  EXPECT_TRUE(o.display_stats);
  EXPECT_EQ(o.work_dir, "/tmp/w");
  EXPECT_TRUE(o.link_remap);
  EXPECT_EQ(o.manage_cgroups, Options::ManageCgroups::None);
  EXPECT_EQ(o.action_scripts, (std::vector<std::string>{"/a", "/b"}));
  EXPECT_TRUE(o.json);
  EXPECT_TRUE(o.file_locks);
  EXPECT_TRUE(o.ext_unix_sk);
  Options dflt = parse_args({"dump", "-t", "5", "-D", "d"});
  EXPECT_EQ(dflt.freeze_timeout_s, 10);  // CRIU's default
  EXPECT_EQ(dflt.manage_cgroups, Options::ManageCgroups::Default);
  EXPECT_FALSE(dflt.leave_stopped);
}

TEST(Options, CriuRestoreOptions) {
  Options o = parse_args({"restore", "-D", "d", "-d", "-S", "-s", "--pidfile", "p",
                          "--manage-cgroups=ignore", "--display-stats", "--log-pid", "--json", "-W", "w"});
  EXPECT_TRUE(o.detach);
  EXPECT_TRUE(o.restore_sibling);
  EXPECT_TRUE(o.leave_stopped);
  EXPECT_EQ(parse_args({"restore", "-D", "d", "-r", "/newroot"}).root, "/newroot");
  // A restore option, as CRIU's: dump does not take it.
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--root", "/newroot"}), "option '--root' does not apply to dump");
  EXPECT_EQ(o.manage_cgroups, Options::ManageCgroups::Ignore);
  EXPECT_TRUE(o.display_stats);
  EXPECT_TRUE(o.log_pid);
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.work_dir, "w");
  // Short options cluster, as getopt's: -dS is -d -S.
  Options c = parse_args({"restore", "-dSD", "d"});
  EXPECT_TRUE(c.detach);
  EXPECT_TRUE(c.restore_sibling);
  EXPECT_EQ(c.images_dir, "d");
}

// One final state, as CRIU's: the last of -R and -s wins.
TEST(Options, LeaveRunningOrStopped) {
  Options a = parse_args({"dump", "-t", "1", "-D", "d", "-R", "-s"});
  EXPECT_TRUE(a.leave_stopped);
  EXPECT_FALSE(a.leave_running);
  Options b = parse_args({"dump", "-t", "1", "-D", "d", "-s", "--leave-running"});
  EXPECT_FALSE(b.leave_stopped);
  EXPECT_TRUE(b.leave_running);
  EXPECT_EQ(error_of({"restore", "-D", "d", "-R"}), "option '-R' does not apply to restore");
}

TEST(Options, ManageCgroupsModes) {
  EXPECT_EQ(parse_args({"restore", "-D", "d", "--manage-cgroups=none"}).manage_cgroups, Options::ManageCgroups::None);
  EXPECT_EQ(error_of({"restore", "-D", "d", "--manage-cgroups", "soft"}),
            "option --manage-cgroups soft is not supported yet (ckpt takes --manage-cgroups=none or ignore)");
  for (const char* mode : {"props", "full", "strict"})
    EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--manage-cgroups", mode}),
              std::string("option --manage-cgroups ") + mode +
                  " is not supported yet (ckpt takes --manage-cgroups=none or ignore)");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--manage-cgroups"}),
            "option --manage-cgroups without a mode (CRIU's soft) is not supported yet (ckpt takes "
            "--manage-cgroups=none or ignore)");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--manage-cgroups=bogus"}),
            "invalid cgroup mode 'bogus' for --manage-cgroups (use none or ignore)");
  // The next word is a mode only when it is one: here it is an argument.
  EXPECT_EQ(error_of({"restore", "-D", "d", "--manage-cgroups", "x"}),
            "option --manage-cgroups without a mode (CRIU's soft) is not supported yet (ckpt takes "
            "--manage-cgroups=none or ignore)");
}

TEST(Options, ExecCmd) {
  Options o = parse_args({"restore", "-D", "d", "--exec-cmd", "--", "sh", "-c", "echo -l"});
  EXPECT_EQ(o.exec_cmd, "sh");
  EXPECT_EQ(o.exec_cmd_args, (std::vector<std::string>{"-c", "echo -l"}));
  // The rest of the command line is the command: its options are its own.
  Options p = parse_args({"restore", "-D", "d", "--exec-cmd", "ls", "-l", "-D", "x"});
  EXPECT_EQ(p.images_dir, "d");
  EXPECT_EQ(p.exec_cmd, "ls");
  EXPECT_EQ(p.exec_cmd_args, (std::vector<std::string>{"-l", "-D", "x"}));
  EXPECT_TRUE(p.paths.empty());
  EXPECT_EQ(error_of({"restore", "-D", "d", "--exec-cmd"}), "--exec-cmd needs a command after it");
  EXPECT_EQ(error_of({"restore", "-D", "d", "-d", "--exec-cmd", "true"}),
            "--restore-detached and --exec-cmd cannot be used together");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--exec-cmd", "true"}),
            "option '--exec-cmd' does not apply to dump");
}

TEST(Options, Refused) {
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--auto-dedup"}), "option --auto-dedup is not supported yet");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--page-server", "--address", "h"}),
            "option --page-server is not supported yet");
  EXPECT_EQ(error_of({"restore", "-D", "d", "-J", "net:/x"}), "option --join-ns is not supported yet");
  EXPECT_EQ(error_of({"restore", "-D", "d", "-Ld"}), "option --libdir is not supported yet");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--external", "veth[eth0]:v0"}), "option --external is not supported yet");
  EXPECT_EQ(error_of({"check", "--extra"}), "option --extra is not supported yet");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--ext-unix-sk=1234"}),
            "option --ext-unix-sk with socket ids is not supported yet (use --ext-unix-sk alone)");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--cpu-cap=none"}), "option --cpu-cap is not supported yet");
  // One line, no usage: the line says it all.
  try {
    parse_args({"dump", "-t", "1", "-D", "d", "--lazy-pages"});
    ADD_FAILURE() << "--lazy-pages accepted";
  } catch (const UsageError& e) {
    EXPECT_FALSE(e.show_usage);
  }
  try {
    parse_args({"dump", "--bogus"});
  } catch (const UsageError& e) {
    EXPECT_TRUE(e.show_usage);
  }
  // --no-NAME of a refused option asks for what ckpt does anyway.
  EXPECT_NO_THROW(parse_args({"dump", "-t", "1", "-D", "d", "--no-auto-dedup", "--no-evasive-devices"}));
  // A refused option of another command does not apply here.
  EXPECT_EQ(error_of({"check", "--auto-dedup"}), "option '--auto-dedup' does not apply to check");
}

TEST(Options, NegationsAndPrefixes) {
  Options o = parse_args(
      {"restore", "-D", "d", "--tcp-established", "--no-tcp-established", "-d", "--no-restore-detached"});
  EXPECT_FALSE(o.tcp_established);
  EXPECT_FALSE(o.detach);
  EXPECT_TRUE(parse_args({"dump", "-t", "1", "-D", "d", "--tcp-est"}).tcp_established);  // getopt's prefixes
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--tcp"}), "option '--tcp' is ambiguous");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--no-tcp-established=1"}),
            "option '--no-tcp-established' takes no argument");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--no-ghost-limit"}), "unknown option '--no-ghost-limit' for dump");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--link-remap=yes"}), "option '--link-remap' takes no argument");
}

TEST(Options, VerbosityForms) {
  EXPECT_EQ(parse_args({"check", "-vvv"}).verbosity, 4);
  EXPECT_EQ(parse_args({"check", "-v1"}).verbosity, 1);
  EXPECT_EQ(parse_args({"check", "--verbosity=0"}).verbosity, 0);
  EXPECT_EQ(parse_args({"check", "--verbosity"}).verbosity, 3);
  EXPECT_EQ(parse_args({"check", "-v0", "-v"}).verbosity, 1);
  for (const char* level : {"-v0", "-v1", "-v2", "-v3", "-v4"})
    EXPECT_EQ(parse_args({"dump", "-t", "1", "-D", "d", level}).verbosity, level[2] - '0');
  EXPECT_EQ(error_of({"check", "--verbosity=7"}), "invalid verbosity '-v7' (use -v0 .. -v4)");
}

TEST(Options, Timeout) {
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--timeout", "0"}), "invalid timeout '0'");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--timeout", "x"}), "invalid timeout 'x'");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--timeout", "3"}), "option '--timeout' does not apply to restore");
}

TEST(Options, VerifyAndShowSummaries) {
  Options v = parse_args({"verify", "/tmp/img"});
  EXPECT_EQ(v.command, Command::Verify);
  EXPECT_EQ(v.paths, (std::vector<std::string>{"/tmp/img"}));
  EXPECT_EQ(error_of({"verify"}), "verify needs a DIR");
  EXPECT_EQ(error_of({"verify", "a", "b"}), "unexpected argument 'b' (verify takes one DIR)");
  EXPECT_EQ(error_of({"verify", "-D", "a"}), "option '-D' does not apply to verify");
  EXPECT_NE(usage().find("ckpt verify DIR"), std::string::npos);
  Options s = parse_args({"show", "d", "--ps", "--fds", "--mems"});
  EXPECT_TRUE(s.show_ps);
  EXPECT_TRUE(s.show_fds);
  EXPECT_TRUE(s.show_mems);
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--ps"}), "option '--ps' does not apply to dump");
}

TEST(Options, CheckTreeAndJson) {
  Options c = parse_args({"check", "-t", "42", "--json"});
  EXPECT_EQ(c.tree_pid, 42);
  EXPECT_TRUE(c.json);
  EXPECT_EQ(error_of({"show", "d", "--json"}), "option '--json' does not apply to show");
}

TEST(Options, StartedAsCriu) {
  std::vector<char*> argv = {const_cast<char*>("/usr/local/sbin/criu"), const_cast<char*>("check"), nullptr};
  EXPECT_TRUE(parse(2, argv.data(), ParseEnv{}).as_criu);
  argv[0] = const_cast<char*>("ckpt");
  EXPECT_FALSE(parse(2, argv.data(), ParseEnv{}).as_criu);
  argv[0] = const_cast<char*>("/opt/criu/ckpt");
  EXPECT_FALSE(parse(2, argv.data(), ParseEnv{}).as_criu);
  EXPECT_TRUE(started_as_criu("criu"));
  EXPECT_FALSE(started_as_criu("criu-ns"));
  EXPECT_NE(usage(Command::Dump, true).find("Usage: criu dump"), std::string::npos);
  EXPECT_NE(usage(Command::Dump, true).find("~/.criu/default.conf"), std::string::npos);
  EXPECT_NE(usage(std::nullopt, true).find("criu restore -D DIR"), std::string::npos);
}
