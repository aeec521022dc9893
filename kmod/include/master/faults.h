/* SPDX-License-Identifier: GPL-2.0 */
/*
 * faults.h - fault points shared by every masterdma module's test build.
 *
 * Each module has one struct master_faults and its debugfs directory gets
 * three files from master_faults_debugfs(), in the spirit of the kernel's
 * /proc/<pid>/fail-nth:
 *
 *   fail_nth   (0600) writing N makes the Nth call of master_fault() from
 *              now fail (0 disarms), and the fail_times - 1 calls after it;
 *              reading gives the calls left before the first failure (0:
 *              none, or disarmed).
 *   fail_times (0600) how many calls fail in a row once the Nth is reached
 *              (default 1).
 *   fail_log   (0400) "<injected> <site>": failures injected so far and the
 *              site of the last.
 *
 * Every allocation and mapping of a module goes through a fault point, so a
 * sweep of N = 1, 2, ... executes every error path in turn.  Include this
 * header only from a module's test file (compiled by make MASTERDMA_TEST=1):
 * production builds call the module's stub, which never fails.
 */
#ifndef MASTER_FAULTS_H
#define MASTER_FAULTS_H

#include <linux/atomic.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/minmax.h>
#include <linux/seq_file.h>

/**
 * struct master_faults - one module's fault points
 * @from: N of fail_nth, counted from the arming; 0: disarmed
 * @calls: master_fault() calls since the arming
 * @times: consecutive failures once @from is reached
 * @injected: failures injected since load
 * @site: the site of the last failure
 */
struct master_faults {
	atomic_t from;
	atomic_t calls;
	atomic_t times;
	atomic_t injected;
	const char *site;
};

#define MASTER_FAULTS_INIT {						\
	.from = ATOMIC_INIT(0), .calls = ATOMIC_INIT(0),		\
	.times = ATOMIC_INIT(1), .injected = ATOMIC_INIT(0),		\
	.site = "none",							\
}

/**
 * master_fault() - a fault point
 * @f: the module's fault points
 * @site: what would fail (a short name such as "page" or "map"), for fail_log
 *
 * Context: any context.
 * Return: true for the calls fail_nth and fail_times armed: the caller then
 * fails as if its allocation or mapping had.
 */
static inline bool master_fault(struct master_faults *f, const char *site)
{
	int from = atomic_read(&f->from);
	int call;

	if (from <= 0)
		return false;
	call = atomic_inc_return(&f->calls);
	if (call < from)
		return false;
	if (call >= from + atomic_read(&f->times) - 1)
		atomic_set(&f->from, 0);
	WRITE_ONCE(f->site, site);
	atomic_inc(&f->injected);
	return true;
}

static inline int master_fail_nth_get(void *data, u64 *val)
{
	struct master_faults *f = data;
	int from = atomic_read(&f->from);

	*val = from > 0 ? max(from - atomic_read(&f->calls), 0) : 0;
	return 0;
}

static inline int master_fail_nth_set(void *data, u64 val)
{
	struct master_faults *f = data;

	if (val > INT_MAX)
		return -EINVAL;
	atomic_set(&f->from, 0);
	atomic_set(&f->calls, 0);
	atomic_set(&f->from, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(master_fail_nth_fops, master_fail_nth_get,
			 master_fail_nth_set, "%llu\n");

static inline int master_fail_times_get(void *data, u64 *val)
{
	struct master_faults *f = data;

	*val = atomic_read(&f->times);
	return 0;
}

static inline int master_fail_times_set(void *data, u64 val)
{
	struct master_faults *f = data;

	if (!val || val > INT_MAX)
		return -EINVAL;
	atomic_set(&f->times, val);
	return 0;
}
DEFINE_DEBUGFS_ATTRIBUTE(master_fail_times_fops, master_fail_times_get,
			 master_fail_times_set, "%llu\n");

static inline int master_fail_log_show(struct seq_file *m, void *v)
{
	struct master_faults *f = m->private;

	seq_printf(m, "%d %s\n", atomic_read(&f->injected), READ_ONCE(f->site));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(master_fail_log);

/**
 * master_faults_debugfs() - create fail_nth, fail_times and fail_log
 * @f: the module's fault points
 * @dir: the module's debugfs directory
 */
static inline void master_faults_debugfs(struct master_faults *f,
					 struct dentry *dir)
{
	debugfs_create_file_unsafe("fail_nth", 0600, dir, f,
				   &master_fail_nth_fops);
	debugfs_create_file_unsafe("fail_times", 0600, dir, f,
				   &master_fail_times_fops);
	debugfs_create_file("fail_log", 0400, dir, f, &master_fail_log_fops);
}

#endif /* MASTER_FAULTS_H */
