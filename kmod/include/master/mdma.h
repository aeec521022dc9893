/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mdma.h - the Master ring allocator
 *
 * A ring of @buffers buffers of @bufsize bytes for a streaming DMA device.
 * Each buffer is made of whole pages from the page allocator plus a tail of
 * bufsize % PAGE_SIZE bytes; tails are packed several to a page or given a
 * page each, never split across pages.  One DMA descriptor per page or tail,
 * from a dma_pool, chained into a ring in the order the device walks them.
 */
#ifndef MASTER_MDMA_H
#define MASTER_MDMA_H

#include <linux/dma-direction.h>
#include <linux/mm_types.h>
#include <linux/types.h>
#include <uapi/master_dma.h>

struct device;
struct dentry;
struct iov_iter;
struct mdma_ring;
struct vm_area_struct;

/* Flags passed to and decoded from descriptors. */
#define MDMA_DESC_INT	MASTER_DMA_FRAG_INT
#define MDMA_DESC_EOL	MASTER_DMA_FRAG_EOL

/**
 * struct mdma_desc_ops - a DMA descriptor format
 * @name: shown in reports
 * @format: enum master_dma_desc_format
 * @size: bytes of one descriptor
 * @align: alignment the device requires of a descriptor
 * @addr_bits: bits of a bus address a descriptor holds (fragments and the
 *	next descriptor); a ring's pages and descriptors stay below it
 * @fill: write a descriptor: fragment at @addr of @len bytes moving in
 *	direction @dir, chained to the descriptor at @next, with MDMA_DESC_*
 *	@flags
 * @addr: the fragment address stored in a descriptor
 * @len: the length stored in a descriptor
 * @next: the chained descriptor address, without flag bits
 * @flags: the MDMA_DESC_* flags stored in a descriptor
 *
 * All five are required.  Bus addresses stored by @fill are read back by
 * the others exactly as a device would read them.
 */
struct mdma_desc_ops {
	const char *name;
	u32 format;
	size_t size;
	size_t align;
	u32 addr_bits;
	void (*fill)(void *desc, dma_addr_t addr, u32 len, dma_addr_t next,
		     u32 flags, enum dma_data_direction dir);
	dma_addr_t (*addr)(const void *desc);
	u32 (*len)(const void *desc);
	dma_addr_t (*next)(const void *desc);
	u32 (*flags)(const void *desc);
};

extern const struct mdma_desc_ops mdma_lsdma_ops;
extern const struct mdma_desc_ops mdma_plx9080_ops;

/**
 * struct mdma_ring_params - what a ring is made of
 * @buffers: number of buffers, at least 2
 * @bufsize: bytes per buffer, at least 1
 * @dir: DMA_TO_DEVICE or DMA_FROM_DEVICE
 * @tails: enum master_dma_tails
 * @ops: descriptor format
 * @name: name of the ring's debugfs directory under mdma/ (may be NULL)
 */
struct mdma_ring_params {
	u32 buffers;
	u32 bufsize;
	enum dma_data_direction dir;
	u32 tails;
	const struct mdma_desc_ops *ops;
	const char *name;
};

/**
 * struct mdma_fragment - one page or tail of a ring, in access order
 * @buffer: the buffer it belongs to
 * @part: its place in the buffer
 * @page: index of its page in the page array
 * @offset: byte offset in that page
 * @length: bytes
 * @flags: MDMA_DESC_* flags of its descriptor
 * @dma_addr: bus address stored in its descriptor
 * @desc_dma: bus address of its descriptor
 * @next_desc: bus address its descriptor chains to
 * @phys: physical address of the fragment (the CPU's view; root-only reports)
 */
struct mdma_fragment {
	u32 buffer;
	u32 part;
	u32 page;
	u32 offset;
	u32 length;
	u32 flags;
	dma_addr_t dma_addr;
	dma_addr_t desc_dma;
	dma_addr_t next_desc;
	phys_addr_t phys;
};

struct mdma_ring *mdma_ring_alloc(struct device *dev,
				  const struct mdma_ring_params *params);
void mdma_ring_free(struct mdma_ring *ring);
int mdma_ring_footprint(const struct mdma_ring_params *params, u64 *bytes);
void mdma_ring_summary(const struct mdma_ring *ring,
		       struct master_dma_summary *summary);
int mdma_ring_fragment(const struct mdma_ring *ring, u64 index,
		       struct mdma_fragment *frag);
ssize_t mdma_ring_copy_from_user(struct mdma_ring *ring, loff_t pos,
				 const char __user *data, size_t count);
ssize_t mdma_ring_copy_to_user(struct mdma_ring *ring, loff_t pos,
			       char __user *data, size_t count);
ssize_t mdma_ring_copy_from_iter(struct mdma_ring *ring, loff_t pos,
				 struct iov_iter *from, size_t count);
ssize_t mdma_ring_copy_to_iter(struct mdma_ring *ring, loff_t pos,
			       struct iov_iter *to, size_t count);
int mdma_ring_mmap(struct mdma_ring *ring, struct vm_area_struct *vma);
vm_fault_t mdma_ring_fault(struct mdma_ring *ring, struct vm_fault *vmf);
void mdma_ring_sync_for_device(struct mdma_ring *ring, u32 buffer);
void mdma_ring_sync_for_cpu(struct mdma_ring *ring, u32 buffer);
void mdma_ring_sync_fragment(struct mdma_ring *ring, u64 index, bool for_cpu);
void *mdma_ring_fragment_cpu(const struct mdma_ring *ring, u64 index);
size_t mdma_ring_bytes(const struct mdma_ring *ring);

#endif /* MASTER_MDMA_H */
