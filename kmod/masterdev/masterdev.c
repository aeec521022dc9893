// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev - reference driver and test vehicle of masterdma.
 *
 * It plays the Master card: streaming interfaces whose DMA rings come from
 * the Master ring allocator, checked from user space by the harness.  At
 * this stage it is the skeleton that the harness builds, loads, judges and
 * unloads; the interfaces arrive with the ring allocator.
 *
 * inject_warn is a test-only knob: set at load, the module WARN()s once so
 * that the harness can show its kernel log judge failing a run.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

static bool inject_warn;
module_param(inject_warn, bool, 0400);
MODULE_PARM_DESC(inject_warn,
		 "Test only: WARN() at load to prove the harness's log judge (default: off)");

static int __init masterdev_init(void)
{
	WARN(inject_warn, "masterdev: inject_warn is set, warning on purpose\n");
	pr_info("loaded\n");
	return 0;
}
module_init(masterdev_init);

static void __exit masterdev_exit(void)
{
	pr_info("unloaded\n");
}
module_exit(masterdev_exit);

MODULE_DESCRIPTION("masterdma reference driver and test vehicle");
MODULE_AUTHOR("masterdma developers");
MODULE_LICENSE("GPL");
