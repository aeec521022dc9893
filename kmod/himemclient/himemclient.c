// SPDX-License-Identifier: GPL-2.0
/*
 * himemclient - a second owner of high-memory regions, for the tests
 *
 * At load it allocates @regions regions of @size_kb KiB from allocator.ko
 * and fills each with its own byte through memremap().  At unload it frees
 * them only if @free_at_exit is set; by default it leaves them, as a buggy
 * driver would, and the allocator reclaims them and names this module.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "master/allocator.h"

#define HIMEMCLIENT_MAX		16

static unsigned int regions = 3;
module_param(regions, uint, 0444);
MODULE_PARM_DESC(regions, "regions to allocate at load (1-16, default 3)");

static unsigned int size_kb = 64;
module_param(size_kb, uint, 0444);
MODULE_PARM_DESC(size_kb, "KiB per region (default 64)");

static bool free_at_exit;
module_param(free_at_exit, bool, 0444);
MODULE_PARM_DESC(free_at_exit, "free the regions at unload (default: leave them to the allocator)");

static unsigned long himemclient_start[HIMEMCLIENT_MAX];

static void himemclient_free(void)
{
	unsigned int i;

	for (i = 0; i < regions; i++)
		if (himemclient_start[i])
			allocator_free_dma(himemclient_start[i]);
}

static int himemclient_fill(unsigned int i)
{
	size_t size = (size_t)size_kb << 10;
	void *p = memremap(himemclient_start[i], size, MEMREMAP_WB);

	if (!p)
		return -ENOMEM;
	memset(p, 0xc0 + i, size);
	memunmap(p);
	return 0;
}

static int __init himemclient_init(void)
{
	unsigned int i;
	int ret = 0;

	if (!regions || regions > HIMEMCLIENT_MAX || !size_kb) {
		pr_err("regions=%u size_kb=%u: want 1-%d regions of at least 1 KiB\n",
		       regions, size_kb, HIMEMCLIENT_MAX);
		return -EINVAL;
	}
	for (i = 0; i < regions && !ret; i++) {
		himemclient_start[i] = allocator_allocate_dma((unsigned long)size_kb << 10,
							      GFP_KERNEL);
		ret = himemclient_start[i] ? himemclient_fill(i) : -ENOMEM;
	}
	if (ret) {
		himemclient_free();
		return ret;
	}
	pr_info("%u regions of %u KiB\n", regions, size_kb);
	return 0;
}
module_init(himemclient_init);

static void __exit himemclient_exit(void)
{
	if (free_at_exit)
		himemclient_free();
}
module_exit(himemclient_exit);

MODULE_DESCRIPTION("A second owner of high-memory regions, for the tests");
MODULE_LICENSE("GPL");
