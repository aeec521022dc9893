/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocator_test.h - the allocator's test-only hooks, in one place
 *
 * A test build (make MASTERDMA_TEST=1) compiles allocator_test.c into both
 * builds of the allocator; a production build gets the stubs below and
 * contains none of it.
 */
#ifndef ALLOCATOR_TEST_H
#define ALLOCATOR_TEST_H

#include <linux/types.h>

struct dentry;

#ifdef MASTERDMA_TEST
bool allocator_test_fail(const char *site);
void allocator_test_debugfs(struct dentry *dir);
void allocator_test_load(void);
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
