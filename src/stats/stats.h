// What a dump or a restore took: phase timers and counters, collected while
// the command runs, kept as stats-dump.img / stats-restore.img (images/
// stats.proto) and printed by --display-stats.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "image/image.h"
#include "stats.pb.h"

namespace ckpt::stats {

using Clock = std::chrono::steady_clock;

inline uint64_t ns_between(Clock::time_point from, Clock::time_point to) {
  return to > from ? uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(to - from).count()) : 0;
}
inline uint64_t ns_since(Clock::time_point from) { return ns_between(from, Clock::now()); }

// Adds the time from its construction to its destruction to a counter: a
// phase that happens once per process is summed over them, also when it
// ends by an exception.
class Timed {
 public:
  explicit Timed(uint64_t& ns) : ns_(ns), start_(Clock::now()) {}
  ~Timed() { ns_ += ns_since(start_); }
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;

 private:
  uint64_t& ns_;
  Clock::time_point start_;
};

// Scanned pages that hold nothing to save: what is neither written nor
// found in the parent's image (never below zero, whatever the counts).
uint64_t skipped_pages(uint64_t scanned, uint64_t written, uint64_t shared);

// The anonymous memory resident in a process (/proc/PID/statm): what a
// dump of it will write, about; 0 if it cannot be read.
uint64_t anon_resident_bytes(pid_t pid);

// The bytes of every image file of the set in `dir` (pages included).
uint64_t images_bytes(const image::ImageDir& dir);

// stats-dump.img / stats-restore.img in the images directory, replacing
// the one there (one record, through the image layer).
void write(const image::ImageDir& dir, const img::DumpStatsEntry& entry);
void write(const image::ImageDir& dir, const img::RestoreStatsEntry& entry);

// --display-stats: a few lines a person reads.
std::string display(const img::DumpStatsEntry& e);
std::string display(const img::RestoreStatsEntry& e);

// "0 B", "512 KiB", "512 MiB", "2.0 GiB": binary units, a decimal only
// below 10 of a unit above bytes.
std::string human_bytes(uint64_t bytes);
// "0.4 ms", "12 ms", "1.25 s"
std::string human_duration(uint64_t ns);

}  // namespace ckpt::stats
