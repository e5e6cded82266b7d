// Shared memory objects: the pure part of recording them once for a whole
// tree (which ranges of an object to save, what the kernel's names for them
// say) and the data ranges of a file, by SEEK_DATA.
//
// A shmem object (shared anonymous memory, a memfd, a SysV segment) is
// known by its inode; several processes, areas and fds may use it.  Its
// pages are saved once, in an image of its own, and restore creates it once
// in ckpt and hands it to every process that maps it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mem/page_scan.h"

namespace ckpt::mem {

// Adds [r.start, r.end) to `set`, kept sorted and merged (touching ranges
// become one).  Empty ranges are ignored.
void add_range(std::vector<PageRange>& set, PageRange r);

// The parts of the ranges of `a` that lie in the ranges of `b` (both sorted
// and merged), sorted and merged.
std::vector<PageRange> intersect(const std::vector<PageRange>& a, const std::vector<PageRange>& b);

// [start, end) widened to whole pages.
PageRange page_align(PageRange r, uint64_t page);

// The data of the file `fd` within [from, to) (file offsets), page aligned,
// by SEEK_DATA/SEEK_HOLE: holes are left out; a shmem object's swapped-out
// pages count as data.  `what` names the file in errors.
std::vector<PageRange> file_data_ranges(int fd, uint64_t from, uint64_t to, uint64_t page, const std::string& what);

// The name memfd_create() was given, from the file's name ("/memfd:jit" ->
// "jit"), or nullopt if it is not a memfd's name.
std::optional<std::string> memfd_name(const std::string& file_name);

// The key of a SysV segment from its file's name ("/SYSV0000abcd" ->
// 0xabcd), or nullopt if it is not one.
std::optional<int32_t> sysv_key(const std::string& file_name);

// Where to recreate a deleted file whose path is taken by another file:
// next to it, "PATH.ckpt-ghost-N".
std::string ghost_alternative(const std::string& path, int n);

// "/a/b/c" -> "/a/b"; "/c" -> "/".
std::string parent_dir(const std::string& path);

// Where deleted directories of a ghost directory `path` with `deleted_parents`
// deleted ancestors were: the directory, then its deleted ancestors, parent
// first ("/w/a/b", 1 -> {"/w/a/b", "/w/a"}).  A deleted file whose directory
// is one of these is made in it at restore.
std::vector<std::string> deleted_dir_paths(const std::string& path, int deleted_parents);

}  // namespace ckpt::mem
