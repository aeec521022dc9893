/* SPDX-License-Identifier: GPL-2.0 */
/*
 * masterdev - private declarations shared by the driver's files.
 */
#ifndef MASTERDEV_H
#define MASTERDEV_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <master/masterdev.h>
#include <master/mdma.h>

#define MASTERDEV_IFACES	4

/**
 * struct masterdev_iface - one streaming interface of the card
 * @name: device and debugfs name
 * @dir: DMA_TO_DEVICE (transmit) or DMA_FROM_DEVICE (receive)
 * @tails: MASTER_DMA_TAILS_PACKED (DVB ASI) or _OWN_PAGE (SDI)
 * @ops: descriptor format
 * @dma_dev: the device that walks the rings
 * @dev: the class device, /sys/class/masterdev/<name>
 * @cdev: /dev/<name>
 * @lock: protects everything below
 * @buffers: ring geometry used at the next open
 * @bufsize: ring geometry used at the next open
 * @ring: the ring while the device is open, else NULL
 * @queued: buffers queued (QBUF) and not yet dequeued
 * @head: next buffer to queue
 */
struct masterdev_iface {
	const char *name;
	enum dma_data_direction dir;
	u32 tails;
	const struct mdma_desc_ops *ops;
	struct device *dma_dev;
	struct device *dev;
	struct cdev cdev;
	struct mutex lock;	/* see above */
	u32 buffers;
	u32 bufsize;
	struct mdma_ring *ring;
	u32 queued;
	u32 head;
};

/* masterdev_main.c: module parameters, read under the interface lock */
extern unsigned int masterdev_max_buffers;
extern unsigned int masterdev_max_bufsize;
extern unsigned long long masterdev_max_ring_bytes;

/* masterdev_main.c */
extern struct dentry *masterdev_debugfs;

/* masterdev_edu.c: the edu PCI device as a DMA engine */
extern struct pci_driver masterdev_edu_driver;

/* masterdev_iface.c */
extern const struct file_operations masterdev_fops;
extern const struct attribute_group *masterdev_iface_groups[];

#endif /* MASTERDEV_H */
