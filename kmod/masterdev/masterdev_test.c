// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_test.c - masterdev's test-only hooks (test builds only:
 * MASTERDMA_TEST=1)
 *
 * inject_warn: set at load, the module WARN()s once so that the harness can
 * show its kernel log judge failing a run.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "masterdev_test.h"

static bool inject_warn;
module_param(inject_warn, bool, 0400);
MODULE_PARM_DESC(inject_warn,
		 "Test only: WARN() at load to prove the harness's log judge (default: off)");

void masterdev_test_load(void)
{
	WARN(inject_warn, "masterdev: inject_warn is set, warning on purpose\n");
}
