// PAGEMAP_SCAN (Linux 6.7) for headers older than the kernel (Debian 12 ships
// 6.1 uapi headers).  The values are the kernel's ABI; the block is skipped
// when <linux/fs.h> has them.
#pragma once

#include <linux/fs.h>
#include <linux/types.h>
#include <sys/ioctl.h>

#ifndef PAGEMAP_SCAN
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)

struct page_region {
  __u64 start;
  __u64 end;
  __u64 categories;
};

#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)

struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end;
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#endif

// Guard pages (MADV_GUARD_INSTALL); PAGEMAP_SCAN reports them since Linux
// 6.14 and refuses the bit (EINVAL) before.  Older kernels count them as
// swapped.
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD (1 << 8)
#endif

static_assert(sizeof(struct page_region) == 24, "page_region is 24 bytes in the kernel ABI");
static_assert(sizeof(struct pm_scan_arg) == 96, "pm_scan_arg is 96 bytes in the kernel ABI");
