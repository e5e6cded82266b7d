// mmap and madvise values newer than the uapi headers of the build (Debian
// 12 ships 6.1 headers).  The values are the kernel's ABI.
#pragma once

#include <sys/mman.h>

// A mapping type (like MAP_PRIVATE, not combined with it) whose pages the
// kernel may drop under memory pressure; implies wipe-on-fork and
// dont-dump (Linux 6.11).
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif

// Guard pages: any access faults (SIGSEGV), without splitting the area
// (Linux 6.13).
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#define MADV_GUARD_REMOVE 103
#endif
