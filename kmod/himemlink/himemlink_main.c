// SPDX-License-Identifier: GPL-2.0
/*
 * himemlink - a driver with the high-memory allocator linked in
 *
 * The seed's linked build: init calls allocator_init(), exit calls
 * allocator_cleanup(), which frees whatever is still allocated, and no other
 * module can allocate.  While allocator.ko holds the memory this fails to
 * load with -EBUSY, and the other way round.
 *
 * At load a self-test allocates a table of sizes and checks that each
 * region is page-aligned, above the kernel's memory and apart from the
 * others, and that bytes written through memremap() read back; then that
 * bad frees are refused, a freed hole is reused, and exhaustion returns 0.
 * It leaves one region for allocator_cleanup().  A failure fails the load.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sizes.h>

#include "master/allocator.h"

static const unsigned long himemlink_sizes[] = {
	1, PAGE_SIZE, PAGE_SIZE + 1, 5, 3 * PAGE_SIZE, SZ_1M,
};

#define HIMEMLINK_CASES		ARRAY_SIZE(himemlink_sizes)
#define HIMEMLINK_HOLE		2	/* the case freed and allocated again */

struct himemlink_case {
	unsigned long start;
	unsigned long size;
};

static int himemlink_expect(const char *what, unsigned long got,
			    unsigned long want)
{
	if (got == want)
		return 0;
	pr_err("self-test: %s: got %#lx, expected %#lx\n", what, got, want);
	return -EIO;
}

/* Each region page-aligned, above the kernel's memory, apart from the rest. */
static int himemlink_check_layout(struct himemlink_case *c)
{
	unsigned long low = __pa(high_memory - 1) + 1;
	int i, j;

	for (i = 0; i < HIMEMLINK_CASES; i++) {
		if (!c[i].start || !PAGE_ALIGNED(c[i].start) || c[i].start < low) {
			pr_err("self-test: case %d (%lu bytes) at %#lx\n", i,
			       himemlink_sizes[i], c[i].start);
			return -EIO;
		}
		for (j = 0; j < i; j++) {
			if (c[i].start < c[j].start + c[j].size &&
			    c[j].start < c[i].start + c[i].size) {
				pr_err("self-test: cases %d and %d overlap\n", j, i);
				return -EIO;
			}
		}
	}
	return 0;
}

/* Fill every region with its own byte, then read them all back. */
static int himemlink_check_bytes(struct himemlink_case *c)
{
	unsigned long off;
	int i, ret = 0;
	u8 *p;

	for (i = 0; i < HIMEMLINK_CASES; i++) {
		p = memremap(c[i].start, c[i].size, MEMREMAP_WB);
		if (!p)
			return -ENOMEM;
		memset(p, 0xa0 + i, c[i].size);
		memunmap(p);
	}
	for (i = 0; i < HIMEMLINK_CASES && !ret; i++) {
		p = memremap(c[i].start, c[i].size, MEMREMAP_WB);
		if (!p)
			return -ENOMEM;
		for (off = 0; off < c[i].size && !ret; off++)
			ret = himemlink_expect("byte read back", p[off], 0xa0 + i);
		memunmap(p);
	}
	return ret;
}

/* Bad frees refused, the hole reused, a too large request refused. */
static int himemlink_check_frees(struct himemlink_case *c)
{
	struct himemlink_case *hole = &c[HIMEMLINK_HOLE];
	int ret;

	ret = himemlink_expect("free", allocator_free_dma(hole->start), 0);
	ret = ret ?: himemlink_expect("double free",
				      allocator_free_dma(hole->start), -EINVAL);
	ret = ret ?: himemlink_expect("interior free",
				      allocator_free_dma(c[4].start + PAGE_SIZE),
				      -EINVAL);
	ret = ret ?: himemlink_expect("free of 0", allocator_free_dma(0), -EINVAL);
	ret = ret ?: himemlink_expect("hole reused",
				      allocator_allocate_dma(hole->size, GFP_KERNEL),
				      hole->start);
	ret = ret ?: himemlink_expect("too large",
				      allocator_allocate_dma(ULONG_MAX / 2, GFP_KERNEL),
				      0);
	return ret;
}

static int himemlink_selftest(void)
{
	struct himemlink_case c[HIMEMLINK_CASES];
	int i, ret;

	for (i = 0; i < HIMEMLINK_CASES; i++) {
		c[i].size = PAGE_ALIGN(himemlink_sizes[i]);
		c[i].start = allocator_allocate_dma(himemlink_sizes[i], GFP_KERNEL);
	}
	ret = himemlink_check_layout(c);
	ret = ret ?: himemlink_check_bytes(c);
	ret = ret ?: himemlink_check_frees(c);
	/* Case 0 stays allocated: allocator_cleanup() frees it. */
	for (i = 1; i < HIMEMLINK_CASES; i++)
		if (c[i].start)
			allocator_free_dma(c[i].start);
	if (!ret)
		pr_info("self-test passed: %zu regions; one left for cleanup\n",
			HIMEMLINK_CASES);
	return ret;
}

static int __init himemlink_init(void)
{
	int ret = allocator_init();

	if (ret)
		return ret;
	if (!allocator_enabled()) {
		pr_info("the allocator is disabled: no self-test\n");
		return 0;
	}
	ret = himemlink_selftest();
	if (ret)
		allocator_cleanup();
	return ret;
}
module_init(himemlink_init);

static void __exit himemlink_exit(void)
{
	allocator_cleanup();
}
module_exit(himemlink_exit);

MODULE_DESCRIPTION("A driver with the high-memory allocator linked in, and its self-test");
MODULE_LICENSE("GPL");
