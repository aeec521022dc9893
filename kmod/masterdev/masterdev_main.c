// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev - reference driver and test vehicle of masterdma.
 *
 * It plays the Master card: four streaming interfaces, asitx0 and asirx0
 * (DVB ASI: packed tails, Linear Systems descriptors) and sditx0 and
 * sdirx0 (SDI: own-page tails, mmap-able, PLX 9080 descriptors).  Each
 * interface's ring comes from the Master ring allocator when /dev/<iface>
 * is opened and goes back when it is closed; its geometry is set in
 * /sys/class/masterdev/<iface>/{buffers,bufsize}.  Each transmitter is
 * cabled to the receiver of its kind (asitx0 to asirx0, sditx0 to sdirx0)
 * and a bus-address engine moves the bytes by the descriptors.
 *
 * The card is a platform device with a DMA mask of card_dma_bits (32 by
 * default; the SDI rings' PLX 9080 descriptors hold 32 bits whatever the
 * mask, and mdma keeps those rings below 4 GiB).  When QEMU's edu PCI
 * device is present, masterdev binds it and maps the rings for it instead,
 * so that a real device (28 or 32 address bits, or behind an IOMMU) walks
 * them.
 *
 * Test-only hooks are in masterdev_test.c (test builds only).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/pci.h>
#include <linux/platform_device.h>

#include "masterdev.h"
#include "masterdev_test.h"

static bool use_edu = true;
module_param_named(edu, use_edu, bool, 0444);
MODULE_PARM_DESC(edu,
		 "Bind QEMU's edu device and map the rings for it (default: on; off: as on a machine without one)");

unsigned int masterdev_max_buffers = 1U << 20;
module_param_named(max_buffers, masterdev_max_buffers, uint, 0644);
MODULE_PARM_DESC(max_buffers, "Largest buffers an interface accepts (default: 1048576)");

unsigned int masterdev_max_bufsize = 1U << 20;
module_param_named(max_bufsize, masterdev_max_bufsize, uint, 0644);
MODULE_PARM_DESC(max_bufsize, "Largest bufsize an interface accepts (default: 1 MiB)");

unsigned long long masterdev_max_ring_bytes = 512ULL << 20;
module_param_named(max_ring_bytes, masterdev_max_ring_bytes, ullong, 0644);
MODULE_PARM_DESC(max_ring_bytes,
		 "Largest ring an interface accepts, in bytes of pages, descriptors and arrays (default: 512 MiB)");

unsigned int masterdev_closing_wait = 30;
module_param_named(closing_wait, masterdev_closing_wait, uint, 0644);
MODULE_PARM_DESC(closing_wait,
		 "Seconds without progress after which an exiting writer's last close gives up its queued bytes, as a tty's closing_wait (default: 30)");

static unsigned int card_dma_bits = 32;
module_param(card_dma_bits, uint, 0444);
MODULE_PARM_DESC(card_dma_bits,
		 "Address bits of the platform card's DMA, used without an edu device (32-64, default 32)");

static struct masterdev_pair masterdev_pairs[MASTERDEV_PAIRS];

static struct masterdev_iface masterdev_ifaces[MASTERDEV_IFACES] = {
	{ .name = "asitx0", .dir = DMA_TO_DEVICE,
	  .tails = MASTER_DMA_TAILS_PACKED, .ops = &mdma_lsdma_ops,
	  .pair = &masterdev_pairs[0], .buffers = 16, .bufsize = 1316 },
	{ .name = "asirx0", .dir = DMA_FROM_DEVICE,
	  .tails = MASTER_DMA_TAILS_PACKED, .ops = &mdma_lsdma_ops,
	  .pair = &masterdev_pairs[0], .buffers = 16, .bufsize = 1316 },
	{ .name = "sditx0", .dir = DMA_TO_DEVICE,
	  .tails = MASTER_DMA_TAILS_OWN_PAGE, .ops = &mdma_plx9080_ops,
	  .pair = &masterdev_pairs[1], .buffers = 16, .bufsize = 9588 },
	{ .name = "sdirx0", .dir = DMA_FROM_DEVICE,
	  .tails = MASTER_DMA_TAILS_OWN_PAGE, .ops = &mdma_plx9080_ops,
	  .pair = &masterdev_pairs[1], .buffers = 16, .bufsize = 9588 },
};

static struct masterdev_pair masterdev_pairs[MASTERDEV_PAIRS] = {
	{ .tx = &masterdev_ifaces[0], .rx = &masterdev_ifaces[1] },
	{ .tx = &masterdev_ifaces[2], .rx = &masterdev_ifaces[3] },
};

struct dentry *masterdev_debugfs;
static dev_t masterdev_devt;
static struct platform_device *masterdev_pdev;
static struct device *masterdev_card;	/* set at probe, before the ifaces */

static struct class masterdev_class = {
	.name = "masterdev",
	.dev_groups = masterdev_iface_groups,
};

/**
 * masterdev_dma_device() - the device that rings opened now are mapped for
 *
 * Context: process context.
 * Return: the edu device when masterdev has bound one, else the platform
 * device; with a reference the caller drops with put_device().
 */
struct device *masterdev_dma_device(void)
{
	return masterdev_edu_device() ?: get_device(masterdev_card);
}

/**
 * masterdev_device_gone() - release everything mapped for a departing device
 * @dev: the device, being removed
 *
 * Each pair with a ring mapped for @dev gets -ENODEV (its waiters wake and
 * its engine stops), then each such ring is freed, once no read, write or
 * ioctl is using it.  The open files get -ENODEV until closed; a user
 * mapping keeps the ring's pages until munmap.
 *
 * Context: process context; sleeps.
 */
void masterdev_device_gone(struct device *dev)
{
	struct masterdev_pair *pair;

	for (pair = masterdev_pairs; pair < masterdev_pairs + MASTERDEV_PAIRS;
	     pair++) {
		if (!masterdev_pair_stop(pair, dev))
			continue;
		cancel_work_sync(&pair->work);
		masterdev_iface_gone(pair->tx, dev);
		masterdev_iface_gone(pair->rx, dev);
	}
}

static int masterdev_iface_add(struct masterdev_iface *iface,
			       struct device *parent, dev_t devt)
{
	int ret;

	cdev_init(&iface->cdev, &masterdev_fops);
	iface->cdev.owner = THIS_MODULE;
	ret = cdev_add(&iface->cdev, devt, 1);
	if (ret)
		return ret;
	iface->dev = device_create(&masterdev_class, parent, devt, iface, "%s",
				   iface->name);
	if (IS_ERR(iface->dev)) {
		cdev_del(&iface->cdev);
		return PTR_ERR(iface->dev);
	}
	return 0;
}

static void masterdev_iface_del(struct masterdev_iface *iface)
{
	device_destroy(&masterdev_class, iface->cdev.dev);
	cdev_del(&iface->cdev);
}

static void masterdev_ifaces_del(void *count)
{
	unsigned long i = (unsigned long)count;

	while (i--)
		masterdev_iface_del(&masterdev_ifaces[i]);
}

static int masterdev_probe(struct platform_device *pdev)
{
	unsigned long i;
	int ret;

	/* descriptors (coherent) stay where PLX 9080's 32 bits reach them */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(card_dma_bits));
	if (!ret)
		ret = dma_set_coherent_mask(&pdev->dev,
					    DMA_BIT_MASK(MASTERDEV_DESC_BITS));
	if (ret)
		return dev_err_probe(&pdev->dev, ret, "no %u-bit DMA\n",
				     card_dma_bits);
	masterdev_card = &pdev->dev;
	for (i = 0; i < MASTERDEV_IFACES; i++) {
		ret = masterdev_iface_add(&masterdev_ifaces[i], &pdev->dev,
					  masterdev_devt + i);
		if (ret) {
			masterdev_ifaces_del((void *)i);
			return dev_err_probe(&pdev->dev, ret, "cannot add %s\n",
					     masterdev_ifaces[i].name);
		}
	}
	return devm_add_action_or_reset(&pdev->dev, masterdev_ifaces_del,
					(void *)i);
}

static struct platform_driver masterdev_driver = {
	.driver = {
		.name = "masterdev",
		.suppress_bind_attrs = true,	/* open rings use the device */
	},
	.probe = masterdev_probe,
};

static void masterdev_pairs_init(void)
{
	struct masterdev_pair *pair;

	for (pair = masterdev_pairs; pair < masterdev_pairs + MASTERDEV_PAIRS;
	     pair++) {
		mutex_init(&pair->lock);
		INIT_WORK(&pair->work, masterdev_loop_work);
		init_waitqueue_head(&pair->tx->wait);
		init_waitqueue_head(&pair->rx->wait);
		mutex_init(&pair->tx->io_lock);
		mutex_init(&pair->rx->io_lock);
	}
}

/* After the last close: the engine may still be queued. */
static void masterdev_pairs_exit(void)
{
	struct masterdev_pair *pair;

	for (pair = masterdev_pairs; pair < masterdev_pairs + MASTERDEV_PAIRS;
	     pair++) {
		cancel_work_sync(&pair->work);
		mutex_destroy(&pair->lock);
	}
}

static int __init masterdev_init(void)
{
	int ret;

	if (card_dma_bits < 32 || card_dma_bits > 64) {
		pr_err("card_dma_bits=%u: want 32 to 64\n", card_dma_bits);
		return -EINVAL;
	}
	masterdev_debugfs = debugfs_create_dir("masterdev", NULL);
	masterdev_test_load(masterdev_debugfs);
	masterdev_pairs_init();
	ret = use_edu ? pci_register_driver(&masterdev_edu_driver) : 0;
	if (ret)
		goto remove_debugfs;
	ret = alloc_chrdev_region(&masterdev_devt, 0, MASTERDEV_IFACES,
				  "masterdev");
	if (ret)
		goto unregister_edu;
	ret = class_register(&masterdev_class);
	if (ret)
		goto free_region;
	ret = platform_driver_register(&masterdev_driver);
	if (ret)
		goto unregister_class;
	masterdev_pdev = platform_device_register_simple("masterdev",
							 PLATFORM_DEVID_NONE,
							 NULL, 0);
	if (IS_ERR(masterdev_pdev)) {
		ret = PTR_ERR(masterdev_pdev);
		goto unregister_driver;
	}
	pr_info("loaded\n");
	return 0;

unregister_driver:
	platform_driver_unregister(&masterdev_driver);
unregister_class:
	class_unregister(&masterdev_class);
free_region:
	unregister_chrdev_region(masterdev_devt, MASTERDEV_IFACES);
unregister_edu:
	if (use_edu)
		pci_unregister_driver(&masterdev_edu_driver);
remove_debugfs:
	masterdev_pairs_exit();
	debugfs_remove_recursive(masterdev_debugfs);
	return ret;
}
module_init(masterdev_init);

static void __exit masterdev_exit(void)
{
	platform_device_unregister(masterdev_pdev);
	platform_driver_unregister(&masterdev_driver);
	class_unregister(&masterdev_class);
	unregister_chrdev_region(masterdev_devt, MASTERDEV_IFACES);
	if (use_edu)
		pci_unregister_driver(&masterdev_edu_driver);
	masterdev_pairs_exit();
	debugfs_remove_recursive(masterdev_debugfs);
	pr_info("unloaded\n");
}
module_exit(masterdev_exit);

MODULE_DESCRIPTION("masterdma reference driver and test vehicle");
MODULE_AUTHOR("masterdma developers");
MODULE_LICENSE("GPL");
