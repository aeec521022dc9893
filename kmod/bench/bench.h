/* SPDX-License-Identifier: GPL-2.0 */
/*
 * bench.h - the benchmark module's parts (test builds only)
 *
 * Every case writes its figures as "key=value" words, one line per
 * repetition, into a struct bench_out that debugfs hands to user space;
 * times are ns from ktime_get_ns(), sizes bytes or pages as named.
 */
#ifndef MASTERBENCH_H
#define MASTERBENCH_H

#include <linux/gfp.h>
#include <linux/types.h>

struct device;

/*
 * Every allocation of the benchmark fails rather than wake the OOM killer
 * or warn: on a fragmented machine the seed's GFP_KERNEL kmalloc() of an
 * order-3 array did (orders up to 3 retry for ever), and killed the
 * benchmark; counts come from root's debugfs writes.
 */
#define BENCH_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

/**
 * struct bench_out - the text of one command's result
 * @buf: NUL-terminated text
 * @len: bytes of text
 * @cap: bytes of @buf
 * @overflow: a line did not fit and was left out; the command fails with
 *	-EOVERFLOW rather than hand back a cut figure
 */
struct bench_out {
	char *buf;
	size_t len;
	size_t cap;
	bool overflow;
};

__printf(2, 3) void bench_printf(struct bench_out *out, const char *fmt, ...);

/* bench_ring.c: rings, descriptors, fragmentation */
int bench_ring(struct device *dev, struct bench_out *out, char **argv, int argc);
int bench_descs(struct device *dev, struct bench_out *out, char **argv, int argc);
int bench_fragment(struct bench_out *out, char **argv, int argc);
int bench_largest(struct device *dev, struct bench_out *out, char **argv, int argc);
void bench_unfragment(void);

/* bench_himem.c: the high-memory allocator against gen_pool and a list */
int bench_himem(struct bench_out *out, char **argv, int argc);
int bench_himem_threads(struct bench_out *out, char **argv, int argc);

#endif /* MASTERBENCH_H */
