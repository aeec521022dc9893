// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_loop.c - the bus-address engine: a loopback cable, played in
 * software the way a device would play it.
 *
 * The engine knows each ring only by the bus address of its first
 * descriptor, which is what a driver writes into a DMA controller.  From
 * there it fetches descriptors and copies fragments by the bus addresses
 * stored in them, translated exactly as the device's bus sees them: through
 * the device's IOMMU domain when it has a translating one, else through the
 * direct (or swiotlb) mapping with dma_to_phys().  It never uses the CPU's
 * pointers to the ring; an address that does not translate to RAM stops
 * the engine with -EFAULT, and both ends see the error.
 *
 * One queued transmit buffer goes to one free receive buffer, fragment by
 * fragment (the geometries are equal), until the descriptor flagged INT,
 * the last of a buffer; a buffer carries the bytes its sender put in it
 * (a flushed partial one fewer than bufsize), and the receiver learns how
 * many.  The cable is flow-controlled: a receiver that does not keep up
 * holds the transmitter back and loses nothing.  With no receiver open the
 * bytes go nowhere and are counted as dropped.  The work runs under the
 * pair's lock, one buffer at a time, and wakes the waiters of both ends
 * after each.
 */
#include <linux/dma-direct.h>
#include <linux/highmem.h>
#include <linux/iommu.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/sched.h>

#include "masterdev.h"

#define MASTERDEV_DESC_MAX	32	/* bytes of the largest descriptor */

/**
 * struct masterdev_desc - a descriptor as the engine fetched it
 * @addr: bus address of the fragment
 * @len: bytes
 * @next: bus address of the next descriptor
 * @flags: MDMA_DESC_* flags
 */
struct masterdev_desc {
	dma_addr_t addr;
	u32 len;
	dma_addr_t next;
	u32 flags;
};

/* Where bus address @addr of @dev lands in RAM, for @len bytes in a page. */
static int masterdev_bus_to_phys(struct device *dev, dma_addr_t addr,
				 size_t len, phys_addr_t *phys)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	if (domain && (domain->type & __IOMMU_DOMAIN_PAGING)) {
		*phys = iommu_iova_to_phys(domain, addr);
		if (!*phys)
			return -EFAULT;
	} else {
		*phys = dma_to_phys(dev, addr);
	}
	if (!len || offset_in_page(*phys) + len > PAGE_SIZE ||
	    !pfn_valid(PHYS_PFN(*phys)))
		return -EFAULT;
	return 0;
}

static void masterdev_phys_copy(phys_addr_t dst, phys_addr_t src, size_t len)
{
	void *to = kmap_local_page(pfn_to_page(PHYS_PFN(dst)));
	void *from = kmap_local_page(pfn_to_page(PHYS_PFN(src)));

	memcpy(to + offset_in_page(dst), from + offset_in_page(src), len);
	kunmap_local(from);
	kunmap_local(to);
}

static int masterdev_fetch(struct masterdev_iface *iface,
			   struct masterdev_desc *desc)
{
	const struct mdma_desc_ops *ops = iface->ops;
	u8 raw[MASTERDEV_DESC_MAX];
	phys_addr_t phys;
	void *page;
	int ret;

	ret = masterdev_bus_to_phys(iface->dma_dev, iface->cursor, ops->size,
				    &phys);
	if (ret)
		return ret;
	page = kmap_local_page(pfn_to_page(PHYS_PFN(phys)));
	memcpy(raw, page + offset_in_page(phys), ops->size);
	kunmap_local(page);
	desc->addr = ops->addr(raw);
	desc->len = ops->len(raw);
	desc->next = ops->next(raw);
	desc->flags = ops->flags(raw);
	return 0;
}

/*
 * Move one buffer from the transmitter to the receiver: @used bytes of it,
 * fragment after fragment until the descriptor flagged INT; the fragments
 * after the last byte carry nothing.  Without a receiver (@rx NULL) the
 * transmitter's descriptors are walked and its addresses checked, but the
 * bytes go nowhere, as on a cable with nothing at its end.
 */
static int masterdev_loop_buffer(struct masterdev_iface *tx,
				 struct masterdev_iface *rx, u32 used)
{
	u32 parts = DIV_ROUND_UP(tx->bufsize, PAGE_SIZE), left = used, n;
	struct masterdev_desc td, rd;
	phys_addr_t src, dst;
	int ret;

	do {
		if (!parts--)
			return -EIO;	/* no INT where a buffer must end */
		ret = masterdev_fetch(tx, &td);
		if (!ret && rx)
			ret = masterdev_fetch(rx, &rd);
		if (ret)
			return ret;
		if (rx && (td.len != rd.len || (td.flags ^ rd.flags) & MDMA_DESC_INT))
			return -EIO;
		ret = masterdev_bus_to_phys(tx->dma_dev, td.addr, td.len, &src);
		if (!ret && rx)
			ret = masterdev_bus_to_phys(rx->dma_dev, rd.addr, rd.len,
						    &dst);
		if (ret)
			return ret;
		n = min(td.len, left);
		if (rx && n)
			masterdev_phys_copy(dst, src, n);
		left -= n;
		tx->cursor = td.next;
		if (rx)
			rx->cursor = rd.next;
	} while (!(td.flags & MDMA_DESC_INT));
	return 0;
}

/* The next queued transmit buffer, to the receiver if one is open. */
static int masterdev_loop_next(struct masterdev_pair *pair)
{
	struct masterdev_iface *tx = pair->tx;
	struct masterdev_iface *rx = pair->rx->ring ? pair->rx : NULL;
	u32 used = tx->used[tx->dev_buf];
	int ret;

	lockdep_assert_held(&pair->lock);
	ret = masterdev_loop_buffer(tx, rx, used);
	if (ret)
		return ret;
	tx->dev_buf = (tx->dev_buf + 1) % tx->buffers;
	tx->queued--;
	tx->done++;
	if (!rx) {
		tx->dropped += used;
		return 0;
	}
	rx->used[rx->dev_buf] = used;
	rx->dev_buf = (rx->dev_buf + 1) % rx->buffers;
	rx->queued--;
	rx->done++;
	return 0;
}

/* A transmit buffer is queued, and a receive buffer free or no receiver. */
static bool masterdev_loop_ready(const struct masterdev_pair *pair)
{
	return !pair->error && pair->tx->ring && pair->tx->queued &&
	       (!pair->rx->open || (pair->rx->ring && pair->rx->queued));
}

/**
 * masterdev_loop_work() - the engine: move every buffer that can move
 * @work: the pair's work
 *
 * Context: a workqueue; takes the pair's lock.
 */
void masterdev_loop_work(struct work_struct *work)
{
	struct masterdev_pair *pair = container_of(work, struct masterdev_pair,
						   work);
	int ret;

	mutex_lock(&pair->lock);
	while (masterdev_loop_ready(pair)) {
		ret = masterdev_loop_next(pair);
		if (ret) {
			pair->error = ret;
			dev_err(pair->rx->dev, "%s to %s stopped: %d\n",
				pair->tx->name, pair->rx->name, ret);
		}
		/* killable waiters (close, fsync) too: not only interruptible */
		wake_up_all(&pair->tx->wait);
		wake_up_all(&pair->rx->wait);
		/* readers and writers get the lock between buffers */
		mutex_unlock(&pair->lock);
		cond_resched();
		mutex_lock(&pair->lock);
	}
	mutex_unlock(&pair->lock);
}

/**
 * masterdev_loop_start() - point the engine at a newly opened ring
 * @iface: the interface, with the pair's lock held
 *
 * Like a driver writing the chain's first descriptor into the controller;
 * the other end may have buffers waiting already.
 */
void masterdev_loop_start(struct masterdev_iface *iface)
{
	struct mdma_fragment first;

	lockdep_assert_held(&iface->pair->lock);
	if (!mdma_ring_fragment(iface->ring, 0, &first))
		iface->cursor = first.desc_dma;
	masterdev_loop_kick(iface->pair);
}

/**
 * masterdev_loop_kick() - tell the engine that a buffer was queued
 * @pair: the pair
 *
 * Context: any context.
 */
void masterdev_loop_kick(struct masterdev_pair *pair)
{
	queue_work(system_unbound_wq, &pair->work);
}
