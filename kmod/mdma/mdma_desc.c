// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_desc.c - DMA descriptor formats of the Master ring allocator
 *
 * Linear Systems DMA controller: seven little-endian words; the csr holds
 * a 16-bit transfer size, INT (interrupt when done), EOL (end of list) and
 * the direction; 64-bit addresses are split into low and high words.
 *
 * PLX 9080: four little-endian words; descriptors are 16-byte aligned so
 * that the low four bits of next carry flags: descriptor in PCI space, end
 * of chain, interrupt after terminal count, direction local-to-PCI.  The
 * PLX 9080 addresses 32 bits (addr_bits): mdma keeps its rings below 4 GiB.
 */
#include <linux/bitfield.h>
#include <linux/bits.h>
#include <linux/build_bug.h>
#include <linux/bug.h>
#include <linux/kernel.h>

#include "mdma_internal.h"

struct mdma_lsdma_desc {
	__le32 csr;
	__le32 src_addr;
	__le32 dest_addr;
	__le32 next_desc;
	__le32 src_addr_h;
	__le32 dest_addr_h;
	__le32 next_desc_h;
};

static_assert(sizeof(struct mdma_lsdma_desc) == 28);

#define LSDMA_CSR_SIZE		GENMASK(15, 0)
#define LSDMA_CSR_INT		BIT(24)
#define LSDMA_CSR_EOL		BIT(25)
#define LSDMA_CSR_FROM_DEVICE	BIT(26)

static u64 lsdma_join(__le32 lo, __le32 hi)
{
	return (u64)le32_to_cpu(hi) << 32 | le32_to_cpu(lo);
}

static void lsdma_fill(void *desc, dma_addr_t addr, u32 len, dma_addr_t next,
		       u32 flags, enum dma_data_direction dir)
{
	struct mdma_lsdma_desc *d = desc;
	u32 csr = FIELD_PREP(LSDMA_CSR_SIZE, len);

	WARN_ON_ONCE(len > FIELD_MAX(LSDMA_CSR_SIZE));
	if (flags & MDMA_DESC_INT)
		csr |= LSDMA_CSR_INT;
	if (flags & MDMA_DESC_EOL)
		csr |= LSDMA_CSR_EOL;
	if (dir == DMA_FROM_DEVICE) {
		csr |= LSDMA_CSR_FROM_DEVICE;
		d->dest_addr = cpu_to_le32(lower_32_bits(addr));
		d->dest_addr_h = cpu_to_le32(upper_32_bits(addr));
	} else {
		d->src_addr = cpu_to_le32(lower_32_bits(addr));
		d->src_addr_h = cpu_to_le32(upper_32_bits(addr));
	}
	d->csr = cpu_to_le32(csr);
	d->next_desc = cpu_to_le32(lower_32_bits(next));
	d->next_desc_h = cpu_to_le32(upper_32_bits(next));
}

static dma_addr_t lsdma_addr(const void *desc)
{
	const struct mdma_lsdma_desc *d = desc;

	if (le32_to_cpu(d->csr) & LSDMA_CSR_FROM_DEVICE)
		return lsdma_join(d->dest_addr, d->dest_addr_h);
	return lsdma_join(d->src_addr, d->src_addr_h);
}

static u32 lsdma_len(const void *desc)
{
	const struct mdma_lsdma_desc *d = desc;

	return FIELD_GET(LSDMA_CSR_SIZE, le32_to_cpu(d->csr));
}

static dma_addr_t lsdma_next(const void *desc)
{
	const struct mdma_lsdma_desc *d = desc;

	return lsdma_join(d->next_desc, d->next_desc_h);
}

static u32 lsdma_flags(const void *desc)
{
	u32 csr = le32_to_cpu(((const struct mdma_lsdma_desc *)desc)->csr);

	return (csr & LSDMA_CSR_INT ? MDMA_DESC_INT : 0) |
	       (csr & LSDMA_CSR_EOL ? MDMA_DESC_EOL : 0);
}

const struct mdma_desc_ops mdma_lsdma_ops = {
	.name = "lsdma",
	.format = MASTER_DMA_DESC_LSDMA,
	.size = sizeof(struct mdma_lsdma_desc),
	.align = 32,
	.addr_bits = 64,
	.fill = lsdma_fill,
	.addr = lsdma_addr,
	.len = lsdma_len,
	.next = lsdma_next,
	.flags = lsdma_flags,
};
EXPORT_SYMBOL_GPL(mdma_lsdma_ops);

struct mdma_plx_desc {
	__le32 pci_addr;
	__le32 local_addr;
	__le32 size;
	__le32 next;
};

static_assert(sizeof(struct mdma_plx_desc) == 16);

#define PLX_NEXT_PCI		BIT(0)	/* descriptor in PCI address space */
#define PLX_NEXT_EOC		BIT(1)	/* end of chain */
#define PLX_NEXT_INT		BIT(2)	/* interrupt after terminal count */
#define PLX_NEXT_TO_PCI		BIT(3)	/* local bus to PCI: from the device */
#define PLX_NEXT_FLAGS		GENMASK(3, 0)

static void plx_fill(void *desc, dma_addr_t addr, u32 len, dma_addr_t next,
		     u32 flags, enum dma_data_direction dir)
{
	struct mdma_plx_desc *d = desc;
	u32 link = lower_32_bits(next) | PLX_NEXT_PCI;

	WARN_ON_ONCE(upper_32_bits(addr) || upper_32_bits(next) ||
		     (lower_32_bits(next) & PLX_NEXT_FLAGS));
	if (flags & MDMA_DESC_INT)
		link |= PLX_NEXT_INT;
	if (flags & MDMA_DESC_EOL)
		link |= PLX_NEXT_EOC;
	if (dir == DMA_FROM_DEVICE)
		link |= PLX_NEXT_TO_PCI;
	d->pci_addr = cpu_to_le32(lower_32_bits(addr));
	d->local_addr = 0;
	d->size = cpu_to_le32(len);
	d->next = cpu_to_le32(link);
}

static dma_addr_t plx_addr(const void *desc)
{
	return le32_to_cpu(((const struct mdma_plx_desc *)desc)->pci_addr);
}

static u32 plx_len(const void *desc)
{
	return le32_to_cpu(((const struct mdma_plx_desc *)desc)->size);
}

static dma_addr_t plx_next(const void *desc)
{
	return le32_to_cpu(((const struct mdma_plx_desc *)desc)->next) &
	       ~PLX_NEXT_FLAGS;
}

static u32 plx_flags(const void *desc)
{
	u32 link = le32_to_cpu(((const struct mdma_plx_desc *)desc)->next);

	return (link & PLX_NEXT_INT ? MDMA_DESC_INT : 0) |
	       (link & PLX_NEXT_EOC ? MDMA_DESC_EOL : 0);
}

const struct mdma_desc_ops mdma_plx9080_ops = {
	.name = "plx9080",
	.format = MASTER_DMA_DESC_PLX9080,
	.size = sizeof(struct mdma_plx_desc),
	.align = 16,
	.addr_bits = 32,
	.fill = plx_fill,
	.addr = plx_addr,
	.len = plx_len,
	.next = plx_next,
	.flags = plx_flags,
};
EXPORT_SYMBOL_GPL(mdma_plx9080_ops);
