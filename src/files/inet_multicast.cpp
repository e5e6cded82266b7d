// Multicast group memberships: see inet_multicast.h.
#include "files/inet_multicast.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "ckpt/error.h"
#include "ckpt/log.h"

namespace ckpt::files {

namespace {

std::string read_text(const char* path) {
  std::ifstream in(path);
  if (!in) return "";  // no IPv6 (or no IPv4 multicast): no groups
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

int level_of(int family) { return family == AF_INET6 ? IPPROTO_IPV6 : IPPROTO_IP; }

size_t addr_len(int family) { return family == AF_INET6 ? 16 : 4; }

void set_sockaddr(sockaddr_storage& ss, int family, const void* addr) {
  memset(&ss, 0, sizeof(ss));
  if (family == AF_INET6) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    memcpy(&s6->sin6_addr, addr, 16);
  } else {
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    s4->sin_family = AF_INET;
    memcpy(&s4->sin_addr, addr, 4);
  }
}

const void* sockaddr_bytes(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET6) return &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr;
  return &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr;
}

// A group_filter with room for `n` sources.
std::vector<char> filter_buffer(uint32_t n) { return std::vector<char>(GROUP_FILTER_SIZE(n < 1 ? 1 : n)); }

std::string membership_text(const img::InetMulticast& m) {
  return format("multicast group %s on interface %s (index %u)", group_text(int(m.family()), m.group()).c_str(),
                m.ifname().c_str(), m.ifindex());
}

}  // namespace

std::vector<JoinedGroup> parse_igmp(const std::string& text) {
  std::vector<JoinedGroup> out;
  std::istringstream in(text);
  std::string line;
  int ifindex = -1;
  std::string ifname;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] != '\t') {
      // "1\tlo        :     1      V3"; the header does not start with a number.
      size_t colon = line.find(':');
      char* end = nullptr;
      long idx = strtol(line.c_str(), &end, 10);
      ifindex = -1;
      if (end == line.c_str() || colon == std::string::npos || idx <= 0) continue;
      std::istringstream name(line.substr(size_t(end - line.c_str()), colon - size_t(end - line.c_str())));
      if (!(name >> ifname)) continue;
      ifindex = int(idx);
      continue;
    }
    // "\t\t\t\t010000E0     1 0:00000000\t\t0"
    if (ifindex < 0) continue;
    size_t start = line.find_first_not_of('\t');
    if (start == std::string::npos) continue;
    std::string hex = line.substr(start, 8);
    if (hex.size() != 8 || hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos) continue;
    uint32_t word = uint32_t(strtoul(hex.c_str(), nullptr, 16));
    JoinedGroup g;
    g.family = AF_INET;
    g.ifindex = ifindex;
    g.ifname = ifname;
    memcpy(g.addr, &word, 4);  // the kernel printed the network-order word as the host reads it
    out.push_back(g);
  }
  return out;
}

std::vector<JoinedGroup> parse_igmp6(const std::string& text) {
  std::vector<JoinedGroup> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    // "1    lo              ff020000000000000000000000000001     1 0000000C 0"
    std::istringstream fields(line);
    int ifindex = 0;
    std::string name, hex;
    if (!(fields >> ifindex >> name >> hex) || ifindex <= 0 || hex.size() != 32 ||
        hex.find_first_not_of("0123456789abcdefABCDEF") != std::string::npos)
      continue;
    JoinedGroup g;
    g.family = AF_INET6;
    g.ifindex = ifindex;
    g.ifname = name;
    for (int i = 0; i < 16; i++) g.addr[i] = uint8_t(strtoul(hex.substr(size_t(i) * 2, 2).c_str(), nullptr, 16));
    out.push_back(g);
  }
  return out;
}

std::string group_text(int family, const std::string& bytes) {
  if (bytes.size() != addr_len(family)) return format("(%zu bytes)", bytes.size());
  char buf[INET6_ADDRSTRLEN] = "?";
  inet_ntop(family, bytes.data(), buf, sizeof(buf));
  return buf;
}

void dump_multicast(int fd, int sock_family, img::InetSocketEntry& e) {
  std::vector<JoinedGroup> groups = parse_igmp(read_text("/proc/net/igmp"));
  if (sock_family == AF_INET6) {
    std::vector<JoinedGroup> v6 = parse_igmp6(read_text("/proc/net/igmp6"));
    groups.insert(groups.end(), v6.begin(), v6.end());
  }
  for (const JoinedGroup& g : groups) {
    // First with no room for sources: the kernel says how many there are.
    uint32_t room = 0;
    std::vector<char> buf;
    group_filter* gf = nullptr;
    for (int attempt = 0; attempt < 4; attempt++) {
      buf = filter_buffer(room);
      gf = reinterpret_cast<group_filter*>(buf.data());
      gf->gf_interface = uint32_t(g.ifindex);
      set_sockaddr(gf->gf_group, g.family, g.addr);
      gf->gf_numsrc = room;
      socklen_t len = socklen_t(GROUP_FILTER_SIZE(room));
      if (getsockopt(fd, level_of(g.family), MCAST_MSFILTER, gf, &len) != 0) {
        if (errno == EADDRNOTAVAIL) gf = nullptr;  // not a member
        else
          throw sys_error(format("cannot read its membership of multicast group %s on interface %s (MCAST_MSFILTER)",
                                 group_text(g.family, std::string(reinterpret_cast<const char*>(g.addr),
                                                                  addr_len(g.family))).c_str(),
                                 g.ifname.c_str()));
        break;
      }
      if (gf->gf_numsrc <= room) break;
      room = gf->gf_numsrc;
      gf = nullptr;
    }
    if (!gf) continue;
    // Already recorded (an interface listed twice)?
    std::string group(reinterpret_cast<const char*>(g.addr), addr_len(g.family));
    bool seen = false;
    for (const img::InetMulticast& m : e.multicast())
      seen |= m.family() == uint32_t(g.family) && m.ifindex() == uint32_t(g.ifindex) && m.group() == group;
    if (seen) continue;
    img::InetMulticast* m = e.add_multicast();
    m->set_family(uint32_t(g.family));
    m->set_ifindex(uint32_t(g.ifindex));
    m->set_ifname(g.ifname);
    m->set_group(group);
    m->set_mode(gf->gf_fmode);
    for (uint32_t i = 0; i < gf->gf_numsrc && i < room; i++) {
      const sockaddr_storage& src = gf->gf_slist[i];
      if (src.ss_family != g.family) throw Error(format("a source of its %s is not of its family", membership_text(*m).c_str()));
      m->add_sources(std::string(reinterpret_cast<const char*>(sockaddr_bytes(src)), addr_len(g.family)));
    }
  }
}

void check_multicast(const img::InetSocketEntry& e, const std::string& what) {
  for (const img::InetMulticast& m : e.multicast()) {
    int family = int(m.family());
    if (family != AF_INET && family != AF_INET6) throw Error(format("bad multicast group family %u", m.family()));
    if (family == AF_INET6 && e.family() != AF_INET6) throw Error("an IPv4 socket in an IPv6 multicast group");
    if (m.group().size() != addr_len(family)) throw Error(format("its %s has a bad address", membership_text(m).c_str()));
    for (const std::string& s : m.sources())
      if (s.size() != addr_len(family)) throw Error(format("its %s has a bad source", membership_text(m).c_str()));
    if (m.mode() != MCAST_INCLUDE && m.mode() != MCAST_EXCLUDE)
      throw Error(format("its %s has a bad filter mode %u", membership_text(m).c_str(), m.mode()));
    if (m.mode() == MCAST_INCLUDE && m.sources().empty())
      throw Error(format("its %s includes no source", membership_text(m).c_str()));
    char name[IF_NAMESIZE] = "";
    if (!if_indextoname(m.ifindex(), name))
      throw Error(format("%s is a member of %s, which does not exist here", what.c_str(), membership_text(m).c_str()));
    if (m.ifname() != name)
      throw Error(format("%s is a member of %s, which is %s here", what.c_str(), membership_text(m).c_str(), name));
  }
}

void restore_multicast(int fd, const img::InetSocketEntry& e, const std::string& what) {
  for (const img::InetMulticast& m : e.multicast()) {
    int family = int(m.family());
    group_req req{};
    req.gr_interface = m.ifindex();
    set_sockaddr(req.gr_group, family, m.group().data());
    if (setsockopt(fd, level_of(family), MCAST_JOIN_GROUP, &req, sizeof(req)) != 0)
      throw sys_error(format("%s: cannot join its %s again", what.c_str(), membership_text(m).c_str()));
    // A plain join is EXCLUDE with no sources.
    if (m.mode() == MCAST_EXCLUDE && m.sources().empty()) continue;
    uint32_t n = uint32_t(m.sources_size());
    std::vector<char> buf = filter_buffer(n);
    auto* gf = reinterpret_cast<group_filter*>(buf.data());
    gf->gf_interface = m.ifindex();
    set_sockaddr(gf->gf_group, family, m.group().data());
    gf->gf_fmode = m.mode();
    gf->gf_numsrc = n;
    for (uint32_t i = 0; i < n; i++) set_sockaddr(gf->gf_slist[i], family, m.sources(int(i)).data());
    if (setsockopt(fd, level_of(family), MCAST_MSFILTER, gf, socklen_t(GROUP_FILTER_SIZE(n))) != 0)
      throw sys_error(format("%s: cannot set the source filter of its %s (%s, %u sources)", what.c_str(),
                             membership_text(m).c_str(), m.mode() == MCAST_INCLUDE ? "include" : "exclude", n));
  }
}

}  // namespace ckpt::files
