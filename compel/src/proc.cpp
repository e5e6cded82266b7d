#include "proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ckpt/unique_fd.h"

namespace compel::proc {

std::optional<std::string> read_file(const std::string& path) {
  ckpt::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return std::nullopt;
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::optional<Stat> stat(pid_t pid, pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/stat");
  if (!text) return std::nullopt;
  // The command name may hold anything, ')' included: parse after the last.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return std::nullopt;
  Stat st{};
  int ppid = 0, pgid = 0, sid = 0;
  if (std::sscanf(text->c_str() + close + 1, " %c %d %d %d", &st.state, &ppid, &pgid, &sid) != 4)
    return std::nullopt;
  st.ppid = ppid;
  st.pgid = pgid;
  st.sid = sid;
  return st;
}

static long status_field(const std::string& text, const char* key) {
  size_t at = text.find(key);
  if (at == std::string::npos) return -1;
  return std::strtol(text.c_str() + at + std::strlen(key), nullptr, 10);
}

std::optional<Status> status(pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(tid) + "/status");
  if (!text) return std::nullopt;
  Status st{};
  st.tgid = static_cast<pid_t>(status_field(*text, "\nTgid:"));
  st.tracer = static_cast<pid_t>(status_field(*text, "\nTracerPid:"));
  if (st.tgid <= 0 || st.tracer < 0) return std::nullopt;
  return st;
}

std::optional<uint64_t> pending_signals(pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(tid) + "/status");
  if (!text) return std::nullopt;
  uint64_t mask = 0;
  for (const char* key : {"\nSigPnd:", "\nShdPnd:"}) {
    size_t at = text->find(key);
    if (at == std::string::npos) return std::nullopt;
    mask |= std::strtoull(text->c_str() + at + std::strlen(key), nullptr, 16);
  }
  return mask;
}

int seccomp_mode(pid_t pid, pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/status");
  long mode = text ? status_field(*text, "\nSeccomp:") : 0;
  return mode > 0 ? static_cast<int>(mode) : 0;
}

bool is_dead(pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(tid) + "/stat");
  if (!text) return true;
  size_t close = text->rfind(')');
  if (close == std::string::npos || close + 2 >= text->size()) return true;
  char state = (*text)[close + 2];
  if (state == 'Z' || state == 'X' || state == 'x') return true;
  // Field 9, the task's flags: PF_EXITING (0x4) is set as soon as it exits.
  unsigned long flags = 0;
  if (std::sscanf(text->c_str() + close + 2, "%*c %*d %*d %*d %*d %*d %lu", &flags) != 1) return false;
  return (flags & 0x4) != 0;
}

static std::vector<pid_t> parse_pids(const std::string& text) {
  std::vector<pid_t> out;
  const char* p = text.c_str();
  char* end = nullptr;
  for (;;) {
    long v = std::strtol(p, &end, 10);
    if (end == p) break;
    out.push_back(static_cast<pid_t>(v));
    p = end;
  }
  return out;
}

std::vector<pid_t> tasks(pid_t pid) {
  std::vector<pid_t> out;
  std::string path = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = ::opendir(path.c_str());
  if (!dir) return out;
  while (struct dirent* de = ::readdir(dir)) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    out.push_back(static_cast<pid_t>(std::atoi(de->d_name)));
  }
  ::closedir(dir);
  std::sort(out.begin(), out.end());
  auto leader = std::find(out.begin(), out.end(), pid);
  if (leader != out.end()) std::rotate(out.begin(), leader, leader + 1);
  return out;
}

std::vector<pid_t> children(pid_t pid, pid_t tid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/children");
  return text ? parse_pids(*text) : std::vector<pid_t>{};
}

long thread_count(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/status");
  return text ? status_field(*text, "\nThreads:") : -1;
}

static std::string task_file(pid_t pid, pid_t tid, const char* name) {
  return "/proc/" + std::to_string(pid) + "/task/" + std::to_string(tid) + "/" + name;
}

uint64_t auxv(pid_t pid, pid_t tid, uint64_t type) {
  auto text = read_file(task_file(pid, tid, "auxv"));
  if (!text) return 0;
  for (size_t off = 0; off + 16 <= text->size(); off += 16) {
    uint64_t entry[2];
    std::memcpy(entry, text->data() + off, sizeof(entry));
    if (entry[0] == type) return entry[1];
    if (entry[0] == 0) break;
  }
  return 0;
}

std::vector<MapArea> maps(pid_t pid, pid_t tid) {
  std::vector<MapArea> out;
  auto text = read_file(task_file(pid, tid, "maps"));
  if (!text) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t eol = text->find('\n', pos);
    if (eol == std::string::npos) eol = text->size();
    std::string line = text->substr(pos, eol - pos);
    pos = eol + 1;
    unsigned long long start = 0, end = 0;
    char perms[8] = {};
    int name_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %*s %*s %*s %n", &start, &end, perms, &name_at) < 3) continue;
    MapArea a{start, end, perms[0] == 'r', perms[1] == 'w', perms[2] == 'x', ""};
    if (name_at > 0 && static_cast<size_t>(name_at) < line.size()) a.name = line.substr(static_cast<size_t>(name_at));
    out.push_back(std::move(a));
  }
  return out;
}

const MapArea* mapping_of_stack_pointer(const std::vector<MapArea>& maps, uint64_t sp) {
  for (const MapArea& a : maps)
    if (a.start < sp && sp <= a.end) return &a;
  return nullptr;
}

std::optional<uint64_t> mapping_start(pid_t pid, pid_t tid, const char* name) {
  auto text = read_file(task_file(pid, tid, "maps"));
  if (!text) return std::nullopt;
  size_t at = text->find(name);
  if (at == std::string::npos) return std::nullopt;
  size_t line = text->rfind('\n', at);
  line = line == std::string::npos ? 0 : line + 1;
  return std::strtoull(text->c_str() + line, nullptr, 16);
}

// /proc/PID/timers, one block per timer:
//   ID: 0
//   signal: 14/0000000000000000
//   notify: signal/pid.1234        (or thread/tid.N, none/pid.N, ...)
//   ClockID: 1
std::vector<TimerDesc> posix_timers(pid_t pid) {
  std::vector<TimerDesc> out;
  auto text = read_file("/proc/" + std::to_string(pid) + "/timers");
  if (!text) return out;
  size_t pos = 0;
  while ((pos = text->find("ID: ", pos)) != std::string::npos) {
    if (pos > 0 && (*text)[pos - 1] != '\n') {  // "ClockID: "
      pos += 4;
      continue;
    }
    TimerDesc t{};
    char how[16] = {}, whom[8] = {};
    unsigned long long sigval = 0;
    const char* p = text->c_str() + pos;
    if (std::sscanf(p, "ID: %d\nsignal: %d/%llx\nnotify: %15[a-z]/%7[a-z].%d\nClockID: %d", &t.id,
                    &t.signo, &sigval, how, whom, &t.notify_tid, &t.clock_id) == 7) {
      t.sigval = sigval;
      if (!std::strcmp(how, "none"))
        t.notify = SIGEV_NONE;
      else if (!std::strcmp(how, "thread"))
        t.notify = SIGEV_THREAD;
      else
        t.notify = SIGEV_SIGNAL;
      if (!std::strcmp(whom, "tid")) t.notify |= SIGEV_THREAD_ID;
      out.push_back(t);
    }
    pos += 4;
  }
  return out;
}

}  // namespace compel::proc
