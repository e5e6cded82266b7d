// The /proc snapshot of a tree and its comparison; see proc_snapshot.h.
#include "ckpt/kernel_types.h"
#include "proc_snapshot.h"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <sstream>

namespace rt {

namespace {

// --- what legitimately changes ------------------------------------------------

// A field (fnmatch pattern over its name) that is not state a restore must
// bring back, with the reason.  With a normaliser, only what it keeps of
// the value is compared; without one, the field is not compared at all.
struct Legit {
  const char* field;
  const char* why;
  std::string (*normalise)(const std::string&) = nullptr;
};

// Two task flags are history kept for BSD process accounting only:
// PF_FORKNOEXEC (0x40: forked, not exec'd since) and PF_SUPERPRIV (0x100:
// has used a capability, as a restore does in the task, as root).
std::string without_accounting_flags(const std::string& flags) {
  return std::to_string(std::stoull(flags) & ~0x140ull);
}

// "2/96363": the count is of signals queued for the whole user, every
// process of it; the limit (RLIMIT_SIGPENDING) is the process's own.
std::string sigq_limit(const std::string& v) {
  size_t slash = v.find('/');
  return slash == std::string::npos ? v : v.substr(slash + 1);
}

// "S (sleeping)": whether a task runs or sleeps at one moment is the
// scheduler's timing (a thread that counts and naps is either); stopped
// (T), traced (t) and zombie (Z) are state and compare as they are.
std::string run_state(const std::string& v) {
  if (!v.empty() && (v[0] == 'R' || v[0] == 'S' || v[0] == 'D' || v[0] == 'I')) return "running or asleep";
  return v;
}

// "/autogroup-6383 nice 0": the number names the session's scheduling group,
// made anew with the session; its nice value is state.
std::string autogroup_nice(const std::string& v) {
  size_t p = v.find(" nice ");
  return p == std::string::npos ? v : v.substr(p + 1);
}

// "/x/f.ckpt-ghost-1 (deleted)" -> "/x/f (deleted)": a deleted file (or
// working directory) whose path another file took before the restore comes
// back next to it under that name: the kernel shows the name a file had
// when it was unlinked, and the taken one cannot be used.
std::string without_ghost_suffix(const std::string& v) {
  static const std::string kDeleted = " (deleted)", kGhost = ".ckpt-ghost-";
  if (!v.ends_with(kDeleted)) return v;
  std::string name = v.substr(0, v.size() - kDeleted.size());
  size_t g = name.rfind(kGhost);
  if (g == std::string::npos || g + kGhost.size() == name.size() ||
      name.find_first_not_of("0123456789", g + kGhost.size()) != std::string::npos)
    return v;
  return name.substr(0, g) + kDeleted;
}

const Legit kLegit[] = {
    // Counters and clocks: what the task consumed, not what it is.
    {"stat minflt", "page fault counter"},
    {"stat cminflt", "page fault counter of waited-for children"},
    {"stat majflt", "page fault counter"},
    {"stat cmajflt", "page fault counter of waited-for children"},
    {"stat utime", "CPU time used"},
    {"stat stime", "CPU time used"},
    {"stat cutime", "CPU time of waited-for children"},
    {"stat cstime", "CPU time of waited-for children"},
    {"stat guest_time", "CPU time used"},
    {"stat cguest_time", "CPU time of waited-for children"},
    {"stat delayacct_blkio_ticks", "I/O delay counter"},
    {"stat starttime", "boot-relative start time of the new task: the clock, not the program, sets it"},
    {"stat processor", "the CPU the task last ran on: the scheduler's choice"},
    {"status State", "running or asleep is timing; T, t, Z are compared", run_state},
    {"stat wchan", "1 while the task sleeps: timing, as status State"},
    {"status voluntary_ctxt_switches", "context switch counter"},
    {"status nonvoluntary_ctxt_switches", "context switch counter"},
    {"status SigQ", "the count is of signals queued by every process of the user", sigq_limit},
    {"stat flags", "PF_FORKNOEXEC and PF_SUPERPRIV: process accounting's history", without_accounting_flags},
    {"autogroup", "the group's number is made anew with the session", autogroup_nice},
    {"fdinfo * eventfd-id", "the eventfd's number, given anew by the kernel to a new eventfd"},
    {"fdinfo * it_value", "a timerfd's time left runs with its clock, to 0 when it fires (the programs check it)"},
    {"fdinfo * ticks", "a timerfd's expiries not yet read grow as it runs (the programs check them)"},
    {"fd *", "a deleted file whose path was taken comes back next to it", without_ghost_suffix},
    {"cwd", "a deleted directory whose path was taken comes back next to it", without_ghost_suffix},
    {"root", "a deleted directory whose path was taken comes back next to it", without_ghost_suffix},
    {"smaps * area", "a deleted file whose path was taken comes back next to it", without_ghost_suffix},
    // Which pages happen to be resident: a restore brings back the saved
    // pages and faults nothing else in; the kernel may reclaim file pages
    // at will.  What the memory holds is checked by the programs; the areas
    // themselves (range, perms, flags, Size) are compared below.
    {"stat rss", "resident pages"},
    {"status VmRSS", "resident pages"},
    {"status RssAnon", "resident pages"},
    {"status RssFile", "resident pages"},
    {"status RssShmem", "resident pages"},
    {"status VmPTE", "page tables of the resident pages"},
    {"status VmSwap", "pages swapped out: the kernel's choice"},
    {"status HugetlbPages", "resident huge pages"},
    {"smaps * Rss", "resident pages"},
    {"smaps * Pss*", "resident pages shared with others, which depends on residency too"},
    {"smaps * Shared_*", "resident pages"},
    {"smaps * Private_*", "resident pages"},
    {"smaps * Referenced", "accessed bits, cleared by the kernel at will"},
    {"smaps * Anonymous", "resident anonymous pages"},
    {"smaps * KSM", "pages merged by KSM: the kernel's choice"},
    {"smaps * LazyFree", "resident MADV_FREE pages, which the kernel may drop at will"},
    {"smaps * AnonHugePages", "huge pages the kernel made at fault or by khugepaged"},
    {"smaps * *PmdMapped", "huge page mappings the kernel made"},
    {"smaps * *_Hugetlb", "resident huge pages"},
    {"smaps * Swap*", "pages swapped out"},
    {"smaps * Locked", "resident pages of a locked area (whether it is locked is VmFlags lo)"},
    // History of the task rather than its state.
    {"status VmPeak", "the largest VmSize ever: a restore maps its own code and data in the process for a while"},
    {"status VmHWM", "the largest VmRSS ever"},
    {"status FDSize", "the fd table size the kernel grew to (never shrinks): a restore opens fds in the process for a while"},
    {"ksm_stat ksm_rmap_items", "KSM counter"},
    {"ksm_stat ksm_zero_pages", "KSM counter"},
    {"ksm_stat ksm_merging_pages", "KSM counter"},
    {"ksm_stat ksm_process_profit", "KSM counter"},
    // Chosen by the kernel, not the program.
    {"status Ngid", "the NUMA node automatic balancing prefers"},
    {"sessionid", "the audit session: the kernel numbers a new one when loginuid is written; nothing sets it"},
    // The same value under another name: one report is enough.
    {"stat state", "also status State"},
    {"stat ppid", "also status PPid"},
    {"stat num_threads", "also status Threads"},
    {"stat signal", "also status SigPnd"},
    {"stat blocked", "also status SigBlk"},
    {"stat sigignore", "also status SigIgn"},
    {"stat sigcatch", "also status SigCgt"},
    {"stat vsize", "also status VmSize"},
    {"stat comm", "also status Name"},
};

// --- known losses being fixed (issue 8) ----------------------------------------
//
// TEMPORARY.  Each entry is a field a restore does not bring back today and
// that another change of issue 8 restores.  A difference in it is printed
// as a known loss but does not fail the test.  Delete the entry when its
// fix is merged: the test then guards the fix.
struct KnownLoss {
  const char* field;
  const char* why;
};

const KnownLoss kKnownLosses[] = {
    // None left (issue 8 restores or refuses each); a new one goes here, with
    // why, until it is.  (The empty entry keeps the array non-empty.)
    {nullptr, nullptr},
};

// A zombie task (State Z on both sides) has ended: it takes no signal, so
// its mask and pending sets are only what it had at its end; a restore
// makes it end from ckpt's own code with everything blocked.
const char* const kZombieLegit[] = {"status SigBlk", "status SigPnd", "status ShdPnd"};

bool zombie(const Fields& f) {
  auto it = f.find("status State");
  return it != f.end() && it->second.starts_with("Z");
}

bool matches(const char* pattern, const std::string& field) {
  return fnmatch(pattern, field.c_str(), 0) == 0;
}

const Legit* legit_rule(const std::string& field) {
  for (const Legit& l : kLegit)
    if (matches(l.field, field)) return &l;
  return nullptr;
}

// --- reading /proc ---------------------------------------------------------------

std::optional<std::string> read_text(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      close(fd);
      return std::nullopt;
    }
    if (n == 0) break;
    out.append(buf, size_t(n));
  }
  close(fd);
  return out;
}

std::optional<std::string> read_link(const std::string& path) {
  char buf[4096];
  ssize_t n = readlink(path.c_str(), buf, sizeof(buf));
  if (n < 0) return std::nullopt;
  return std::string(buf, size_t(n));
}

std::vector<std::string> numeric_entries(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = opendir(dir.c_str());
  if (!d) return names;
  while (dirent* e = readdir(d))
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') names.push_back(e->d_name);
  closedir(d);
  return names;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    lines.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> words;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) words.push_back(w);
  return words;
}

// Binary contents (environ, cmdline) shown with their NULs and other
// unprintable bytes escaped.
std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == 0) out += "\\0";
    else if (c < 0x20 || c >= 0x7f) {
      char hex[8];
      snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else out += char(c);
  }
  return out;
}

// The aux vector as "type=value" words.
std::string auxv_words(std::string_view raw) {
  std::string out;
  for (size_t i = 0; i + 16 <= raw.size(); i += 16) {
    uint64_t type, value;
    memcpy(&type, raw.data() + i, 8);
    memcpy(&value, raw.data() + i + 8, 8);
    if (!out.empty()) out += ' ';
    char buf[64];
    snprintf(buf, sizeof(buf), "%llu=%#llx", (unsigned long long)type, (unsigned long long)value);
    out += buf;
  }
  return out;
}

// A link target naming a file by its path, the file still linked: its
// inode is the same file's after a restore.  Not so under /proc, whose
// inodes are made for each process anew.
bool linked_path(std::string_view target) {
  return !target.empty() && target[0] == '/' && !target.ends_with(" (deleted)") &&
         !target.starts_with("/memfd:") && !target.starts_with("/proc/");
}

using SchedAttr = ckpt_k_sched_attr;

void add_sched(pid_t tid, Fields& out) {
  SchedAttr a{};
  if (syscall(SYS_sched_getattr, tid, &a, sizeof(a), 0) != 0) return;
  out["sched policy"] = std::to_string(a.sched_policy);
  out["sched flags"] = std::to_string(a.sched_flags);
  out["sched nice"] = std::to_string(a.sched_nice);
  out["sched priority"] = std::to_string(a.sched_priority);
  out["sched runtime"] = std::to_string(a.sched_runtime);
  out["sched deadline"] = std::to_string(a.sched_deadline);
  out["sched period"] = std::to_string(a.sched_period);
  out["sched util_min"] = std::to_string(a.sched_util_min);
  out["sched util_max"] = std::to_string(a.sched_util_max);
}

void add_text(const std::string& name, const std::string& path, Fields& out) {
  if (auto t = read_text(path)) out[name] = std::string(trim(*t));
}

// What one thread has of its own.
Fields thread_fields(const std::string& dir, pid_t tid) {
  Fields f;
  if (auto t = read_text(dir + "/status")) parse_status(*t, f);
  if (auto t = read_text(dir + "/stat")) parse_stat(*t, f);
  add_text("personality", dir + "/personality", f);
  add_text("loginuid", dir + "/loginuid", f);
  add_text("sessionid", dir + "/sessionid", f);
  add_text("attr current", dir + "/attr/current", f);
  add_sched(tid, f);
  return f;
}

// What the process shares: read through a thread that still runs (a main
// thread that called pthread_exit has no memory or fds left to show).
Fields process_fields(const std::string& pid, const std::string& live, InodeNames& inodes) {
  Fields f;
  std::string dir = "/proc/" + pid + "/task/" + live;
  std::string tgid_dir = "/proc/" + pid;
  if (auto t = read_text(dir + "/smaps")) parse_smaps(*t, f);
  if (auto t = read_text(dir + "/numa_maps")) parse_numa_maps(*t, f);
  coalesce_areas(f);
  if (auto t = read_text(dir + "/limits")) parse_limits(*t, f);
  if (auto t = read_text(dir + "/mountinfo")) parse_mountinfo(*t, f);
  if (auto t = read_text(dir + "/cgroup"))
    for (std::string_view line : lines_of(*t)) {
      // "ID:controllers:path", and the path may have colons of its own.
      size_t first = line.find(':');
      size_t colon = first == std::string_view::npos ? first : line.find(':', first + 1);
      if (colon != std::string_view::npos)
        f["cgroup " + std::string(line.substr(0, colon))] = std::string(line.substr(colon + 1));
    }
  for (const std::string& fd : numeric_entries(dir + "/fd")) {
    auto target = read_link(dir + "/fd/" + fd);
    if (!target) continue;  // closed meanwhile
    f["fd " + fd] = inodes.name(*target);
    if (auto t = read_text(dir + "/fdinfo/" + fd)) parse_fdinfo(fd, *target, *t, f);
  }
  for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children", "time", "time_for_children",
                         "user", "uts"})
    if (auto l = read_link(dir + "/ns/" + ns)) f[std::string("ns ") + ns] = *l;
  for (const char* link : {"cwd", "root", "exe"})
    if (auto l = read_link(dir + "/" + link)) f[link] = *l;
  if (auto t = read_text(dir + "/environ")) f["environ"] = printable(*t);
  if (auto t = read_text(dir + "/cmdline")) f["cmdline"] = printable(*t);
  if (auto t = read_text(dir + "/auxv")) f["auxv"] = auxv_words(*t);
  add_text("oom_score_adj", dir + "/oom_score_adj", f);
  add_text("cpuset", dir + "/cpuset", f);
  // Files the kernel has for the thread group only.
  add_text("timerslack_ns", tgid_dir + "/timerslack_ns", f);
  add_text("coredump_filter", tgid_dir + "/coredump_filter", f);
  add_text("autogroup", tgid_dir + "/autogroup", f);
  if (auto t = read_text(tgid_dir + "/timers")) parse_timers(*t, f);
  if (auto t = read_text(tgid_dir + "/ksm_stat")) parse_keyed_lines("ksm_stat", *t, f);
  if (auto t = read_text(tgid_dir + "/timens_offsets")) parse_keyed_lines("timens_offsets", *t, f);
  return f;
}

char state_of(const std::string& stat_text) {
  size_t p = stat_text.rfind(')');
  return p == std::string::npos || p + 2 >= stat_text.size() ? '?' : stat_text[p + 2];
}

std::string quoted(const std::optional<std::string>& v) {
  return v ? "\"" + *v + "\"" : std::string("(none)");
}

}  // namespace

// --- parsers ---------------------------------------------------------------------

void parse_status(std::string_view text, Fields& out) {
  for (std::string_view line : lines_of(text)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out["status " + std::string(line.substr(0, colon))] = std::string(trim(line.substr(colon + 1)));
  }
}

void parse_stat(std::string_view text, Fields& out) {
  static const char* const kNames[] = {
      "state",      "ppid",        "pgrp",        "session",     "tty_nr",     "tpgid",
      "flags",      "minflt",      "cminflt",     "majflt",      "cmajflt",    "utime",
      "stime",      "cutime",      "cstime",      "priority",    "nice",       "num_threads",
      "itrealvalue", "starttime",  "vsize",       "rss",         "rsslim",     "startcode",
      "endcode",    "startstack",  "kstkesp",     "kstkeip",     "signal",     "blocked",
      "sigignore",  "sigcatch",    "wchan",       "nswap",       "cnswap",     "exit_signal",
      "processor",  "rt_priority", "policy",      "delayacct_blkio_ticks", "guest_time", "cguest_time",
      "start_data", "end_data",    "start_brk",   "arg_start",   "arg_end",    "env_start",
      "env_end",    "exit_code"};
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return;
  out["stat comm"] = std::string(text.substr(open + 1, close - open - 1));
  std::vector<std::string> words = words_of(text.substr(close + 1));
  for (size_t i = 0; i < words.size(); i++) {
    std::string name = i < std::size(kNames) ? kNames[i] : "field" + std::to_string(i + 3);
    out["stat " + name] = words[i];
  }
}

void parse_smaps(std::string_view text, Fields& out) {
  std::string area;  // "smaps START-END"
  for (std::string_view line : lines_of(text)) {
    if (line.empty()) continue;
    std::vector<std::string> w = words_of(line);
    bool header = w.size() >= 5 && w[0].find('-') != std::string::npos && w[0].back() != ':';
    if (header) {
      area = "smaps " + w[0];
      // The name is what follows the inode, spaces and all.
      std::string_view rest = line;
      for (int i = 0; i < 5; i++) {
        rest = trim(rest);
        size_t sp = rest.find_first_of(" \t");
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      }
      std::string name(trim(rest));
      out[area + " area"] = w[1] + " " + w[2] + (name.empty() ? "" : " " + name);
      // An inode number names the same file again only if it is still
      // linked; a restored shared memory object or ghost is a new one.
      if (linked_path(name)) out[area + " file"] = w[3] + " " + w[4];
      continue;
    }
    if (area.empty()) continue;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    out[area + " " + std::string(line.substr(0, colon))] = std::string(trim(line.substr(colon + 1)));
  }
}

namespace {

struct AreaFields {
  uint64_t end = 0;
  std::string range;             // "START-END", as smaps wrote it
  std::map<std::string, std::string> fields;  // "Size" -> "28 kB", "area" -> ...
};

std::string hex8(uint64_t v) {
  char buf[24];
  snprintf(buf, sizeof(buf), "%08llx", static_cast<unsigned long long>(v));
  return buf;
}

// An amount of memory of the area ("N kB"), which adds up when two areas
// are one (not the page sizes, which are the same in both).
std::optional<uint64_t> amount(const std::string& key, const std::string& v) {
  if (key == "KernelPageSize" || key == "MMUPageSize") return std::nullopt;
  char* end = nullptr;
  unsigned long long n = std::strtoull(v.c_str(), &end, 10);
  if (end == v.c_str() || std::string_view(end) != " kB") return std::nullopt;
  return n;
}

// Two neighbours the kernel could have made one area: anonymous (no file,
// no name), the same protection, flags and page sizes, the same policy.
// Whether it did depends on how they came to be (the order of mmap calls,
// anon_vma history), which a restore cannot repeat: the restored kernel may
// merge what the dumped one kept apart.  Both sides are compared merged.
bool mergeable(const AreaFields& a, const AreaFields& b, const std::string* policy_a, const std::string* policy_b) {
  if (a.fields.contains("file") || b.fields.contains("file")) return false;
  if ((policy_a ? *policy_a : "") != (policy_b ? *policy_b : "")) return false;
  for (const auto& [key, value] : a.fields) {
    auto other = b.fields.find(key);
    if (other == b.fields.end()) return false;
    if (!amount(key, value) && value != other->second) return false;
  }
  auto area = a.fields.find("area");
  return b.fields.size() == a.fields.size() && area != a.fields.end() && area->second.find(' ') == area->second.rfind(' ');
}

}  // namespace

void coalesce_areas(Fields& f) {
  std::map<uint64_t, AreaFields> areas;
  for (auto it = f.lower_bound("smaps "); it != f.end() && it->first.starts_with("smaps ");) {
    std::string_view rest = std::string_view(it->first).substr(6);
    size_t sp = rest.find(' ');
    std::string range(rest.substr(0, sp));
    uint64_t start = std::strtoull(range.c_str(), nullptr, 16);
    AreaFields& a = areas[start];
    a.range = range;
    a.end = std::strtoull(range.c_str() + range.find('-') + 1, nullptr, 16);
    a.fields[std::string(rest.substr(sp + 1))] = it->second;
    it = f.erase(it);
  }
  auto policy_of = [&](uint64_t start) -> const std::string* {
    auto it = f.find("numa_maps " + hex8(start) + " policy");
    return it == f.end() ? nullptr : &it->second;
  };
  std::vector<AreaFields> out;
  std::vector<uint64_t> starts;
  for (auto& [start, a] : areas) {
    if (!out.empty() && out.back().end == start &&
        mergeable(out.back(), a, policy_of(starts.back()), policy_of(start))) {
      for (auto& [key, value] : out.back().fields)
        if (auto n = amount(key, value)) value = std::to_string(*n + amount(key, a.fields[key]).value_or(0)) + " kB";
      out.back().end = a.end;
      f.erase("numa_maps " + hex8(start) + " policy");
      continue;
    }
    out.push_back(std::move(a));
    starts.push_back(start);
  }
  for (size_t i = 0; i < out.size(); i++) {
    std::string range = out[i].range.substr(0, out[i].range.find('-') + 1) + hex8(out[i].end);
    for (const auto& [key, value] : out[i].fields) f["smaps " + range + " " + key] = value;
  }
}

void parse_numa_maps(std::string_view text, Fields& out) {
  // "START POLICY key=value...": the policy is state (mbind,
  // set_mempolicy); the counts that follow are residency.
  for (std::string_view line : lines_of(text)) {
    std::vector<std::string> w = words_of(line);
    if (w.size() >= 2) out["numa_maps " + w[0] + " policy"] = w[1];
  }
}

void parse_limits(std::string_view text, Fields& out) {
  for (std::string_view line : lines_of(text)) {
    // "%-25s %-20s %-20s %-10s": the name has spaces, the rest has none.
    if (line.size() < 26 || line.starts_with("Limit ")) continue;
    std::string name(trim(line.substr(0, 25)));
    std::string value;
    for (const std::string& w : words_of(line.substr(25))) value += (value.empty() ? "" : " ") + w;
    out["limits " + name] = value;
  }
}

void parse_keyed_lines(std::string_view prefix, std::string_view text, Fields& out) {
  std::set<std::string> seen;
  for (std::string_view line : lines_of(text)) {
    line = trim(line);
    if (line.empty()) continue;
    size_t end = line.find_first_of(" \t");
    std::string key(line.substr(0, end));
    std::string value(end == std::string_view::npos ? std::string_view() : trim(line.substr(end)));
    if (key.size() > 1 && key.back() == ':') key.pop_back();
    if (!seen.insert(key).second) {
      std::vector<std::string> w = words_of(value);
      key += " " + (w.empty() ? std::string("?") : w[0]);
    }
    out[std::string(prefix) + " " + key] = value;
  }
}

// Lines of fdinfo that describe one object each (an epoll target, an
// inotify watch, a fanotify mark) are keyed by it, whatever their order
// (the kernel's: an epoll set's by file address).  An epoll target's inode
// is left out: a new pipe or socket after a restore.
void parse_fdinfo_objects(const std::string& prefix, std::string_view text, Fields& out, std::string& rest) {
  for (std::string_view line : lines_of(text)) {
    std::string_view l = trim(line);
    std::string kind;
    if (l.starts_with("tfd:")) kind = "tfd";
    else if (l.starts_with("inotify ")) kind = "inotify";
    else if (l.starts_with("fanotify ")) kind = "fanotify";
    if (kind.empty()) {
      rest += std::string(line) + "\n";
      continue;
    }
    std::vector<std::string> w = words_of(std::string(l.substr(kind.size() + 1)));
    std::string value;
    for (size_t i = 1; i < w.size(); i++)
      if (kind != "tfd" || (!w[i].starts_with("ino:") && !w[i].starts_with("sdev:"))) value += (i > 1 ? " " : "") + w[i];
    std::string base = prefix + " " + kind + " " + (w.empty() ? std::string("?") : w[0]), key = base;
    // The same fd number registered again with another file.
    for (int n = 2; out.count(key); n++) key = base + " #" + std::to_string(n);
    out[key] = value;
  }
}

void parse_fdinfo(std::string_view fd, std::string_view target, std::string_view text, Fields& out) {
  Fields mine;
  std::string rest;
  parse_fdinfo_objects("fdinfo " + std::string(fd), text, mine, rest);
  parse_keyed_lines("fdinfo " + std::string(fd), rest, mine);
  // The inode of anything but a still linked file is a new object's.
  if (!linked_path(target)) mine.erase("fdinfo " + std::string(fd) + " ino");
  out.merge(mine);
}

void parse_mountinfo(std::string_view text, Fields& out) {
  for (std::string_view line : lines_of(text)) {
    line = trim(line);
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    out["mountinfo " + std::string(line.substr(0, sp))] = std::string(line.substr(sp + 1));
  }
}

void parse_timers(std::string_view text, Fields& out) {
  std::string id = "?";
  for (std::string_view line : lines_of(text)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string key(line.substr(0, colon));
    std::string value(trim(line.substr(colon + 1)));
    if (key == "ID") id = value;
    else out["timers " + id + " " + key] = value;
  }
}

std::string InodeNames::name(const std::string& target) {
  size_t open = target.find(":[");
  if (open == std::string::npos || target.back() != ']') return target;
  // "anon_inode:[eventfd]" names a kind, not an inode.
  std::string inside = target.substr(open + 2, target.size() - open - 3);
  if (inside.empty() || inside.find_first_not_of("0123456789") != std::string::npos) return target;
  auto it = seen_.find(target);
  if (it != seen_.end()) return it->second;
  std::string kind = target.substr(0, open);
  std::string n = kind + ":#" + std::to_string(++count_[kind]);
  seen_[target] = n;
  return n;
}

// --- snapshots ---------------------------------------------------------------------

ProcSnapshot snapshot_tree(pid_t root) {
  // Who is whose child, from every process's stat.
  std::map<std::string, std::vector<std::string>> children;
  for (const std::string& p : numeric_entries("/proc")) {
    auto stat = read_text("/proc/" + p + "/stat");
    if (!stat) continue;
    Fields f;
    parse_stat(*stat, f);
    children[f["stat ppid"]].push_back(p);
  }
  ProcSnapshot snap;
  InodeNames inodes;
  std::vector<std::string> todo = {std::to_string(root)};
  while (!todo.empty()) {
    std::string pid = todo.front();
    todo.erase(todo.begin());
    std::vector<std::string> tids = numeric_entries("/proc/" + pid + "/task");
    if (tids.empty()) continue;  // gone
    for (const std::string& tid : tids)
      snap.scopes["pid " + pid + " tid " + tid] = thread_fields("/proc/" + pid + "/task/" + tid, pid_t(std::stoi(tid)));
    // A zombie main thread: the process is read through a live thread.
    std::string live = pid;
    auto main_stat = read_text("/proc/" + pid + "/task/" + pid + "/stat");
    if (main_stat && state_of(*main_stat) == 'Z')
      for (const std::string& tid : tids)
        if (auto s = read_text("/proc/" + pid + "/task/" + tid + "/stat"); s && state_of(*s) != 'Z') {
          live = tid;
          break;
        }
    snap.scopes["pid " + pid] = process_fields(pid, live, inodes);
    for (const std::string& c : children[pid]) todo.push_back(c);
  }
  return snap;
}

std::string to_text(const ProcSnapshot& snap) {
  std::string out;
  for (const auto& [scope, fields] : snap.scopes)
    for (const auto& [name, value] : fields) out += scope + ": " + name + ": " + value + "\n";
  return out;
}

// --- comparing ------------------------------------------------------------------------

std::vector<FieldDiff> diff_snapshots(const ProcSnapshot& before, const ProcSnapshot& after) {
  std::vector<FieldDiff> diffs;
  std::set<std::string> scopes;
  for (const auto& [s, f] : before.scopes) scopes.insert(s);
  for (const auto& [s, f] : after.scopes) scopes.insert(s);
  for (const std::string& scope : scopes) {
    auto b = before.scopes.find(scope);
    auto a = after.scopes.find(scope);
    if (b == before.scopes.end() || a == after.scopes.end()) {
      FieldDiff d{scope, "", std::nullopt, std::nullopt};
      if (b != before.scopes.end()) d.before = "present";
      if (a != after.scopes.end()) d.after = "present";
      diffs.push_back(d);
      continue;
    }
    std::set<std::string> names;
    for (const auto& [n, v] : b->second) names.insert(n);
    for (const auto& [n, v] : a->second) names.insert(n);
    bool zombies = zombie(b->second) && zombie(a->second);
    for (const std::string& name : names) {
      if (zombies && std::find(std::begin(kZombieLegit), std::end(kZombieLegit), name) != std::end(kZombieLegit))
        continue;
      auto bv = b->second.find(name);
      auto av = a->second.find(name);
      std::optional<std::string> bs, as;
      if (bv != b->second.end()) bs = bv->second;
      if (av != a->second.end()) as = av->second;
      const Legit* rule = legit_rule(name);
      if (rule && !rule->normalise) continue;
      if (rule && bs) bs = rule->normalise(*bs);
      if (rule && as) as = rule->normalise(*as);
      if (bs != as) diffs.push_back({scope, name, bs, as});
    }
  }
  return diffs;
}

std::string describe(const FieldDiff& d) {
  if (d.field.empty())
    return d.scope + (d.before ? ": present before, gone after" : ": absent before, present after");
  return d.scope + ": " + d.field + ": before " + quoted(d.before) + ", after " + quoted(d.after);
}

Judgement judge(const std::vector<FieldDiff>& diffs, const std::vector<std::string>& skips) {
  Judgement j;
  for (const FieldDiff& d : diffs) {
    std::string text = describe(d);
    // A task on one side only is skipped by "(gone)" or "(new)" exactly,
    // never by a pattern meant for fields.
    std::string whole = d.before ? "(gone)" : "(new)";
    bool skipped = false;
    for (const std::string& s : skips)
      if (d.field.empty() ? s == whole : matches(s.c_str(), d.field)) skipped = true;
    if (skipped) {
      j.skipped.push_back(text);
      continue;
    }
    const KnownLoss* known = nullptr;
    for (const KnownLoss& k : kKnownLosses)
      if (k.field && !d.field.empty() && matches(k.field, d.field)) known = &k;
    if (known) j.known_losses.push_back("known loss, " + std::string(known->why) + ": " + text);
    else j.unexpected.push_back(text);
  }
  return j;
}

std::vector<std::string> legitimate_changes() {
  std::vector<std::string> out;
  for (const Legit& l : kLegit) out.push_back(std::string(l.field) + ": " + l.why);
  return out;
}

}  // namespace rt
