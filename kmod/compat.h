/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels masterdma supports (6.1 and 6.12 LTS),
 * and the one between architectures, lives here, so that the rest of the
 * code is written against one API.
 * Add a shim only after checking the interface in both trees.
 */
#ifndef MASTERDMA_COMPAT_H
#define MASTERDMA_COMPAT_H

#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/mm.h>
#include <linux/mmzone.h>
#include <linux/vmstat.h>
#include <linux/pci.h>
#include <linux/sizes.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 3, 0)
/* 6.3 made vm_flags read-only and added the helpers that change it. */
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	vma->vm_flags |= flags;
}
#endif

#ifndef PCI_IRQ_INTX
/* 6.8 renamed PCI_IRQ_LEGACY; 6.12 no longer has the old name. */
#define PCI_IRQ_INTX PCI_IRQ_LEGACY
#endif

/*
 * The highest order the page allocator hands out: MAX_ORDER counted one
 * past it until 6.4, which made it inclusive; 6.8 renamed it.
 */
#if defined(MAX_PAGE_ORDER)
#define COMPAT_MAX_PAGE_ORDER	MAX_PAGE_ORDER
#elif LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
#define COMPAT_MAX_PAGE_ORDER	(MAX_ORDER - 1)
#else
#define COMPAT_MAX_PAGE_ORDER	MAX_ORDER
#endif

/*
 * Is the page at @start RAM in the firmware's memory map, as it was before
 * mem= cut it?  Only x86 keeps that map (e820) where a module can ask; the
 * allocator finds no RAM above mem= elsewhere.
 */
#ifdef CONFIG_X86
#include <asm/e820/api.h>

static inline bool compat_firmware_ram(u64 start, u64 size)
{
	return e820__mapped_raw_any(start, start + size, E820_TYPE_RAM);
}

/*
 * The end of the "RAM buffer" x86 registers after the kernel's last RAM at
 * @mem (e820__reserve_resources_late(): up to the next 64 MiB above 16 MiB,
 * the next 1 MiB below); below @mem if there is none.
 */
static inline u64 compat_ram_buffer_end(u64 mem)
{
	u64 align = mem >= SZ_16M ? SZ_64M : SZ_1M;

	return round_up(mem, align) - 1;
}
#else
static inline bool compat_firmware_ram(u64 start, u64 size)
{
	return false;
}

static inline u64 compat_ram_buffer_end(u64 mem)
{
	return mem - 1;
}
#endif

/*
 * The highest physical address of ZONE_DMA, the zone below ZONE_DMA32 that
 * GFP_DMA allocates from.  The DMA layer keeps it in zone_dma_bits, which
 * it does not export; x86 fixes it at MAX_DMA_PFN (16 MiB), elsewhere it is
 * taken as the 24 bits the DMA layer defaults to.
 */
#ifdef CONFIG_X86
#include <asm/dma.h>
#define COMPAT_ZONE_DMA_LIMIT	(((u64)MAX_DMA_PFN << PAGE_SHIFT) - 1)
#else
#define COMPAT_ZONE_DMA_LIMIT	DMA_BIT_MASK(24)
#endif

/* Which of ZONE_DMA, ZONE_DMA32 and the rest a page is in, by config. */
static inline bool compat_page_in_zone_dma(struct page *page)
{
#ifdef CONFIG_ZONE_DMA
	return page_zonenum(page) == ZONE_DMA;
#else
	return false;
#endif
}

static inline bool compat_page_in_zone_dma32(struct page *page)
{
#ifdef CONFIG_ZONE_DMA32
	return page_zonenum(page) == ZONE_DMA32;
#else
	return false;
#endif
}

/*
 * Free pages in the zones up to @highest (ZONE_DMA, ZONE_DMA32, ZONE_NORMAL)
 * of every online node: what an allocation limited to those zones could get
 * at best.  NODE_DATA() is node_data[] with NUMA, contig_page_data without;
 * both are exported.
 */
static inline unsigned long compat_free_pages_upto(enum zone_type highest)
{
	unsigned long free = 0;
	enum zone_type z;
	int nid;

	for_each_online_node(nid)
		for (z = 0; z <= highest; z++)
			free += zone_page_state(&NODE_DATA(nid)->node_zones[z],
						NR_FREE_PAGES);
	return free;
}

/*
 * Does an IOMMU translate @dev's bus addresses?  A paging domain (the DMA
 * API's own, or one a driver manages) does, and then any page is in reach;
 * an identity (passthrough) domain, or none, leaves them physical.
 */
static inline bool compat_iommu_translates(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && (domain->type & __IOMMU_DOMAIN_PAGING);
}

#endif /* MASTERDMA_COMPAT_H */
