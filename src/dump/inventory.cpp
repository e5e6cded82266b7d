#include "dump/inventory.h"

#include <sys/utsname.h>

#include "ckpt/error.h"
#include "image/image.h"
#include "version.h"

namespace ckpt::dump {

img::InventoryEntry make_inventory(uint32_t root_pid, uint32_t page_size, bool shell_job, uint64_t dump_time_ns) {
  struct utsname u;
  if (uname(&u) < 0) throw sys_error("uname");
  img::InventoryEntry inv;
  inv.set_img_version(image::kFormatVersion);
  inv.set_tool_version(CKPT_VERSION);
  inv.set_kernel(u.release);
  inv.set_arch("x86_64");
  inv.set_root_pid(root_pid);
  inv.set_page_size(page_size);
  inv.set_dump_time_ns(dump_time_ns);
  inv.set_shell_job(shell_job);
  return inv;
}

}  // namespace ckpt::dump
