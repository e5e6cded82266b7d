// Guard pages in a locked area (mlock after MADV_GUARD_INSTALL: the kernel
// locks the area, though mlock reports ENOMEM for the guard pages).  The
// kernel installs no guard pages in a locked area, so the restore could not
// make it again: the dump must refuse it by name and leave the program
// running as it was (its guard still faults, its data is there).
#include <errno.h>

#include "arealib.h"

int main() {
  rt::block_term();
  constexpr size_t kPages = 8;
  auto* a = static_cast<char*>(mmap(nullptr, kPages * rt::kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  RT_CHECK(a != MAP_FAILED, "mmap");
  rt::fill_pages(a, 0, kPages, 0x10c);
  if (madvise(a + 2 * rt::kPage, rt::kPage, MADV_GUARD_INSTALL) != 0) {
    printf("SKIP: MADV_GUARD_INSTALL is not supported here\n");
    rt::pass();
  }
  (void)mlock(a, kPages * rt::kPage);  // ENOMEM for the guard page; the area is locked all the same
  RT_CHECK(rt::area_of(a, "the locked area").has("lo"), "the area is not locked");
  rt::ready();
  rt::wait_term();
  RT_CHECK(rt::area_of(a, "the locked area").has("lo"), "the area is no longer locked");
  RT_CHECK(rt::faults(a + 2 * rt::kPage), "the guard page does not fault");
  rt::check_pages(a, 0, 2, 0x10c, "the locked area");
  rt::check_pages(a, 3, kPages - 3, 0x10c, "the locked area");
  rt::pass();
}
