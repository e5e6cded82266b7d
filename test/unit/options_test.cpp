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
  return parse(int(args.size()), argv.data());
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
  EXPECT_EQ(error_of({"check", "--file-locks"}), "option '--file-locks' does not apply to check");
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
            "--network-lock iptables is not supported: use nftables (the default) or skip");
  EXPECT_EQ(error_of({"dump", "-t", "1", "-D", "d", "--network-lock", "pf"}),
            "invalid network lock 'pf' (use nftables or skip)");
  EXPECT_EQ(error_of({"restore", "-D", "d", "--skip-in-flight"}),
            "option '--skip-in-flight' does not apply to restore");
}
