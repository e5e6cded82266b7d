#include "stats/progress.h"

#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "ckpt/error.h"
#include "stats/stats.h"

namespace ckpt::stats {

namespace {

constexpr auto kQuiet = std::chrono::seconds(1);           // a short command shows nothing
// CKPT_PROGRESS_AFTER_MS: the quiet time for tests, whose dumps on a quiet
// machine may take less than a second.
std::chrono::milliseconds quiet_time() {
  const char* v = getenv("CKPT_PROGRESS_AFTER_MS");
  if (!v || !*v) return kQuiet;
  char* end = nullptr;
  long ms = strtol(v, &end, 10);
  return (*end || ms < 0) ? std::chrono::milliseconds(kQuiet) : std::chrono::milliseconds(ms);
}
constexpr auto kInterval = std::chrono::milliseconds(200);  // five drawings a second

// One write(2) per drawing, so the line is never torn by another writer of
// the terminal; errors (a closed terminal) are no concern of the command.
void put(const std::string& s) {
  ssize_t ignored = ::write(2, s.data(), s.size());
  (void)ignored;
}

}  // namespace

std::string progress_line(const std::string& verb, const std::string& phase, uint64_t done, uint64_t total,
                          double rate_bps) {
  if (done == 0 && total == 0) return verb + ": " + phase;
  std::string s = verb + ": " + human_bytes(done);
  if (total) s += " of " + human_bytes(total < done ? done : total);
  if (rate_bps > 0) s += " (" + human_bytes(uint64_t(rate_bps)) + "/s)";
  return s;
}

Progress::Progress(std::string verb, bool enabled)
    : verb_(std::move(verb)), enabled_(enabled && isatty(2)), start_(Clock::now()), quiet_(quiet_time()) {}

Progress::~Progress() { finish(); }

void Progress::set_part(uint64_t key, uint64_t bytes) { parts_[key] = bytes; }

void Progress::add_done(uint64_t bytes) {
  if (bytes) {
    last_byte_ = Clock::now();
    if (!first_byte_) first_byte_ = last_byte_;
  }
  done_ += bytes;
  tick();
}

void Progress::set_done(uint64_t bytes) {
  if (bytes > done_) {
    last_byte_ = Clock::now();
    if (!first_byte_) first_byte_ = last_byte_;
  }
  done_ = bytes;
  tick();
}

void Progress::set_phase(std::string phase) {
  phase_ = std::move(phase);
  tick();
}

std::string Progress::current_line() const {
  uint64_t total = 0;
  for (const auto& [key, bytes] : parts_) total += bytes;
  double rate = 0;
  if (first_byte_) {
    double s = std::chrono::duration<double>(last_byte_ - *first_byte_).count();
    if (s > 0.05) rate = double(done_) / s;
  }
  // Until the first byte moves, the phase says what is going on.
  if (done_ == 0) return progress_line(verb_, phase_.empty() ? "starting" : phase_, 0, 0, 0);
  return progress_line(verb_, phase_, done_, total, rate);
}

void Progress::tick() {
  if (!enabled_) return;
  auto now = Clock::now();
  if (now - start_ < quiet_ || (drawn_ && now - last_draw_ < kInterval)) return;
  last_draw_ = now;
  draw();
}

void Progress::draw() {
  // \r and "erase to the end of the line": the new line covers the old.
  put("\r\033[K" + current_line());
  drawn_ = true;
}

void Progress::finish() {
  if (drawn_) put("\r\033[K");
  drawn_ = false;
  enabled_ = false;
}

}  // namespace ckpt::stats
