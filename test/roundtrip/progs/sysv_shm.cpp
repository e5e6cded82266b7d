// SysV shared memory of a parent and its child, across the round trip:
//   S1  key 'S' and a hash of the work dir's path, 2 pages + 123 bytes,
//       mode 0640: the parent
//       attaches it, the child detaches what it inherited and attaches it
//       itself (elsewhere, most likely); bytes 0..63 are the handshake (a
//       phase word, shared futex, and where the child has S1 and S2);
//   S2  key 'T' and the hash, 1 page + 7 bytes, mode 0600: attached by the
//       parent, inherited by the child, then IPC_RMID'ed: it lives on
//       while attached, with the key IPC_PRIVATE and SHM_DEST set.
// After SIGTERM the parent checks both segments by the ids it holds
// (IPC_STAT: key, size, mode, SHM_DEST, nattch 2, owners), the keys
// (shmget finds S1 by its key, not S2), /proc/sysvipc/shm, its maps (each
// attachment is the segment's file, inode = shmid) and the child's, the
// content, then writes to both; the child must see those writes, writes
// back and ends; the parent must see that and nattch drop to 1.  At the end
// the parent removes S1 (S2 goes with its last detach).  A run killed before
// that (a failed dump) leaves S1 behind; the keys come from the work dir's
// path (not its inode, as ftok's would), so the next run in that directory
// finds and removes it.
#include "mtlib.h"

#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kControl = 64;
constexpr int kChildFailed = 99;

struct Seg {
  const char* name;
  int proj;
  size_t size;
  int mode;
  key_t key = -1;
  int id = -1;
  char* parent_at = nullptr;  // where the parent has it
  char* child_at = nullptr;   // where the child has it
  shmid_ds before{};
};
Seg g_seg[2] = {{"S1", 'S', 2 * kPage + 123, 0640}, {"S2", 'T', kPage + 7, 0600}};
Seg& s1 = g_seg[0];
Seg& s2 = g_seg[1];

// Seeds of the patterns written at stages, one range of each segment each.
enum : uint64_t { kParentBefore = 1, kChildBefore = 2, kParentAfter = 3, kChildAfter = 4 };
struct Range {
  size_t at, len;
};
// Stage k of a segment covers bytes [at, at+len): four ranges after the
// handshake bytes.
Range range(const Seg& s, uint64_t stage) {
  size_t quarter = (s.size - kControl) / 4;
  return {kControl + size_t(stage - 1) * quarter, quarter};
}
uint64_t seed(const Seg& s, uint64_t stage) { return stage * 1000 + uint64_t(s.proj); }

void write_stage(char* base, const Seg& s, uint64_t stage) {
  Range r = range(s, stage);
  rt::fill_pattern(base + r.at, r.len, seed(s, stage));
}

// All of a segment after the handshake bytes: the stages up to `last`
// written, zeros everywhere else.  "" or what differs.
std::string content_problem(const char* base, const Seg& s, uint64_t last) {
  for (size_t i = kControl; i < s.size; i++) {
    unsigned char want = 0;
    uint64_t stage = 0;
    for (uint64_t k = 1; k <= last; k++) {
      Range r = range(s, k);
      if (i >= r.at && i < r.at + r.len) {
        want = rt::pattern_byte(seed(s, k), i - r.at);
        stage = k;
      }
    }
    if ((unsigned char)base[i] != want)
      return std::string(s.name) + " differs at byte " + std::to_string(i) +
             (stage ? " (written at stage " + std::to_string(stage) + ")" : " (never written)");
  }
  return "";
}

std::atomic<int>& phase(char* s1_base) { return *reinterpret_cast<std::atomic<int>*>(s1_base); }
// Where the child has S1 and S2 (it says so in S1, after the phase word).
char** child_addresses(char* s1_base) { return reinterpret_cast<char**>(s1_base + 8); }

#define CHILD_CHECK(cond, ...)                                    \
  do {                                                            \
    if (!(cond)) {                                                \
      printf("FAIL: child: " __VA_ARGS__);                        \
      printf("\n");                                               \
      fflush(stdout);                                             \
      rt::store_wake(phase(s1.child_at), kChildFailed, true);     \
      _exit(1);                                                   \
    }                                                             \
  } while (0)

[[noreturn]] void child(pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(1);
  void* own = shmat(s1.id, nullptr, 0);
  if (own == reinterpret_cast<void*>(-1)) _exit(1);
  s1.child_at = static_cast<char*>(own);
  shmdt(s1.parent_at);
  s2.child_at = s2.parent_at;  // inherited
  child_addresses(s1.child_at)[0] = s1.child_at;
  child_addresses(s1.child_at)[1] = s2.child_at;
  write_stage(s1.child_at, s1, kChildBefore);
  write_stage(s2.child_at, s2, kChildBefore);
  rt::store_wake(phase(s1.child_at), 1, true);
  while (phase(s1.child_at).load() < 2) rt::futex_wait(phase(s1.child_at), phase(s1.child_at).load(), nullptr, true);
  for (Seg* s : {&s1, &s2}) {
    std::string bad = content_problem(s->child_at, *s, kParentAfter);
    CHILD_CHECK(bad.empty(), "%s", bad.c_str());
    rt::MapsEntry m = rt::maps_entry(0, s->child_at);
    CHILD_CHECK(m.found && m.inode == (unsigned long long)s->id && m.perms == "rw-s", "%s is mapped %s inode %llu, want shmid %d",
                s->name, m.perms.c_str(), m.inode, s->id);
    write_stage(s->child_at, *s, kChildAfter);
  }
  rt::store_wake(phase(s1.child_at), 3, true);
  fflush(stdout);
  _exit(0);
}

// The /proc/sysvipc/shm line of `id`: key, perms (with SHM_DEST), size.
bool proc_line(int id, long long* key, unsigned* perms, unsigned long long* size) {
  std::string all = rt::read_text("/proc/sysvipc/shm");
  size_t p = all.find('\n');
  while (p != std::string::npos && p + 1 < all.size()) {
    size_t e = all.find('\n', p + 1);
    std::string line = all.substr(p + 1, e == std::string::npos ? std::string::npos : e - p - 1);
    int shmid;
    if (sscanf(line.c_str(), "%lld %d %o %llu", key, &shmid, perms, size) == 4 && shmid == id) return true;
    p = e;
  }
  return false;
}

void check_segment(rt::Verdict& v, Seg& s, bool removed) {
  shmid_ds ds{};
  if (shmctl(s.id, IPC_STAT, &ds) != 0) {
    v.add("%s (shmid %d) is gone: %s", s.name, s.id, strerror(errno));
    return;
  }
  key_t want_key = removed ? IPC_PRIVATE : s.key;
  if (ds.shm_perm.__key != want_key) v.add("%s has key %#x, want %#x", s.name, ds.shm_perm.__key, want_key);
  if (ds.shm_segsz != s.size) v.add("%s has size %zu, want %zu", s.name, size_t(ds.shm_segsz), s.size);
  if ((ds.shm_perm.mode & 0777) != unsigned(s.mode)) v.add("%s has mode %o, want %o", s.name, ds.shm_perm.mode & 0777, s.mode);
  if (bool(ds.shm_perm.mode & SHM_DEST) != removed)
    v.add("%s: SHM_DEST is %s", s.name, removed ? "not set (it was removed)" : "set (it was not removed)");
  if (ds.shm_nattch != 2) v.add("%s has %lu attachments, want 2", s.name, (unsigned long)ds.shm_nattch);
  if (ds.shm_perm.uid != s.before.shm_perm.uid || ds.shm_perm.gid != s.before.shm_perm.gid ||
      ds.shm_perm.cuid != s.before.shm_perm.cuid || ds.shm_perm.cgid != s.before.shm_perm.cgid)
    v.add("%s has other owners", s.name);
  long long key;
  unsigned perms;
  unsigned long long size;
  if (!proc_line(s.id, &key, &perms, &size)) v.add("%s is not in /proc/sysvipc/shm", s.name);
  else if (key != want_key || bool(perms & SHM_DEST) != removed || (perms & 0777) != unsigned(s.mode) || size != s.size)
    v.add("/proc/sysvipc/shm has %s as key %lld perms %o size %llu", s.name, key, perms, size);
  rt::MapsEntry m = rt::maps_entry(0, s.parent_at);
  if (!m.found || m.inode != (unsigned long long)s.id || m.perms != "rw-s" || m.name.compare(0, 5, "/SYSV") != 0)
    v.add("the parent maps %s as %s %s inode %llu, want shmid %d", s.name, m.perms.c_str(), m.name.c_str(), m.inode, s.id);
  std::string bad = content_problem(s.parent_at, s, kChildBefore);
  if (!bad.empty()) v.add("%s", bad.c_str());
}

// 'S' or 'T' in the top byte, a hash of the working directory's path below.
key_t key_for(int proj) {
  char cwd[PATH_MAX];
  RT_CHECK(getcwd(cwd, sizeof(cwd)), "getcwd");
  uint32_t h = 2166136261u;
  for (const char* c = cwd; *c; c++) h = (h ^ uint8_t(*c)) * 16777619u;
  return key_t((uint32_t(proj) << 24) | (h & 0xffffff));
}

}  // namespace

int main() {
  rt::block_term();
  for (Seg& s : g_seg) {
    s.key = key_for(s.proj);
    int stale = shmget(s.key, 0, 0);  // left by an earlier run that failed
    if (stale >= 0) shmctl(stale, IPC_RMID, nullptr);
    s.id = shmget(s.key, s.size, IPC_CREAT | IPC_EXCL | s.mode);
    RT_CHECK(s.id >= 0, "shmget %s: %s", s.name, strerror(errno));
    void* at = shmat(s.id, nullptr, 0);
    RT_CHECK(at != reinterpret_cast<void*>(-1), "shmat %s: %s", s.name, strerror(errno));
    s.parent_at = static_cast<char*>(at);
    write_stage(s.parent_at, s, kParentBefore);
  }
  pid_t me = getpid();
  fflush(stdout);
  pid_t kid = fork();
  RT_CHECK(kid >= 0, "fork");
  if (kid == 0) child(me);
  RT_CHECK(rt::await_at_least(phase(s1.parent_at), 1, 30, true), "the child did not write within 30 s");
  s1.child_at = child_addresses(s1.parent_at)[0];
  s2.child_at = child_addresses(s1.parent_at)[1];
  RT_CHECK(shmctl(s2.id, IPC_RMID, nullptr) == 0, "IPC_RMID S2: %s", strerror(errno));
  for (Seg& s : g_seg) {
    RT_CHECK(content_problem(s.parent_at, s, kChildBefore).empty(), "before the dump: %s",
             content_problem(s.parent_at, s, kChildBefore).c_str());
    RT_CHECK(shmctl(s.id, IPC_STAT, &s.before) == 0 && s.before.shm_nattch == 2, "%s has not 2 attachments", s.name);
  }

  rt::ready();
  rt::wait_term();

  rt::Verdict v;
  check_segment(v, s1, false);
  check_segment(v, s2, true);
  if (shmget(s1.key, 0, 0) != s1.id) v.add("shmget(S1's key) gives %d, want %d", shmget(s1.key, 0, 0), s1.id);
  if (shmget(s2.key, 0, 0) != -1 || errno != ENOENT) v.add("S2's key names a segment again");
  for (Seg* s : {&s1, &s2}) {
    rt::MapsEntry m = rt::maps_entry(kid, s->child_at);
    if (!m.found || m.inode != (unsigned long long)s->id) v.add("the child does not map %s (shmid %d)", s->name, s->id);
    write_stage(s->parent_at, *s, kParentAfter);
  }
  rt::store_wake(phase(s1.parent_at), 2, true);
  if (!rt::await_at_least(phase(s1.parent_at), 3, 30, true))
    v.add("the child did not answer within 30 s (phase %d): the segments are not shared", phase(s1.parent_at).load());
  else if (phase(s1.parent_at).load() == kChildFailed)
    v.add("the child failed its checks");
  else
    for (Seg* s : {&s1, &s2})
      if (!content_problem(s->parent_at, *s, kChildAfter).empty())
        v.add("after the child's write: %s", content_problem(s->parent_at, *s, kChildAfter).c_str());
  int status = rt::await_child(kid, 30);
  if (status == -1) v.add("the child did not end within 30 s");
  else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) v.add("the child ended with status %#x", status);
  for (Seg* s : {&s1, &s2}) {
    shmid_ds ds{};
    if (shmctl(s->id, IPC_STAT, &ds) == 0 && ds.shm_nattch != 1)
      v.add("%s has %lu attachments after the child ended, want 1", s->name, (unsigned long)ds.shm_nattch);
  }
  shmctl(s1.id, IPC_RMID, nullptr);
  v.finish();
}
