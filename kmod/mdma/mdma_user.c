// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_user.c - moving data between user space and a ring
 *
 * A ring's data is seen as buffers * bufsize bytes, buffer after buffer.
 * Copies go fragment by fragment, each bracketed by the dma_sync calls that
 * hand the bytes to the CPU and back to the device.  Rings whose tails have
 * their own pages can be mapped: the mapping shows each buffer as its pages
 * then its tail page, in ring order.
 */
#include <linux/dma-mapping.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/uaccess.h>
#include <linux/uio.h>

#include "compat.h"
#include "mdma_internal.h"

/* The fragment holding byte @pos of the ring's data, and the offset in it. */
static u64 mdma_seek(const struct mdma_ring *ring, u64 pos, u32 *in_frag)
{
	u32 in_buf, part;
	u64 buf = div_u64_rem(pos, ring->params.bufsize, &in_buf);

	part = in_buf / PAGE_SIZE;
	*in_frag = in_buf - part * PAGE_SIZE;
	return buf * ring->pointers_per_buf + part;
}

static ssize_t mdma_copy(struct mdma_ring *ring, loff_t pos,
			 struct iov_iter *iter, size_t count, bool to_ring)
{
	dma_addr_t *page_dma = ring->page_dma.mem;
	void **ptrs = ring->ptrs.mem;
	u32 in, page, offset, len;
	size_t done = 0, chunk, copied;
	u64 index, total = mdma_ring_bytes(ring);

	if (pos < 0)
		return -EINVAL;
	if (pos >= total)
		return 0;
	count = min_t(u64, min(count, iov_iter_count(iter)), total - pos);
	if (!count)
		return 0;
	while (done < count) {
		index = mdma_seek(ring, pos + done, &in);
		mdma_locate(ring, index, &page, &offset, &len);
		chunk = min_t(size_t, count - done, len - in);
		if (WARN_ON_ONCE(offset + in + chunk > PAGE_SIZE))
			return -EIO;
		dma_sync_single_range_for_cpu(ring->dev, page_dma[page],
					      offset + in, chunk, ring->params.dir);
		if (to_ring)
			copied = copy_from_iter(ptrs[index] + in, chunk, iter);
		else
			copied = copy_to_iter(ptrs[index] + in, chunk, iter);
		dma_sync_single_range_for_device(ring->dev, page_dma[page],
						 offset + in, chunk, ring->params.dir);
		done += copied;
		if (copied < chunk || fatal_signal_pending(current))
			break;
		cond_resched();
	}
	return done ?: -EFAULT;
}

/**
 * mdma_ring_copy_from_iter() - write data from an iov_iter into a ring
 * @ring: the ring
 * @pos: byte offset in the ring's data (buffer * bufsize + offset)
 * @from: the data (a write_iter's source: one user buffer or several)
 * @count: bytes to copy at most; copying also stops at the end of @from
 *	and of the ring
 *
 * @from advances by what was copied.
 *
 * Context: process context; may fault and sleep.
 * Return: bytes copied, 0 for @count 0 or at the end of the ring, -EFAULT
 * if nothing could be read from @from, -EINVAL for a negative @pos.
 */
ssize_t mdma_ring_copy_from_iter(struct mdma_ring *ring, loff_t pos,
				 struct iov_iter *from, size_t count)
{
	return mdma_copy(ring, pos, from, count, true);
}
EXPORT_SYMBOL_GPL(mdma_ring_copy_from_iter);

/**
 * mdma_ring_copy_to_iter() - read a ring's data into an iov_iter
 * @ring: the ring
 * @pos: byte offset in the ring's data
 * @to: where the data goes (a read_iter's destination)
 * @count: bytes to copy at most; copying also stops at the end of @to and
 *	of the ring
 *
 * @to advances by what was copied.
 *
 * Context: process context; may fault and sleep.
 * Return: bytes copied, 0 for @count 0 or at the end of the ring, -EFAULT
 * if nothing could be written to @to, -EINVAL for a negative @pos.
 */
ssize_t mdma_ring_copy_to_iter(struct mdma_ring *ring, loff_t pos,
			       struct iov_iter *to, size_t count)
{
	return mdma_copy(ring, pos, to, count, false);
}
EXPORT_SYMBOL_GPL(mdma_ring_copy_to_iter);

/**
 * mdma_ring_copy_from_user() - write user data into a ring
 * @ring: the ring
 * @pos: byte offset in the ring's data (buffer * bufsize + offset)
 * @data: user buffer
 * @count: bytes to copy; copying stops at the end of the ring
 *
 * Context: process context; may fault and sleep.
 * Return: bytes copied, 0 for @count 0 or at the end of the ring, -EFAULT
 * if nothing could be read from @data, -EINVAL for a negative @pos.
 */
ssize_t mdma_ring_copy_from_user(struct mdma_ring *ring, loff_t pos,
				 const char __user *data, size_t count)
{
	struct iov_iter from;

	iov_iter_ubuf(&from, ITER_SOURCE, (void __user *)data, count);
	return mdma_copy(ring, pos, &from, count, true);
}
EXPORT_SYMBOL_GPL(mdma_ring_copy_from_user);

/**
 * mdma_ring_copy_to_user() - read a ring's data to user space
 * @ring: the ring
 * @pos: byte offset in the ring's data
 * @data: user buffer
 * @count: bytes to copy; copying stops at the end of the ring
 *
 * Context: process context; may fault and sleep.
 * Return: bytes copied, 0 for @count 0 or at the end of the ring, -EFAULT
 * if nothing could be written to @data, -EINVAL for a negative @pos.
 */
ssize_t mdma_ring_copy_to_user(struct mdma_ring *ring, loff_t pos,
			       char __user *data, size_t count)
{
	struct iov_iter to;

	iov_iter_ubuf(&to, ITER_DEST, data, count);
	return mdma_copy(ring, pos, &to, count, false);
}
EXPORT_SYMBOL_GPL(mdma_ring_copy_to_user);

static void mdma_sync_one(struct mdma_ring *ring, u64 index, bool for_cpu)
{
	dma_addr_t *page_dma = ring->page_dma.mem;
	u32 page, offset, len;

	mdma_locate(ring, index, &page, &offset, &len);
	/* a test build's layout bug may put a tail past its page: stay inside */
	if (MDMA_TEST_BUILD && offset + len > PAGE_SIZE) {
		if (offset >= PAGE_SIZE)
			return;
		len = PAGE_SIZE - offset;
	}
	if (for_cpu)
		dma_sync_single_range_for_cpu(ring->dev, page_dma[page], offset,
					      len, ring->params.dir);
	else
		dma_sync_single_range_for_device(ring->dev, page_dma[page],
						 offset, len, ring->params.dir);
}

static void mdma_sync_buffer(struct mdma_ring *ring, u32 buffer, bool for_cpu)
{
	u64 index = (u64)buffer * ring->pointers_per_buf;
	u32 part;

	for (part = 0; part < ring->pointers_per_buf; part++)
		mdma_sync_one(ring, index + part, for_cpu);
}

/**
 * mdma_ring_sync_fragment() - hand one fragment to the device or the CPU
 * @ring: the ring
 * @index: fragment number in access order, below the ring's pointers
 * @for_cpu: true after the device wrote it and before the CPU reads it;
 *	false after the CPU wrote it and before the device reads it
 *
 * Context: any context.
 */
void mdma_ring_sync_fragment(struct mdma_ring *ring, u64 index, bool for_cpu)
{
	if (!WARN_ON_ONCE(index >= ring->pointers))
		mdma_sync_one(ring, index, for_cpu);
}
EXPORT_SYMBOL_GPL(mdma_ring_sync_fragment);

/**
 * mdma_ring_fragment_cpu() - the CPU's address of one fragment
 * @ring: the ring
 * @index: fragment number in access order
 *
 * For the driver's own use between mdma_ring_sync_fragment() calls; a
 * kernel address, never to be shown to user space.
 *
 * Context: any context.
 * Return: the address, or NULL if @index is beyond the ring.
 */
void *mdma_ring_fragment_cpu(const struct mdma_ring *ring, u64 index)
{
	void **ptrs = ring->ptrs.mem;

	return index < ring->pointers ? ptrs[index] : NULL;
}
EXPORT_SYMBOL_GPL(mdma_ring_fragment_cpu);

/**
 * mdma_ring_sync_for_device() - hand one buffer to the device
 * @ring: the ring
 * @buffer: buffer number, below the ring's buffers
 *
 * Call after the CPU (or a user mapping) wrote the buffer, before the
 * device reads it.
 *
 * Context: any context.
 */
void mdma_ring_sync_for_device(struct mdma_ring *ring, u32 buffer)
{
	if (!WARN_ON_ONCE(buffer >= ring->params.buffers))
		mdma_sync_buffer(ring, buffer, false);
}
EXPORT_SYMBOL_GPL(mdma_ring_sync_for_device);

/**
 * mdma_ring_sync_for_cpu() - take one buffer back from the device
 * @ring: the ring
 * @buffer: buffer number, below the ring's buffers
 *
 * Call after the device wrote the buffer, before the CPU reads it.
 *
 * Context: any context.
 */
void mdma_ring_sync_for_cpu(struct mdma_ring *ring, u32 buffer)
{
	if (!WARN_ON_ONCE(buffer >= ring->params.buffers))
		mdma_sync_buffer(ring, buffer, true);
}
EXPORT_SYMBOL_GPL(mdma_ring_sync_for_cpu);

/**
 * mdma_ring_mmap() - map a ring whose tails have their own pages
 * @ring: the ring
 * @vma: a shared mapping; page N of the ring is buffer N / pointers_per_buf,
 *	part N % pointers_per_buf
 *
 * Every page is inserted now (vm_insert_page(): the mapping holds a
 * reference to each page, so the bytes outlive mdma_ring_free() until
 * munmap).  A page whose entry goes away later (madvise(MADV_DONTNEED), a
 * fork's child, which copies no entry) comes back through the caller's
 * vm_operations_struct .fault, which must call mdma_ring_fault() while the
 * ring lives.
 *
 * Context: process context, from a file's mmap operation.
 * Return: 0; -EINVAL for a packed ring, a private mapping, or a range
 * beyond the ring; an error of vm_insert_page().
 */
int mdma_ring_mmap(struct mdma_ring *ring, struct vm_area_struct *vma)
{
	struct page **pages = ring->pages.mem;
	unsigned long i, count = vma_pages(vma);
	u32 page, offset, len;
	int ret;

	if (ring->params.tails != MASTER_DMA_TAILS_OWN_PAGE)
		return -EINVAL;
	/* VM_MAYSHARE: a shared mapping of a read-only file has no VM_SHARED */
	if (!(vma->vm_flags & VM_MAYSHARE))
		return -EINVAL;
	if (vma->vm_pgoff > ring->pointers ||
	    count > ring->pointers - vma->vm_pgoff)
		return -EINVAL;
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
	for (i = 0; i < count; i++) {
		mdma_locate(ring, vma->vm_pgoff + i, &page, &offset, &len);
		if (WARN_ON_ONCE(offset))
			return -EIO;
		ret = vm_insert_page(vma, vma->vm_start + i * PAGE_SIZE,
				     pages[page]);
		if (ret)
			return ret;
		if (!((i + 1) % 512))
			cond_resched();
	}
	return 0;
}
EXPORT_SYMBOL_GPL(mdma_ring_mmap);

/**
 * mdma_ring_fault() - the ring's page for a fault in a mapping of it
 * @ring: the ring mapped by mdma_ring_mmap()
 * @vmf: the fault; its pgoff is the ring's page index (see mdma_ring_mmap())
 *
 * Sets @vmf->page to the page, with a reference for the page table, as
 * ALSA's and other drivers' fault handlers for kernel pages do.
 *
 * Context: process context, mmap_lock held; the caller keeps the ring alive.
 * Return: 0; VM_FAULT_SIGBUS for an index beyond the ring or a packed ring.
 */
vm_fault_t mdma_ring_fault(struct mdma_ring *ring, struct vm_fault *vmf)
{
	struct page **pages = ring->pages.mem;
	u32 page, offset, len;

	if (ring->params.tails != MASTER_DMA_TAILS_OWN_PAGE ||
	    vmf->pgoff >= ring->pointers)
		return VM_FAULT_SIGBUS;
	mdma_locate(ring, vmf->pgoff, &page, &offset, &len);
	if (WARN_ON_ONCE(offset))
		return VM_FAULT_SIGBUS;
	get_page(pages[page]);
	vmf->page = pages[page];
	return 0;
}
EXPORT_SYMBOL_GPL(mdma_ring_fault);
