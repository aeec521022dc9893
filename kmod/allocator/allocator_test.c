// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_test.c - the allocator's test-only hooks (test builds only:
 * MASTERDMA_TEST=1), in both of its builds
 *
 * Fault points on every allocation and mapping of the allocator: fail_nth,
 * fail_times and fail_log in its debugfs directory (master/faults.h), and
 * test_fail_nth, a module parameter that arms fail_nth at load (before the
 * debugfs directory exists) so that a sweep reaches the claim.
 */
#include <linux/moduleparam.h>

#include "allocator_test.h"
#include "master/faults.h"

static struct master_faults allocator_faults = MASTER_FAULTS_INIT;

/**
 * allocator_test_fail() - the allocator's fault point
 * @site: what would fail ("claim", "memremap", "extent" (bookkeeping),
 *	"owner", "reply", "event"), for fail_log
 *
 * Context: any context.
 * Return: true for the calls fail_nth and fail_times armed.
 */
bool allocator_test_fail(const char *site)
{
	return master_fault(&allocator_faults, site);
}

void allocator_test_debugfs(struct dentry *dir)
{
	master_faults_debugfs(&allocator_faults, dir);
}

static int test_fail_nth;
module_param(test_fail_nth, int, 0400);
MODULE_PARM_DESC(test_fail_nth,
		 "Test only: the Nth fault point from load on fails (default: 0, none)");

void allocator_test_load(void)
{
	if (test_fail_nth > 0)
		master_fail_nth_set(&allocator_faults, test_fail_nth);
}
