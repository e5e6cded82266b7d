#include "mem/numa_policy.h"

#include <cerrno>
#include <cstring>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "restore/process_image.h"

namespace ckpt::mem {

namespace {

constexpr uint32_t kDefault = 0;
constexpr uint32_t kStaticNodes = 1u << 15, kRelativeNodes = 1u << 14, kNumaBalancing = 1u << 13;

const char* mode_name(uint32_t mode) {
  switch (mode) {
    case 0: return "default";
    case 1: return "prefer";
    case 2: return "bind";
    case 3: return "interleave";
    case 4: return "local";
    case 5: return "prefer (many)";
    case 6: return "weighted interleave";
  }
  return "mode ?";
}

std::string node_list(const img::MempolicyEntry& p) {
  std::string out;
  int n = p.nodes_size() * 64;
  for (int i = 0; i < n; i++) {
    if (!(p.nodes(i / 64) >> (i % 64) & 1)) continue;
    int j = i;
    while (j + 1 < n && (p.nodes((j + 1) / 64) >> ((j + 1) % 64) & 1)) j++;
    if (!out.empty()) out += ",";
    out += j > i ? format("%d-%d", i, j) : format("%d", i);
    i = j;
  }
  return out;
}

void to_blob(const img::MempolicyEntry& e, ckpt_mempolicy& out) {
  out = ckpt_mempolicy{};
  out.mode = e.mode();
  out.flags = e.flags();
  for (int i = 0; i < e.nodes_size() && i < CKPT_MEMPOLICY_WORDS; i++) out.nodes[i] = e.nodes(i);
}

}  // namespace

std::string policy_text(const img::MempolicyEntry& p) {
  std::string out = mode_name(p.mode());
  if (p.flags()) {
    out += "=";
    if (p.flags() & kStaticNodes) out += "static";
    if (p.flags() & kRelativeNodes) out += "relative";
    if (p.flags() & kNumaBalancing) out += "|balancing";
  }
  std::string nodes = node_list(p);
  if (!nodes.empty()) out += ":" + nodes;
  return out;
}

bool policy_of(const std::string& what, int ret, uint32_t mode, uint32_t flags, const std::vector<uint64_t>& nodes,
               img::MempolicyEntry& out) {
  out.Clear();
  if (ret == -ENOSYS) return false;  // no NUMA: everything has MPOL_DEFAULT
  if (ret < 0) throw Error(format("%s: get_mempolicy failed: %s", what.c_str(), strerror(-ret)));
  if (mode == kDefault) return false;
  out.set_mode(mode);
  if (flags) out.set_flags(flags);
  size_t words = nodes.size();
  while (words && !nodes[words - 1]) words--;
  for (size_t i = 0; i < words; i++) out.add_nodes(nodes[i]);
  return true;
}

std::vector<ckpt_restorer_vma_mempolicy> vma_policy_section(const restore::ProcessImage& p) {
  std::vector<ckpt_restorer_vma_mempolicy> out;
  for (const img::VmaEntry& v : p.vmas) {
    if (!v.has_mempolicy()) continue;
    ckpt_restorer_vma_mempolicy e{};
    e.start = v.start();
    e.end = v.end();
    to_blob(v.mempolicy(), e.policy);
    out.push_back(e);
  }
  return out;
}

std::vector<ckpt_restorer_thread_mempolicy> thread_policy_section(const restore::ProcessImage& p) {
  std::vector<ckpt_restorer_thread_mempolicy> out;
  for (const img::ThreadCoreEntry& t : p.threads) {
    if (t.exited() || !t.has_mempolicy()) continue;
    ckpt_restorer_thread_mempolicy e{};
    e.tid = int32_t(t.tid());
    to_blob(t.mempolicy(), e.policy);
    out.push_back(e);
  }
  return out;
}

}  // namespace ckpt::mem
