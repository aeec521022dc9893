/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocator_test.h - the allocator's test-only hooks, in one place.
 *
 * A test build (make MASTERDMA_TEST=1) gets fault points on every
 * allocation and mapping of the allocator, in both of its builds:
 * fail_nth, fail_times and fail_log in its debugfs directory
 * (master/faults.h), and test_fail_nth, a module parameter that arms
 * fail_nth at load (before the debugfs directory exists) so that a sweep
 * reaches the claim.  A production build gets the stubs below.  Included
 * once, by allocator.c.
 */
#ifndef ALLOCATOR_TEST_H
#define ALLOCATOR_TEST_H

#ifdef MASTERDMA_TEST
#include <linux/moduleparam.h>

#include "master/faults.h"

static struct master_faults allocator_faults = MASTER_FAULTS_INIT;

/*
 * allocator_test_fail() - the allocator's fault point: "claim", "memremap",
 * "extent" (bookkeeping), "owner", "reply", "event".  True: fail.
 */
static inline bool allocator_test_fail(const char *site)
{
	return master_fault(&allocator_faults, site);
}

static inline void allocator_test_debugfs(struct dentry *dir)
{
	master_faults_debugfs(&allocator_faults, dir);
}

static int test_fail_nth;
module_param(test_fail_nth, int, 0400);
MODULE_PARM_DESC(test_fail_nth,
		 "Test only: the Nth fault point from load on fails (default: 0, none)");

static inline void allocator_test_load(void)
{
	if (test_fail_nth > 0)
		master_fail_nth_set(&allocator_faults, test_fail_nth);
}
#else
/* Fault point: a production build never fails on purpose. */
static inline bool allocator_test_fail(const char *site)
{
	return false;
}

static inline void allocator_test_debugfs(struct dentry *dir)
{
}

static inline void allocator_test_load(void)
{
}
#endif

#endif /* ALLOCATOR_TEST_H */
