/* SPDX-License-Identifier: GPL-2.0 */
/*
 * allocator_internal.h - between the allocator's core and the parts of
 * allocator.ko around it (its module and netlink files)
 *
 * allocator_core.c is the allocator and is compiled into allocator.ko and,
 * as the linked build, into a driver; the netlink family of allocator.ko
 * reads its state only through these calls and receives its events.
 */
#ifndef ALLOCATOR_INTERNAL_H
#define ALLOCATOR_INTERNAL_H

#include <linux/export.h>
#include <linux/gfp.h>
#include <linux/types.h>

/*
 * allocator.ko exports the API (its Kbuild defines ALLOCATOR_EXPORTS for the
 * core); a driver that links the allocator in exports nothing.
 */
#ifdef ALLOCATOR_EXPORTS
#define EXPORT_SYMBOL_ALLOCATOR(sym) EXPORT_SYMBOL_GPL(sym)
#else
#define EXPORT_SYMBOL_ALLOCATOR(sym)
#endif

/* The claim's figures, in bytes, as one consistent snapshot. */
struct allocator_totals {
	unsigned long base;		/* physical address of the claim */
	unsigned long size;
	unsigned long free_bytes;
	unsigned long largest_free;	/* the largest free extent */
	unsigned int regions;		/* allocated regions */
	bool enabled;
};

/*
 * An event: @event is a MASTER_DMA_EVENT_REGION_* of the UAPI header, for
 * the region [@start, @start + @size) of module @owner ("kernel" for
 * built-in code); @gfp says whether the caller may sleep.
 */
typedef void (*allocator_event_fn)(u32 event, unsigned long start,
				   unsigned long size, const char *owner,
				   gfp_t gfp);

/* A region seen by allocator_walk_regions(); nonzero stops the walk. */
typedef int (*allocator_visit_t)(void *arg, unsigned long start,
				  unsigned long size, const char *owner);

void allocator_set_event_sink(allocator_event_fn sink);
int allocator_walk_regions(unsigned long from, allocator_visit_t visit,
			   void *arg);
void allocator_get_totals(struct allocator_totals *totals);

/* allocator_netlink.c, in allocator.ko only */
int allocator_nl_register(void);
void allocator_nl_unregister(void);

#endif /* ALLOCATOR_INTERNAL_H */
