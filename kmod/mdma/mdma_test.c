// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_test.c - mdma's test-only hooks (test builds only: MASTERDMA_TEST=1)
 *
 * test_layout_bug (module parameter): 1 packs one tail too many per page,
 * 2 leaves the first page unused, so that the harness shows it notices.
 * /sys/kernel/debug/mdma/<ring>/corrupt (write-only): writing a fragment
 * number points that fragment's descriptor at the next fragment, so that
 * the harness can show its device checks failing.
 *
 * /sys/kernel/debug/mdma/fail_nth, fail_times, fail_log: the fault points
 * (master/faults.h).  Every allocation and mapping of mdma goes through
 * one, so that a sweep of N executes every error path in turn.
 *
 * test_leak_page, test_leak_ring (module parameters): deliberate leaks that
 * the harness's page-leak oracle and kmemleak must catch.
 *
 * /sys/kernel/debug/mdma/<ring>/data (read-write): the ring's data bytes
 * (buffer * bufsize + offset) through mdma_ring_copy_{to,from}_user(), so
 * that the harness calls the copy API with any position and count,
 * zero included.
 *
 * test_dirty_pages (module parameter): rings take their pages without
 * __GFP_ZERO, so that the harness shows its zero-fill tests catching a ring
 * that hands earlier data to user space.
 *
 * test_dump_batch (module parameter): a netlink ring dump sends at most this
 * many rings per part (0: as many as fit), so that a test can free a ring
 * between two parts of a dump of the few rings a guest has.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "master/faults.h"
#include "mdma_internal.h"

static int test_layout_bug;
module_param(test_layout_bug, int, 0600);
MODULE_PARM_DESC(test_layout_bug,
		 "Test only: 1 packs one tail too many per page, 2 skips a page (default: 0)");

int mdma_test_layout_bug(void)
{
	return READ_ONCE(test_layout_bug);
}

static struct master_faults mdma_faults = MASTER_FAULTS_INIT;

/**
 * mdma_test_fail() - mdma's fault point
 * @site: what would fail ("ring", "array", "pages", "page", "map", "pool",
 *	"desc", "event", "reply"), for fail_log
 *
 * Context: any context.
 * Return: true for the calls fail_nth and fail_times armed.
 */
bool mdma_test_fail(const char *site)
{
	return master_fault(&mdma_faults, site);
}

static bool test_leak_page;
module_param(test_leak_page, bool, 0600);
MODULE_PARM_DESC(test_leak_page,
		 "Test only: every freed ring keeps one page (default: off)");

static bool test_leak_ring;
module_param(test_leak_ring, bool, 0600);
MODULE_PARM_DESC(test_leak_ring,
		 "Test only: every freed ring forgets its kmalloc'd struct (default: off)");

/**
 * mdma_test_leak() - a deliberate leak, to prove the oracles catch one
 * @what: MDMA_LEAK_PAGE (one page per freed ring, for the page-leak oracle)
 *	or MDMA_LEAK_RING (the ring's struct, for kmemleak)
 *
 * Return: true when the knob for @what is on: the caller skips that free.
 */
bool mdma_test_leak(enum mdma_leak what)
{
	return what == MDMA_LEAK_PAGE ? READ_ONCE(test_leak_page) :
					READ_ONCE(test_leak_ring);
}

void mdma_test_init(struct dentry *root)
{
	master_faults_debugfs(&mdma_faults, root);
}

/**
 * mdma_ring_corrupt() - test only: point one descriptor at the next fragment
 * @ring: the ring, idle
 * @index: fragment whose descriptor is rewritten
 *
 * The descriptor keeps its length, flags and chain but takes the bus address
 * of fragment @index + 1 (or 0), so a device still writes inside the ring.
 *
 * Return: 0, or -EINVAL if @index is beyond the ring or it has one fragment.
 */
static int mdma_ring_corrupt(struct mdma_ring *ring, u64 index)
{
	struct mdma_desc_slot *descs = ring->descs.mem;
	const struct mdma_desc_ops *ops = ring->ops;
	u64 other = index + 1 == ring->pointers ? 0 : index + 1;
	void *desc;

	if (index >= ring->nr_descs || other == index)
		return -EINVAL;
	desc = descs[index].cpu;
	ops->fill(desc, ops->addr(descs[other].cpu), ops->len(desc),
		  ops->next(desc), ops->flags(desc), ring->params.dir);
	return 0;
}

static ssize_t mdma_corrupt_write(struct file *file, const char __user *buf,
				  size_t count, loff_t *ppos)
{
	struct mdma_ring *ring = file->private_data;
	u64 index;
	int ret;

	ret = kstrtou64_from_user(buf, count, 0, &index);
	if (!ret)
		ret = mdma_ring_corrupt(ring, index);
	return ret ?: count;
}

static const struct file_operations mdma_corrupt_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.write = mdma_corrupt_write,
};

static ssize_t mdma_data_read(struct file *file, char __user *buf,
			      size_t count, loff_t *ppos)
{
	ssize_t ret = mdma_ring_copy_to_user(file->private_data, *ppos, buf,
					     count);

	if (ret > 0)
		*ppos += ret;
	return ret;
}

static ssize_t mdma_data_write(struct file *file, const char __user *buf,
			       size_t count, loff_t *ppos)
{
	ssize_t ret = mdma_ring_copy_from_user(file->private_data, *ppos, buf,
					       count);

	if (ret > 0)
		*ppos += ret;
	return ret;
}

static const struct file_operations mdma_data_fops = {
	.owner = THIS_MODULE,
	.open = simple_open,
	.read = mdma_data_read,
	.write = mdma_data_write,
	.llseek = default_llseek,
};

void mdma_test_debugfs_add(struct mdma_ring *ring)
{
	debugfs_create_file("corrupt", 0200, ring->debugfs, ring,
			    &mdma_corrupt_fops);
	debugfs_create_file("data", 0600, ring->debugfs, ring, &mdma_data_fops);
}

static unsigned int test_dump_batch;
module_param(test_dump_batch, uint, 0600);
MODULE_PARM_DESC(test_dump_batch,
		 "Test only: rings per part of a netlink dump, 0 for as many as fit (default: 0)");

/**
 * mdma_test_dump_batch() - rings per part of a netlink ring dump
 *
 * Return: the test_dump_batch knob; 0 means no limit.
 */
unsigned int mdma_test_dump_batch(void)
{
	return READ_ONCE(test_dump_batch);
}

static bool test_dirty_pages;
module_param(test_dirty_pages, bool, 0600);
MODULE_PARM_DESC(test_dirty_pages,
		 "Test only: ring pages keep what they held before (default: off)");

/**
 * mdma_test_zero() - the zeroing flag of a ring's page allocations
 *
 * Return: __GFP_ZERO, or 0 while test_dirty_pages is set.
 */
gfp_t mdma_test_zero(void)
{
	return READ_ONCE(test_dirty_pages) ? 0 : __GFP_ZERO;
}

/**
 * mdma_test_descs() - time a ring's descriptor path on its own
 * @dev: the device the descriptors are for
 * @ops: descriptor format
 * @count: descriptors, at least 1
 * @ns: filled with the ns to allocate them ([0]) and to free them ([1])
 *
 * Runs the same mdma_descs_alloc() and mdma_descs_free() a ring uses (its
 * dma_pools of MDMA_POOL_PAGES pages), without pages or mappings, so that
 * the benchmark module can set it beside one kernel dma_pool.
 *
 * Context: process context; sleeps.
 * Return: 0, -EINVAL for a count of 0, or -ENOMEM.
 */
int mdma_test_descs(struct device *dev, const struct mdma_desc_ops *ops,
		    u64 count, u64 ns[2])
{
	struct mdma_ring *ring;
	u64 start;
	int ret;

	if (!count)
		return -EINVAL;
	ring = kzalloc(sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return -ENOMEM;
	ring->dev = dev;
	ring->ops = ops;
	ring->pointers = count;
	strscpy(ring->name, "mdma-descs", sizeof(ring->name));
	mdma_reach_init(ring);
	ret = mdma_array_alloc(&ring->descs, count, sizeof(struct mdma_desc_slot));
	if (ret)
		goto free_ring;
	start = ktime_get_ns();
	ret = mdma_descs_alloc(ring);
	ns[0] = ktime_get_ns() - start;
	start = ktime_get_ns();
	mdma_descs_free(ring);
	ns[1] = ktime_get_ns() - start;
	mdma_array_free(&ring->descs);
free_ring:
	kfree(ring);
	return ret;
}
EXPORT_SYMBOL_GPL(mdma_test_descs);
