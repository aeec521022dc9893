// SPDX-License-Identifier: GPL-2.0
/*
 * bench_himem.c - the high-memory allocator against gen_pool and the
 * original's list
 *
 * Each kind first holds LIVE regions of mixed sizes (mostly one page, some
 * of two and four, byte counts not page multiples), then times PAIRS
 * pairs: free a region picked at random, allocate one of a random size in
 * its place.  "allocator" is allocator.ko's API (taken with symbol_get(),
 * so that this module loads without it).  "genpool" is lib/genalloc with
 * first fit, over a range of SIZE bytes (numbers only: nothing is mapped).
 * "list" is the original allocator.c's bookkeeping, written faithfully: a
 * kmalloc'd node per region in a list sorted by address, allocation by
 * first fit between neighbours, free by walking to the address.  Filling a
 * list from empty by first fit puts the regions one after the other, so
 * the fill appends them directly (the same list, without its quadratic
 * walk); the timed pairs walk as the original does.
 */
#include <linux/completion.h>
#include <linux/genalloc.h>
#include <linux/kstrtox.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>

#include "master/allocator.h"
#include "bench.h"

/* A range gen_pool and the list manage: any page-aligned number but 0. */
#define BENCH_HEAP_BASE	0x100000000UL

struct bench_list_node {
	unsigned long address;
	unsigned long size;
	struct bench_list_node *next;
};

struct bench_heap {
	const struct bench_heap_ops *ops;
	u64 size;
	/* allocator */
	unsigned long (*allocate)(unsigned long bytes, gfp_t priority,
				  struct module *mod);
	int (*free_dma)(unsigned long address, struct module *mod);
	/* genpool */
	struct gen_pool *pool;
	/* list: sentinels at both ends of the range */
	struct bench_list_node head, tail;
};

struct bench_heap_ops {
	const char *name;
	int (*init)(struct bench_heap *h);
	unsigned long (*alloc)(struct bench_heap *h, unsigned long bytes);
	void (*free)(struct bench_heap *h, unsigned long address, unsigned long bytes);
	void (*exit)(struct bench_heap *h);
};

static int bench_allocator_init(struct bench_heap *h)
{
	h->allocate = symbol_get(__allocator_allocate_dma);
	h->free_dma = symbol_get(__allocator_free_dma);
	if (h->allocate && h->free_dma)
		return 0;
	if (h->allocate)
		symbol_put(__allocator_allocate_dma);
	if (h->free_dma)
		symbol_put(__allocator_free_dma);
	return -ENODEV;	/* allocator.ko is not loaded */
}

static unsigned long bench_allocator_alloc(struct bench_heap *h, unsigned long bytes)
{
	return h->allocate(bytes, BENCH_GFP, THIS_MODULE);
}

static void bench_allocator_free(struct bench_heap *h, unsigned long address,
				 unsigned long bytes)
{
	h->free_dma(address, THIS_MODULE);
}

static void bench_allocator_exit(struct bench_heap *h)
{
	symbol_put(__allocator_allocate_dma);
	symbol_put(__allocator_free_dma);
}

static int bench_genpool_init(struct bench_heap *h)
{
	h->pool = gen_pool_create(PAGE_SHIFT, NUMA_NO_NODE);
	if (!h->pool)
		return -ENOMEM;
	if (gen_pool_add(h->pool, BENCH_HEAP_BASE, h->size, NUMA_NO_NODE)) {
		gen_pool_destroy(h->pool);
		return -ENOMEM;
	}
	return 0;
}

static unsigned long bench_genpool_alloc(struct bench_heap *h, unsigned long bytes)
{
	return gen_pool_alloc(h->pool, bytes);
}

static void bench_genpool_free(struct bench_heap *h, unsigned long address,
			       unsigned long bytes)
{
	gen_pool_free(h->pool, address, bytes);
}

static void bench_genpool_exit(struct bench_heap *h)
{
	gen_pool_destroy(h->pool);
}

static int bench_list_init(struct bench_heap *h)
{
	h->head = (struct bench_list_node){ .address = BENCH_HEAP_BASE, .next = &h->tail };
	h->tail = (struct bench_list_node){ .address = BENCH_HEAP_BASE + h->size };
	return 0;
}

/* The original's allocation: the first gap between neighbours that fits. */
static unsigned long bench_list_alloc(struct bench_heap *h, unsigned long bytes)
{
	struct bench_list_node *p, *n;

	bytes = PAGE_ALIGN(bytes);
	for (p = &h->head; p->next; p = p->next) {
		if (p->next->address - (p->address + p->size) < bytes)
			continue;
		n = kmalloc(sizeof(*n), BENCH_GFP);
		if (!n)
			return 0;
		n->address = p->address + p->size;
		n->size = bytes;
		n->next = p->next;
		p->next = n;
		return n->address;
	}
	return 0;
}

static void bench_list_free(struct bench_heap *h, unsigned long address,
			    unsigned long bytes)
{
	struct bench_list_node *p, *n;

	for (p = &h->head; p->next; p = p->next) {
		n = p->next;
		if (n->address == address) {
			p->next = n->next;
			kfree(n);
			return;
		}
	}
}

static void bench_list_exit(struct bench_heap *h)
{
	struct bench_list_node *n;

	while (h->head.next != &h->tail) {
		n = h->head.next;
		h->head.next = n->next;
		kfree(n);
	}
}

static const struct bench_heap_ops bench_heaps[] = {
	{ "allocator", bench_allocator_init, bench_allocator_alloc,
	  bench_allocator_free, bench_allocator_exit },
	{ "genpool", bench_genpool_init, bench_genpool_alloc,
	  bench_genpool_free, bench_genpool_exit },
	{ "list", bench_list_init, bench_list_alloc, bench_list_free,
	  bench_list_exit },
};

static bool bench_is_list(const struct bench_heap *h)
{
	return h->ops->init == bench_list_init;
}

/* xorshift32: the same sequence every run */
static u32 bench_rand(u32 *seed)
{
	u32 x = *seed;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x;
}

/* Mixed sizes: mostly under one page, some two and four, never multiples. */
static unsigned long bench_size(u32 *seed)
{
	static const u8 pages[] = { 1, 1, 1, 1, 1, 2, 2, 4 };
	u32 x = bench_rand(seed);

	return pages[x % ARRAY_SIZE(pages)] * PAGE_SIZE - 1 -
	       (x >> 8) % (PAGE_SIZE / 2 - 1);
}

struct bench_slot {
	unsigned long address;
	unsigned long bytes;
};

/* The list's fill: first fit from empty, i.e. one region after another. */
static int bench_list_fill(struct bench_heap *h, struct bench_slot *slots,
			   u32 live, u32 *seed)
{
	struct bench_list_node *last = &h->head, *n;
	u32 i;

	for (i = 0; i < live; i++) {
		slots[i].bytes = bench_size(seed);
		if (last->address + last->size + PAGE_ALIGN(slots[i].bytes) >
		    h->tail.address)
			return -ENOSPC;
		n = kmalloc(sizeof(*n), BENCH_GFP);
		if (!n)
			return -ENOMEM;
		n->address = last->address + last->size;
		n->size = PAGE_ALIGN(slots[i].bytes);
		n->next = &h->tail;
		last->next = n;
		last = n;
		slots[i].address = n->address;
	}
	return 0;
}

static int bench_fill(struct bench_heap *h, struct bench_slot *slots, u32 live,
		      u32 *seed)
{
	u32 i;

	if (bench_is_list(h))
		return bench_list_fill(h, slots, live, seed);
	for (i = 0; i < live; i++) {
		slots[i].bytes = bench_size(seed);
		slots[i].address = h->ops->alloc(h, slots[i].bytes);
		if (!slots[i].address)
			return -ENOSPC;
		if (!(i % 1024))
			cond_resched();
	}
	return 0;
}

static void bench_empty(struct bench_heap *h, struct bench_slot *slots, u32 live)
{
	u32 i;

	for (i = 0; i < live; i++) {
		if (slots[i].address)
			h->ops->free(h, slots[i].address, slots[i].bytes);
		slots[i].address = 0;
	}
}

/* @pairs frees and allocations among @live regions; the failed allocations. */
static u32 bench_pairs(struct bench_heap *h, struct bench_slot *slots, u32 live,
		       u32 pairs, u32 *seed)
{
	u32 i, j, failed = 0;

	for (i = 0; i < pairs; i++) {
		j = bench_rand(seed) % live;	/* any live region, uniformly */
		if (slots[j].address)
			h->ops->free(h, slots[j].address, slots[j].bytes);
		slots[j].bytes = bench_size(seed);
		slots[j].address = h->ops->alloc(h, slots[j].bytes);
		failed += !slots[j].address;
	}
	return failed;
}

static const struct bench_heap_ops *bench_heap_ops(const char *name)
{
	int i;

	for (i = 0; i < ARRAY_SIZE(bench_heaps); i++)
		if (!strcmp(bench_heaps[i].name, name))
			return &bench_heaps[i];
	return NULL;
}

int bench_himem(struct bench_out *out, char **argv, int argc)
{
	struct bench_heap h = { .ops = bench_heap_ops(argv[0]) };
	struct bench_slot *slots;
	u32 live, pairs, failed, seed = 2463534242U;
	u64 start, fill_ns, ns;
	int ret;

	if (!h.ops || kstrtou32(argv[1], 0, &live) || !live ||
	    kstrtou32(argv[2], 0, &pairs) || kstrtou64(argv[3], 0, &h.size) ||
	    !h.size || !PAGE_ALIGNED(h.size))
		return -EINVAL;
	slots = kvcalloc(live, sizeof(*slots), BENCH_GFP);
	if (!slots)
		return -ENOMEM;
	ret = h.ops->init(&h);
	if (ret)
		goto free_slots;
	start = ktime_get_ns();
	ret = bench_fill(&h, slots, live, &seed);
	fill_ns = ktime_get_ns() - start;
	if (!ret) {
		start = ktime_get_ns();
		failed = bench_pairs(&h, slots, live, pairs, &seed);
		ns = ktime_get_ns() - start;
		bench_printf(out, "pairs_ns=%llu pairs=%u failed=%u live=%u fill_ns=%llu\n",
			     ns, pairs, failed, live, fill_ns);
	}
	bench_empty(&h, slots, live);
	h.ops->exit(&h);
free_slots:
	kvfree(slots);
	return ret;
}

struct bench_thread {
	struct bench_heap *heap;
	struct bench_slot *slots;
	u32 live;
	u32 pairs;
	u32 seed;
	u32 failed;
	u64 ns;
	struct completion *go;
	struct completion done;
};

static int bench_thread_fn(void *data)
{
	struct bench_thread *t = data;
	u64 start;

	wait_for_completion(t->go);
	start = ktime_get_ns();
	t->failed = bench_pairs(t->heap, t->slots, t->live, t->pairs, &t->seed);
	t->ns = ktime_get_ns() - start;
	/* never return through this module's text: rmmod may follow at once */
	kthread_complete_and_exit(&t->done, 0);
}

/* Two threads, each with LIVE / 2 regions of its own, pairs at once. */
int bench_himem_threads(struct bench_out *out, char **argv, int argc)
{
	struct bench_heap h = { .ops = bench_heap_ops("allocator") };
	struct bench_thread t[2] = {};
	struct task_struct *task;
	DECLARE_COMPLETION_ONSTACK(go);
	struct bench_slot *slots;
	u32 live, pairs, i, started = 0;
	u64 start, wall;
	int ret;

	if (kstrtou32(argv[0], 0, &live) || live < 2 || kstrtou32(argv[1], 0, &pairs))
		return -EINVAL;
	slots = kvcalloc(live, sizeof(*slots), BENCH_GFP);
	if (!slots)
		return -ENOMEM;
	ret = h.ops->init(&h);
	if (ret)
		goto free_slots;
	for (i = 0; i < 2; i++) {
		t[i] = (struct bench_thread){ .heap = &h, .slots = slots + i * (live / 2),
					      .live = live / 2, .pairs = pairs,
					      .seed = 2463534242U + i, .go = &go };
		init_completion(&t[i].done);
	}
	ret = bench_fill(&h, slots, 2 * (live / 2), &t[0].seed);
	for (i = 0; !ret && i < 2; i++) {
		task = kthread_run(bench_thread_fn, &t[i], "masterbench/%u", i);
		if (IS_ERR(task))
			ret = PTR_ERR(task);
		else
			started++;
	}
	start = ktime_get_ns();
	complete_all(&go);
	for (i = 0; i < started; i++)
		wait_for_completion(&t[i].done);
	wall = ktime_get_ns() - start;
	if (!ret)
		bench_printf(out,
			     "wall_ns=%llu thread0_ns=%llu thread1_ns=%llu pairs=%u failed=%u live=%u\n",
			     wall, t[0].ns, t[1].ns, 2 * pairs, t[0].failed + t[1].failed,
			     2 * (live / 2));
	bench_empty(&h, slots, live);
	h.ops->exit(&h);
free_slots:
	kvfree(slots);
	return ret;
}
