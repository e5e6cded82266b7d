#include "verify/verify.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <set>

#include "ckpt/log.h"
#include "commands.h"
#include "image/manifest.h"

namespace ckpt::verify {

namespace {

const std::string kManifest = image::filename(image::Kind::Manifest);

// What is wrong with one listed file, or "".
std::string check_file(const image::ImageDir& dir, const image::FileDigest& want) {
  struct stat st;
  if (fstatat(dir.fd(), want.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return "missing";
    return std::string("cannot stat it: ") + strerror(errno);
  }
  if (!S_ISREG(st.st_mode)) return "it is " + image::file_type_name(st.st_mode) + ", not a regular file";
  uint64_t size = uint64_t(st.st_size);
  if (size < want.size)
    return format("truncated (%llu of %llu bytes)", (unsigned long long)size, (unsigned long long)want.size);
  if (size > want.size)
    return format("%llu bytes, longer than the %llu in the manifest (appended to, or replaced?)",
                  (unsigned long long)size, (unsigned long long)want.size);
  try {
    image::FileDigest got = image::digest_file(dir, want.name, want.size);
    if (got.size != want.size)
      return format("changed size while it was read (%llu bytes read, %llu in the manifest)",
                    (unsigned long long)got.size, (unsigned long long)want.size);
    if (got.sha256 != want.sha256) return "SHA-256 differs (byte flipped?)";
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// The stats images: stats-dump.img is written once the set is committed
// (it times the commit), stats-restore.img by each restore.  Neither is a
// part of the set the manifest vouches for.
bool written_after_manifest(const std::string& name) {
  auto parsed = image::parse_filename(name);
  return parsed && (parsed->kind == image::Kind::StatsDump || parsed->kind == image::Kind::StatsRestore);
}

}  // namespace

Result check(const image::ImageDir& dir) {
  Result r;
  std::optional<uint64_t> size;
  try {
    size = dir.regular_size(image::Kind::Manifest);
  } catch (const Error& e) {
    r.problems.push_back(kManifest + ": " + e.what());
    return r;
  }
  if (!size) {
    r.problems.push_back(kManifest +
                         ": missing: the images are incomplete (the dump did not finish, or a ckpt without "
                         "manifests made them)");
    return r;
  }
  std::vector<image::FileDigest> listed;
  try {
    listed = image::read_manifest(dir);
  } catch (const Error& e) {
    r.problems.push_back(kManifest + ": " + e.what());
    return r;
  }
  r.has_manifest = true;
  r.files = listed.size();
  std::set<std::string> names;
  for (const image::FileDigest& f : listed) {
    names.insert(f.name);
    r.bytes += f.size;
    std::string what = check_file(dir, f);
    if (!what.empty()) r.problems.push_back(f.name + ": " + what);
  }
  for (const std::string& name : dir.image_names())
    if (name != kManifest && !names.count(name) && !written_after_manifest(name))
      r.problems.push_back(name + ": not in the manifest");
  return r;
}

void require_verified(const image::ImageDir& dir) {
  auto start = std::chrono::steady_clock::now();
  if (!dir.exists(image::Kind::Manifest))
    throw image::BadImages("images in " + dir.path() + " are incomplete: no " + kManifest +
                " (the dump did not finish, or a ckpt without manifests made them)");
  Result r = check(dir);
  if (!r.problems.empty()) {
    std::string msg = format("cannot restore from %s: its images do not match %s (%zu %s):", dir.path().c_str(),
                             kManifest.c_str(), r.problems.size(), r.problems.size() == 1 ? "problem" : "problems");
    for (const std::string& p : r.problems) msg += "\n  " + p;
    throw image::BadImages(msg);
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  LOG_INFO("Verified %zu images (%.1f MiB) against %s in %.0f ms", r.files, double(r.bytes) / (1 << 20),
           kManifest.c_str(), ms);
}

}  // namespace ckpt::verify

namespace ckpt {

// Problems go to stdout, one line each (the output of the command); the
// verdict's summary line too.
int run_verify(const cli::Options& opts) {
  int status = 0;
  for (const std::string& path : opts.paths) {
    image::ImageDir dir = image::ImageDir::open(path);
    verify::Result r = verify::check(dir);
    for (const std::string& p : r.problems) printf("%s\n", p.c_str());
    if (r.problems.empty()) {
      printf("%s: %zu images verified\n", path.c_str(), r.files);
    } else {
      fprintf(stderr, "ckpt verify: %s: %zu %s\n", path.c_str(), r.problems.size(),
              r.problems.size() == 1 ? "problem" : "problems");
      status = 1;
    }
  }
  fflush(stdout);
  return status;
}

}  // namespace ckpt
