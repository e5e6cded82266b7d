// The stats module (src/stats/), the progress line's text, and the JSON of
// --json (src/report/): escaping, the reflection printer, the report.
#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>

#include "image/image.h"
#include "mm.pb.h"
#include "report/json.h"
#include "report/report.h"
#include "stats.pb.h"
#include "stats/progress.h"
#include "stats/stats.h"
#include "temp_dir.h"

using namespace ckpt;

TEST(Stats, HumanBytes) {
  EXPECT_EQ(stats::human_bytes(0), "0 B");
  EXPECT_EQ(stats::human_bytes(1023), "1023 B");
  EXPECT_EQ(stats::human_bytes(1024), "1.0 KiB");
  EXPECT_EQ(stats::human_bytes(512ull << 20), "512 MiB");
  EXPECT_EQ(stats::human_bytes(2ull << 30), "2.0 GiB");
  EXPECT_EQ(stats::human_bytes(1536ull << 20), "1.5 GiB");
  EXPECT_EQ(stats::human_bytes(10ull << 30), "10 GiB");
  EXPECT_EQ(stats::human_bytes(~0ull), "16384 PiB");  // the largest unit, no overflow
  EXPECT_EQ(stats::human_bytes(3ull << 50), "3.0 PiB");
}

TEST(Stats, HumanDuration) {
  EXPECT_EQ(stats::human_duration(400000), "0.4 ms");
  EXPECT_EQ(stats::human_duration(12000000), "12 ms");
  EXPECT_EQ(stats::human_duration(1250000000), "1.25 s");
}

TEST(Stats, SkippedPages) {
  EXPECT_EQ(stats::skipped_pages(100, 60, 10), 30u);
  EXPECT_EQ(stats::skipped_pages(100, 100, 0), 0u);
  EXPECT_EQ(stats::skipped_pages(10, 20, 5), 0u);  // never below zero
}

TEST(Stats, TimedAddsUpAndSurvivesExceptions) {
  uint64_t ns = 0;
  {
    stats::Timed t(ns);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  uint64_t first = ns;
  EXPECT_GE(first, 5000000u);
  try {
    stats::Timed t(ns);
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    throw Error("boom");
  } catch (const Error&) {
  }
  EXPECT_GE(ns, first + 2000000u);  // summed, also when the phase threw
}

TEST(Stats, ImagesRoundTripAndNames) {
  test::TempDir tmp("stats");
  image::ImageDir dir = image::ImageDir::create(tmp.path());
  img::DumpStatsEntry d;
  d.set_freeze_ns(12);
  d.set_pages_written(1u << 20);
  d.set_processes(3);
  stats::write(dir, d);
  img::RestoreStatsEntry r;
  r.set_load_ns(7);
  r.set_bytes_read(1ull << 33);
  stats::write(dir, r);
  r.set_load_ns(8);
  stats::write(dir, r);  // a second restore replaces the first's

  auto parsed = image::parse_filename("stats-dump.img");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->kind, image::Kind::StatsDump);
  EXPECT_FALSE(parsed->id);
  EXPECT_EQ(image::kind_of_filename("stats-restore.img"), image::Kind::StatsRestore);
  EXPECT_FALSE(image::parse_filename("stats-dump-3.img"));  // takes no id
  EXPECT_FALSE(image::parse_filename("stats-.img"));
  EXPECT_EQ(image::kind_of_filename("shmem-pages-3.img"), image::Kind::ShmemPages);
  EXPECT_EQ(image::kind_of_filename("core-12.img"), image::Kind::Core);
  EXPECT_FALSE(image::parse_filename("core-x.img"));
  EXPECT_TRUE(image::holds_one_record(image::Kind::StatsDump));

  img::DumpStatsEntry d2;
  image::ImageReader(dir, image::Kind::StatsDump).read_only(d2);
  EXPECT_EQ(d2.SerializeAsString(), d.SerializeAsString());
  img::RestoreStatsEntry r2;
  image::ImageReader(tmp.file("stats-restore.img")).read_only(r2);
  EXPECT_EQ(r2.load_ns(), 8u);
  EXPECT_EQ(r2.bytes_read(), 1ull << 33);
  EXPECT_EQ(stats::images_bytes(dir), uint64_t(*dir.regular_size(image::Kind::StatsDump) +
                                                *dir.regular_size(image::Kind::StatsRestore)));
}

TEST(Stats, Display) {
  img::DumpStatsEntry d;
  d.set_freeze_ns(3000000);
  d.set_pages_scanned(100);
  d.set_pages_written(60);
  d.set_pages_skipped_zero(40);
  d.set_bytes_written(3ull << 20);
  d.set_processes(2);
  std::string text = stats::display(d);
  EXPECT_NE(text.find("Dump stats:\n"), std::string::npos);
  EXPECT_NE(text.find("  freezing time          3 ms\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  pages skipped (zero)   40\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  bytes written          3145728 (3.0 MiB)\n"), std::string::npos) << text;
  EXPECT_NE(text.find("  processes              2\n"), std::string::npos) << text;
  img::RestoreStatsEntry r;
  r.set_pages_restored(5);
  EXPECT_NE(stats::display(r).find("  pages restored         5\n"), std::string::npos) << stats::display(r);
}

TEST(Progress, Line) {
  EXPECT_EQ(stats::progress_line("dump", "", 512ull << 20, 2ull << 30, 1.1 * (1 << 30)),
            "dump: 512 MiB of 2.0 GiB (1.1 GiB/s)");
  EXPECT_EQ(stats::progress_line("restore", "creating the tree", 0, 0, 0), "restore: creating the tree");
  EXPECT_EQ(stats::progress_line("dump", "", 1 << 20, 0, 0), "dump: 1.0 MiB");
  // An estimate below what is done already shows what is done.
  EXPECT_EQ(stats::progress_line("dump", "", 3ull << 20, 2ull << 20, 0), "dump: 3.0 MiB of 3.0 MiB");
}

TEST(Progress, PartsAndSilenceWithoutTerminal) {
  // ctest runs us with stderr on a pipe or a file; a terminal would see the line.
  if (isatty(2)) GTEST_SKIP() << "stderr is a terminal";
  stats::Progress p("dump", true);
  EXPECT_FALSE(p.active());
  EXPECT_EQ(p.current_line(), "dump: starting");
  p.set_phase("freezing the tree");
  EXPECT_EQ(p.current_line(), "dump: freezing the tree");
  p.set_part(1, 1ull << 30);
  p.set_part(2, 1ull << 30);
  p.set_part(1, 512ull << 20);  // the estimate of part 1 replaced by its exact size
  p.add_done(256ull << 20);
  std::string line = p.current_line();
  EXPECT_EQ(line.rfind("dump: 256 MiB of 1.5 GiB", 0), 0u) << line;
}

TEST(Json, Strings) {
  EXPECT_EQ(report::json_string("plain"), "\"plain\"");
  EXPECT_EQ(report::json_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(report::json_string("l1\nl2\tt\r\b\f"), "\"l1\\nl2\\tt\\r\\b\\f\"");
  EXPECT_EQ(report::json_string(std::string("\x01\x1f\x7f", 3)), "\"\\u0001\\u001f\\u007f\"");
  EXPECT_EQ(report::json_string(std::string("nul\0x", 5)), "\"nul\\u0000x\"");
  EXPECT_EQ(report::json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  // Not UTF-8: a stray byte, a cut sequence, an overlong form, a surrogate.
  EXPECT_EQ(report::json_string("a\xff" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(report::json_string("\xe2\x82"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(report::json_string("\xc0\x80"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(report::json_string("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
  EXPECT_EQ(report::json_string("\xf4\x90\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");  // above U+10FFFF
}

TEST(Json, ObjectAndMessage) {
  report::JsonObject o;
  o.add("s", "x").add("n", uint64_t(~0ull)).add("i", -3).add("b", true).add_raw("a", report::json_array({"1", "{}"}));
  EXPECT_EQ(o.str(), "{\"s\":\"x\",\"n\":18446744073709551615,\"i\":-3,\"b\":true,\"a\":[1,{}]}");

  img::DumpStatsEntry d;
  d.set_freeze_ns(1ull << 40);
  d.set_processes(2);
  // Set fields only, in field order, 64-bit numbers as numbers.
  EXPECT_EQ(report::message_json(d), "{\"freeze_ns\":1099511627776,\"processes\":2}");
  EXPECT_EQ(report::message_json(img::RestoreStatsEntry()), "{}");

  img::MmEntry mm;
  mm.add_auxv(1);
  mm.add_auxv(2);
  img::VmaEntry vma;
  vma.set_kind(img::VMA_ANON_PRIVATE);
  vma.set_name("a\"b");
  std::string mj = report::message_json(mm), vj = report::message_json(vma);
  EXPECT_NE(mj.find("\"auxv\":[1,2]"), std::string::npos) << mj;
  EXPECT_NE(vj.find("\"kind\":\"VMA_ANON_PRIVATE\""), std::string::npos) << vj;
  EXPECT_NE(vj.find("\"name\":\"a\\\"b\""), std::string::npos) << vj;
}

TEST(Report, Ok) {
  report::Report r;
  r.command = "dump";
  r.stats_json = "{\"processes\":1}";
  EXPECT_EQ(report::to_json(r), "{\"command\":\"dump\",\"status\":\"ok\",\"blockers\":[],\"stats\":{\"processes\":1}}");
}

TEST(Report, Classes) {
  using report::FailureClass;
  EXPECT_EQ(report::classify(report::UsageFailure("no -t")), FailureClass::Usage);
  EXPECT_EQ(report::classify(report::Blocked("refused", {})), FailureClass::Blocked);
  EXPECT_EQ(report::classify(image::CorruptedImage("core-1.img", "bad magic")), FailureClass::Images);
  EXPECT_EQ(report::classify(Error("clone3 failed")), FailureClass::Fault);
  EXPECT_EQ(report::classify(std::runtime_error("x")), FailureClass::Fault);
  EXPECT_STREQ(report::class_name(FailureClass::Blocked), "blocked");
}

TEST(Report, Blocked) {
  report::Blocker a;
  a.pid = 12;
  a.fd = 5;
  a.reason = "io_uring is not supported yet";
  a.kind = "io_uring";
  report::Blocker b;
  b.pid = 13;
  b.reason = "it is in another \"net\" namespace";
  b.remedy = "use --external";
  report::Report r = report::failed("dump", report::Blocked("cannot dump the tree of pid 12, for 2 reasons", {a, b}));
  EXPECT_EQ(report::to_json(r),
            "{\"command\":\"dump\",\"status\":\"error\",\"class\":\"blocked\","
            "\"error\":\"cannot dump the tree of pid 12, for 2 reasons\",\"blockers\":["
            "{\"pid\":12,\"fd\":5,\"kind\":\"io_uring\",\"reason\":\"io_uring is not supported yet\","
            "\"text\":\"fd 5 of pid 12: io_uring is not supported yet\"},"
            "{\"pid\":13,\"fd\":null,\"reason\":\"it is in another \\\"net\\\" namespace\",\"remedy\":\"use --external\","
            "\"text\":\"it is in another \\\"net\\\" namespace\"}],\"stats\":{}}");
}

TEST(Report, RunReportedRethrows) {
  testing::internal::CaptureStdout();
  EXPECT_THROW(report::run_reported("restore", true, [](report::Outcome&) -> int { throw Error("pid 7 is taken"); }),
               Error);
  int rc = report::run_reported("restore", true, [](report::Outcome& out) {
    out.stats_json = "{\"processes\":1}";
    return 42;
  });
  EXPECT_EQ(rc, 42);
  EXPECT_EQ(report::run_reported("restore", false, [](report::Outcome&) { return 0; }), 0);  // prints nothing
  std::string printed = testing::internal::GetCapturedStdout();
  EXPECT_EQ(printed,
            "{\"command\":\"restore\",\"status\":\"error\",\"class\":\"fault\",\"error\":\"pid 7 is taken\","
            "\"blockers\":[],\"stats\":{}}\n"
            "{\"command\":\"restore\",\"status\":\"ok\",\"blockers\":[],\"stats\":{\"processes\":1}}\n");
}
