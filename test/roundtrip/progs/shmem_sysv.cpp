// SysV shared memory across the round trip, in ckpt's IPC namespace.
//
//   A  key 0x7c<pid>, 3 pages + 100 bytes, mode 0640, page 1 a hole;
//      attached read-write by the parent (inherited by the child) and
//      read-only a second time by the child: 3 attachments.
//   B  IPC_PRIVATE, 2 pages, attached by both, then marked for removal
//      (IPC_RMID while attached).
//
// After the restore: the same ids, key, mode, size and number of
// attachments, B still marked, the same addresses and permissions, the
// content, and the sharing (the parent writes into A, the child sees it
// through both of its attachments and writes into B, which the parent
// sees).  The parent removes A at the end.
#include "testlib.h"

#include <stdint.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/wait.h>

#include <fstream>
#include <string>

namespace {

constexpr size_t kPage = 4096;
constexpr size_t kSizeA = 3 * kPage + 100;
constexpr size_t kSizeB = 2 * kPage;

uint8_t pattern(size_t i) { return uint8_t(i * 11 + 3); }
uint8_t want_a(size_t i) { return i / kPage == 1 ? 0 : pattern(i); }


std::string maps_line(const void* addr) {
  std::ifstream maps("/proc/self/maps");
  char prefix[32];
  snprintf(prefix, sizeof(prefix), "%lx-", (unsigned long)addr);
  std::string line;
  while (std::getline(maps, line))
    if (line.rfind(prefix, 0) == 0) return line;
  return "";
}

void check_attachment(const void* addr, const char* perms, int key, const char* who) {
  std::string line = maps_line(addr);
  char name[32];
  snprintf(name, sizeof(name), "/SYSV%08x (deleted)", key);
  RT_CHECK(line.find(perms) != std::string::npos && line.find(name) != std::string::npos,
           "%s: the attachment at %p is '%s', want %s %s", who, addr, line.c_str(), perms, name);
}

struct shmid_ds stat_of(int id, const char* what) {
  struct shmid_ds ds;
  RT_CHECK(shmctl(id, IPC_STAT, &ds) == 0, "IPC_STAT of %s (id %d): %s", what, id, strerror(errno));
  return ds;
}

[[noreturn]] void child_main(int a_id, uint8_t* a, uint8_t* b, int key, pid_t parent) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto* ro = static_cast<uint8_t*>(shmat(a_id, nullptr, SHM_RDONLY));
  RT_CHECK(ro != reinterpret_cast<uint8_t*>(-1), "child: shmat read-only");
  RT_CHECK(kill(parent, SIGUSR1) == 0, "child: signal the parent");
  rt::await_signal(SIGUSR2, "word from the parent");

  check_attachment(ro, " r--s ", key, "child");
  check_attachment(a, " rw-s ", key, "child");
  for (size_t i = 1; i < kSizeA; i++)
    RT_CHECK(ro[i] == want_a(i), "child: A byte %zu is %02x, want %02x", i, ro[i], want_a(i));
  RT_CHECK(ro[0] == 'P' && a[0] == 'P', "child: the parent's write into A is not seen (%02x, %02x)", ro[0], a[0]);
  b[5] = 'C';
  fflush(stdout);
  _exit(0);
}

}  // namespace

int main() {
  rt::block_signals({SIGUSR1, SIGUSR2, SIGTERM});

  int key = int(0x7c000000u | (uint32_t(getpid()) & 0xffffff));
  int a_id = shmget(key, kSizeA, IPC_CREAT | IPC_EXCL | 0640);
  RT_CHECK(a_id >= 0, "shmget A: %s", strerror(errno));
  auto* a = static_cast<uint8_t*>(shmat(a_id, nullptr, 0));
  RT_CHECK(a != reinterpret_cast<uint8_t*>(-1), "shmat A");
  for (size_t i = 0; i < kSizeA; i++)
    if (i / kPage != 1) a[i] = pattern(i);
  int b_id = shmget(IPC_PRIVATE, kSizeB, IPC_CREAT | 0600);
  RT_CHECK(b_id >= 0, "shmget B");
  auto* b = static_cast<uint8_t*>(shmat(b_id, nullptr, 0));
  RT_CHECK(b != reinterpret_cast<uint8_t*>(-1), "shmat B");
  memset(b + kPage, 0xbb, kPage);

  fflush(stdout);
  pid_t child = fork();
  RT_CHECK(child >= 0, "fork");
  if (child == 0) child_main(a_id, a, b, key, getppid());
  rt::await_signal(SIGUSR1, "ready from the child");
  RT_CHECK(shmctl(b_id, IPC_RMID, nullptr) == 0, "IPC_RMID B");

  rt::ready();
  rt::wait_term();

  struct shmid_ds da = stat_of(a_id, "A");
  RT_CHECK(da.shm_perm.__key == key, "A's key is 0x%x, want 0x%x", da.shm_perm.__key, key);
  RT_CHECK((da.shm_perm.mode & 0777) == 0640, "A's mode is 0%o", da.shm_perm.mode & 0777);
  RT_CHECK(!(da.shm_perm.mode & SHM_DEST), "A is marked for removal");
  RT_CHECK(da.shm_segsz == kSizeA, "A has %zu bytes", size_t(da.shm_segsz));
  RT_CHECK(da.shm_nattch == 3, "A is attached %lu times, want 3", (unsigned long)da.shm_nattch);
  RT_CHECK(shmget(key, 0, 0) == a_id, "A's key does not find it");
  struct shmid_ds db = stat_of(b_id, "B");
  RT_CHECK(db.shm_perm.mode & SHM_DEST, "B is no longer marked for removal");
  RT_CHECK(db.shm_nattch == 2, "B is attached %lu times, want 2", (unsigned long)db.shm_nattch);
  RT_CHECK(db.shm_segsz == kSizeB, "B has %zu bytes", size_t(db.shm_segsz));
  check_attachment(a, " rw-s ", key, "parent");
  check_attachment(b, " rw-s ", 0, "parent");
  for (size_t i = 0; i < kSizeA; i++) RT_CHECK(a[i] == want_a(i), "A byte %zu is %02x, want %02x", i, a[i], want_a(i));
  for (size_t i = 0; i < kSizeB; i++)
    RT_CHECK(b[i] == (i < kPage ? 0 : 0xbb), "B byte %zu is %02x", i, b[i]);

  a[0] = 'P';
  RT_CHECK(kill(child, SIGUSR2) == 0, "signal the child");
  int status = 0;
  RT_CHECK(waitpid(child, &status, 0) == child, "waitpid");
  RT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the child ended with status 0x%x", status);
  RT_CHECK(b[5] == 'C', "the child's write into B is not seen (%02x)", b[5]);
  RT_CHECK(shmctl(a_id, IPC_RMID, nullptr) == 0, "IPC_RMID A");
  rt::pass();
}
