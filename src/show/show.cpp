#include "show/show.h"

#include <dirent.h>
#include <google/protobuf/util/json_util.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

#include "commands.h"
#include "image/image.h"
#include "show/summary.h"

namespace ckpt::show {

namespace {

std::string base_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string record_json(const google::protobuf::Message& record, const std::string& file) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  auto status = google::protobuf::util::MessageToJsonString(record, &json, options);
  if (!status.ok()) throw Error("cannot show image " + file + ": " + std::string(status.message()));
  return json;
}

// Page data is summarised: its bytes mean nothing without the pagemap.
std::string pages_json(const std::string& path, const struct stat& st, const char* magic) {
  long page = sysconf(_SC_PAGESIZE);
  if (st.st_size % page != 0)
    throw image::CorruptedImage(
        path, format("size %lld is not a multiple of the page size %ld", (long long)st.st_size, page));
  return format(R"({"magic": "%s", "size": %lld, "pages": %lld})", magic, (long long)st.st_size,
                (long long)(st.st_size / page));
}

std::string records_json(const std::string& path) {
  image::ImageReader reader(path);
  const image::KindInfo& kind = image::info(reader.kind());
  std::unique_ptr<google::protobuf::Message> record(kind.prototype->New());
  std::string out = format(R"({"magic": "%s", "version": %u, "entries": [)", kind.name, reader.version());
  bool first = true;
  unsigned count = 0;
  while (reader.read(*record)) {
    // Inventory, core and fs images hold one record: anything after it is
    // garbage, as restore sees it.
    if (++count == 2 && image::holds_one_record(reader.kind()))
      throw image::CorruptedImage(path, format("a second record, where a %s image holds one", kind.name));
    out += first ? "\n" : ",\n";
    out += "  " + record_json(*record, path);
    first = false;
  }
  if (!first) out += "\n";
  return out + "]}";
}

std::string file_json(const std::string& path, const struct stat& st) {
  auto parsed = image::parse_filename(base_name(path));
  if (!parsed) throw Error("cannot show " + path + ": not the name of an image file (such as core-1.img)");
  // Never a symlink followed, a FIFO waited on, a device read.
  if (!S_ISREG(st.st_mode))
    throw Error("cannot read image " + path + ": it is " + image::file_type_name(st.st_mode) + ", not a regular file");
  const image::KindInfo& kind = image::info(parsed->kind);
  if (!kind.prototype) return pages_json(path, st, kind.name);
  return records_json(path);
}

std::vector<std::string> image_names(const std::string& dir) {
  std::unique_ptr<DIR, int (*)(DIR*)> d(opendir(dir.c_str()), closedir);
  if (!d) throw sys_error("cannot open images directory " + dir);
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d.get()))
    if (image::kind_of_filename(e->d_name)) names.push_back(e->d_name);
  std::sort(names.begin(), names.end());
  return names;
}

// Files that are not images (dump.log, leftovers "*.tmp") are skipped.
std::string dir_json(const std::string& dir) {
  std::string out = "{";
  bool first = true;
  for (const std::string& name : image_names(dir)) {
    std::string path = dir.back() == '/' ? dir + name : dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) < 0) throw sys_error("cannot show " + path);
    out += first ? "\n" : ",\n";
    out += "\"" + name + "\": " + file_json(path, st);
    first = false;
  }
  return out + (first ? "}" : "\n}");
}

}  // namespace

std::string to_json(const std::string& path) {
  struct stat st;
  // The last component is not followed: an image named on the command
  // line is checked like one in a directory.
  if (lstat(path.c_str(), &st) < 0) throw sys_error("cannot show " + path);
  if (S_ISDIR(st.st_mode)) return dir_json(path);
  return file_json(path, st);
}

}  // namespace ckpt::show

namespace ckpt {

// Every path is shown before anything is printed, so a corrupted image
// yields an error alone rather than half a document.
int run_show(const cli::Options& opts) {
  std::string out;
  int tables = int(opts.show_ps) + int(opts.show_fds) + int(opts.show_mems);
  if (tables > 0) {
    // The tables describe a set: one directory.
    if (opts.paths.size() != 1) throw Error("show --ps, --fds and --mems take one images directory");
    struct stat st;
    if (stat(opts.paths[0].c_str(), &st) < 0) throw sys_error("cannot show " + opts.paths[0]);
    if (!S_ISDIR(st.st_mode)) throw Error("cannot show " + opts.paths[0] + ": --ps, --fds and --mems take a directory");
    std::vector<std::string> parts;
    if (opts.show_ps) parts.push_back(show::ps_table(opts.paths[0]));
    if (opts.show_fds) parts.push_back(show::fds_table(opts.paths[0]));
    if (opts.show_mems) parts.push_back(show::mems_table(opts.paths[0]));
    for (size_t i = 0; i < parts.size(); i++) out += (i ? "\n" : "") + parts[i];
    fputs(out.c_str(), stdout);
    return 0;
  }
  for (const std::string& path : opts.paths) out += show::to_json(path) + "\n";
  fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace ckpt
