/* Common ground of the freestanding blobs: raw syscalls and the handful of
 * string routines in lib/.  Only the compiler's freestanding headers
 * (stddef.h, stdint.h) and the kernel's uapi headers (<linux/...>, <asm/...>)
 * may be included: there is no libc.  Structures shared with the host live in
 * include/ckpt/ as plain C. */
#ifndef CKPT_PIE_H
#define CKPT_PIE_H

#include <stddef.h>
#include <stdint.h>
#include <asm/unistd.h>

typedef long ssize_t;

void *memcpy(void *dst, const void *src, unsigned long n);
void *memmove(void *dst, const void *src, unsigned long n);
void *memset(void *dst, int c, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

/* The blob's entry point: the linker script puts this section first. */
#define BLOB_ENTRY __attribute__((section(".text.entry"), used))

static inline long sys_call6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}
#define sys_call0(nr) sys_call6(nr, 0, 0, 0, 0, 0, 0)
#define sys_call1(nr, a) sys_call6(nr, (long)(a), 0, 0, 0, 0, 0)
#define sys_call2(nr, a, b) sys_call6(nr, (long)(a), (long)(b), 0, 0, 0, 0)
#define sys_call3(nr, a, b, c) sys_call6(nr, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sys_call4(nr, a, b, c, d) sys_call6(nr, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)
#define sys_call5(nr, a, b, c, d, e) sys_call6(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e), 0)

#endif
