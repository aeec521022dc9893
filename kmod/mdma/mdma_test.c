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
 * /sys/kernel/debug/mdma/fail_nth: the fault points.  Writing N makes the
 * Nth call of mdma_test_fail() from now fail (0 disarms), and the
 * fail_times - 1 calls after it (fail_times: 1 unless written); reading
 * gives the calls left before the first failure (0: none, or disarmed).
 * Every allocation and mapping of mdma goes through one, so that a sweep of
 * N executes every error path in turn.
 * /sys/kernel/debug/mdma/fail_log: "<injected> <site>", how many failures
 * were injected and the site of the last.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kstrtox.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/seq_file.h>

#include "mdma_internal.h"

static int test_layout_bug;
module_param(test_layout_bug, int, 0600);
MODULE_PARM_DESC(test_layout_bug,
		 "Test only: 1 packs one tail too many per page, 2 skips a page (default: 0)");

int mdma_test_layout_bug(void)
{
	return READ_ONCE(test_layout_bug);
}

static atomic_t mdma_fail_from = ATOMIC_INIT(0);	/* N; 0: disarmed */
static atomic_t mdma_fail_calls = ATOMIC_INIT(0);	/* since armed */
static atomic_t mdma_fail_times = ATOMIC_INIT(1);
static atomic_t mdma_fail_injected = ATOMIC_INIT(0);
static const char *mdma_fail_site = "none";

/**
 * mdma_test_fail() - a fault point
 * @site: what would fail ("ring", "array", "pages", "page", "map", "pool",
 *	"desc", "event"), for fail_log
 *
 * Context: any context.
 * Return: true for the calls fail_nth and fail_times armed (the Nth from
 * the arming on, and the fail_times - 1 after it): the caller fails as if
 * its allocation or mapping had.
 */
bool mdma_test_fail(const char *site)
{
	int from = atomic_read(&mdma_fail_from);
	int call;

	if (from <= 0)
		return false;
	call = atomic_inc_return(&mdma_fail_calls);
	if (call < from)
		return false;
	if (call >= from + atomic_read(&mdma_fail_times) - 1)
		atomic_set(&mdma_fail_from, 0);
	WRITE_ONCE(mdma_fail_site, site);
	atomic_inc(&mdma_fail_injected);
	return true;
}

static int mdma_fail_nth_get(void *data, u64 *val)
{
	int from = atomic_read(&mdma_fail_from);

	*val = from > 0 ? max(from - atomic_read(&mdma_fail_calls), 0) : 0;
	return 0;
}

static int mdma_fail_nth_set(void *data, u64 val)
{
	if (val > INT_MAX)
		return -EINVAL;
	atomic_set(&mdma_fail_from, 0);
	atomic_set(&mdma_fail_calls, 0);
	atomic_set(&mdma_fail_from, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mdma_fail_nth_fops, mdma_fail_nth_get,
			 mdma_fail_nth_set, "%llu\n");

static int mdma_fail_times_get(void *data, u64 *val)
{
	*val = atomic_read(&mdma_fail_times);
	return 0;
}

static int mdma_fail_times_set(void *data, u64 val)
{
	if (!val || val > INT_MAX)
		return -EINVAL;
	atomic_set(&mdma_fail_times, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(mdma_fail_times_fops, mdma_fail_times_get,
			 mdma_fail_times_set, "%llu\n");

static int mdma_fail_log_show(struct seq_file *m, void *v)
{
	seq_printf(m, "%d %s\n", atomic_read(&mdma_fail_injected),
		   READ_ONCE(mdma_fail_site));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mdma_fail_log);

void mdma_test_init(struct dentry *root)
{
	debugfs_create_file_unsafe("fail_nth", 0600, root, NULL,
				   &mdma_fail_nth_fops);
	debugfs_create_file_unsafe("fail_times", 0600, root, NULL,
				   &mdma_fail_times_fops);
	debugfs_create_file("fail_log", 0400, root, NULL, &mdma_fail_log_fops);
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

void mdma_test_debugfs_add(struct mdma_ring *ring)
{
	debugfs_create_file("corrupt", 0200, ring->debugfs, ring,
			    &mdma_corrupt_fops);
}
