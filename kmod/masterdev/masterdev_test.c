// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_test.c - masterdev's test-only hooks (test builds only:
 * MASTERDMA_TEST=1)
 *
 * inject_warn: set at load, the module WARN()s once so that the harness can
 * show its kernel log judge failing a run.
 * /sys/kernel/debug/masterdev/fail_nth, fail_times, fail_log: the fault
 * points of the edu check and of open (master/faults.h).
 * test_lock_order: open takes the pair's lock before the interface's I/O
 * lock, the reverse of every other path, so that lockdep must report it.
 * test_skip_sync: QBUF hands a buffer to the device without syncing it for
 * the device, so that the bounce lane shows it catches a missing sync.
 * test_edu_short_waits: the next this many edu transfers time out after
 * 1 ms, long before edu's 100 ms, so that a test sees what a timed-out
 * transfer leaves behind for the next one; test_edu_busy_returns counts the
 * transfers that returned while the device still ran one.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bug.h>
#include <linux/io.h>
#include <linux/module.h>
#include <linux/moduleparam.h>

#include "master/faults.h"
#include "masterdev.h"
#include "masterdev_test.h"

static bool inject_warn;
module_param(inject_warn, bool, 0400);
MODULE_PARM_DESC(inject_warn,
		 "Test only: WARN() at load to prove the harness's log judge (default: off)");

static bool test_lock_order;
module_param(test_lock_order, bool, 0600);
MODULE_PARM_DESC(test_lock_order,
		 "Test only: open takes two locks in the reverse order (default: off)");

static bool test_skip_sync;
module_param(test_skip_sync, bool, 0600);
MODULE_PARM_DESC(test_skip_sync,
		 "Test only: QBUF skips the sync for the device (default: off)");

/**
 * masterdev_test_skip_sync() - leave out QBUF's sync for the device?
 *
 * Return: the test_skip_sync knob.
 */
bool masterdev_test_skip_sync(void)
{
	return READ_ONCE(test_skip_sync);
}

static unsigned int test_edu_short_waits;
module_param(test_edu_short_waits, uint, 0600);
MODULE_PARM_DESC(test_edu_short_waits,
		 "Test only: the next this many edu transfers time out after 1 ms, not 5 s (default: 0)");

/**
 * masterdev_test_edu_timeout_ms() - the timeout of the edu transfer starting
 * @ms: the real timeout, in ms
 *
 * Context: under the edu device's transfer lock, which orders the calls.
 * Return: 1 while test_edu_short_waits is not 0 (counting it down), else @ms.
 */
unsigned int masterdev_test_edu_timeout_ms(unsigned int ms)
{
	unsigned int left = READ_ONCE(test_edu_short_waits);

	if (!left)
		return ms;
	WRITE_ONCE(test_edu_short_waits, left - 1);
	return 1;
}

static unsigned int test_edu_busy_returns;
module_param(test_edu_busy_returns, uint, 0600);
MODULE_PARM_DESC(test_edu_busy_returns,
		 "Test only: edu transfers that returned while the device still ran (read; must stay 0)");

/**
 * masterdev_test_edu_returned() - an edu transfer returns to its caller
 * @cmd: the device's DMA command register
 * @running: its bit that is set while a transfer runs
 *
 * Counts, in test_edu_busy_returns, a return while the device still runs
 * a transfer: one that may yet write memory its caller is about to free.
 */
void masterdev_test_edu_returned(void __iomem *cmd, u32 running)
{
	if (ioread32(cmd) & running)
		WRITE_ONCE(test_edu_busy_returns, test_edu_busy_returns + 1);
}

static struct master_faults masterdev_faults = MASTER_FAULTS_INIT;

void masterdev_test_load(struct dentry *dir)
{
	WARN(inject_warn, "masterdev: inject_warn is set, warning on purpose\n");
	master_faults_debugfs(&masterdev_faults, dir);
}

/**
 * masterdev_test_fail() - masterdev's fault point
 * @site: what would fail ("used", "sample", "expect", "page"), for fail_log
 *
 * Return: true for the calls fail_nth and fail_times armed.
 */
bool masterdev_test_fail(const char *site)
{
	return master_fault(&masterdev_faults, site);
}

/**
 * masterdev_test_lock_order() - with test_lock_order, an inverted pair
 * @iface: the interface being opened, neither of its locks held
 *
 * Takes the pair's lock, then @iface's I/O lock: every read and write
 * takes them the other way round, so lockdep sees a possible deadlock.
 */
void masterdev_test_lock_order(struct masterdev_iface *iface)
{
	if (!READ_ONCE(test_lock_order))
		return;
	mutex_lock(&iface->pair->lock);
	mutex_lock(&iface->io_lock);
	mutex_unlock(&iface->io_lock);
	mutex_unlock(&iface->pair->lock);
}
