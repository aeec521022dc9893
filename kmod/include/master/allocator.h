/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocator.h - the high-memory DMA allocator
 *
 * Boot with mem= below the installed RAM: the RAM the kernel leaves out,
 * above __pa(high_memory), is claimed by the allocator (it shows as
 * "allocator" in /proc/iomem) and handed out in page-aligned regions to
 * several drivers at once.  That memory has no struct page the kernel
 * manages: a driver gives a device the address from dma_map_resource(),
 * maps it for the CPU with memremap(), and for user space with a PFN map.
 *
 * Standalone (allocator.ko) the functions below are exported and the module
 * initialises itself.  Linked into one driver, that driver calls
 * allocator_init() before the first allocation and allocator_cleanup() at
 * unload; only it can allocate.  The two cannot hold the memory at once:
 * whichever comes second fails to load with -EBUSY.
 */
#ifndef MASTER_ALLOCATOR_H
#define MASTER_ALLOCATOR_H

#include <linux/module.h>
#include <linux/types.h>

unsigned long __allocator_allocate_dma(unsigned long bytes, gfp_t priority,
				       struct module *mod);
int __allocator_free_dma(unsigned long address, struct module *mod);

/**
 * allocator_allocate_dma() - allocate a region of the RAM above mem=
 * @bytes: size wanted, rounded up to whole pages
 * @priority: GFP_KERNEL or GFP_ATOMIC, with __GFP_ZERO to clear the region
 *
 * The seed's call; the region belongs to the calling module (THIS_MODULE).
 *
 * Context: any context with GFP_ATOMIC; process context with GFP_KERNEL.
 * Return: the region's physical address, page-aligned, or 0 on failure.
 */
static inline unsigned long allocator_allocate_dma(unsigned long bytes,
						   gfp_t priority)
{
	return __allocator_allocate_dma(bytes, priority, THIS_MODULE);
}

/**
 * allocator_free_dma() - free a region of the calling module
 * @address: what allocator_allocate_dma() returned
 *
 * Context: any context.
 * Return: 0, or -EINVAL if @address does not start a region of the caller's.
 */
static inline int allocator_free_dma(unsigned long address)
{
	return __allocator_free_dma(address, THIS_MODULE);
}

bool allocator_enabled(void);
int allocator_init(void);
void allocator_cleanup(void);

#endif /* MASTER_ALLOCATOR_H */
