// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_educheck.c - prove a ring's descriptors by real device DMA
 *
 * The edu device moves bytes by the bus address stored in each checked
 * descriptor, with the dma_sync discipline a driver owes the DMA API:
 *
 * - transmit: the CPU fills the fragment with bytes unique to it and syncs
 *   it for the device; edu reads them from the descriptor's address into
 *   its own buffer and writes them out to a coherent check page, which must
 *   then hold them;
 * - receive: a seeded pattern fills edu's buffer once; the CPU clears
 *   the fragment and syncs it for the device; edu writes slices of the
 *   pattern (at offsets that differ from fragment to fragment) to the
 *   descriptor's address; after the sync for the CPU the fragment must hold
 *   them.
 *
 * edu completes a transfer 100 ms after starting it, so large rings are
 * checked on a seeded sample (see struct master_dma_edu_check).
 */
#include <linux/dma-mapping.h>
#include <linux/math64.h>
#include <linux/mm.h>
#include <linux/prandom.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>

#include "masterdev.h"
#include "masterdev_test.h"

#define EDU_CHECK_ALL		64	/* rings up to this many: every fragment */
#define EDU_CHECK_SAMPLE	32	/* else this many, plus buffer ends */

struct masterdev_check {
	struct masterdev_iface *iface;
	struct device *dev;
	struct mdma_ring *ring;
	u8 *page;		/* coherent: the check page or the pattern */
	dma_addr_t page_dma;
	u8 *expect;
	u64 seed;
	struct master_dma_edu_check *out;
};

static void masterdev_check_bytes(u8 *buf, size_t len, u64 seed, u64 index)
{
	struct rnd_state state;

	prandom_seed_state(&state, seed ^ (index * 0x9e3779b97f4a7c15ULL));
	prandom_bytes_state(&state, buf, len);
}

static int masterdev_check_dma(struct masterdev_check *c, dma_addr_t ram,
			       u32 offset, u32 len, bool to_ram)
{
	int ret = masterdev_edu_dma(c->dev, ram, offset, len, to_ram);

	if (!ret)
		c->out->transfers++;
	return ret;
}

/* Each chunk: descriptor's address -> edu buffer -> check page. */
static int masterdev_check_tx(struct masterdev_check *c, u64 index,
			      const struct mdma_fragment *f, bool *same)
{
	u8 *cpu = mdma_ring_fragment_cpu(c->ring, index);
	u32 off, n;
	int ret = 0;

	masterdev_check_bytes(c->expect, f->length, c->seed, index);
	mdma_ring_sync_fragment(c->ring, index, true);
	memcpy(cpu, c->expect, f->length);
	mdma_ring_sync_fragment(c->ring, index, false);
	memset(c->page, 0, PAGE_SIZE);
	for (off = 0; !ret && off < f->length; off += n) {
		n = min_t(u32, f->length - off, MASTERDEV_EDU_MAX);
		ret = masterdev_check_dma(c, f->dma_addr + off, 0, n, false);
		if (!ret)
			ret = masterdev_check_dma(c, c->page_dma + off, 0, n, true);
	}
	*same = !memcmp(c->page, c->expect, f->length);
	return ret;
}

/* Each chunk: a slice of the pattern in edu -> descriptor's address. */
static int masterdev_check_rx(struct masterdev_check *c, u64 index,
			      u32 nth, const struct mdma_fragment *f,
			      bool *same)
{
	u8 *cpu = mdma_ring_fragment_cpu(c->ring, index);
	u32 off, n, from[PAGE_SIZE / MASTERDEV_EDU_MAX] = { };
	u32 i;
	int ret = 0;

	mdma_ring_sync_fragment(c->ring, index, true);
	memset(cpu, 0, f->length);
	mdma_ring_sync_fragment(c->ring, index, false);
	for (off = 0, i = 0; !ret && off < f->length; off += n, i++) {
		n = min_t(u32, f->length - off, MASTERDEV_EDU_MAX);
		from[i] = (nth * 61 + i * 1031 + (u32)c->seed) %
			  (MASTERDEV_EDU_USABLE - n + 1);
		ret = masterdev_check_dma(c, f->dma_addr + off, from[i], n, true);
	}
	mdma_ring_sync_fragment(c->ring, index, true);
	*same = true;
	for (off = 0, i = 0; off < f->length; off += n, i++) {
		n = min_t(u32, f->length - off, MASTERDEV_EDU_MAX);
		*same &= !memcmp(cpu + off, c->page + from[i], n);
	}
	mdma_ring_sync_fragment(c->ring, index, false);
	return ret;
}

/*
 * Bytes of @f that lie in the page its descriptor points into and in the
 * page of its CPU address: a fragment that would cross either (a layout or
 * descriptor the check is there to catch) is checked only that far, and
 * fails; neither edu nor the CPU ever touches the page beyond.
 */
static u32 masterdev_check_room(struct masterdev_check *c, u64 index,
				const struct mdma_fragment *f)
{
	const void *cpu = mdma_ring_fragment_cpu(c->ring, index);
	u32 room = PAGE_SIZE - offset_in_page(f->dma_addr);

	return min3(f->length, room, (u32)(PAGE_SIZE - offset_in_page(cpu)));
}

static int masterdev_check_one(struct masterdev_check *c, u64 index, u32 nth)
{
	struct mdma_fragment f;
	bool same = false, crosses;
	u32 room;
	int ret;

	ret = mdma_ring_fragment(c->ring, index, &f);
	if (ret)
		return ret;
	if (!f.length || f.length > PAGE_SIZE)
		return -EIO;
	room = masterdev_check_room(c, index, &f);
	crosses = room < f.length;
	f.length = room;
	if (c->iface->dir == DMA_TO_DEVICE)
		ret = masterdev_check_tx(c, index, &f, &same);
	else
		ret = masterdev_check_rx(c, index, nth, &f, &same);
	if (ret)
		return ret;
	same &= !crosses;
	c->out->checked++;
	if (!same) {
		if (!c->out->failed++)
			c->out->first_failed = index;
		dev_err(c->iface->dev, "edu check: fragment %llu not at %pad\n",
			index, &f.dma_addr);
	}
	return 0;
}

static int masterdev_u64_cmp(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * The fragments to check, sorted and distinct: all of a small ring, else a
 * seeded sample plus the first and last fragment of each sampled buffer.
 */
static u64 *masterdev_check_sample(u64 pointers, u32 per_buf, u64 seed,
				   u32 *count)
{
	struct rnd_state state;
	u32 i, n = 0, picked = 0;
	u64 *list, pick;

	if (masterdev_test_fail("sample"))
		return NULL;
	if (pointers <= EDU_CHECK_ALL) {
		list = kmalloc_array(pointers, sizeof(*list), GFP_KERNEL);
		for (i = 0; list && i < pointers; i++)
			list[i] = i;
		*count = pointers;
		return list;
	}
	list = kmalloc_array(3 * EDU_CHECK_SAMPLE, sizeof(*list), GFP_KERNEL);
	if (!list)
		return NULL;
	prandom_seed_state(&state, seed);
	while (picked < EDU_CHECK_SAMPLE) {
		pick = ((u64)prandom_u32_state(&state) * pointers) >> 32;
		for (i = 0; i < picked && list[i] != pick; i++)
			;
		if (i == picked)
			list[picked++] = pick;
	}
	n = picked;
	for (i = 0; i < picked; i++) {
		pick = div_u64(list[i], per_buf) * per_buf;
		list[n++] = pick;
		list[n++] = pick + per_buf - 1;
	}
	sort(list, n, sizeof(*list), masterdev_u64_cmp, NULL);
	for (i = 1, picked = 1; i < n; i++)
		if (list[i] != list[picked - 1])
			list[picked++] = list[i];
	*count = picked;
	return list;
}

/**
 * masterdev_edu_check() - check a ring's descriptors by edu DMA
 * @iface: an open interface, with its io_lock held and ->checking set, so
 *	that its peer stays closed and the engine idle
 * @check: in: seed; out: the counts of struct master_dma_edu_check
 *
 * Context: process context; sleeps (each edu transfer takes 100 ms).
 * Return: 0 when every chosen fragment was moved, whatever the comparison
 * said; -ENODEV if the ring is not mapped for the edu device; -ENOMEM;
 * -EINTR on a fatal signal; an error of the device.
 */
int masterdev_edu_check(struct masterdev_iface *iface,
			struct master_dma_edu_check *check)
{
	struct master_dma_summary s;
	struct masterdev_check c = {
		.iface = iface, .ring = iface->ring, .seed = check->seed,
		.out = check, .dev = masterdev_edu_device(),
	};
	u32 i, count;
	u64 *list;
	int ret = 0;

	if (!c.dev || iface->dma_dev != c.dev) {
		put_device(c.dev);
		return -ENODEV;
	}
	check->checked = 0;
	check->failed = 0;
	check->transfers = 0;
	check->first_failed = ~0ULL;
	mdma_ring_summary(c.ring, &s);
	list = masterdev_check_sample(s.pointers, s.pointers_per_buf, c.seed,
				      &count);
	c.expect = masterdev_test_fail("expect") ? NULL :
		   kmalloc(PAGE_SIZE, GFP_KERNEL);
	c.page = masterdev_test_fail("page") ? NULL :
		 dma_alloc_coherent(c.dev, PAGE_SIZE, &c.page_dma, GFP_KERNEL);
	if (!list || !c.expect || !c.page) {
		ret = -ENOMEM;
		goto free;
	}
	if (iface->dir == DMA_FROM_DEVICE) {	/* the pattern, into edu */
		masterdev_check_bytes(c.page, PAGE_SIZE, c.seed, ~0ULL);
		ret = masterdev_check_dma(&c, c.page_dma, 0, MASTERDEV_EDU_MAX,
					  false);
		if (!ret)
			ret = masterdev_check_dma(&c, c.page_dma + MASTERDEV_EDU_MAX,
						  MASTERDEV_EDU_MAX,
						  MASTERDEV_EDU_USABLE -
						  MASTERDEV_EDU_MAX, false);
	}
	for (i = 0; !ret && i < count; i++) {
		ret = masterdev_check_one(&c, list[i], i);
		if (!ret && fatal_signal_pending(current))
			ret = -EINTR;
	}
free:
	if (c.page)
		dma_free_coherent(c.dev, PAGE_SIZE, c.page, c.page_dma);
	kfree(c.expect);
	kfree(list);
	put_device(c.dev);
	return ret;
}
