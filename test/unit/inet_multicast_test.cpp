// The parsers of /proc/net/igmp and /proc/net/igmp6 (files/inet_multicast.h).
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>

#include "files/inet_multicast.h"

using ckpt::files::JoinedGroup;
using ckpt::files::parse_igmp;
using ckpt::files::parse_igmp6;

namespace {

std::string text(const JoinedGroup& g) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(g.family, g.addr, buf, sizeof(buf));
  return std::to_string(g.ifindex) + " " + g.ifname + " " + buf;
}

}  // namespace

TEST(InetMulticast, ParsesIgmp) {
  // As Linux 6.18 writes it (little-endian host: 239.1.2.3 is 030201EF).
  const char* igmp =
      "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n"
      "1\tlo        :     2      V3\n"
      "\t\t\t\t030201EF     1 0:00000000\t\t0\n"
      "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
      "4\teth0      :     1      V3\n"
      "\t\t\t\t010000E0     1 0:00000000\t\t0\n"
      "17\tveth-long-name: 1      V2\n"
      "\t\t\t\t050201EF     2 1:0000002A\t\t1\n";
  std::vector<JoinedGroup> g = parse_igmp(igmp);
  ASSERT_EQ(g.size(), 4u);
  EXPECT_EQ(g[0].family, AF_INET);
  EXPECT_EQ(text(g[0]), "1 lo 239.1.2.3");
  EXPECT_EQ(text(g[1]), "1 lo 224.0.0.1");
  EXPECT_EQ(text(g[2]), "4 eth0 224.0.0.1");
  EXPECT_EQ(text(g[3]), "17 veth-long-name 239.1.2.5");
}

TEST(InetMulticast, IgmpSkipsWhatDoesNotParse) {
  EXPECT_TRUE(parse_igmp("").empty());
  EXPECT_TRUE(parse_igmp("\t\t\t\t010000E0     1 0:00000000\t\t0\n").empty());  // no device yet
  EXPECT_TRUE(parse_igmp("1\tlo        :     1      V3\n\t\t\t\tZZ0000E0 1\n\t\t\t\t0100\n").empty());
}

TEST(InetMulticast, ParsesIgmp6) {
  const char* igmp6 =
      "1    lo              ff150000000000000000000000001234     1 00000004 0\n"
      "1    lo              ff020000000000000000000000000001     1 0000000C 0\n"
      "4    eth0            ff0200000000000000000001ff000002     1 00000004 0\n"
      "garbage\n"
      "2    ifb0            ff02000000000000000000000000001     1 0000000C 0\n";  // 31 digits
  std::vector<JoinedGroup> g = parse_igmp6(igmp6);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_EQ(g[0].family, AF_INET6);
  EXPECT_EQ(text(g[0]), "1 lo ff15::1234");
  EXPECT_EQ(text(g[1]), "1 lo ff02::1");
  EXPECT_EQ(text(g[2]), "4 eth0 ff02::1:ff00:2");
}

TEST(InetMulticast, ReadsThisHostsFiles) {
  // Every host is in 224.0.0.1 on each multicast interface with IPv4.
  FILE* f = fopen("/proc/net/igmp", "r");
  if (!f) GTEST_SKIP() << "no /proc/net/igmp";
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  fclose(f);
  for (const JoinedGroup& g : parse_igmp(s)) EXPECT_GT(g.ifindex, 0);
}
