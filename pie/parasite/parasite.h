/* Commands of the parasite; each returns 0 (or a count) or -errno and, on
 * failure, may note the failing source line in args->failed_line. */
#ifndef CKPT_PARASITE_H
#define CKPT_PARASITE_H

#include <linux/errno.h>

#include "ckpt/parasite_proto.h"

#define PARASITE_FAIL(args, err) ((args)->failed_line = __LINE__, (long)(err))

long parasite_process_info(struct parasite_args *args, struct parasite_process_info *out);
long parasite_timers(struct parasite_timers *t);
/* mempolicy.c */
void parasite_read_mempolicy(uint64_t addr, int32_t *ret, struct ckpt_mempolicy *out);
long parasite_area_policies(struct parasite_area_policies *p);
long parasite_pipe_open(struct parasite_args *args, struct parasite_pipe *p);
long parasite_vmsplice(struct parasite_vmsplice *v, int sock);

#endif
