// thread_info() against what each thread reads of itself: the target
// thread_state gives every thread per-thread state of its own and reports
// it, word by word as built here from compel's ThreadInfo.  And the parser
// of the status file it reads the credentials from, on bad input.
#include <unistd.h>

#include <map>
#include <sstream>

#include "harness.h"
#include "registry.h"
#include "thread_status.h"  // compel/src

using namespace ctest;
using compel::FrozenTree;
using compel::Infection;

namespace {

// The words targets/thread_state.cpp prints, from a ThreadInfo.
std::string state_words(const compel::ThreadInfo& t) {
  std::string out;
  auto word = [&](const char* key, const std::string& value) { out += std::string(" ") + key + "=" + value; };
  auto num = [](long long v) { return std::to_string(v); };
  word("altstack", num(static_cast<long long>(t.altstack_sp)) + "," + num(static_cast<long long>(t.altstack_size)) +
                       "," + num(t.altstack_flags));
  word("clear_child_tid", num(static_cast<long long>(t.clear_child_tid)));
  word("timer_slack", num(static_cast<long long>(t.timer_slack_ns)));
  word("pdeath_sig", num(t.pdeath_sig));
  for (int kind = 0; kind < 3; kind++) word(("speculation" + std::to_string(kind)).c_str(), num(t.speculation[kind]));
  word("tsc", num(t.tsc));
  word("mce_kill", num(t.mce_kill));
  word("cpuid", num(t.cpuid));
  std::string nodes;
  for (size_t i = 0; i < t.mempolicy_nodes.size(); i++)
    nodes += (i ? "," : "") + num(static_cast<long long>(t.mempolicy_nodes[i]));
  word("mempolicy", num(t.mempolicy_ret) + "," + num(t.mempolicy_mode) + "," + num(t.mempolicy_flags) + "," + nodes);
  const compel::Creds& c = t.creds;
  word("uids", num(c.uid) + "," + num(c.euid) + "," + num(c.suid) + "," + num(c.fsuid));
  word("gids", num(c.gid) + "," + num(c.egid) + "," + num(c.sgid) + "," + num(c.fsgid));
  std::string groups;
  for (size_t i = 0; i < c.groups.size(); i++) groups += (i ? "," : "") + num(c.groups[i]);
  word("groups", groups);
  word("caps", num((long long)c.cap_inh) + "," + num((long long)c.cap_prm) + "," + num((long long)c.cap_eff) + "," +
                   num((long long)c.cap_bnd) + "," + num((long long)c.cap_amb));
  word("securebits", num(c.securebits));
  word("no_new_privs", num(c.no_new_privs));
  return out;
}

std::vector<std::string> split(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The first word that differs, "" if none.
std::string first_difference(const std::string& want, const std::string& got) {
  std::vector<std::string> a = split(want), b = split(got);
  for (size_t i = 0; i < std::max(a.size(), b.size()); i++) {
    std::string x = i < a.size() ? a[i] : "(none)", y = i < b.size() ? b[i] : "(none)";
    if (x != y) return "the thread says " + x + ", compel " + y;
  }
  return "";
}

}  // namespace

COMPEL_TEST(thread_state) {
  Target t("thread_state");
  std::map<pid_t, std::string> want;
  for (;;) {
    std::string line = t.read_line();
    if (line.rfind("ready", 0) == 0) break;
    std::istringstream in(line);
    std::string tag;
    pid_t tid = 0;
    in >> tag >> tid;
    CHECK(tag == "thread" && tid > 0, "target said \"", line, "\"");
    std::string rest;
    std::getline(in, rest);
    want[tid] = rest;
  }
  for (int cycle = 0; cycle < 5; cycle++) {
    FrozenTree tree = FrozenTree::seize(t.pid());
    {
      Infection inf = Infection::infect(tree, t.pid());
      std::vector<compel::ThreadInfo> infos = inf.thread_info();
      CHECK(infos.size() == want.size(), infos.size(), " thread infos for ", want.size(), " threads");
      CHECK(infos[0].tid == t.pid(), "the main thread is not first");
      for (const compel::ThreadInfo& info : infos) {
        CHECK(want.count(info.tid), "thread info of unknown tid ", info.tid);
        std::string diff = first_difference(want[info.tid], state_words(info));
        CHECK(diff.empty(), "cycle ", cycle, ", thread ", info.tid, ": ", diff);
      }
      inf.cure();
    }
    tree.release();
  }
  t.send("stop");
  t.expect_success();
}

COMPEL_TEST(thread_status_parser) {
  std::string error;
  std::string own = read_text("/proc/self/task/" + std::to_string(gettid()) + "/status");
  auto st = compel::proc::parse_thread_status(own, &error);
  CHECK(st, "this thread's status: ", error);
  CHECK(st->uid[0] == getuid() && st->uid[1] == geteuid() && st->gid[0] == getgid());
  const std::string good =
      "Name:\tx\nUid:\t1\t2\t3\t4\nGid:\t5\t6\t7\t8\nGroups:\t9 10 \nCapInh:\t0000000000000001\n"
      "CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000000\n"
      "NoNewPrivs:\t1\nSeccomp:\t0\n";
  st = compel::proc::parse_thread_status(good, &error);
  CHECK(st && st->uid[3] == 4 && st->gid[2] == 7 && st->groups == std::vector<uint32_t>({9, 10}) &&
            st->cap_inh == 1 && st->cap_bnd == 0x1ffffffffffULL && st->cap_amb == 0 && st->no_new_privs,
        error);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  struct Bad {
    std::string text, why;
  };
  for (const Bad& b : {Bad{replaced("Uid:\t1\t2\t3\t4\n", ""), "no Uid line"},
                       Bad{replaced("Gid:\t5\t6\t7\t8", "Gid:\t5\t6\t7"), "malformed Gid line"},
                       Bad{replaced("Groups:\t9 10 ", "Groups:\t9 x"), "malformed Groups line"},
                       Bad{replaced("Uid:\t1", "Uid:\t-1"), "malformed Uid line"},
                       Bad{replaced("Uid:\t1", "Uid:\t4294967296"), "malformed Uid line"},
                       Bad{replaced("CapEff:\t000001ffffffffff", "CapEff:\t1ffffffffffffffff"), "malformed CapEff"},
                       Bad{replaced("NoNewPrivs:\t1\n", ""), "no NoNewPrivs line"},
                       Bad{replaced("NoNewPrivs:\t1", "NoNewPrivs:\t2"), "malformed NoNewPrivs"},
                       Bad{replaced("CapAmb:", "XCapAmb:"), "no CapAmb line"}}) {
    error.clear();
    CHECK(!compel::proc::parse_thread_status(b.text, &error), "accepted: ", b.text);
    CHECK(error.find(b.why) != std::string::npos, "error \"", error, "\", expected \"", b.why, "\"");
  }
  // Groups may be empty.
  st = compel::proc::parse_thread_status(replaced("Groups:\t9 10 ", "Groups:\t"), &error);
  CHECK(st && st->groups.empty(), error);
}
