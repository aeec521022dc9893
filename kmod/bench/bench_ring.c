// SPDX-License-Identifier: GPL-2.0
/*
 * bench_ring.c - a ring built four ways, the floor under them, descriptors
 * and fragmentation
 *
 * "ours" is mdma_ring_alloc().  "seed" is the method the seed describes,
 * written literally: kmalloc'd arrays, one get_zeroed_page() and one
 * streaming mapping per page, one dma_pool_alloc() per page or tail from a
 * single pool.  "coherent" and "pages" take the same bytes in one piece
 * (dma_alloc_coherent(), alloc_pages() of the next order).  "floor" zeroes
 * the same number of pages, allocated beforehand: the work no method can
 * avoid.  Rings move DMA_TO_DEVICE with Linear Systems descriptors.
 */
#include <linux/dma-mapping.h>
#include <linux/dmapool.h>
#include <linux/gfp.h>
#include <linux/kstrtox.h>
#include <linux/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/vmstat.h>

#include "compat.h"
#include "master/mdma.h"
#include "mdma/mdma_test.h"
#include "bench.h"

/* What a ring of the seed's geometry is made of (design section 2). */
struct bench_geo {
	u32 buffers;
	u32 bufsize;
	u32 tails;
	u32 full_per_buf;
	u32 tail;
	u32 tails_per_page;
	u64 full_pages;
	u64 total_pages;
	u64 pointers;
};

static int bench_geo(struct bench_geo *g, u32 buffers, u32 bufsize, u32 tails)
{
	if (buffers < 2 || !bufsize)
		return -EINVAL;
	g->buffers = buffers;
	g->bufsize = bufsize;
	g->tails = tails;
	g->full_per_buf = bufsize / PAGE_SIZE;
	g->tail = bufsize % PAGE_SIZE;
	g->tails_per_page = !g->tail ? 0 :
			    tails == MASTER_DMA_TAILS_PACKED ? PAGE_SIZE / g->tail : 1;
	g->full_pages = (u64)g->full_per_buf * buffers;
	g->total_pages = g->full_pages +
			 (g->tail ? DIV_ROUND_UP(buffers, g->tails_per_page) : 0);
	g->pointers = (u64)(g->full_per_buf + !!g->tail) * buffers;
	return 0;
}

static int bench_parse_tails(const char *word, u32 *tails)
{
	if (!strcmp(word, "packed"))
		*tails = MASTER_DMA_TAILS_PACKED;
	else if (!strcmp(word, "own-page"))
		*tails = MASTER_DMA_TAILS_OWN_PAGE;
	else
		return -EINVAL;
	return 0;
}

/* One ring built by one method, kept until its teardown. */
struct bench_ring {
	struct device *dev;
	struct bench_geo geo;
	struct mdma_ring *ours;
	/* seed */
	unsigned long *pages;
	dma_addr_t *page_dma;
	void **ptrs;
	void **descs;
	dma_addr_t *desc_dma;
	struct dma_pool *pool;
	u64 nr_pages;
	u64 nr_mapped;
	u64 nr_descs;
	/* coherent, pages */
	void *cpu;
	dma_addr_t dma;
	struct page *block;
	/* floor */
	struct page **zero;
	unsigned long nr_zero;
};

static int bench_ours_setup(struct bench_ring *r)
{
	struct mdma_ring_params params = {
		.buffers = r->geo.buffers,
		.bufsize = r->geo.bufsize,
		.dir = DMA_TO_DEVICE,
		.tails = r->geo.tails,
		.ops = &mdma_lsdma_ops,
	};

	r->ours = mdma_ring_alloc(r->dev, &params);
	if (IS_ERR(r->ours)) {
		int ret = PTR_ERR(r->ours);

		r->ours = NULL;
		return ret;
	}
	return 0;
}

static void bench_ours_teardown(struct bench_ring *r)
{
	mdma_ring_free(r->ours);
	r->ours = NULL;
}

/* The seed's page, offset and length of pointer @i, in access order. */
static void bench_seed_locate(const struct bench_geo *g, u64 i, u64 *page,
			      u32 *offset, u32 *len)
{
	u32 per_buf = g->full_per_buf + !!g->tail;
	u64 buffer = div_u64(i, per_buf);
	u32 part = i - buffer * per_buf;

	if (part < g->full_per_buf) {
		*page = buffer * g->full_per_buf + part;
		*offset = 0;
		*len = PAGE_SIZE;
		return;
	}
	*page = g->full_pages + div_u64(buffer, g->tails_per_page);
	*offset = (buffer % g->tails_per_page) * g->tail;
	*len = g->tail;
}

static void bench_seed_teardown(struct bench_ring *r)
{
	while (r->nr_descs--)
		dma_pool_free(r->pool, r->descs[r->nr_descs], r->desc_dma[r->nr_descs]);
	dma_pool_destroy(r->pool);
	while (r->nr_mapped--)
		dma_unmap_single(r->dev, r->page_dma[r->nr_mapped], PAGE_SIZE,
				 DMA_TO_DEVICE);
	while (r->nr_pages--)
		free_page(r->pages[r->nr_pages]);
	kfree(r->desc_dma);
	kfree(r->descs);
	kfree(r->ptrs);
	kfree(r->page_dma);
	kfree(r->pages);
	/* the next setup, in bench_largest()'s bisection, starts from nothing */
	r->pool = NULL;
	r->desc_dma = NULL;
	r->descs = NULL;
	r->ptrs = NULL;
	r->page_dma = NULL;
	r->pages = NULL;
	r->nr_pages = 0;
	r->nr_mapped = 0;
	r->nr_descs = 0;
}

static int bench_seed_chain(struct bench_ring *r)
{
	const struct bench_geo *g = &r->geo;
	u32 per_buf = g->full_per_buf + !!g->tail;
	u32 offset, len, flags;
	u64 i, page;

	r->pool = dma_pool_create("bench-seed", r->dev, mdma_lsdma_ops.size,
				  mdma_lsdma_ops.align, 0);
	if (!r->pool)
		return -ENOMEM;
	for (; r->nr_descs < g->pointers; r->nr_descs++) {
		r->descs[r->nr_descs] = dma_pool_alloc(r->pool, BENCH_GFP,
						       &r->desc_dma[r->nr_descs]);
		if (!r->descs[r->nr_descs])
			return -ENOMEM;
	}
	for (i = 0; i < g->pointers; i++) {
		bench_seed_locate(g, i, &page, &offset, &len);
		r->ptrs[i] = (void *)r->pages[page] + offset;
		flags = (i + 1) % per_buf ? 0 : MDMA_DESC_INT;
		mdma_lsdma_ops.fill(r->descs[i], r->page_dma[page] + offset, len,
				    r->desc_dma[(i + 1) % g->pointers], flags,
				    DMA_TO_DEVICE);
	}
	return 0;
}

static int bench_seed_setup(struct bench_ring *r)
{
	const struct bench_geo *g = &r->geo;
	int ret;

	r->pages = kmalloc_array(g->total_pages, sizeof(*r->pages), BENCH_GFP);
	r->page_dma = kmalloc_array(g->total_pages, sizeof(*r->page_dma), BENCH_GFP);
	r->ptrs = kmalloc_array(g->pointers, sizeof(*r->ptrs), BENCH_GFP);
	r->descs = kmalloc_array(g->pointers, sizeof(*r->descs), BENCH_GFP);
	r->desc_dma = kmalloc_array(g->pointers, sizeof(*r->desc_dma), BENCH_GFP);
	ret = -ENOMEM;
	if (!r->pages || !r->page_dma || !r->ptrs || !r->descs || !r->desc_dma)
		goto teardown;
	for (; r->nr_pages < g->total_pages; r->nr_pages++) {
		r->pages[r->nr_pages] = get_zeroed_page(BENCH_GFP | __GFP_DMA32);
		if (!r->pages[r->nr_pages])
			goto teardown;
	}
	for (; r->nr_mapped < g->total_pages; r->nr_mapped++) {
		r->page_dma[r->nr_mapped] =
			dma_map_single(r->dev, (void *)r->pages[r->nr_mapped],
				       PAGE_SIZE, DMA_TO_DEVICE);
		if (dma_mapping_error(r->dev, r->page_dma[r->nr_mapped]))
			goto teardown;
	}
	ret = bench_seed_chain(r);
	if (!ret)
		return 0;
teardown:
	bench_seed_teardown(r);
	return ret;
}

static size_t bench_bytes(const struct bench_ring *r)
{
	return r->geo.total_pages << PAGE_SHIFT;
}

static int bench_coherent_setup(struct bench_ring *r)
{
	r->cpu = dma_alloc_coherent(r->dev, bench_bytes(r), &r->dma,
				    BENCH_GFP);
	return r->cpu ? 0 : -ENOMEM;
}

static void bench_coherent_teardown(struct bench_ring *r)
{
	dma_free_coherent(r->dev, bench_bytes(r), r->cpu, r->dma);
}

static int bench_pages_setup(struct bench_ring *r)
{
	unsigned int order = get_order(bench_bytes(r));

	if (order > COMPAT_MAX_PAGE_ORDER)
		return -E2BIG;
	r->block = alloc_pages(BENCH_GFP | __GFP_DMA32 | __GFP_ZERO, order);
	return r->block ? 0 : -ENOMEM;
}

static void bench_pages_teardown(struct bench_ring *r)
{
	__free_pages(r->block, get_order(bench_bytes(r)));
}

/* The floor's pages are taken before the clock starts and zeroed on it. */
static int bench_floor_prepare(struct bench_ring *r)
{
	unsigned long want = r->geo.total_pages;

	if (want > si_mem_available())
		return -ENOMEM;
	r->zero = kvcalloc(want, sizeof(*r->zero), BENCH_GFP);
	if (!r->zero)
		return -ENOMEM;
	while (r->nr_zero < want) {
		unsigned long got = alloc_pages_bulk_array(BENCH_GFP | __GFP_DMA32,
							   want, r->zero);

		if (got == r->nr_zero)
			return -ENOMEM;
		r->nr_zero = got;
	}
	return 0;
}

static int bench_floor_setup(struct bench_ring *r)
{
	unsigned long i;

	for (i = 0; i < r->nr_zero; i++)
		clear_page(page_address(r->zero[i]));
	return 0;
}

static void bench_floor_teardown(struct bench_ring *r)
{
}

static void bench_floor_release(struct bench_ring *r)
{
	while (r->nr_zero)
		__free_page(r->zero[--r->nr_zero]);
	kvfree(r->zero);
	r->zero = NULL;
}

struct bench_method {
	const char *name;
	int (*setup)(struct bench_ring *r);
	void (*teardown)(struct bench_ring *r);
};

static const struct bench_method bench_methods[] = {
	{ "ours", bench_ours_setup, bench_ours_teardown },
	{ "seed", bench_seed_setup, bench_seed_teardown },
	{ "coherent", bench_coherent_setup, bench_coherent_teardown },
	{ "pages", bench_pages_setup, bench_pages_teardown },
	{ "floor", bench_floor_setup, bench_floor_teardown },
};

static const struct bench_method *bench_method(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(bench_methods); i++)
		if (!strcmp(bench_methods[i].name, name))
			return &bench_methods[i];
	return NULL;
}

static bool bench_is_floor(const struct bench_method *m)
{
	return m->setup == bench_floor_setup;
}

/* Build and tear down one ring, timing both; 0 or the setup's error. */
static int bench_once(const struct bench_method *m, struct bench_ring *r,
		      u64 *setup_ns, u64 *teardown_ns)
{
	u64 start;
	int ret;

	if (bench_is_floor(m)) {
		ret = bench_floor_prepare(r);
		if (ret) {
			bench_floor_release(r);
			return ret;
		}
	}
	start = ktime_get_ns();
	ret = m->setup(r);
	*setup_ns = ktime_get_ns() - start;
	if (!ret) {
		start = ktime_get_ns();
		m->teardown(r);
		*teardown_ns = ktime_get_ns() - start;
	}
	if (bench_is_floor(m))
		bench_floor_release(r);
	return ret;
}

int bench_ring(struct device *dev, struct bench_out *out, char **argv, int argc)
{
	const struct bench_method *m = bench_method(argv[0]);
	struct bench_ring r = { .dev = dev };
	u32 buffers, bufsize, tails, reps, i;
	u64 setup_ns, teardown_ns;
	int ret;

	if (!m || kstrtou32(argv[1], 0, &buffers) || kstrtou32(argv[2], 0, &bufsize) ||
	    bench_parse_tails(argv[3], &tails) || kstrtou32(argv[4], 0, &reps) || !reps)
		return -EINVAL;
	ret = bench_geo(&r.geo, buffers, bufsize, tails);
	if (ret)
		return ret;
	for (i = 0; i < reps; i++) {
		if (fatal_signal_pending(current))
			return -EINTR;
		ret = bench_once(m, &r, &setup_ns, &teardown_ns);
		if (ret)
			bench_printf(out, "error=%d\n", ret);
		else
			bench_printf(out, "setup_ns=%llu teardown_ns=%llu pages=%llu\n",
				     setup_ns, teardown_ns, r.geo.total_pages);
		cond_resched();
	}
	return 0;
}

/* @count descriptors from one kernel dma_pool, freed in reverse as mdma does */
static int bench_one_pool(struct device *dev, u64 count, u64 ns[2])
{
	struct dma_pool *pool = NULL;
	dma_addr_t *dma;
	void **cpu;
	u64 n = 0, start;
	int ret = -ENOMEM;

	cpu = kvcalloc(count, sizeof(*cpu), BENCH_GFP);
	dma = kvcalloc(count, sizeof(*dma), BENCH_GFP);
	if (!cpu || !dma)
		goto free;
	/* the pool's creation and destruction are timed, as mdma's path has them */
	start = ktime_get_ns();
	pool = dma_pool_create("bench-pool", dev, mdma_lsdma_ops.size,
			       mdma_lsdma_ops.align, 0);
	if (!pool)
		goto free;
	for (; n < count; n++) {
		cpu[n] = dma_pool_zalloc(pool, BENCH_GFP, &dma[n]);
		if (!cpu[n])
			break;
	}
	ns[0] = ktime_get_ns() - start;
	ret = n == count ? 0 : -ENOMEM;
	start = ktime_get_ns();
	while (n--)
		dma_pool_free(pool, cpu[n], dma[n]);
	dma_pool_destroy(pool);
	ns[1] = ktime_get_ns() - start;
	pool = NULL;
free:
	dma_pool_destroy(pool);
	kvfree(dma);
	kvfree(cpu);
	return ret;
}

int bench_descs(struct device *dev, struct bench_out *out, char **argv, int argc)
{
	u64 ours[2], pool[2], count;
	u32 reps, i;
	int ret;

	if (kstrtou64(argv[0], 0, &count) || !count || kstrtou32(argv[1], 0, &reps) || !reps)
		return -EINVAL;
	for (i = 0; i < reps; i++) {
		/* the two take turns going first */
		if (i % 2) {
			ret = bench_one_pool(dev, count, pool);
			if (!ret)
				ret = mdma_test_descs(dev, &mdma_lsdma_ops, count, ours);
		} else {
			ret = mdma_test_descs(dev, &mdma_lsdma_ops, count, ours);
			if (!ret)
				ret = bench_one_pool(dev, count, pool);
		}
		if (ret) {
			bench_printf(out, "error=%d\n", ret);
			continue;
		}
		bench_printf(out,
			     "ours_alloc_ns=%llu ours_free_ns=%llu pool_alloc_ns=%llu pool_free_ns=%llu count=%llu\n",
			     ours[0], ours[1], pool[0], pool[1], count);
		cond_resched();
	}
	return 0;
}

/*
 * The fragmenter leaves free memory in order-0 blocks only.  From the
 * largest order down to 1, it takes every free block of every zone, splits
 * it, keeps the pages with an even pfn and gives back those with an odd
 * one: a page given back can never merge, its buddy is held, and it cannot
 * serve the next request of order 1 or more, so the loop reaches every
 * larger block.  Free memory never falls below half of what it was, so the
 * guest lives through it; the blocks below the watermarks are taken too.
 * Free blocks of order 0 are left as they are: their buddies are in use.
 */
static struct page **bench_held;
static unsigned long bench_nr_held;

static unsigned long bench_free_pages(void)
{
	return global_zone_page_state(NR_FREE_PAGES);
}

/* Split a block of 2^@order pages; keep the even pfns, free the odd. */
static void bench_fragment_block(struct page *page, unsigned int order)
{
	unsigned long i;

	split_page(page, order);
	for (i = 0; i < 1UL << order; i++) {
		if (page_to_pfn(page + i) & 1)
			__free_page(page + i);
		else
			bench_held[bench_nr_held++] = page + i;
	}
}

int bench_fragment(struct bench_out *out, char **argv, int argc)
{
	static const gfp_t bench_zones[] = { 0, __GFP_DMA32, __GFP_DMA };
	unsigned long want = totalram_pages(), blocks = 0;
	struct page *page;
	int order, zone;

	if (bench_held)
		return -EBUSY;
	bench_held = kvcalloc(want / 2 + 1, sizeof(*bench_held), BENCH_GFP);
	if (!bench_held)
		return -ENOMEM;
	for (order = COMPAT_MAX_PAGE_ORDER; order >= 1; order--) {
		for (zone = 0; zone < ARRAY_SIZE(bench_zones); zone++) {
			while (bench_nr_held + (1UL << (order - 1)) <= want / 2 + 1) {
				page = alloc_pages(GFP_KERNEL | bench_zones[zone] |
						   __GFP_NORETRY | __GFP_NOWARN |
						   __GFP_NOMEMALLOC, order);
				if (!page)
					break;
				bench_fragment_block(page, order);
				if (!(++blocks % 64))
					cond_resched();
			}
		}
	}
	bench_printf(out,
		     "blocks=%lu held_pages=%lu free_pages=%lu available_pages=%lu\n",
		     blocks, bench_nr_held, bench_free_pages(), si_mem_available());
	return 0;
}

void bench_unfragment(void)
{
	while (bench_nr_held)
		__free_page(bench_held[--bench_nr_held]);
	kvfree(bench_held);
	bench_held = NULL;
}

static int bench_fits(const struct bench_method *m, struct bench_ring *r,
		      u32 buffers)
{
	u64 setup_ns, teardown_ns;
	int ret;

	ret = bench_geo(&r->geo, buffers, r->geo.bufsize, r->geo.tails);
	if (ret)
		return ret;
	/*
	 * mdma refuses a ring beyond what the kernel counts as available (its
	 * reserves excluded); the other methods get the same bound, so that the
	 * seed's get_zeroed_page() loop never wakes the OOM killer.
	 */
	if (r->geo.total_pages > si_mem_available())
		return -ENOMEM;
	return bench_once(m, r, &setup_ns, &teardown_ns);
}

/* The largest ring of @bufsize buffers, within 1%, by bisection. */
static u32 bench_largest_ring(const struct bench_method *m, struct bench_ring *r)
{
	u64 lo = 0, hi, mid;

	hi = div_u64((u64)si_mem_available() << PAGE_SHIFT, r->geo.bufsize) + 1;
	hi = min_t(u64, hi, U32_MAX);
	while (hi - lo > max_t(u64, 1, div_u64(lo, 100))) {
		if (fatal_signal_pending(current))
			break;
		mid = lo + (hi - lo) / 2;
		if (mid >= 2 && !bench_fits(m, r, mid))
			lo = mid;
		else
			hi = mid;
		cond_resched();
	}
	return lo;
}

/* The largest single block, by order, for the contiguous methods. */
static u64 bench_largest_block(const struct bench_method *m, struct bench_ring *r)
{
	u64 setup_ns, teardown_ns;
	int order;

	for (order = COMPAT_MAX_PAGE_ORDER; order >= 0; order--) {
		r->geo.total_pages = 1ULL << order;
		if (!bench_once(m, r, &setup_ns, &teardown_ns))
			return PAGE_SIZE << order;
	}
	return 0;
}

int bench_largest(struct device *dev, struct bench_out *out, char **argv, int argc)
{
	const struct bench_method *m = bench_method(argv[0]);
	struct bench_ring r = { .dev = dev };
	unsigned long free = bench_free_pages(), available = si_mem_available();
	u32 bufsize, tails, buffers;
	u64 bytes;

	if (!m || bench_is_floor(m) || kstrtou32(argv[1], 0, &bufsize) ||
	    bench_parse_tails(argv[2], &tails))
		return -EINVAL;
	if (bench_geo(&r.geo, 2, bufsize, tails))
		return -EINVAL;
	if (m->setup == bench_ours_setup || m->setup == bench_seed_setup) {
		buffers = bench_largest_ring(m, &r);
		bench_geo(&r.geo, max_t(u32, buffers, 2), bufsize, tails);
		bytes = buffers >= 2 ? r.geo.total_pages << PAGE_SHIFT : 0;
	} else {
		buffers = 0;
		bytes = bench_largest_block(m, &r);
	}
	bench_printf(out, "largest_bytes=%llu buffers=%u free_pages=%lu available_pages=%lu\n",
		     bytes, buffers, free, available);
	return 0;
}
