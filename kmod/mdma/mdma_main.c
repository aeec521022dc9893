// SPDX-License-Identifier: GPL-2.0
/*
 * mdma - the Master ring allocator, module glue: debugfs root, statistics.
 *
 * The allocator itself is in mdma_ring.c; descriptor formats in
 * mdma_desc.c; user copies and mmap in mdma_user.c; debugfs reports in
 * mdma_debugfs.c; the generic netlink family in mdma_netlink.c; the list
 * of rings both report, with its notifiers, in mdma_registry.c; test-only
 * hooks in mdma_test.c (test builds only).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
#include <linux/moduleparam.h>

#include "mdma_internal.h"

atomic_long_t mdma_pages_in_use = ATOMIC_LONG_INIT(0);
atomic_t mdma_rings = ATOMIC_INIT(0);

static int __init mdma_init(void)
{
	int ret = mdma_nl_register();

	if (ret)
		return ret;
	mdma_debugfs_init();
	return 0;
}
module_init(mdma_init);

static void __exit mdma_exit(void)
{
	mdma_debugfs_exit();
	mdma_nl_unregister();
}
module_exit(mdma_exit);

MODULE_DESCRIPTION("Master ring allocator: DMA rings of pages and packed tails");
MODULE_AUTHOR("masterdma developers");
MODULE_LICENSE("GPL");
