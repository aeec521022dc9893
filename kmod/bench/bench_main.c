// SPDX-License-Identifier: GPL-2.0
/*
 * masterbench - measurements for `invoke bench` (test builds only)
 *
 * In the spirit of mm/dmapool_test.c: the cases are tables in this module
 * and its user, each repetition is timed here with ktime_get_ns(), and the
 * figures go back through debugfs.  A command written to
 * /sys/kernel/debug/masterbench/run runs before write() returns; reading
 * the same file gives its result, one "key=value ..." line per repetition
 * (an "error=-errno" line when a method cannot build what was asked, which
 * is a result too: the contiguous methods fail on a fragmented machine).
 *
 *   ring METHOD BUFFERS BUFSIZE TAILS REPS   METHOD: ours seed coherent
 *                                            pages floor; TAILS: packed
 *                                            own-page
 *   descs COUNT REPS                         mdma's descriptor path, one
 *                                            dma_pool
 *   fragment                                 leave free memory in order-0
 *                                            pages only (until unfragment)
 *   largest METHOD BUFSIZE TAILS             the largest ring METHOD builds
 *   unfragment
 *   himem KIND LIVE PAIRS SIZE               KIND: allocator genpool list;
 *                                            SIZE: bytes managed
 *   himem2 LIVE PAIRS                        two threads on the allocator
 *
 * The rings are for a platform device of this module with a 32-bit DMA
 * mask, as the Master card's PLX 9080 has.  Root only.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/platform_device.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "bench.h"

#define BENCH_OUT_BYTES	SZ_64K
#define BENCH_CMD_BYTES	256

static struct platform_device *bench_pdev;
static struct dentry *bench_dir;
static DEFINE_MUTEX(bench_lock);	/* one command at a time; guards the result */
static struct bench_out bench_result;

void bench_printf(struct bench_out *out, const char *fmt, ...)
{
	va_list args;
	int n;

	if (out->overflow)
		return;
	va_start(args, fmt);
	n = vsnprintf(out->buf + out->len, out->cap - out->len, fmt, args);
	va_end(args);
	if (n >= out->cap - out->len) {	/* cut: leave it out */
		out->overflow = true;
		out->buf[out->len] = '\0';
		return;
	}
	out->len += n;
}

struct bench_cmd {
	const char *name;
	int argc;	/* words after the name */
	int (*run)(struct bench_out *out, char **argv, int argc);
};

static int bench_run_ring(struct bench_out *out, char **argv, int argc)
{
	return bench_ring(&bench_pdev->dev, out, argv, argc);
}

static int bench_run_descs(struct bench_out *out, char **argv, int argc)
{
	return bench_descs(&bench_pdev->dev, out, argv, argc);
}

static int bench_run_largest(struct bench_out *out, char **argv, int argc)
{
	return bench_largest(&bench_pdev->dev, out, argv, argc);
}

static int bench_run_unfragment(struct bench_out *out, char **argv, int argc)
{
	bench_unfragment();
	return 0;
}

static const struct bench_cmd bench_cmds[] = {
	{ .name = "ring", .argc = 5, .run = bench_run_ring },
	{ .name = "descs", .argc = 2, .run = bench_run_descs },
	{ .name = "fragment", .argc = 0, .run = bench_fragment },
	{ .name = "largest", .argc = 3, .run = bench_run_largest },
	{ .name = "unfragment", .argc = 0, .run = bench_run_unfragment },
	{ .name = "himem", .argc = 4, .run = bench_himem },
	{ .name = "himem2", .argc = 2, .run = bench_himem_threads },
};

static int bench_dispatch(char **argv, int argc)
{
	const struct bench_cmd *cmd;

	for (cmd = bench_cmds; cmd < bench_cmds + ARRAY_SIZE(bench_cmds); cmd++) {
		if (strcmp(argv[0], cmd->name))
			continue;
		if (argc - 1 != cmd->argc)
			return -EINVAL;
		return cmd->run(&bench_result, argv + 1, argc - 1);
	}
	return -EINVAL;
}

static ssize_t bench_write(struct file *file, const char __user *ubuf,
			   size_t count, loff_t *ppos)
{
	char **argv;
	char *line;
	int argc, ret;

	if (!count || count >= BENCH_CMD_BYTES)
		return -EINVAL;
	line = memdup_user_nul(ubuf, count);
	if (IS_ERR(line))
		return PTR_ERR(line);
	argv = argv_split(GFP_KERNEL, line, &argc);
	kfree(line);
	if (!argv)
		return -ENOMEM;
	mutex_lock(&bench_lock);
	bench_result.len = 0;
	bench_result.buf[0] = '\0';
	bench_result.overflow = false;
	ret = argc ? bench_dispatch(argv, argc) : -EINVAL;
	if (!ret && bench_result.overflow)
		ret = -EOVERFLOW;
	mutex_unlock(&bench_lock);
	argv_free(argv);
	return ret ? ret : count;
}

static ssize_t bench_read(struct file *file, char __user *ubuf, size_t count,
			  loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&bench_lock);
	ret = simple_read_from_buffer(ubuf, count, ppos, bench_result.buf,
				      bench_result.len);
	mutex_unlock(&bench_lock);
	return ret;
}

static const struct file_operations bench_fops = {
	.owner = THIS_MODULE,
	.write = bench_write,
	.read = bench_read,
	.llseek = default_llseek,
};

static int bench_probe(struct platform_device *pdev)
{
	return dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
}

static struct platform_driver bench_driver = {
	.probe = bench_probe,
	.driver = {
		.name = KBUILD_MODNAME,
		.suppress_bind_attrs = true,
	},
};

static int __init bench_init(void)
{
	int ret;

	bench_result.cap = BENCH_OUT_BYTES;
	bench_result.buf = kzalloc(bench_result.cap, GFP_KERNEL);
	if (!bench_result.buf)
		return -ENOMEM;
	ret = platform_driver_register(&bench_driver);
	if (ret)
		goto free_result;
	bench_pdev = platform_device_register_simple(KBUILD_MODNAME,
						     PLATFORM_DEVID_NONE, NULL, 0);
	if (IS_ERR(bench_pdev)) {
		ret = PTR_ERR(bench_pdev);
		goto unregister_driver;
	}
	if (!bench_pdev->dev.driver) {
		ret = -ENODEV;	/* the probe failed: no 32-bit DMA here */
		goto unregister_device;
	}
	bench_dir = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("run", 0600, bench_dir, NULL, &bench_fops);
	return 0;

unregister_device:
	platform_device_unregister(bench_pdev);
unregister_driver:
	platform_driver_unregister(&bench_driver);
free_result:
	kfree(bench_result.buf);
	return ret;
}
module_init(bench_init);

static void __exit bench_exit(void)
{
	debugfs_remove_recursive(bench_dir);
	bench_unfragment();
	platform_device_unregister(bench_pdev);
	platform_driver_unregister(&bench_driver);
	kfree(bench_result.buf);
}
module_exit(bench_exit);

MODULE_DESCRIPTION("Benchmarks of the masterdma allocators (test builds only)");
MODULE_LICENSE("GPL");
