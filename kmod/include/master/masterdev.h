/* SPDX-License-Identifier: GPL-2.0 */
/*
 * masterdev.h - what masterdev.ko exports to other modules
 *
 * QEMU's edu PCI device as a DMA engine: take the device with
 * masterdev_edu_device() (a reference: put_device() it), map memory for it,
 * then move up to MASTERDEV_EDU_MAX bytes at a time between it and the
 * first MASTERDEV_EDU_USABLE bytes of the device's 4 KiB buffer with
 * masterdev_edu_dma().
 */
#ifndef MASTER_MASTERDEV_H
#define MASTER_MASTERDEV_H

#include <linux/types.h>

struct device;

#define MASTERDEV_EDU_BUFFER	4096	/* bytes of the device's own buffer */
/* QEMU 7.2 aborts on a transfer that touches the buffer's last byte */
#define MASTERDEV_EDU_USABLE	(MASTERDEV_EDU_BUFFER - 1)
#define MASTERDEV_EDU_MAX	2048	/* bytes per transfer */

int masterdev_edu_dma(struct device *dev, dma_addr_t addr, u32 offset,
		      u32 len, bool to_ram);
struct device *masterdev_edu_device(void);

#endif /* MASTER_MASTERDEV_H */
