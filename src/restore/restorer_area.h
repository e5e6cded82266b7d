// The restorer area: one MAP_SHARED anonymous mapping, made by ckpt at an
// address where neither ckpt nor the target has anything, holding the blob,
// the threads' stacks, the vDSO parking spot and the blob's arguments.  The task inherits it
// at the same address when it is created; being shared, ckpt sees the blob's
// status word.  ckpt's own view is unmapped when the owner dies.
#pragma once

#include <cstdint>
#include <vector>

#include "ckpt/restorer_args.h"
#include "proc/maps.h"
#include "restore/helper_files.h"
#include "restore/layout.h"
#include "restore/premap.h"
#include "restore/process_image.h"
#include "restore/vdso.h"
#include "restore/vdso_proxy.h"

namespace ckpt::restore {

struct ArgsInputs;

class RestorerArea {
 public:
  RestorerArea() = default;
  RestorerArea(RestorerArea&& o) noexcept { *this = std::move(o); }
  RestorerArea& operator=(RestorerArea&& o) noexcept;
  RestorerArea(const RestorerArea&) = delete;
  RestorerArea& operator=(const RestorerArea&) = delete;
  ~RestorerArea();

  uint64_t start() const { return start_; }
  uint64_t end() const { return start_ + layout_.total; }
  const AreaLayout& layout() const { return layout_; }
  ckpt_restorer_args* args() const { return reinterpret_cast<ckpt_restorer_args*>(start_ + layout_.args_off); }
  uint64_t blob_entry() const { return start_ + layout_.blob_off; }
  // Where the main thread's stack starts (16-byte aligned, as just before a call).
  uint64_t stack_top() const;
  // The blob's record of thread `tid` (its phase), or null.
  const ckpt_restorer_thread* thread(pid_t tid) const;

  // Maps the area at `addr` (MAP_FIXED_NOREPLACE) and copies the blob in.
  static RestorerArea map_at(uint64_t addr, const AreaLayout& layout);

 private:
  uint64_t start_ = 0;
  AreaLayout layout_;
  std::vector<std::pair<pid_t, uint64_t>> threads_;  // tid, offset from args()
  friend RestorerArea build_restorer_area(const ArgsInputs& in, const std::vector<proc::MapsEntry>& own_maps);
};

// What the arguments are made of besides the images.
struct ArgsInputs {
  const ProcessImage* image;
  int helper_fd_first;              // slot i of HelperFiles lives at helper_fd_first + i
  const HelperFiles* helpers;
  std::vector<VdsoPart> our_vdso;   // ckpt's vDSO parts
  std::vector<uint8_t> our_vdso_build_id;
  VdsoFunctions our_vdso_functions; // for a vDSO proxy
  uint64_t task_size;
  const Tuning* tuning;
  const std::vector<Premap>* premaps = nullptr;  // its premapped areas
};

// Places and fills the area: finds a gap clear of ckpt's maps and the
// target's areas, maps it there and writes args, arrays and the sigframe.
RestorerArea build_restorer_area(const ArgsInputs& in, const std::vector<proc::MapsEntry>& own_maps);

}  // namespace ckpt::restore
