// The network lock through libnftables.  One table per dumped tree holds two
// sets of connection tuples (saddr . sport . daddr . dport, one set per IP
// version, each connection in both directions) and two base chains, on the
// input and output hooks, whose rules drop what a set holds.  A set rather
// than one rule per connection: 1,000 connections load in one netlink batch
// of a few elements messages, and every packet of the host, locked or not,
// costs one hash lookup instead of a walk through 2,000 rules.
#include "net/network_lock.h"

#include <arpa/inet.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <nftables/libnftables.h>
#include <sys/socket.h>

#include <cctype>
#include <cstring>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "ckpt/unique_fd.h"

namespace ckpt::net {
namespace {

// ---- addresses ---------------------------------------------------------

bool is_v4_mapped(const std::array<uint8_t, 16>& a) {
  static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.data(), prefix, sizeof(prefix)) == 0;
}

std::string address_text(int family, const uint8_t* a) {
  char buf[INET6_ADDRSTRLEN];
  if (!inet_ntop(family, a, buf, sizeof(buf))) return "?";
  return buf;
}

std::string endpoint_text(int family, const std::array<uint8_t, 16>& a, uint16_t port) {
  std::string addr = address_text(family, a.data());
  if (family == AF_INET6) addr = "[" + addr + "]";
  return addr + ":" + std::to_string(port);
}

// One direction of a connection as the packets carry it.  An AF_INET6
// socket talking to an IPv4-mapped address sends IPv4 packets, so it is
// matched as IPv4.
struct Tuple {
  int family;   // of the packets: AF_INET or AF_INET6
  std::string saddr, daddr;
  uint16_t sport, dport;
  auto key() const { return std::tie(family, saddr, sport, daddr, dport); }
  bool operator<(const Tuple& o) const { return key() < o.key(); }
};

std::pair<Tuple, Tuple> tuples_of(const Connection& c) {
  int family = c.family;
  const uint8_t* local = c.local_addr.data();
  const uint8_t* remote = c.remote_addr.data();
  if (family == AF_INET6 && is_v4_mapped(c.local_addr) && is_v4_mapped(c.remote_addr)) {
    family = AF_INET;
    local += 12;
    remote += 12;
  } else if (family != AF_INET && family != AF_INET6) {
    throw Error(format("cannot lock a connection of address family %d (only AF_INET and AF_INET6)", c.family));
  }
  std::string l = address_text(family, local), r = address_text(family, remote);
  return {Tuple{family, l, r, c.local_port, c.remote_port},    // what the socket sends
          Tuple{family, r, l, c.remote_port, c.local_port}};   // what the peer sends
}

// ---- libnftables -------------------------------------------------------

// libnftables exit()s the whole process when it cannot open its netlink
// socket (no nfnetlink in the kernel, or a seccomp/LSM refusal), so ckpt
// opens one itself first and turns that case into an error it can unwind.
void check_nfnetlink() {
  UniqueFd fd(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER));
  if (!fd) throw sys_error("cannot open a NETLINK_NETFILTER socket (is nfnetlink/nf_tables in the kernel?)");
}

struct NftResult {
  bool ok = false;
  std::string output;
  std::string error;   // the first line of libnftables' error text
};

struct NftCtxFree {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

std::string first_line(const char* text) {
  std::string s = text ? text : "";
  if (size_t nl = s.find('\n'); nl != std::string::npos) s.resize(nl);
  while (!s.empty() && s.back() == ' ') s.pop_back();
  if (s.rfind("Error: ", 0) == 0) s.erase(0, 7);
  if (s.empty()) s = "no error text";
  // The most common failure, said as what to do about it.
  if (s.find("Operation not permitted") != std::string::npos) s += " (needs CAP_NET_ADMIN)";
  return s;
}

// Runs `commands` as one nftables transaction: all of them or none.
NftResult run_nft(const std::string& commands) {
  check_nfnetlink();
  std::unique_ptr<nft_ctx, NftCtxFree> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) throw Error("cannot create a libnftables context (nft_ctx_new failed)");
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  NftResult r;
  r.ok = nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) == 0;
  // (Each get_*_buffer call rewinds the buffer: one call each.)
  const char* out = nft_ctx_get_output_buffer(ctx.get());
  r.output = out ? out : "";
  if (!r.ok) r.error = first_line(nft_ctx_get_error_buffer(ctx.get()));
  return r;
}

// The name goes into nftables' command language unquoted: letters, digits
// and underscores only, so it can neither break the syntax nor be a keyword.
void check_table_name(const std::string& table) {
  bool ok = !table.empty() && table.size() < 256 && std::isalpha(static_cast<unsigned char>(table[0]));
  for (char ch : table) ok = ok && (std::isalnum(static_cast<unsigned char>(ch)) || ch == '_');
  if (!ok)
    throw Error("invalid nftables table name '" + table + "' for the network lock "
                "(a letter, then letters, digits and underscores)");
}

// ---- the commands of a lock ----------------------------------------------

// Priority raw (-300): before connection tracking (-200), so conntrack never
// sees the dropped packets, and before the usual filter chains.  A drop is
// final in nftables whatever another chain accepts, so the order is not what
// makes the lock hold; it keeps the locked packets out of everything else.
std::string table_commands(const std::string& t) {
  std::string s;
  // "create", not "add": an existing table is an error rather than merged
  // into (our unlock would then delete another dump's lock).
  s += "create table inet " + t + " { comment \"ckpt: TCP connections of a dumped tree, locked\"; }\n";
  s += "add set inet " + t + " conn4 { type ipv4_addr . inet_service . ipv4_addr . inet_service; }\n";
  s += "add set inet " + t + " conn6 { type ipv6_addr . inet_service . ipv6_addr . inet_service; }\n";
  for (const char* hook : {"input", "output"}) {
    s += format("add chain inet %s %s { type filter hook %s priority raw; policy accept; }\n", t.c_str(), hook,
                hook);
    s += format("add rule inet %s %s ip saddr . tcp sport . ip daddr . tcp dport @conn4 drop\n", t.c_str(), hook);
    s += format("add rule inet %s %s ip6 saddr . tcp sport . ip6 daddr . tcp dport @conn6 drop\n", t.c_str(), hook);
  }
  return s;
}

// One "add element" per set with every tuple, duplicates merged (both ends
// of a connection inside the tree give the same two tuples).
std::string element_commands(const std::string& t, const std::vector<Connection>& conns) {
  std::set<Tuple> tuples;
  for (const Connection& c : conns) {
    auto [out, in] = tuples_of(c);
    tuples.insert(out);
    tuples.insert(in);
  }
  std::string v4, v6;
  for (const Tuple& u : tuples) {
    std::string& list = u.family == AF_INET ? v4 : v6;
    if (!list.empty()) list += ",\n";
    list += u.saddr + " . " + std::to_string(u.sport) + " . " + u.daddr + " . " + std::to_string(u.dport);
  }
  std::string s;
  if (!v4.empty()) s += "add element inet " + t + " conn4 {\n" + v4 + "\n}\n";
  if (!v6.empty()) s += "add element inet " + t + " conn6 {\n" + v6 + "\n}\n";
  return s;
}

// Whether the table exists, for telling one failure from another: when
// even the listing fails, `otherwise`, and the first error is reported.
bool exists_quietly(const std::string& table, bool otherwise = false) {
  try {
    return NetworkLock::table_exists(table);
  } catch (const Error&) {
    return otherwise;
  }
}

}  // namespace

std::string Connection::text() const {
  return endpoint_text(family, local_addr, local_port) + " -> " + endpoint_text(family, remote_addr, remote_port);
}

std::string lock_table_name(int root_pid) { return "ckpt_" + std::to_string(root_pid); }

NetworkLock NetworkLock::lock(const std::string& table, const std::vector<Connection>& conns) {
  check_table_name(table);
  NetworkLock lock;
  lock.table_ = table;
  if (conns.empty()) return lock;
  // The tuples first: a bad connection fails before anything is sent.
  std::string elements = element_commands(table, conns);
  NftResult r = run_nft(table_commands(table) + elements);
  if (!r.ok && exists_quietly(table))
    throw Error("cannot lock the network: nftables table inet " + table +
                " already exists (the lock of an earlier dump of the same PID, not restored yet? "
                "`nft delete table inet " + table + "` removes it)");
  if (!r.ok)
    throw Error(format("cannot lock %zu TCP connection(s) with nftables table inet %s: %s", conns.size(),
                       table.c_str(), r.error.c_str()));
  lock.locked_ = true;
  LOG_DEBUG("network lock: table inet %s drops the packets of %zu connection(s)", table.c_str(), conns.size());
  return lock;
}

NetworkLock::NetworkLock(NetworkLock&& o) noexcept
    : table_(std::move(o.table_)), locked_(std::exchange(o.locked_, false)), kept_(std::exchange(o.kept_, false)) {
  o.table_.clear();
}

NetworkLock& NetworkLock::operator=(NetworkLock&& o) noexcept {
  if (this != &o) {
    release();   // our own table first, as the destructor would
    table_ = std::move(o.table_);
    o.table_.clear();
    locked_ = std::exchange(o.locked_, false);
    kept_ = std::exchange(o.kept_, false);
  }
  return *this;
}

void NetworkLock::unlock() {
  if (!locked_) return;
  if (!unlock_table(table_))
    LOG_WARN("network lock: nftables table inet %s was already gone when ckpt came to remove it", table_.c_str());
  locked_ = false;
  kept_ = false;
}

void NetworkLock::keep() { kept_ = true; }

NetworkLock::~NetworkLock() { release(); }

void NetworkLock::release() noexcept {
  if (!locked_ || kept_) return;
  try {
    unlock();
  } catch (const std::exception& e) {
    LOG_ERR("%s; the connections stay blocked until `nft delete table inet %s`", e.what(), table_.c_str());
  }
}

bool NetworkLock::unlock_table(const std::string& table) {
  check_table_name(table);
  NftResult r = run_nft("delete table inet " + table + "\n");
  if (r.ok) {
    LOG_DEBUG("network lock: table inet %s removed", table.c_str());
    return true;
  }
  // Absent, or another failure?  Asked by listing rather than by reading
  // the error's wording, which libnftables does not promise.
  if (!exists_quietly(table, true)) return false;
  throw Error("cannot remove nftables table inet " + table + " (the network lock): " + r.error);
}

bool NetworkLock::table_exists(const std::string& table) {
  check_table_name(table);
  // "list tables" succeeds whether or not ours is there and lists names
  // only, where "list table NAME" fails on an absent table (and prints
  // every element of a present one).
  NftResult r = run_nft("list tables inet\n");
  if (!r.ok) throw Error("cannot list the nftables tables to look for inet " + table + ": " + r.error);
  const std::string line = "table inet " + table;
  size_t pos = 0;
  while (pos < r.output.size()) {
    size_t end = r.output.find('\n', pos);
    if (end == std::string::npos) end = r.output.size();
    if (r.output.compare(pos, end - pos, line) == 0) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace ckpt::net
