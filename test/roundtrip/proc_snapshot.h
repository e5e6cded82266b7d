// What /proc says about every task of a tree, taken before a dump and after
// the restore and compared field by field, so that a piece of state the dump
// forgets fails the round trip even when the program's own check does not
// look at it.
//
// A snapshot maps a scope to its fields.  A scope is "pid 812" (what the
// process shares: memory areas, fds, limits, namespaces...) or
// "pid 812 tid 815" (one thread: status, stat, scheduling...).  A field's
// name says where its value comes from: "status SigBlk", "stat nice",
// "smaps 7f10a000-7f10b000 VmFlags", "fdinfo 3 pos", "limits Max open files".
//
// Fields that legitimately change across a round trip (times, counters,
// which pages happen to be resident...) are listed, each with its reason,
// in proc_snapshot.cpp; everything else must be equal.  A second list there
// holds the known losses that are being fixed (issue 8): a temporary
// allow-list, reported but not failing, to be emptied as the fixes land.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rt {

using Fields = std::map<std::string, std::string>;

struct ProcSnapshot {
  std::map<std::string, Fields> scopes;  // "pid P" / "pid P tid T" -> fields
};

// --- parsers: the text of one /proc file into fields (unit-tested) ---------

// /proc/T/status: "status NAME" for every line.
void parse_status(std::string_view text, Fields& out);
// /proc/T/stat: "stat NAME" for every field after the pid (names of proc(5)).
void parse_stat(std::string_view text, Fields& out);
// /proc/T/smaps: per area "smaps START-END area" (perms, offset, name),
// "smaps START-END file" (dev:inode of a named file still linked) and
// "smaps START-END KEY" for every other line (Size, VmFlags, ...).
void parse_smaps(std::string_view text, Fields& out);
// /proc/T/numa_maps: "numa_maps START policy" -> "default", "bind:0"...
void parse_numa_maps(std::string_view text, Fields& out);
// After both: neighbouring anonymous areas alike in everything but their
// amounts of memory are made one (amounts added, one numa_maps line).
void coalesce_areas(Fields& f);
// /proc/T/limits: "limits Max open files" -> "soft hard units".
void parse_limits(std::string_view text, Fields& out);
// /proc/T/fdinfo/FD, knowing the fd's link target: "fdinfo FD KEY".
void parse_fdinfo(std::string_view fd, std::string_view target, std::string_view text, Fields& out);
// "PREFIX KEY" for each "KEY: value" or "KEY value" line (ksm_stat,
// timens_offsets...); a repeated key gets its value's first word added.
void parse_keyed_lines(std::string_view prefix, std::string_view text, Fields& out);
// /proc/T/mountinfo: "mountinfo ID" -> the rest of the line.
void parse_mountinfo(std::string_view text, Fields& out);
// /proc/P/timers: "timers ID" -> signal, notify and clock of each timer.
void parse_timers(std::string_view text, Fields& out);

// "pipe:[4711]" style targets name an inode a restore cannot keep: each
// distinct one becomes "pipe:#1", "pipe:#2"... in the order first met, so
// that which fds share an object still compares.
class InodeNames {
 public:
  std::string name(const std::string& target);

 private:
  std::map<std::string, std::string> seen_;
  std::map<std::string, int> count_;
};

// --- taking snapshots --------------------------------------------------------

// root and all its descendants (found by their ppid), every thread of each.
ProcSnapshot snapshot_tree(pid_t root);

// The snapshot as text, one "scope: field: value" line each (kept in the
// work directory for whoever reads a failure).
std::string to_text(const ProcSnapshot& snap);

// --- comparing ---------------------------------------------------------------

struct FieldDiff {
  std::string scope, field;  // field empty: the whole scope is on one side only
  std::optional<std::string> before, after;
};

// Every difference in a field not excluded as legitimately changing.
std::vector<FieldDiff> diff_snapshots(const ProcSnapshot& before, const ProcSnapshot& after);

// `pid 812 tid 815: status SigBlk: before "...", after "..."`
std::string describe(const FieldDiff& d);

struct Judgement {
  std::vector<std::string> unexpected;    // fails the test
  std::vector<std::string> known_losses;  // allowed for now, with the reason
  std::vector<std::string> skipped;       // by this test's own --snapshot-skip
};

// Sorts the differences: a field matching one of skips (fnmatch patterns
// given by the test; "(gone)" and "(new)" for a task on one side only) or
// the known-loss list is allowed, others are not.
Judgement judge(const std::vector<FieldDiff>& diffs, const std::vector<std::string>& skips);

// The legitimate-change list as "PATTERN: reason" lines (for docs and -h).
std::vector<std::string> legitimate_changes();

}  // namespace rt
