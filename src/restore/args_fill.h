// The restorer's input, built from the images: the header and sections of
// include/ckpt/restorer_args.h, laid out once here in ordinary C++ so that
// the blob only reads them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "restore/layout.h"
#include "restore/restorer_area.h"

namespace ckpt::restore {

// Runs longer than this are split so that one AIO request stays bounded.
inline constexpr uint64_t kMaxIoBytes = 4 << 20;
inline constexpr uint32_t kAioBatch = 128;
// The main thread's stack in the area; the second page reader takes its
// lower half.
inline constexpr uint64_t kMainStackSize = 128 << 10;

// The bytes of the args, ready to copy into the area at layout.args_off.
// Addresses inside the area are offsets from its start (the blob adds it),
// so the args are made before the area is placed.  The vDSO sections are
// the exception: they name addresses around the area, and are written by
// bind_args() once it is placed.
struct ArgsImage {
  std::vector<uint8_t> bytes;
  std::vector<std::pair<pid_t, uint64_t>> threads;  // tid, offset of its ckpt_restorer_thread in bytes
  uint64_t vdso_off = 0;                            // payload of the VDSO section
  uint32_t nr_vdso = 0;
  uint64_t proxy_off = 0, proxy_size = 0;           // payload of the VDSO_PROXY section (0: none)
};

// The area's parts that come before the args: blob, stacks, vDSO parking.
AreaLayout area_layout(const ArgsInputs& in);
ArgsImage build_args(const ArgsInputs& in, const AreaLayout& layout);
// Writes the vDSO sections for the area's place and copies the args in.
void bind_args(ArgsImage& args, const ArgsInputs& in, const RestorerArea& area);

// Whether the target reaches this kernel's vDSO through a proxy at the
// dumped one (see vdso_proxy.h): the vDSO differs, or the tuning says so.
bool needs_vdso_proxy(const ArgsInputs& in);

// The pieces the blob reads: cut at area boundaries (a UFFDIO_COPY stays in
// one area) and to kMaxIoBytes, each marked with how it is filled (by
// UFFDIO_COPY: CKPT_RUN_UFFD, with `uffd`; else pread or AIO) and from
// where: the own pages image, or another process's (CKPT_RUN_OTHER_FILE and
// its helper fd).
// Premapped areas (`premaps`) have none: their pages are in place.
std::vector<ckpt_restorer_run> blob_runs(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, const std::vector<Premap>* premaps = nullptr);

// The guard pages of every area, in address order (CKPT_SECTION_GUARDS).
std::vector<ckpt_restorer_range> guard_ranges(const ProcessImage& p);

// The other processes' pages images the runs read, for the blob's mappings.
std::vector<ckpt_restorer_page_file> page_files(const HelperFiles& h, int helper_fd_first);

// The areas the blob maps: all but the dumped vDSO parts, which are this
// kernel's moved there, or with a proxy, anonymous stand-ins.
// A premapped area is moved from its premap.
std::vector<ckpt_restorer_vma> blob_vmas(const ProcessImage& p, const HelperFiles& h, int helper_fd_first,
                                         bool uffd, bool vdso_proxy = false,
                                         const std::vector<Premap>* premaps = nullptr);

// The premaps, by address (CKPT_SECTION_KEEP).
std::vector<ckpt_restorer_range> keep_ranges(const std::vector<Premap>* premaps);

}  // namespace ckpt::restore
