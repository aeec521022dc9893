/* SPDX-License-Identifier: GPL-2.0 */
/*
 * masterdev - private declarations shared by the driver's files.
 */
#ifndef MASTERDEV_H
#define MASTERDEV_H

#include <linux/cdev.h>
#include <linux/device.h>
#include <linux/mutex.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <master/masterdev.h>
#include <master/mdma.h>

/* Bits of the descriptor chains' addresses: the PLX 9080 fetches with 32. */
#define MASTERDEV_DESC_BITS	32

#define MASTERDEV_IFACES	4
#define MASTERDEV_PAIRS		2

struct masterdev_pair;

/**
 * struct masterdev_iface - one streaming interface of the card
 * @name: device and debugfs name
 * @dir: DMA_TO_DEVICE (transmit) or DMA_FROM_DEVICE (receive)
 * @tails: MASTER_DMA_TAILS_PACKED (DVB ASI) or _OWN_PAGE (SDI)
 * @ops: descriptor format
 * @pair: the loopback cable it is on, whose lock protects what follows
 * @dev: the class device, /sys/class/masterdev/<name>
 * @cdev: /dev/<name>
 * @io_lock: serialises read, write, fsync, QBUF, DQBUF and EDU_CHECK of the
 *	interface, and is held across their user copies (with page faults
 *	off, so that a removal never waits on user space) and the edu check,
 *	so that the pair's lock never is
 * @wait: readers, writers and DQBUF wait here for the device
 * @buffers: ring geometry used at the next open
 * @bufsize: ring geometry used at the next open
 * @open: a file holds the interface
 * @ring: the ring while the interface is open, NULL once its DMA device
 *	went away (the file then gets -ENODEV)
 * @dma_dev: the device the ring is mapped for, while open
 * @head: next buffer user space hands to the device
 * @queued: buffers the device owns and has not finished
 * @done: buffers the device finished and user space has not taken back
 * @partial: bytes of buffer @head already written (TX) or read (RX)
 * @cursor: bus address of the next descriptor the device will fetch
 * @dev_buf: the buffer the device is at (the next it sends or fills)
 * @used: bytes in each buffer: what the sender put there (transmit), what
 *	arrived (receive); allocated while open
 * @dropped: bytes that left with no receiver, or that a killed close gave
 *	up on (transmit only; since load)
 * @checking: the edu check plays the device: the peer may not open
 *
 * Buffers go round in ring order: user space owns @head and the buffers
 * after it that are neither queued nor done; the device owns the @queued
 * ones before @head, and the @done ones before those wait for user space.
 */
struct masterdev_iface {
	const char *name;
	enum dma_data_direction dir;
	u32 tails;
	const struct mdma_desc_ops *ops;
	struct masterdev_pair *pair;
	struct device *dev;
	struct cdev cdev;
	struct mutex io_lock;	/* see above */
	wait_queue_head_t wait;
	u32 buffers;
	u32 bufsize;
	bool open;
	struct mdma_ring *ring;
	struct device *dma_dev;
	u32 head;
	u32 queued;
	u32 done;
	u32 partial;
	dma_addr_t cursor;
	u32 dev_buf;
	u32 *used;
	u64 dropped;
	bool checking;
};

/**
 * struct masterdev_pair - a transmit interface cabled to a receive one
 * @tx: the transmitter
 * @rx: the receiver
 * @lock: protects both interfaces' rings and counters, and what follows;
 *	held briefly, never across a user copy or a device transfer
 * @work: the bus-address engine: moves queued TX buffers to free RX ones
 * @error: why the engine stopped (sticky until both ends are closed)
 */
struct masterdev_pair {
	struct masterdev_iface *tx;
	struct masterdev_iface *rx;
	struct mutex lock;	/* see above */
	struct work_struct work;
	int error;
};

static inline u32 masterdev_user_owned(const struct masterdev_iface *iface)
{
	return iface->buffers - iface->queued - iface->done;
}

/* masterdev_main.c: module parameters, read under the interface lock */
extern unsigned int masterdev_max_buffers;
extern unsigned int masterdev_max_bufsize;
extern unsigned long long masterdev_max_ring_bytes;
extern unsigned int masterdev_closing_wait;

/* masterdev_main.c */
extern struct dentry *masterdev_debugfs;

/* masterdev_main.c: the device rings are mapped for (edu, else platform) */
struct device *masterdev_dma_device(void);
void masterdev_device_gone(struct device *dev);

/* masterdev_edu.c: the edu PCI device as a DMA engine */
extern struct pci_driver masterdev_edu_driver;

/* masterdev_educheck.c: descriptors proven by edu DMA */
int masterdev_edu_check(struct masterdev_iface *iface,
			struct master_dma_edu_check *check);

/* masterdev_loop.c: the bus-address engine */
void masterdev_loop_work(struct work_struct *work);
void masterdev_loop_start(struct masterdev_iface *iface);
void masterdev_loop_kick(struct masterdev_pair *pair);

/* masterdev_iface.c */
extern const struct file_operations masterdev_fops;
bool masterdev_pair_stop(struct masterdev_pair *pair, struct device *dev);
void masterdev_iface_gone(struct masterdev_iface *iface, struct device *dev);
extern const struct attribute_group *masterdev_iface_groups[];

#endif /* MASTERDEV_H */
