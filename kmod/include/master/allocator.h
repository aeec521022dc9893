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

#include <linux/types.h>

unsigned long allocator_allocate_dma(unsigned long bytes, gfp_t priority);
int allocator_free_dma(unsigned long address);

int allocator_init(void);
void allocator_cleanup(void);

#endif /* MASTER_ALLOCATOR_H */
