/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mdma_test.h - mdma's test-only hooks, in one place.
 *
 * They are compiled in only by a test build (make MASTERDMA_TEST=1, what the
 * harness builds); a production build gets the stubs below, so the modules
 * users load have no test parameter, file or branch (a check of the
 * production .ko files proves it).
 */
#ifndef MDMA_TEST_H
#define MDMA_TEST_H

#include <linux/gfp.h>

struct mdma_ring;

/* Test-only layout bugs, to prove the harness notices them. */
enum mdma_layout_bug {
	MDMA_BUG_NONE = 0,
	MDMA_BUG_EXTRA_TAIL = 1,	/* pack one tail too many per page */
	MDMA_BUG_SKIP_PAGE = 2,		/* leave the first page unused */
};

/* Test-only leaks, to prove the leak oracles catch one. */
enum mdma_leak {
	MDMA_LEAK_PAGE,		/* one page per freed ring */
	MDMA_LEAK_RING,		/* the ring's struct */
};

struct dentry;
struct device;
struct mdma_desc_ops;

#ifdef MASTERDMA_TEST
#define MDMA_TEST_BUILD	1
int mdma_test_layout_bug(void);
void mdma_test_debugfs_add(struct mdma_ring *ring);
void mdma_test_init(struct dentry *root);
bool mdma_test_fail(const char *site);
bool mdma_test_leak(enum mdma_leak what);
unsigned int mdma_test_dump_batch(void);
gfp_t mdma_test_zero(void);
/* for kmod/bench; a production build has no such symbol */
int mdma_test_descs(struct device *dev, const struct mdma_desc_ops *ops,
		    u64 count, u64 ns[2]);
#else
#define MDMA_TEST_BUILD	0
static inline int mdma_test_layout_bug(void)
{
	return MDMA_BUG_NONE;
}

static inline void mdma_test_debugfs_add(struct mdma_ring *ring)
{
}

static inline void mdma_test_init(struct dentry *root)
{
}

/* Fault point: a production build never fails on purpose. */
static inline bool mdma_test_fail(const char *site)
{
	return false;
}

static inline bool mdma_test_leak(enum mdma_leak what)
{
	return false;
}

/* Rings per part of a netlink dump: no limit in a production build. */
static inline unsigned int mdma_test_dump_batch(void)
{
	return 0;
}

/* Ring pages are always zeroed in a production build. */
static inline gfp_t mdma_test_zero(void)
{
	return __GFP_ZERO;
}
#endif

#endif /* MDMA_TEST_H */
