// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_main.c - allocator.ko: the allocator (allocator_core.c) as a
 * module of its own, shared by several drivers
 *
 * Claims the RAM above mem= at load and registers the netlink family
 * (allocator_netlink.c); the core exports the API (master/allocator.h)
 * because this module's Kbuild defines ALLOCATOR_EXPORTS.  A driver that
 * links the allocator in has none of this file.
 */
#include <linux/module.h>

#include "allocator_internal.h"
#include "master/allocator.h"

static int __init allocator_module_init(void)
{
	int ret = allocator_init();

	if (ret)
		return ret;
	ret = allocator_nl_register();
	if (ret)
		allocator_cleanup();
	return ret;
}
module_init(allocator_module_init);

/* No region can be live: each holds a reference on this module. */
static void __exit allocator_module_exit(void)
{
	allocator_cleanup();
	allocator_nl_unregister();
}
module_exit(allocator_module_exit);

MODULE_DESCRIPTION("DMA regions from the RAM above mem=, shared by several drivers");
MODULE_LICENSE("GPL");
