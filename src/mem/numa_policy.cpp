#include "mem/numa_policy.h"

#include <cerrno>
#include <cstring>
#include <map>
#include <unistd.h>
#include <sstream>

#include "ckpt/error.h"
#include "ckpt/log.h"
#include "proc/read.h"
#include "restore/process_image.h"

namespace ckpt::mem {

namespace {

constexpr uint32_t kDefault = 0;
constexpr uint32_t kStaticNodes = 1u << 15, kRelativeNodes = 1u << 14, kNumaBalancing = 1u << 13;

// The kernel's names of the modes (mpol_to_str), by mode number; the
// longer names first where one starts with another.
struct ModeName {
  const char* name;
  uint32_t mode;
};
constexpr ModeName kModes[] = {
    {"weighted interleave", 6}, {"prefer (many)", 5}, {"interleave", 3}, {"prefer", 1},
    {"default", 0},             {"bind", 2},          {"local", 4},
};

const char* mode_name(uint32_t mode) {
  for (const ModeName& m : kModes)
    if (m.mode == mode) return m.name;
  return "mode ?";
}

// "0-1,3" into the mask; false if malformed.
bool parse_node_list(const std::string& list, img::MempolicyEntry& out) {
  std::vector<uint64_t> words(CKPT_MEMPOLICY_WORDS, 0);
  std::stringstream ss(list);
  std::string part;
  while (std::getline(ss, part, ',')) {
    unsigned lo, hi;
    char dash;
    std::stringstream ps(part);
    if (!(ps >> lo)) return false;
    hi = lo;
    if (ps >> dash) {
      if (dash != '-' || !(ps >> hi)) return false;
    }
    if (hi < lo || hi >= CKPT_MEMPOLICY_WORDS * 64) return false;
    for (unsigned n = lo; n <= hi; n++) words[n / 64] |= uint64_t(1) << (n % 64);
  }
  while (!words.empty() && words.back() == 0) words.pop_back();
  out.clear_nodes();
  for (uint64_t w : words) out.add_nodes(w);
  return true;
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

bool parse_numa_maps_policy(const std::string& text, img::MempolicyEntry& out) {
  out.Clear();
  const ModeName* found = nullptr;
  for (const ModeName& m : kModes)
    if (text.compare(0, strlen(m.name), m.name) == 0) {
      found = &m;
      break;
    }
  if (!found) return false;
  out.set_mode(found->mode);
  size_t at = strlen(found->name);
  uint32_t flags = 0;
  if (at < text.size() && text[at] == '=') {
    at++;
    for (auto [word, flag] : {std::pair{"static", kStaticNodes}, std::pair{"relative", kRelativeNodes}})
      if (text.compare(at, strlen(word), word) == 0) {
        flags |= flag;
        at += strlen(word);
      }
    if (text.compare(at, 10, "|balancing") == 0) {
      flags |= kNumaBalancing;
      at += 10;
    }
  }
  if (flags) out.set_flags(flags);
  if (at < text.size() && text[at] == ':') {
    size_t end = text.find(' ', at);
    if (!parse_node_list(text.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1), out))
      return false;
    at = end == std::string::npos ? text.size() : end;
  }
  return at == text.size() || text[at] == ' ';
}

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

void add_area_policies(pid_t pid, std::vector<Vma>& vmas) {
  std::string path = proc::path(pid, "numa_maps");
  std::string text;
  try {
    text = proc::read_file(path);
  } catch (const Error&) {
    // A kernel without CONFIG_NUMA has no numa_maps, and no policies.
    if (access(path.c_str(), F_OK) != 0 && errno == ENOENT) return;
    throw;
  }
  std::map<uint64_t, Vma*> by_start;
  for (Vma& v : vmas) by_start[v.entry.start()] = &v;
  std::stringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    size_t space = line.find(' ');
    if (space == std::string::npos) continue;
    uint64_t start = std::stoull(line.substr(0, space), nullptr, 16);
    auto it = by_start.find(start);
    if (it == by_start.end()) continue;  // [vsyscall], or the parasite's own area
    img::MempolicyEntry policy;
    if (!parse_numa_maps_policy(line.substr(space + 1), policy))
      throw Error(format("cannot dump memory area %llx-%llx of pid %d: its memory policy in %s cannot be read: %s",
                         (unsigned long long)start, (unsigned long long)it->second->entry.end(), pid, path.c_str(),
                         line.c_str()));
    if (policy.mode() == kDefault) continue;
    LOG_DEBUG("area %llx of pid %d: memory policy %s", (unsigned long long)start, pid, policy_text(policy).c_str());
    *it->second->entry.mutable_mempolicy() = policy;
  }
}

void fill_thread_policy(img::ThreadCoreEntry& t, pid_t pid, const ThreadPolicy& got) {
  if (got.ret == -ENOSYS) return;  // no NUMA: every thread has MPOL_DEFAULT
  if (got.ret < 0)
    throw Error(format("cannot dump thread %u of pid %d: get_mempolicy failed: %s", t.tid(), pid, strerror(-got.ret)));
  if (got.mode == kDefault) return;
  img::MempolicyEntry& e = *t.mutable_mempolicy();
  e.set_mode(got.mode);
  if (got.flags) e.set_flags(got.flags);
  size_t words = got.nodes.size();
  while (words && !got.nodes[words - 1]) words--;
  for (size_t i = 0; i < words; i++) e.add_nodes(got.nodes[i]);
  LOG_DEBUG("thread %u of pid %d: memory policy %s", t.tid(), pid, policy_text(e).c_str());
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
