/* SPDX-License-Identifier: GPL-2.0 */
/*
 * masterdev_test.h - masterdev's test-only hooks, in one place.
 *
 * Compiled in only by a test build (make MASTERDMA_TEST=1); a production
 * build gets the stubs below and contains none of them.
 */
#ifndef MASTERDEV_TEST_H
#define MASTERDEV_TEST_H

struct dentry;
struct masterdev_iface;

#ifdef MASTERDMA_TEST
void masterdev_test_load(struct dentry *dir);
bool masterdev_test_fail(const char *site);
void masterdev_test_lock_order(struct masterdev_iface *iface);
unsigned int masterdev_test_edu_timeout_ms(unsigned int ms);
bool masterdev_test_skip_sync(void);
void masterdev_test_edu_returned(void __iomem *cmd, u32 running);
#else
static inline void masterdev_test_load(struct dentry *dir)
{
}

/* Fault point: a production build never fails on purpose. */
static inline bool masterdev_test_fail(const char *site)
{
	return false;
}

static inline void masterdev_test_lock_order(struct masterdev_iface *iface)
{
}

static inline unsigned int masterdev_test_edu_timeout_ms(unsigned int ms)
{
	return ms;
}

static inline void masterdev_test_edu_returned(void __iomem *cmd, u32 running)
{
}

/* A production build always syncs. */
static inline bool masterdev_test_skip_sync(void)
{
	return false;
}
#endif

#endif /* MASTERDEV_TEST_H */
