// The progress line of a long dump or restore: on a terminal only, after the
// first second, a few times a second, on stderr:
//
//     dump: 512 MiB of 2.0 GiB (1.1 GiB/s)
//
// erased when the command ends.  Nothing is ever written when stderr is not
// a terminal, so logs and pipes never see it.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ckpt::stats {

// The line itself (no terminal codes): "VERB: DONE of TOTAL (RATE/s)", or
// "VERB: PHASE" before any byte is counted.  rate_bps <= 0: no rate yet.
std::string progress_line(const std::string& verb, const std::string& phase, uint64_t done, uint64_t total,
                          double rate_bps);

class Progress {
 public:
  using Clock = std::chrono::steady_clock;
  // Shown if `enabled` and stderr is a terminal.
  Progress(std::string verb, bool enabled);
  ~Progress();  // erases the line
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool active() const { return enabled_; }
  // The total is the sum of parts (one per process, say), each replaced
  // when a better figure for it is known.
  void set_part(uint64_t key, uint64_t bytes);
  void add_done(uint64_t bytes);
  void set_done(uint64_t bytes);
  // What is happening while no bytes move ("reading images").
  void set_phase(std::string phase);
  // Redraws if the first second is over and the last drawing is old enough;
  // cheap enough to call for every chunk of pages.
  void tick();
  // Erases the line (if one was drawn); later calls draw nothing.
  void finish();

  // For tests: the line as it would be drawn now.
  std::string current_line() const;

 private:
  void draw();

  std::string verb_;
  std::string phase_;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_, last_draw_{};
  std::chrono::milliseconds quiet_;  // nothing is drawn before (1 s; CKPT_PROGRESS_AFTER_MS for tests)
  // The rate is over the time bytes moved, not the waits after them.
  std::optional<Clock::time_point> first_byte_;
  Clock::time_point last_byte_{};
  uint64_t done_ = 0;
  std::map<uint64_t, uint64_t> parts_;
};

}  // namespace ckpt::stats
