// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_reach.c - memory a ring's device reaches without a bounce buffer
 *
 * A ring's limit is the highest bus address its device may use: the
 * device's DMA mask and bus limit and the address width of the ring's
 * descriptor format (a PLX 9080 descriptor holds 32 bits), whichever is
 * lowest.  When an IOMMU translates for the device, any page will do and
 * its mapping must land inside the limit.  Otherwise pages come from the
 * zone the limit implies, as dma_direct_alloc_pages() chooses: ZONE_DMA32
 * for a limit up to 4 GiB, ZONE_DMA for one inside that zone, any zone
 * above.  Every page is checked against the limit; a page out of reach is
 * given back, never mapped, and the allocation steps down to the next
 * lower zone, as dma_direct retries.  So neither swiotlb nor the DMA
 * layer's overflow warning ever sees a ring page, and a device that cannot
 * be served gets -ENOMEM.
 *
 * Everything here runs in process context under the caller's serialisation
 * of one ring.
 */
#include <linux/dma-direct.h>
#include <linux/dma-mapping.h>
#include <linux/minmax.h>
#include <linux/sched.h>

#include "compat.h"
#include "mdma_internal.h"

/**
 * mdma_reach_init() - the ring's bus address limit and first zone
 * @ring: a ring whose device and descriptor format are set
 */
void mdma_reach_init(struct mdma_ring *ring)
{
	struct device *dev = ring->dev;
	u64 limit = min_not_zero(dma_get_mask(dev), dev->bus_dma_limit);

	ring->dma_limit = min_t(u64, limit, DMA_BIT_MASK(ring->ops->addr_bits));
	ring->iommu = compat_iommu_translates(dev);
	if (ring->iommu || ring->dma_limit > DMA_BIT_MASK(32))
		ring->zone = MASTER_DMA_ZONE_NORMAL;
	else if (ring->dma_limit > COMPAT_ZONE_DMA_LIMIT)
		ring->zone = MASTER_DMA_ZONE_DMA32;
	else
		ring->zone = MASTER_DMA_ZONE_DMA;
}

/**
 * mdma_reach_gfp() - the zone modifier of the ring's current zone
 * @ring: the ring
 *
 * Return: 0, __GFP_DMA32 or __GFP_DMA.
 */
gfp_t mdma_reach_gfp(const struct mdma_ring *ring)
{
	switch (ring->zone) {
	case MASTER_DMA_ZONE_DMA32:
		return __GFP_DMA32;
	case MASTER_DMA_ZONE_DMA:
		return __GFP_DMA;
	default:
		return 0;
	}
}

/**
 * mdma_reach_lower() - take further pages from the next lower zone
 * @ring: the ring, after a page of its current zone was out of reach
 *
 * Return: true if there is a lower zone to try, false when the device
 * cannot be served (behind an IOMMU every page is in reach, so never).
 */
bool mdma_reach_lower(struct mdma_ring *ring)
{
	if (ring->iommu || ring->zone == MASTER_DMA_ZONE_DMA)
		return false;
	ring->zone++;
	return true;
}

/**
 * mdma_reach_free_pages() - free pages in the zones the ring may use
 * @ring: the ring, before its pages are allocated
 *
 * An upper bound: a ring larger than this cannot be allocated, and is
 * refused before any page is taken (and zeroed) in vain.
 *
 * Return: free pages in the ring's zone and those below it.
 */
unsigned long mdma_reach_free_pages(const struct mdma_ring *ring)
{
	switch (ring->zone) {
#ifdef CONFIG_ZONE_DMA
	case MASTER_DMA_ZONE_DMA:
		return compat_free_pages_upto(ZONE_DMA);
#endif
#ifdef CONFIG_ZONE_DMA32
	case MASTER_DMA_ZONE_DMA32:
		return compat_free_pages_upto(ZONE_DMA32);
#endif
	default:
		return compat_free_pages_upto(ZONE_NORMAL);
	}
}

/**
 * mdma_reach_page() - can the device reach this whole page directly?
 * @ring: the ring
 * @page: a page for it
 *
 * Return: true behind an IOMMU, else whether the page's bus address, as
 * the direct mapping gives it, ends inside the ring's limit.
 */
bool mdma_reach_page(const struct mdma_ring *ring, struct page *page)
{
	if (ring->iommu)
		return true;
	return mdma_reach_dma(ring, phys_to_dma(ring->dev, page_to_phys(page)),
			      PAGE_SIZE);
}

/**
 * mdma_reach_dma() - does a mapped range end inside the ring's limit?
 * @ring: the ring
 * @dma: bus address of the range
 * @len: bytes, at least 1
 *
 * Return: true if the device and its descriptors can address all of it.
 */
bool mdma_reach_dma(const struct mdma_ring *ring, dma_addr_t dma, size_t len)
{
	return (u64)dma <= ring->dma_limit && len - 1 <= ring->dma_limit - dma;
}

/**
 * mdma_reach_count() - count the ring's pages by zone, and those bounced
 * @ring: a ring whose pages are allocated and mapped
 *
 * A page counts as bounced when, without an IOMMU, its bus address is not
 * the direct mapping of the page: swiotlb stands in for it (swiotlb=force).
 */
void mdma_reach_count(struct mdma_ring *ring)
{
	dma_addr_t *page_dma = ring->page_dma.mem;
	struct page **pages = ring->pages.mem;
	u64 i;

	memset(ring->zone_pages, 0, sizeof(ring->zone_pages));
	ring->bounced_pages = 0;
	for (i = 0; i < ring->nr_pages; i++) {
		if (compat_page_in_zone_dma(pages[i]))
			ring->zone_pages[MASTER_DMA_ZONE_DMA]++;
		else if (compat_page_in_zone_dma32(pages[i]))
			ring->zone_pages[MASTER_DMA_ZONE_DMA32]++;
		else
			ring->zone_pages[MASTER_DMA_ZONE_NORMAL]++;
		if (!ring->iommu && i < ring->nr_mapped &&
		    page_dma[i] != phys_to_dma(ring->dev, page_to_phys(pages[i])))
			ring->bounced_pages++;
		if (!((i + 1) % MDMA_BATCH))
			cond_resched();
	}
}
