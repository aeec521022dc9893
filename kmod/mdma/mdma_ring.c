// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_ring.c - allocate and free the rings of the Master ring allocator
 *
 * A ring's buffers are made of whole pages plus a tail (bufsize % PAGE_SIZE).
 * The page array holds the full pages first, buffer after buffer, then the
 * tail pages, each holding tails_per_page tails (packed: as many as fit;
 * own-page: one).  A tail never crosses a page.  The pointer array lists
 * every page-or-tail in the order the device walks them: buffer 0's pages,
 * its tail, buffer 1's pages...  One descriptor per entry of the pointer
 * array, from a dma_pool, chained into a ring; the descriptors' bus
 * addresses are kept beside them, never recovered from a next field.
 *
 * Every allocation goes through one helper per kind (arrays, pages,
 * mappings, descriptors), which is where fault injection will hook in.
 * Allocation sleeps (GFP_KERNEL) and stops on a fatal signal; the caller
 * serialises alloc and free of one ring, different rings are independent.
 */
#include <linux/dma-mapping.h>
#include <linux/gfp.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/overflow.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>

#include "mdma_internal.h"

int mdma_array_alloc(struct mdma_array *array, u64 n, size_t size)
{
	if (n > INT_MAX / size || mdma_test_fail("array"))
		return -ENOMEM;
	array->mem = kvcalloc(n, size, GFP_KERNEL);
	if (!array->mem)
		return -ENOMEM;
	if (is_vmalloc_addr(array->mem)) {
		array->kind = MASTER_DMA_ALLOC_VMALLOC;
		array->bytes = PAGE_ALIGN(n * size);
	} else {
		array->kind = MASTER_DMA_ALLOC_KMALLOC;
		array->bytes = ksize(array->mem);
	}
	return 0;
}

void mdma_array_free(struct mdma_array *array)
{
	kvfree(array->mem);
	array->mem = NULL;
}

static bool mdma_should_stop(u64 done)
{
	if (done % MDMA_BATCH)
		return false;
	cond_resched();
	return fatal_signal_pending(current);
}

static int mdma_geometry(struct mdma_ring *ring)
{
	const struct mdma_ring_params *p = &ring->params;
	u32 tail = p->bufsize % PAGE_SIZE;
	u64 bytes;

	if (p->buffers < 2 || !p->bufsize || !p->ops)
		return -EINVAL;
	if (p->ops->addr_bits < 32 || p->ops->addr_bits > 64)
		return -EINVAL;
	if (p->dir != DMA_TO_DEVICE && p->dir != DMA_FROM_DEVICE)
		return -EINVAL;
	if (p->tails != MASTER_DMA_TAILS_PACKED &&
	    p->tails != MASTER_DMA_TAILS_OWN_PAGE)
		return -EINVAL;

	ring->tail_size = tail;
	ring->full_per_buf = p->bufsize / PAGE_SIZE;
	ring->pointers_per_buf = ring->full_per_buf + (tail > 0);
	ring->full_pages = (u64)ring->full_per_buf * p->buffers;
	ring->pointers = (u64)ring->pointers_per_buf * p->buffers;
	if (tail) {
		ring->tails_per_page = p->tails == MASTER_DMA_TAILS_PACKED ?
				       PAGE_SIZE / tail : 1;
		if (mdma_bug(ring) == MDMA_BUG_EXTRA_TAIL)
			ring->tails_per_page++;
		ring->tail_pages = DIV_ROUND_UP_ULL(p->buffers,
						    ring->tails_per_page);
	}
	ring->total_pages = ring->full_pages + ring->tail_pages +
			    (mdma_bug(ring) == MDMA_BUG_SKIP_PAGE);
	/* page indexes are u32 in reports; the ring's bytes must fit size_t */
	if (ring->total_pages > U32_MAX ||
	    check_mul_overflow(ring->total_pages, (u64)PAGE_SIZE, &bytes) ||
	    bytes > SIZE_MAX)
		return -ENOMEM;
	return 0;
}

/**
 * mdma_locate() - where a fragment of a ring lives
 * @ring: the ring
 * @index: fragment number in access order
 * @page: index in the page array
 * @offset: byte offset in that page
 * @length: bytes of the fragment
 */
void mdma_locate(const struct mdma_ring *ring, u64 index, u32 *page,
		 u32 *offset, u32 *length)
{
	u32 skip = mdma_bug(ring) == MDMA_BUG_SKIP_PAGE;
	u32 part, slot;
	u64 buf = div_u64_rem(index, ring->pointers_per_buf, &part);

	if (part < ring->full_per_buf) {
		*page = buf * ring->full_per_buf + part + skip;
		*offset = 0;
		*length = PAGE_SIZE;
		return;
	}
	*page = ring->full_pages + div_u64_rem(buf, ring->tails_per_page, &slot) +
		skip;
	*offset = slot * ring->tail_size;
	*length = ring->tail_size;
}

/*
 * Keep the new pages [@from, @to) of the page array that the device
 * reaches, packed after @from; give the others back.  Return the count kept.
 */
static u64 mdma_pages_keep(struct mdma_ring *ring, u64 from, u64 to)
{
	struct page **pages = ring->pages.mem;
	struct page *page;
	u64 i, kept = from;

	for (i = from; i < to; i++) {
		page = pages[i];
		pages[i] = NULL;
		if (mdma_reach_page(ring, page))
			pages[kept++] = page;
		else
			__free_page(page);
	}
	return kept;
}

/*
 * Fill the page array in batches from the bulk allocator (one page at a
 * time when it gives up), from the zone the device reaches; a page out of
 * reach moves the rest of the allocation to the next lower zone.  The
 * single pages try hard (reclaim) but fail rather than wake the OOM
 * killer: __GFP_NORETRY gave up with a fifth of the free memory unused
 * under fragmentation (invoke bench), where the seed's method, which
 * retries, went on.
 */
static int mdma_pages_alloc(struct mdma_ring *ring)
{
	gfp_t gfp = GFP_KERNEL | mdma_test_zero() | __GFP_RETRY_MAYFAIL | __GFP_NOWARN;
	struct page **pages = ring->pages.mem;
	unsigned long want, got;
	u64 kept;

	while (ring->nr_pages < ring->total_pages) {
		if (fatal_signal_pending(current))
			return -EINTR;
		want = min_t(u64, ring->total_pages, ring->nr_pages + MDMA_BATCH);
		got = mdma_test_fail("pages") ? ring->nr_pages :
		      alloc_pages_bulk_array(gfp | mdma_reach_gfp(ring), want,
					     pages);
		if (got == ring->nr_pages) {
			/* the bulk allocator gave up: one page, or fail */
			pages[got] = mdma_test_fail("page") ? NULL :
				     alloc_page(gfp | mdma_reach_gfp(ring));
			if (!pages[got])
				return -ENOMEM;
			got++;
		}
		kept = mdma_pages_keep(ring, ring->nr_pages, got);
		atomic_long_add(kept - ring->nr_pages, &mdma_pages_in_use);
		ring->nr_pages = kept;
		if (kept < got && !mdma_reach_lower(ring))
			return -ENOMEM;
		cond_resched();
	}
	return 0;
}

static int mdma_pages_map(struct mdma_ring *ring)
{
	struct page **pages = ring->pages.mem;
	dma_addr_t *page_dma = ring->page_dma.mem;
	dma_addr_t dma;

	while (ring->nr_mapped < ring->nr_pages) {
		/* a failed mapping is our -ENOMEM, not a log line */
		dma = mdma_test_fail("map") ? DMA_MAPPING_ERROR :
		      dma_map_page_attrs(ring->dev, pages[ring->nr_mapped], 0,
					 PAGE_SIZE, ring->params.dir,
					 DMA_ATTR_NO_WARN);
		if (dma_mapping_error(ring->dev, dma))
			return -ENOMEM;
		page_dma[ring->nr_mapped++] = dma;
		/* an IOVA beyond what the descriptors hold */
		if (!mdma_reach_dma(ring, dma, PAGE_SIZE))
			return -ENOMEM;
		if (mdma_should_stop(ring->nr_mapped))
			return -EINTR;
	}
	return 0;
}

/*
 * Descriptors come from dma_pools of at most MDMA_POOL_PAGES pages each.
 * 6.1's dma_pool_free() finds a block's page by walking its pool's page
 * list: with one pool, freeing 2^20 descriptors took 55 s under TCG (time
 * quadratic in the ring); small pools keep it linear.
 */
#define MDMA_POOL_PAGES	64
/* a pool's new page, as the ring's pages: fail rather than wake the OOM killer */
#define MDMA_DESC_GFP	(GFP_KERNEL | __GFP_RETRY_MAYFAIL | __GFP_NOWARN)

static u64 mdma_descs_per_pool(const struct mdma_ring *ring)
{
	return MDMA_POOL_PAGES *
	       (PAGE_SIZE / ALIGN(ring->ops->size, ring->ops->align));
}

/* The pool of descriptor @index, created with its first descriptor. */
static struct dma_pool *mdma_desc_pool(struct mdma_ring *ring, u64 index)
{
	struct dma_pool **pools = ring->pools.mem;
	u64 n = div64_u64(index, mdma_descs_per_pool(ring));

	if (!pools[n] && !mdma_test_fail("pool")) {
		pools[n] = dma_pool_create(ring->name, ring->dev,
					   ring->ops->size, ring->ops->align, 0);
		if (pools[n])
			ring->nr_pools++;
	}
	return pools[n];
}

int mdma_descs_alloc(struct mdma_ring *ring)
{
	struct mdma_desc_slot *slot;
	struct dma_pool *pool;
	int ret;

	ret = mdma_array_alloc(&ring->pools,
			       div64_u64(ring->pointers - 1,
					 mdma_descs_per_pool(ring)) + 1,
			       sizeof(struct dma_pool *));
	if (ret)
		return ret;
	while (ring->nr_descs < ring->pointers) {
		slot = (struct mdma_desc_slot *)ring->descs.mem + ring->nr_descs;
		pool = mdma_desc_pool(ring, ring->nr_descs);
		if (!pool)
			return -ENOMEM;
		/* a device that cannot be served gets -ENOMEM, not a splat */
		slot->cpu = mdma_test_fail("desc") ? NULL :
			    dma_pool_zalloc(pool, MDMA_DESC_GFP, &slot->dma);
		if (!slot->cpu)
			return -ENOMEM;
		ring->nr_descs++;
		/* the chain holds descriptor addresses in addr_bits too */
		if (!mdma_reach_dma(ring, slot->dma, ring->ops->size))
			return -ENOMEM;
		if (mdma_should_stop(ring->nr_descs))
			return -EINTR;
	}
	return 0;
}

/* Fill the pointer array and chain the descriptors, in access order. */
static void mdma_chain(struct mdma_ring *ring)
{
	struct mdma_desc_slot *descs = ring->descs.mem;
	dma_addr_t *page_dma = ring->page_dma.mem;
	struct page **pages = ring->pages.mem;
	void **ptrs = ring->ptrs.mem;
	u32 page, offset, len, part, flags;
	u64 i, next;

	for (i = 0; i < ring->pointers; i++) {
		mdma_locate(ring, i, &page, &offset, &len);
		ptrs[i] = page_address(pages[page]) + offset;
		div_u64_rem(i, ring->pointers_per_buf, &part);
		flags = part == ring->pointers_per_buf - 1 ? MDMA_DESC_INT : 0;
		next = i + 1;
		if (next == ring->pointers) {
			flags |= MDMA_DESC_EOL;
			next = 0;
		}
		ring->ops->fill(descs[i].cpu, page_dma[page] + offset, len,
				descs[next].dma, flags, ring->params.dir);
		if (!((i + 1) % MDMA_BATCH))
			cond_resched();
	}
}

static int mdma_ring_populate(struct mdma_ring *ring)
{
	int ret;

	if (ring->total_pages > si_mem_available() ||
	    ring->total_pages > mdma_reach_free_pages(ring))
		return -ENOMEM;
	ret = mdma_array_alloc(&ring->pages, ring->total_pages,
			       sizeof(struct page *));
	if (!ret)
		ret = mdma_array_alloc(&ring->ptrs, ring->pointers, sizeof(void *));
	if (!ret)
		ret = mdma_array_alloc(&ring->page_dma, ring->total_pages,
				       sizeof(dma_addr_t));
	if (!ret)
		ret = mdma_array_alloc(&ring->descs, ring->pointers,
				       sizeof(struct mdma_desc_slot));
	if (!ret)
		ret = mdma_pages_alloc(ring);
	if (!ret)
		ret = mdma_pages_map(ring);
	if (!ret)
		ret = mdma_descs_alloc(ring);
	if (!ret) {
		mdma_reach_count(ring);
		mdma_chain(ring);
	}
	return ret;
}

/* Undo whatever part of mdma_descs_alloc() was done, in reverse. */
void mdma_descs_free(struct mdma_ring *ring)
{
	struct mdma_desc_slot *descs = ring->descs.mem;
	struct dma_pool **pools = ring->pools.mem;
	u64 per_pool = mdma_descs_per_pool(ring);

	while (ring->nr_descs) {
		ring->nr_descs--;
		dma_pool_free(pools[div64_u64(ring->nr_descs, per_pool)],
			      descs[ring->nr_descs].cpu,
			      descs[ring->nr_descs].dma);
		if (!(ring->nr_descs % MDMA_BATCH))
			cond_resched();
	}
	/* pools are created in order: the first nr_pools exist */
	while (ring->nr_pools)
		dma_pool_destroy(pools[--ring->nr_pools]);
	mdma_array_free(&ring->pools);
}

/* Undo whatever part of mdma_ring_populate() was done, in reverse. */
static void mdma_ring_release(struct mdma_ring *ring)
{
	dma_addr_t *page_dma = ring->page_dma.mem;
	struct page **pages = ring->pages.mem;
	u64 freed = ring->nr_pages;

	mdma_descs_free(ring);
	while (ring->nr_mapped) {
		ring->nr_mapped--;
		dma_unmap_page(ring->dev, page_dma[ring->nr_mapped], PAGE_SIZE,
			       ring->params.dir);
		if (!(ring->nr_mapped % MDMA_BATCH))
			cond_resched();
	}
	if (ring->nr_pages && mdma_test_leak(MDMA_LEAK_PAGE))
		ring->nr_pages--;	/* test only: pages[nr_pages - 1] leaks */
	while (ring->nr_pages) {
		__free_page(pages[--ring->nr_pages]);
		if (!(ring->nr_pages % MDMA_BATCH))
			cond_resched();
	}
	atomic_long_sub(freed, &mdma_pages_in_use);
	mdma_array_free(&ring->descs);
	mdma_array_free(&ring->page_dma);
	mdma_array_free(&ring->ptrs);
	mdma_array_free(&ring->pages);
}

/**
 * mdma_ring_alloc() - allocate a ring of DMA buffers for a device
 * @dev: the device that will walk the ring; its DMA mask applies
 * @params: geometry, direction, tail policy, descriptor format, name
 *
 * Allocates zeroed pages that @dev reaches directly (its DMA mask and bus
 * limit, and the descriptor format's address width; any page behind an
 * IOMMU), maps them for @dev, allocates one descriptor per page or tail
 * from a dma_pool and chains them into a ring in access order.
 * With a name, the ring's layout appears under /sys/kernel/debug/mdma/.
 *
 * The descriptors come from a dma_pool of @dev, so from its coherent DMA
 * mask: a driver whose descriptor format holds fewer address bits than its
 * streaming mask sets a narrower coherent mask; a descriptor beyond the
 * format's width fails the allocation with -ENOMEM, never a truncated chain.
 *
 * Context: process context; sleeps.
 * Return: the ring, or ERR_PTR(-EINVAL) for bad parameters, -ENOMEM when
 * memory the device reaches (or a mapping) is short, -EINTR on a fatal
 * signal.
 */
struct mdma_ring *mdma_ring_alloc(struct device *dev,
				  const struct mdma_ring_params *params)
{
	struct mdma_ring *ring;
	int ret;

	if (!dev || !params)
		return ERR_PTR(-EINVAL);
	ring = mdma_test_fail("ring") ? NULL : kzalloc(sizeof(*ring), GFP_KERNEL);
	if (!ring)
		return ERR_PTR(-ENOMEM);
	ring->dev = dev;
	ring->params = *params;
	ring->ops = params->ops;
	ring->bug = mdma_test_layout_bug();
	strscpy(ring->name, params->name ?: dev_name(dev), sizeof(ring->name));
	ring->params.name = ring->name;

	ret = mdma_geometry(ring);
	if (!ret) {
		mdma_reach_init(ring);
		ret = mdma_ring_populate(ring);
	}
	if (ret) {
		mdma_ring_release(ring);
		kfree(ring);
		return ERR_PTR(ret);
	}
	atomic_inc(&mdma_rings);
	ring->named = !!params->name;
	mdma_registry_add(ring);
	return ring;
}
EXPORT_SYMBOL_GPL(mdma_ring_alloc);

/**
 * mdma_ring_free() - free a ring and everything it holds
 * @ring: the ring; NULL and error pointers are ignored
 *
 * The device must have stopped walking the ring.
 *
 * Context: process context; sleeps.
 */
void mdma_ring_free(struct mdma_ring *ring)
{
	if (IS_ERR_OR_NULL(ring))
		return;
	mdma_registry_remove(ring);
	mdma_ring_release(ring);
	atomic_dec(&mdma_rings);
	if (!mdma_test_leak(MDMA_LEAK_RING))
		kfree(ring);
}
EXPORT_SYMBOL_GPL(mdma_ring_free);

/**
 * mdma_ring_footprint() - the memory a ring of these parameters would hold
 * @params: as for mdma_ring_alloc()
 * @bytes: set to the bytes of its pages, descriptors (aligned as the pool
 *	lays them out) and the arrays that track them
 *
 * Lets a driver bound what user space can make it allocate, before it
 * allocates anything.
 *
 * Context: any context.
 * Return: 0; -EINVAL for parameters mdma_ring_alloc() refuses; -ENOMEM for
 * a ring that could never be allocated.
 */
int mdma_ring_footprint(const struct mdma_ring_params *params, u64 *bytes)
{
	struct mdma_ring ring = { .params = *params, .ops = params->ops };
	u64 per_page = PAGE_SIZE + sizeof(struct page *) + sizeof(dma_addr_t);
	u64 per_frag, pages, frags;
	int ret;

	ret = mdma_geometry(&ring);
	if (ret)
		return ret;
	per_frag = ALIGN(ring.ops->size, ring.ops->align) + sizeof(void *) +
		   sizeof(struct mdma_desc_slot);
	if (check_mul_overflow(ring.total_pages, per_page, &pages) ||
	    check_mul_overflow(ring.pointers, per_frag, &frags) ||
	    check_add_overflow(pages, frags, bytes))
		return -ENOMEM;
	return 0;
}
EXPORT_SYMBOL_GPL(mdma_ring_footprint);

/**
 * mdma_ring_summary() - the layout of a ring as it was really allocated
 * @ring: the ring
 * @s: filled with the figures; page and array counts are those allocated,
 *	array sizes those of ksize() (or whole pages for vmalloc)
 *
 * Context: any context.
 */
void mdma_ring_summary(const struct mdma_ring *ring,
		       struct master_dma_summary *s)
{
	const struct mdma_ring_params *p = &ring->params;
	u64 ptr = sizeof(void *);

	memset(s, 0, sizeof(*s));
	s->buffers = p->buffers;
	s->bufsize = p->bufsize;
	s->page_size = PAGE_SIZE;
	s->pointer_size = ptr;
	s->tails = p->tails;
	s->direction = p->dir;
	s->tail_size = ring->tail_size;
	s->pointers_per_buf = ring->pointers_per_buf;
	s->full_pages = ring->full_pages;
	s->tails_per_page = ring->tails_per_page;
	s->tail_pages = ring->tail_pages;
	s->total_pages = ring->nr_pages;
	s->pointers = ring->pointers;
	s->page_array_bytes = ring->pages.bytes;
	s->pointer_array_bytes = ring->ptrs.bytes;
	s->page_array_kind = ring->pages.kind;
	s->pointer_array_kind = ring->ptrs.kind;
	s->bytes_required = (u64)p->buffers * p->bufsize +
			    (ring->nr_pages + ring->pointers) * ptr;
	s->bytes_allocated = ring->nr_pages * PAGE_SIZE + ring->pages.bytes +
			     ring->ptrs.bytes;
	s->desc_format = ring->ops->format;
	s->desc_size = ring->ops->size;
	s->desc_stride = ALIGN(ring->ops->size, ring->ops->align);
	s->descriptors = ring->nr_descs;
	s->desc_bytes = ring->nr_descs * s->desc_stride;
	s->desc_array_bytes = ring->descs.bytes;
	s->page_dma_array_bytes = ring->page_dma.bytes;
	s->dma_limit = ring->dma_limit;
	s->iommu = ring->iommu;
	s->zone = ring->zone;
	s->pages_dma = ring->zone_pages[MASTER_DMA_ZONE_DMA];
	s->pages_dma32 = ring->zone_pages[MASTER_DMA_ZONE_DMA32];
	s->pages_normal = ring->zone_pages[MASTER_DMA_ZONE_NORMAL];
	s->bounced_pages = ring->bounced_pages;
}
EXPORT_SYMBOL_GPL(mdma_ring_summary);

/**
 * mdma_ring_fragment() - one page or tail of a ring and its descriptor
 * @ring: the ring
 * @index: fragment number in access order
 * @frag: filled with where it lives and what its descriptor says
 *
 * Context: any context.
 * Return: 0, or -EINVAL if @index is beyond the ring.
 */
int mdma_ring_fragment(const struct mdma_ring *ring, u64 index,
		       struct mdma_fragment *frag)
{
	struct page **pages = ring->pages.mem;
	const struct mdma_desc_slot *slot;
	u32 len;

	if (index >= ring->pointers)
		return -EINVAL;
	slot = (const struct mdma_desc_slot *)ring->descs.mem + index;
	frag->buffer = div_u64_rem(index, ring->pointers_per_buf, &frag->part);
	mdma_locate(ring, index, &frag->page, &frag->offset, &len);
	frag->length = ring->ops->len(slot->cpu);
	frag->flags = ring->ops->flags(slot->cpu);
	frag->dma_addr = ring->ops->addr(slot->cpu);
	frag->desc_dma = slot->dma;
	frag->phys = page_to_phys(pages[frag->page]) + frag->offset;
	frag->next_desc = ring->ops->next(slot->cpu);
	return 0;
}
EXPORT_SYMBOL_GPL(mdma_ring_fragment);

/**
 * mdma_ring_bytes() - bytes of data a ring holds (buffers * bufsize)
 * @ring: the ring
 *
 * Context: any context.
 * Return: the size of the ring's data in bytes.
 */
size_t mdma_ring_bytes(const struct mdma_ring *ring)
{
	return (size_t)ring->params.buffers * ring->params.bufsize;
}
EXPORT_SYMBOL_GPL(mdma_ring_bytes);
