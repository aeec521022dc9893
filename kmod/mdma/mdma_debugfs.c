// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_debugfs.c - what the Master ring allocator holds, for people and tests
 *
 * /sys/kernel/debug/mdma/stats: rings and pages in use.
 * /sys/kernel/debug/mdma/<ring>/summary: "key: value" lines of the layout.
 * /sys/kernel/debug/mdma/<ring>/map: one line per page or tail, in access
 * order.  Test builds add files of their own (mdma_test.c).
 * debugfs is root-only; files are removed before their ring is freed.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/notifier.h>
#include <linux/module.h>
#include <linux/seq_file.h>

#include "mdma_internal.h"

static int mdma_stats_show(struct seq_file *m, void *unused)
{
	seq_printf(m, "rings: %d\n", atomic_read(&mdma_rings));
	seq_printf(m, "pages: %ld\n", atomic_long_read(&mdma_pages_in_use));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mdma_stats);

static struct dentry *mdma_debugfs_root;

static const char *mdma_kind_name(u32 kind)
{
	return kind == MASTER_DMA_ALLOC_VMALLOC ? "vmalloc" : "kmalloc";
}

static const char *mdma_zone_name(u32 zone)
{
	static const char * const names[] = {
		[MASTER_DMA_ZONE_NORMAL] = "normal",
		[MASTER_DMA_ZONE_DMA32] = "dma32",
		[MASTER_DMA_ZONE_DMA] = "dma",
	};

	return zone < ARRAY_SIZE(names) ? names[zone] : "?";
}

static int mdma_summary_show(struct seq_file *m, void *unused)
{
	struct mdma_ring *ring = m->private;
	struct master_dma_summary s;

	mdma_ring_summary(ring, &s);
	seq_printf(m, "buffers: %u\nbufsize: %u\n", s.buffers, s.bufsize);
	seq_printf(m, "tails: %s\n", s.tails == MASTER_DMA_TAILS_PACKED ?
		   "packed" : "own-page");
	seq_printf(m, "direction: %s\n", s.direction == DMA_TO_DEVICE ?
		   "to-device" : "from-device");
	seq_printf(m, "page_size: %u\npointer_size: %u\n", s.page_size,
		   s.pointer_size);
	seq_printf(m, "tail_size: %u\npointers_per_buf: %u\n", s.tail_size,
		   s.pointers_per_buf);
	seq_printf(m, "full_pages: %llu\ntails_per_page: %llu\n", s.full_pages,
		   s.tails_per_page);
	seq_printf(m, "tail_pages: %llu\ntotal_pages: %llu\npointers: %llu\n",
		   s.tail_pages, s.total_pages, s.pointers);
	seq_printf(m, "page_array_bytes: %llu\npage_array_kind: %s\n",
		   s.page_array_bytes, mdma_kind_name(s.page_array_kind));
	seq_printf(m, "pointer_array_bytes: %llu\npointer_array_kind: %s\n",
		   s.pointer_array_bytes, mdma_kind_name(s.pointer_array_kind));
	seq_printf(m, "bytes_required: %llu\nbytes_allocated: %llu\n",
		   s.bytes_required, s.bytes_allocated);
	seq_printf(m, "desc_format: %s\ndesc_size: %u\ndesc_stride: %u\n",
		   ring->ops->name, s.desc_size, s.desc_stride);
	seq_printf(m, "descriptors: %llu\ndesc_bytes: %llu\n", s.descriptors,
		   s.desc_bytes);
	seq_printf(m, "desc_array_bytes: %llu\npage_dma_array_bytes: %llu\n",
		   s.desc_array_bytes, s.page_dma_array_bytes);
	seq_printf(m, "dma_limit: %#llx\niommu: %u\nzone: %s\n", s.dma_limit,
		   s.iommu, mdma_zone_name(s.zone));
	seq_printf(m, "pages_dma: %llu\npages_dma32: %llu\npages_normal: %llu\n",
		   s.pages_dma, s.pages_dma32, s.pages_normal);
	seq_printf(m, "bounced_pages: %llu\n", s.bounced_pages);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(mdma_summary);

/* The map is a seq_file iterated by fragment index: rings can be large. */
static void *mdma_map_start(struct seq_file *m, loff_t *pos)
{
	struct mdma_ring *ring = m->private;

	if (*pos == 0)
		return SEQ_START_TOKEN;
	return *pos <= ring->pointers ? pos : NULL;
}

static void *mdma_map_next(struct seq_file *m, void *v, loff_t *pos)
{
	++*pos;
	return mdma_map_start(m, pos);
}

static void mdma_map_stop(struct seq_file *m, void *v)
{
}

static int mdma_map_show(struct seq_file *m, void *v)
{
	struct mdma_ring *ring = m->private;
	struct mdma_fragment f;

	if (v == SEQ_START_TOKEN) {
		seq_puts(m, "# index buffer part page offset length dma desc next flags phys\n");
		return 0;
	}
	if (mdma_ring_fragment(ring, *(loff_t *)v - 1, &f))
		return 0;
	seq_printf(m, "%llu %u %u %u %u %u %#llx %#llx %#llx %s%s %#llx\n",
		   *(loff_t *)v - 1, f.buffer, f.part, f.page, f.offset, f.length,
		   (u64)f.dma_addr, (u64)f.desc_dma, (u64)f.next_desc,
		   f.flags & MDMA_DESC_INT ? "I" : "-",
		   f.flags & MDMA_DESC_EOL ? "E" : "-", (u64)f.phys);
	return 0;
}

static const struct seq_operations mdma_map_sops = {
	.start = mdma_map_start,
	.next = mdma_map_next,
	.stop = mdma_map_stop,
	.show = mdma_map_show,
};
DEFINE_SEQ_ATTRIBUTE(mdma_map);

/* A named ring gets a directory when it is listed and loses it before it goes. */
static int mdma_debugfs_notify(struct notifier_block *nb, unsigned long event,
			       void *data)
{
	struct mdma_ring *ring = data;

	if (!ring->named)
		return NOTIFY_DONE;
	if (event == MDMA_RING_ADDED) {
		ring->debugfs = debugfs_create_dir(ring->name, mdma_debugfs_root);
		debugfs_create_file("summary", 0400, ring->debugfs, ring,
				    &mdma_summary_fops);
		debugfs_create_file("map", 0400, ring->debugfs, ring,
				    &mdma_map_fops);
		mdma_test_debugfs_add(ring);
	} else if (event == MDMA_RING_REMOVED) {
		debugfs_remove_recursive(ring->debugfs);
		ring->debugfs = NULL;
	}
	return NOTIFY_OK;
}

/* before the netlink family's: an announced ring has its directory */
static struct notifier_block mdma_debugfs_nb = {
	.notifier_call = mdma_debugfs_notify,
	.priority = 1,
};

/* /sys/kernel/debug/mdma: stats, the test hooks, and a directory per ring */
void mdma_debugfs_init(void)
{
	mdma_debugfs_root = debugfs_create_dir("mdma", NULL);
	debugfs_create_file("stats", 0400, mdma_debugfs_root, NULL,
			    &mdma_stats_fops);
	mdma_test_init(mdma_debugfs_root);
	mdma_registry_notifier_register(&mdma_debugfs_nb);
}

void mdma_debugfs_exit(void)
{
	mdma_registry_notifier_unregister(&mdma_debugfs_nb);
	debugfs_remove_recursive(mdma_debugfs_root);
}
