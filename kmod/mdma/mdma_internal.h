/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private structures of the Master ring allocator.  Drivers see only the
 * opaque struct mdma_ring of <master/mdma.h>.
 */
#ifndef MDMA_INTERNAL_H
#define MDMA_INTERNAL_H

#include <linux/atomic.h>
#include <linux/dmapool.h>
#include <master/mdma.h>

#include "mdma_test.h"

#define MDMA_BATCH	512	/* pages or descriptors between reschedules */

/**
 * struct mdma_desc_slot - one descriptor of the ring
 * @cpu: its address for the CPU
 * @dma: its bus address, kept here: never recovered from a next field
 */
struct mdma_desc_slot {
	void *cpu;
	dma_addr_t dma;
};

/**
 * struct mdma_array - an array from kvmalloc and what it really cost
 * @mem: the array
 * @bytes: ksize() of a kmalloc array, whole pages of a vmalloc one
 * @kind: enum master_dma_alloc_kind
 */
struct mdma_array {
	void *mem;
	size_t bytes;
	u32 kind;
};

struct mdma_ring {
	struct device *dev;
	struct mdma_ring_params params;
	const struct mdma_desc_ops *ops;
	char name[32];
	int bug;	/* enum mdma_layout_bug; test builds only */

	/* geometry, from the parameters */
	u32 tail_size;
	u32 full_per_buf;
	u32 pointers_per_buf;
	u32 tails_per_page;
	u64 full_pages;
	u64 tail_pages;
	u64 total_pages;
	u64 pointers;

	/* what was allocated; counts are of what really exists */
	struct mdma_array pages;	/* struct page *[total_pages] */
	struct mdma_array ptrs;		/* void *[pointers], access order */
	struct mdma_array page_dma;	/* dma_addr_t[total_pages] */
	struct mdma_array descs;	/* struct mdma_desc_slot[pointers] */
	u64 nr_pages;
	u64 nr_mapped;
	u64 nr_descs;
	struct mdma_array pools;	/* struct dma_pool *[], see mdma_ring.c */
	u32 nr_pools;

	/* where the pages come from: see mdma_reach.c */
	u64 dma_limit;		/* highest bus address the device may use */
	bool iommu;		/* bus addresses are translated */
	u32 zone;		/* enum master_dma_zone now allocated from */
	u64 zone_pages[3];	/* pages by enum master_dma_zone */
	u64 bounced_pages;
	struct dentry *debugfs;
	bool named;		/* the driver named it: it has a debugfs directory */
	struct list_head node;	/* in mdma_registry.c's list */
	u64 id;			/* its place in that list, for walks */
};

/* The ring's test-only layout bug; a production build has none. */
static inline int mdma_bug(const struct mdma_ring *ring)
{
	return MDMA_TEST_BUILD ? ring->bug : MDMA_BUG_NONE;
}

/* mdma_main.c */
extern atomic_long_t mdma_pages_in_use;
extern atomic_t mdma_rings;

/* mdma_ring.c */
int mdma_array_alloc(struct mdma_array *array, u64 n, size_t size);
void mdma_array_free(struct mdma_array *array);
int mdma_descs_alloc(struct mdma_ring *ring);
void mdma_descs_free(struct mdma_ring *ring);
void mdma_locate(const struct mdma_ring *ring, u64 index, u32 *page,
		 u32 *offset, u32 *length);

/* mdma_reach.c */
void mdma_reach_init(struct mdma_ring *ring);
gfp_t mdma_reach_gfp(const struct mdma_ring *ring);
bool mdma_reach_lower(struct mdma_ring *ring);
unsigned long mdma_reach_free_pages(const struct mdma_ring *ring);
bool mdma_reach_page(const struct mdma_ring *ring, struct page *page);
bool mdma_reach_dma(const struct mdma_ring *ring, dma_addr_t dma, size_t len);
void mdma_reach_count(struct mdma_ring *ring);

/* mdma_registry.c: what mdma_registry_notifier_register()'s notifiers get */
enum mdma_ring_event {
	MDMA_RING_ADDED,
	MDMA_RING_REMOVED,
};

typedef int (*mdma_ring_visit_t)(struct mdma_ring *ring, void *arg);

struct notifier_block;
int mdma_registry_notifier_register(struct notifier_block *nb);
void mdma_registry_notifier_unregister(struct notifier_block *nb);
void mdma_registry_add(struct mdma_ring *ring);
void mdma_registry_remove(struct mdma_ring *ring);
int mdma_registry_walk(u64 from, mdma_ring_visit_t visit, void *arg);

/* mdma_netlink.c */
int mdma_nl_register(void);
void mdma_nl_unregister(void);

/* mdma_debugfs.c */
void mdma_debugfs_init(void);
void mdma_debugfs_exit(void);

#endif /* MDMA_INTERNAL_H */
