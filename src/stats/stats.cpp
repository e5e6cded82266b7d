#include "stats/stats.h"

#include <unistd.h>

#include <cstdio>

#include "ckpt/error.h"
#include "proc/read.h"

namespace ckpt::stats {

uint64_t skipped_pages(uint64_t scanned, uint64_t written, uint64_t shared) {
  uint64_t kept = written + shared;
  return scanned > kept ? scanned - kept : 0;
}

uint64_t anon_resident_bytes(pid_t pid) {
  try {
    // "size resident shared text lib data dt", in pages; shared is the
    // resident pages of files and shared memory.
    unsigned long long size = 0, resident = 0, shared = 0;
    std::string statm = proc::read_file(proc::path(pid, "statm"));
    if (sscanf(statm.c_str(), "%llu %llu %llu", &size, &resident, &shared) != 3 || shared > resident) return 0;
    return (resident - shared) * uint64_t(sysconf(_SC_PAGESIZE));
  } catch (const Error&) {
    return 0;  // an estimate only
  }
}

uint64_t images_bytes(const image::ImageDir& dir) {
  uint64_t total = 0;
  for (const std::string& name : dir.image_names()) {
    std::optional<image::ParsedFilename> parsed = image::parse_filename(name);
    if (!parsed) continue;
    if (std::optional<uint64_t> size = dir.regular_size(parsed->kind, parsed->id)) total += *size;
  }
  return total;
}

void write(const image::ImageDir& dir, const img::DumpStatsEntry& entry) {
  image::ImageWriter w(dir, image::Kind::StatsDump);
  w.write(entry);
  w.commit();
}

void write(const image::ImageDir& dir, const img::RestoreStatsEntry& entry) {
  image::ImageWriter w(dir, image::Kind::StatsRestore);
  w.write(entry);
  w.commit();
}

std::string human_bytes(uint64_t bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = double(bytes);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    u++;
  }
  if (u == 0) return format("%llu B", (unsigned long long)bytes);
  // Below 10 a decimal says something; above, whole units are enough.
  if (v < 10) return format("%.1f %s", v, units[u]);
  return format("%.0f %s", v, units[u]);
}

std::string human_duration(uint64_t ns) {
  double ms = double(ns) / 1e6;
  if (ms < 1) return format("%.1f ms", ms);
  if (ms < 1000) return format("%.0f ms", ms);
  return format("%.2f s", ms / 1000);
}

namespace {

std::string line(const char* name, const std::string& value) { return format("  %-22s %s\n", name, value.c_str()); }

std::string pages(uint64_t n) { return format("%llu", (unsigned long long)n); }

}  // namespace

std::string display(const img::DumpStatsEntry& e) {
  std::string out = "Dump stats:\n";
  out += line("freezing time", human_duration(e.freeze_ns()));
  out += line("memory dump time", human_duration(e.memory_ns()));
  out += line("files dump time", human_duration(e.files_ns()));
  out += line("write and commit time", human_duration(e.write_ns()));
  out += line("total time", human_duration(e.total_ns()));
  out += line("frozen time", human_duration(e.frozen_ns()));
  out += line("pages scanned", pages(e.pages_scanned()));
  out += line("pages written", pages(e.pages_written()));
  out += line("pages skipped (zero)", pages(e.pages_skipped_zero()));
  out += line("pages shared (parent)", pages(e.pages_shared()));
  out += line("bytes written", format("%llu (%s)", (unsigned long long)e.bytes_written(),
                                      human_bytes(e.bytes_written()).c_str()));
  out += line("processes", format("%u", e.processes()));
  out += line("threads", format("%u", e.threads()));
  out += line("file descriptors", format("%u", e.fds()));
  return out;
}

std::string display(const img::RestoreStatsEntry& e) {
  std::string out = "Restore stats:\n";
  out += line("loading time", human_duration(e.load_ns()));
  out += line("forking time", human_duration(e.fork_ns()));
  out += line("files time (sum)", human_duration(e.files_ns()));
  out += line("memory time (sum)", human_duration(e.memory_ns()));
  out += line("release time", human_duration(e.release_ns()));
  out += line("total time", human_duration(e.total_ns()));
  out += line("pages restored", pages(e.pages_restored()));
  out += line("bytes read", format("%llu (%s)", (unsigned long long)e.bytes_read(),
                                   human_bytes(e.bytes_read()).c_str()));
  out += line("processes", format("%u", e.processes()));
  out += line("threads", format("%u", e.threads()));
  out += line("file descriptors", format("%u", e.fds()));
  return out;
}

}  // namespace ckpt::stats
