// Kernel interfaces newer than the installed headers (Debian 12 ships 6.1
// uapi headers).  PAGEMAP_SCAN (6.7) comes from the mem module's copy so that
// the tool has one definition of it; the userfaultfd additions (6.7) are
// here.  The values are the kernel's ABI; each is skipped when the headers
// have it.
#pragma once

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

#include "mem/pagemap_uapi.h"

#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13)
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
