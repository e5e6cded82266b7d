/* The blob's restorer_fail for the test: it records the step and jumps
 * back to the test instead of ending the task. */
#include <setjmp.h>

#include "restorer.h"

jmp_buf restorer_test_jump;
uint32_t restorer_test_step;
uint64_t restorer_test_arg0;

void restorer_fail(struct ckpt_restorer_args *a, uint32_t step, long ret, uint64_t arg0, uint64_t arg1)
{
	(void)a;
	(void)ret;
	(void)arg1;
	restorer_test_step = step;
	restorer_test_arg0 = arg0;
	longjmp(restorer_test_jump, 1);
}
