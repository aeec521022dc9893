// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_example - a driver using the high-memory allocator
 *
 * allocator.ko has claimed the RAM above mem=; this driver asks it for one
 * region of @size_kb KiB, maps it to write a pattern from the CPU, and gives
 * it back at unload.  The region is physical memory: a device reaches it at
 * the bus address dma_map_resource() returns for it (the physical address
 * itself only without an IOMMU).  Built against the standalone
 * allocator (exported symbols): the module loader loads allocator.ko first.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/io.h>
#include <linux/module.h>

#include "master/allocator.h"

static unsigned int size_kb = 256;
module_param(size_kb, uint, 0444);
MODULE_PARM_DESC(size_kb, "KiB to allocate (default 256)");

static unsigned long example_region;

static int __init example_init(void)
{
	size_t bytes = (size_t)size_kb << 10;
	void *cpu;

	if (!size_kb)
		return -EINVAL;
	example_region = allocator_allocate_dma(bytes, GFP_KERNEL);
	if (!example_region)
		return -ENOMEM;	/* no allocator RAM, or not that much free */

	cpu = memremap(example_region, bytes, MEMREMAP_WB);
	if (!cpu) {
		allocator_free_dma(example_region);
		return -ENOMEM;
	}
	memset(cpu, 0x5a, bytes);
	memunmap(cpu);
	pr_info("%u KiB of high memory for the device\n", size_kb);
	return 0;
}
module_init(example_init);

static void __exit example_exit(void)
{
	/* 0, or -EINVAL for an address the allocator never gave this module */
	WARN_ON(allocator_free_dma(example_region));
}
module_exit(example_exit);

MODULE_DESCRIPTION("Example: a region of high memory from allocator.ko");
MODULE_LICENSE("GPL");
