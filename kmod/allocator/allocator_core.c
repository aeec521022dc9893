// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_core.c - DMA regions from the RAM above mem=
 *
 * The kernel booted with mem= leaves the RAM above __pa(high_memory) alone.
 * At init the allocator walks up from there one allocator_step at a time and
 * keeps the pages that nothing in the iomem resource tree claims and that
 * the firmware's memory map calls RAM, so ACPI tables and device windows are
 * never touched; with allocator_probe it also writes and reads back every
 * word, as the original did.  It claims the result as "allocator" in
 * /proc/iomem and maps it write-back with memremap().
 *
 * Bookkeeping: free extents live in an rbtree sorted by address and
 * augmented with the largest extent of each subtree, so the lowest extent
 * that fits is found in O(log n); allocated regions live in a second
 * rbtree, so a free finds its region, or refuses, in O(log n), and merges
 * with its free neighbours.  Each region belongs to the module that called
 * allocator_allocate_dma(), which the header's inline passes as THIS_MODULE
 * (NULL, "kernel", for built-in code), as pci_register_driver() does.  An
 * owner is tracked from its first allocation on, so loading a module that
 * never allocates costs nothing and can never fail here; the module notifier
 * reclaims what an unloading owner left, and sends its events once the lock
 * is dropped.  A region owned by another module holds a reference on this
 * one, so the allocator cannot go away under it.
 *
 * This file is the whole allocator, without a module_init: allocator.ko
 * adds that (allocator_main.c), exports the API (ALLOCATOR_EXPORTS) and
 * registers the netlink family (allocator_netlink.c, which reads the state
 * through allocator_internal.h and receives the events); the linked build
 * compiles this same file into its driver (himemlink/Kbuild), which calls
 * allocator_init() and allocator_cleanup() itself and has neither exports
 * nor events.
 *
 * Context: allocation and free take a spinlock with interrupts off; they
 * sleep only if the caller's gfp flags let kmalloc sleep (one small node)
 * and may be called from atomic context with GFP_ATOMIC.  __GFP_ZERO clears
 * the region.  allocator_init() and allocator_cleanup() sleep.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/debugfs.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/rbtree_augmented.h>
#include <linux/sched.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/spinlock.h>

#include "allocator_internal.h"
#include "allocator_test.h"
#include "compat.h"
#include "master/allocator.h"
#include "uapi/master_dma.h"

static int allocator_himem;
module_param(allocator_himem, int, 0444);
MODULE_PARM_DESC(allocator_himem,
		 "MiB to use above mem= (0: all that is found; negative: disabled, every allocation returns 0)");

/*
 * Off by default: on x86, boot data (setup_data) may sit in the RAM above
 * mem=, which is parsed before that data is reserved, so a write there could
 * destroy it.
 */
static bool allocator_probe;
module_param(allocator_probe, bool, 0444);
MODULE_PARM_DESC(allocator_probe,
		 "write and read back every word before using it (default: no: x86 boot data may lie above mem=)");

static int allocator_step = 1;
module_param(allocator_step, int, 0444);
MODULE_PARM_DESC(allocator_step, "MiB examined per step of the search (default: 1)");

/* A module that allocated, with the regions it owns. */
struct allocator_owner {
	struct list_head node;		/* in allocator.owners */
	struct module *mod;		/* NULL: built-in code */
	struct list_head regions;
	unsigned long bytes;
	unsigned int count;
};

/* A free extent (owner NULL) or an allocated region. */
struct allocator_extent {
	struct rb_node rb;
	unsigned long start;
	unsigned long size;
	unsigned long subtree_max;	/* free tree: largest size below */
	struct allocator_owner *owner;
	struct list_head owned;		/* in owner->regions */
};

static struct allocator_owner allocator_kernel = {
	.regions = LIST_HEAD_INIT(allocator_kernel.regions),
};

static struct allocator_owner allocator_self = {
	.mod = THIS_MODULE,
	.regions = LIST_HEAD_INIT(allocator_self.regions),
};

static struct {
	spinlock_t lock;		/* everything below */
	struct rb_root free;		/* free extents by start */
	struct rb_root used;		/* regions by start */
	struct list_head owners;	/* modules that allocated */
	unsigned long base;
	unsigned long size;
	unsigned long free_bytes;
	unsigned int regions;
	bool enabled;
	void *virt;
	struct resource *res;
	struct dentry *debugfs;
} allocator = {
	.lock = __SPIN_LOCK_UNLOCKED(allocator.lock),
	.free = RB_ROOT,
	.used = RB_ROOT,
	.owners = LIST_HEAD_INIT(allocator.owners),
};

/* Where events go: the netlink family of allocator.ko; nowhere when linked. */
static allocator_event_fn allocator_event_sink;

/**
 * allocator_set_event_sink() - send region events to @sink, or nowhere
 * @sink: called for each region allocated, freed or reclaimed, without the
 *	lock, in the caller's context (@gfp says whether it may sleep); NULL
 *	for none
 *
 * Context: set before the allocator hands out memory and cleared after
 * allocator_cleanup(), when no event can be under way.
 */
void allocator_set_event_sink(allocator_event_fn sink)
{
	WRITE_ONCE(allocator_event_sink, sink);
}

static void allocator_event(u32 event, unsigned long start, unsigned long size,
			    const char *owner, gfp_t gfp)
{
	allocator_event_fn sink = READ_ONCE(allocator_event_sink);

	if (sink)
		sink(event, start, size, owner, gfp);
}

static const char *allocator_owner_name(const struct allocator_owner *owner)
{
	return owner->mod ? module_name(owner->mod) : "kernel";
}

static struct allocator_extent *allocator_extent(struct rb_node *rb)
{
	return rb ? rb_entry(rb, struct allocator_extent, rb) : NULL;
}

static unsigned long allocator_subtree_max(struct rb_node *rb)
{
	return rb ? allocator_extent(rb)->subtree_max : 0;
}

static unsigned long allocator_extent_size(struct allocator_extent *ext)
{
	return ext->size;
}

RB_DECLARE_CALLBACKS_MAX(static, allocator_free_cb, struct allocator_extent, rb,
			 unsigned long, subtree_max, allocator_extent_size);

/* The lowest free extent of at least @size bytes, or NULL. */
static struct allocator_extent *allocator_first_fit(unsigned long size)
{
	struct rb_node *rb = allocator.free.rb_node;

	while (rb) {
		if (allocator_subtree_max(rb->rb_left) >= size)
			rb = rb->rb_left;
		else if (allocator_extent(rb)->size >= size)
			return allocator_extent(rb);
		else if (allocator_subtree_max(rb->rb_right) >= size)
			rb = rb->rb_right;
		else
			return NULL;
	}
	return NULL;
}

/* The extent of @root with the highest start at or below @address. */
static struct allocator_extent *allocator_floor(struct rb_root *root,
						unsigned long address)
{
	struct allocator_extent *found = NULL, *ext;
	struct rb_node *rb = root->rb_node;

	while (rb) {
		ext = allocator_extent(rb);
		if (ext->start <= address) {
			found = ext;
			rb = rb->rb_right;
		} else {
			rb = rb->rb_left;
		}
	}
	return found;
}

/* Link @ext into @root by start; the free tree updates its maxima on the way. */
static void allocator_insert(struct rb_root *root, struct allocator_extent *ext)
{
	struct rb_node **link = &root->rb_node, *parent = NULL;
	bool free = root == &allocator.free;
	struct allocator_extent *at;

	lockdep_assert_held(&allocator.lock);
	ext->subtree_max = ext->size;
	while (*link) {
		parent = *link;
		at = allocator_extent(parent);
		if (free && at->subtree_max < ext->size)
			at->subtree_max = ext->size;
		link = ext->start < at->start ? &parent->rb_left : &parent->rb_right;
	}
	rb_link_node(&ext->rb, parent, link);
	if (free)
		rb_insert_augmented(&ext->rb, root, &allocator_free_cb);
	else
		rb_insert_color(&ext->rb, root);
}

static void allocator_resize(struct allocator_extent *ext, unsigned long start,
			     unsigned long size)
{
	ext->start = start;
	ext->size = size;
	allocator_free_cb_propagate(&ext->rb, NULL);
}

/* Put @region's range back in the free tree, merged with its neighbours. */
static void allocator_merge(struct allocator_extent *region)
{
	unsigned long end = region->start + region->size;
	struct allocator_extent *prev, *next;
	bool after_prev, before_next;

	lockdep_assert_held(&allocator.lock);
	prev = allocator_floor(&allocator.free, region->start);
	next = allocator_extent(prev ? rb_next(&prev->rb) : rb_first(&allocator.free));
	after_prev = prev && prev->start + prev->size == region->start;
	before_next = next && next->start == end;
	if (after_prev && before_next) {
		rb_erase_augmented(&next->rb, &allocator.free, &allocator_free_cb);
		allocator_resize(prev, prev->start,
				 prev->size + region->size + next->size);
		kfree(next);
	} else if (after_prev) {
		allocator_resize(prev, prev->start, prev->size + region->size);
	} else if (before_next) {
		allocator_resize(next, region->start, next->size + region->size);
	} else {
		region->owner = NULL;
		allocator_insert(&allocator.free, region);
		return;
	}
	kfree(region);
}

/* Take @region out of the used tree and from its owner; lock held. */
static void allocator_detach(struct allocator_extent *region)
{
	struct allocator_owner *owner = region->owner;

	lockdep_assert_held(&allocator.lock);
	rb_erase(&region->rb, &allocator.used);
	list_del(&region->owned);
	owner->bytes -= region->size;
	owner->count--;
	allocator.regions--;
	if (owner != &allocator_self)
		module_put(THIS_MODULE);
}

/* Give a detached region's range back to the free tree; lock held. */
static void allocator_give_back(struct allocator_extent *region)
{
	lockdep_assert_held(&allocator.lock);
	allocator.free_bytes += region->size;
	allocator_merge(region);
}

/* The owner entry of @mod, or NULL if it never allocated; lock held. */
static struct allocator_owner *allocator_owner_find(struct module *mod)
{
	struct allocator_owner *owner;

	lockdep_assert_held(&allocator.lock);
	if (mod == THIS_MODULE)
		return &allocator_self;
	if (!mod)
		return &allocator_kernel;
	list_for_each_entry(owner, &allocator.owners, node)
		if (owner->mod == mod)
			return owner;
	return NULL;
}

/* The owner entry of @mod, made from @spare if it has none; lock held. */
static struct allocator_owner *allocator_owner_get(struct module *mod,
						   struct allocator_owner **spare)
{
	struct allocator_owner *owner = allocator_owner_find(mod);

	if (owner || !*spare)
		return owner;
	owner = *spare;
	*spare = NULL;
	owner->mod = mod;
	INIT_LIST_HEAD(&owner->regions);
	list_add(&owner->node, &allocator.owners);
	return owner;
}

/* Carve @size bytes for @owner out of the lowest extent that fits; lock held. */
static struct allocator_extent *allocator_carve(unsigned long size,
						struct allocator_extent *spare,
						struct allocator_owner *owner)
{
	struct allocator_extent *ext = allocator_first_fit(size);
	struct allocator_extent *region = spare;
	unsigned long start;

	lockdep_assert_held(&allocator.lock);
	if (!ext)
		return NULL;
	start = ext->start;
	if (ext->size == size) {
		rb_erase_augmented(&ext->rb, &allocator.free, &allocator_free_cb);
		region = ext;
	} else {
		allocator_resize(ext, start + size, ext->size - size);
	}
	region->start = start;
	region->size = size;
	region->owner = owner;
	list_add_tail(&region->owned, &owner->regions);
	owner->bytes += size;
	owner->count++;
	allocator_insert(&allocator.used, region);
	allocator.free_bytes -= size;
	allocator.regions++;
	if (owner != &allocator_self)
		__module_get(THIS_MODULE);
	return region;
}

/*
 * Carve a region for @mod; a module's first allocation brings its owner
 * entry, allocated here with the caller's flags.  Return the region's
 * start, or 0; *@used says whether @spare became the region's node.
 */
static unsigned long allocator_take(unsigned long size, gfp_t gfp,
				    struct module *mod,
				    struct allocator_extent *spare, bool *used)
{
	struct allocator_owner *owner, *new_owner = NULL;
	struct allocator_extent *region = NULL;
	unsigned long flags, start = 0;

	*used = false;
	/* disabled, or unloading: no owner entry, which nothing would free */
	if (!READ_ONCE(allocator.enabled))
		return 0;
	spin_lock_irqsave(&allocator.lock, flags);
	owner = allocator_owner_find(mod);
	spin_unlock_irqrestore(&allocator.lock, flags);
	if (!owner) {
		new_owner = allocator_test_fail("owner") ? NULL :
			    kzalloc(sizeof(*new_owner), gfp);
		if (!new_owner)
			return 0;
	}
	spin_lock_irqsave(&allocator.lock, flags);
	owner = allocator.enabled ? allocator_owner_get(mod, &new_owner) : NULL;
	if (owner)
		region = allocator_carve(size, spare, owner);
	if (region)
		start = region->start;
	*used = region == spare;
	spin_unlock_irqrestore(&allocator.lock, flags);
	kfree(new_owner);	/* another call of the same module added it */
	return start;
}

/**
 * __allocator_allocate_dma() - allocate a region of the RAM above mem=
 * @bytes: size wanted; the region is rounded up to whole pages
 * @priority: gfp flags of the caller's context, GFP_KERNEL or GFP_ATOMIC,
 *	used for the bookkeeping; add __GFP_ZERO to clear the region.  (The
 *	original took an int; gfp_t is the same flags, typed for sparse.)
 * @mod: the owner, THIS_MODULE of the caller: allocator_allocate_dma()
 *	passes it
 *
 * The region is page-aligned, lies in the claimed range and belongs to the
 * calling module until it is freed or the module unloads.  It is not RAM
 * the kernel manages: map it with dma_map_resource() for a device,
 * memremap() for the CPU and a PFN map for user space.
 *
 * Context: any context with GFP_ATOMIC; process context with GFP_KERNEL.
 * Return: the physical address of the region, or 0 if @bytes is 0, no free
 * range is large enough, the allocator is disabled, or the bookkeeping (a
 * region node; an owner entry at a module's first allocation) could not be
 * allocated.
 */
unsigned long __allocator_allocate_dma(unsigned long bytes, gfp_t priority,
				       struct module *mod)
{
	gfp_t gfp = priority & ~(GFP_ZONEMASK | __GFP_ZERO);
	unsigned long size = PAGE_ALIGN(bytes), start;
	struct allocator_extent *spare;
	bool used = false;

	if (!size)	/* 0 bytes, or so many that the rounding wrapped */
		return 0;
	spare = allocator_test_fail("extent") ? NULL :
		kmalloc(sizeof(*spare), gfp);
	if (!spare)
		return 0;
	start = allocator_take(size, gfp, mod, spare, &used);
	if (!used)
		kfree(spare);
	if (!start)
		return 0;
	if (priority & __GFP_ZERO)
		memset(allocator.virt + (start - allocator.base), 0, size);
	allocator_event(MASTER_DMA_EVENT_REGION_ALLOCATED, start, size,
			mod ? module_name(mod) : "kernel",
			gfpflags_allow_blocking(priority) ? GFP_KERNEL : GFP_ATOMIC);
	return start;
}
EXPORT_SYMBOL_ALLOCATOR(__allocator_allocate_dma);

/**
 * __allocator_free_dma() - free a region from allocator_allocate_dma()
 * @address: the address allocator_allocate_dma() returned
 * @mod: the caller's THIS_MODULE: allocator_free_dma() passes it
 *
 * Only the module that owns a region may free it.  An address that is not
 * the start of a live region of the caller's (never allocated, inside a
 * region, already freed, another module's) changes nothing and is reported
 * in a rate-limited message.
 *
 * Context: any context.
 * Return: 0, or -EINVAL if @address is not a region of the caller's.
 */
int __allocator_free_dma(unsigned long address, struct module *mod)
{
	struct allocator_extent *region;
	const char *why = NULL, *owner = NULL;
	unsigned long size = 0, flags;

	spin_lock_irqsave(&allocator.lock, flags);
	region = allocator_floor(&allocator.used, address);
	if (!region || address - region->start >= region->size) {
		why = "not allocated";
	} else if (address != region->start) {
		why = "inside a region";
	} else if (region->owner != allocator_owner_find(mod)) {
		why = "another module's region";
	} else {
		size = region->size;
		owner = allocator_owner_name(region->owner);
		allocator_detach(region);
		allocator_give_back(region);
	}
	spin_unlock_irqrestore(&allocator.lock, flags);
	if (why) {
		pr_warn_ratelimited("free of %#lx by %s refused: %s\n", address,
				    mod ? module_name(mod) : "kernel", why);
		return -EINVAL;
	}
	allocator_event(MASTER_DMA_EVENT_REGION_FREED, address, size, owner,
			GFP_ATOMIC);
	return 0;
}
EXPORT_SYMBOL_ALLOCATOR(__allocator_free_dma);

/*
 * @mod is going: forget it, and take back what it did not free.  Its
 * regions leave the used tree under the lock, their events go out without
 * it (netlink allocates), and their ranges return to the free tree after.
 */
static void allocator_reclaim(struct module *mod)
{
	struct allocator_extent *region, *next;
	struct allocator_owner *owner;
	unsigned long flags, bytes;
	LIST_HEAD(gone);
	unsigned int count;

	spin_lock_irqsave(&allocator.lock, flags);
	owner = allocator_owner_find(mod);
	if (!owner || owner == &allocator_self || owner->mod != mod) {
		spin_unlock_irqrestore(&allocator.lock, flags);
		return;
	}
	list_del(&owner->node);
	bytes = owner->bytes;
	count = owner->count;
	list_for_each_entry_safe(region, next, &owner->regions, owned) {
		allocator_detach(region);
		list_add_tail(&region->owned, &gone);
	}
	spin_unlock_irqrestore(&allocator.lock, flags);
	list_for_each_entry(region, &gone, owned)
		allocator_event(MASTER_DMA_EVENT_REGION_RECLAIMED, region->start,
				region->size, mod->name, GFP_KERNEL);
	spin_lock_irqsave(&allocator.lock, flags);
	list_for_each_entry_safe(region, next, &gone, owned) {
		list_del(&region->owned);
		allocator_give_back(region);
	}
	spin_unlock_irqrestore(&allocator.lock, flags);
	if (count)
		pr_warn("%s unloaded with %u regions (%lu bytes) still allocated: reclaimed\n",
			mod->name, count, bytes);
	kfree(owner);
}

static int allocator_module_event(struct notifier_block *nb,
				  unsigned long event, void *data)
{
	if (event == MODULE_STATE_GOING)
		allocator_reclaim(data);
	return NOTIFY_OK;
}

static struct notifier_block allocator_module_nb = {
	.notifier_call = allocator_module_event,
};

static int allocator_check_res(struct resource *res, void *arg)
{
	*(u64 *)arg = res->start;
	return 1;	/* the lowest one is enough */
}

/* Bytes from @start on, up to @len, before the first registered resource. */
static unsigned long allocator_unregistered(u64 start, unsigned long len)
{
	u64 first = start + len;

	walk_iomem_res_desc(IORES_DESC_NONE, 0, start, start + len - 1, &first,
			    allocator_check_res);
	return round_down(first - start, PAGE_SIZE);
}

/* Bytes from @start on, up to @len, the firmware's memory map calls RAM. */
static unsigned long allocator_firmware_ram(u64 start, unsigned long len)
{
	unsigned long off;

	for (off = 0; off < len; off += PAGE_SIZE)
		if (!compat_firmware_ram(start + off, PAGE_SIZE))
			break;
	return off;
}

/* How much usable RAM follows @base, at most @want bytes, step by step. */
static unsigned long allocator_find(u64 base, unsigned long want)
{
	unsigned long step = (unsigned long)allocator_step << 20;
	unsigned long found = 0, len, usable;

	while (found < want) {
		len = min(step, want - found);
		usable = allocator_unregistered(base + found, len);
		usable = allocator_firmware_ram(base + found, usable);
		found += usable;
		if (usable < len)
			break;
		cond_resched();
	}
	return found;
}

/* Write and read back every word of the claim, a step at a time. */
static unsigned long allocator_write_test(void)
{
	unsigned long step = (unsigned long)allocator_step << 20;
	unsigned long off, words = allocator.size / sizeof(u64);
	u64 *word = allocator.virt;

	for (off = 0; off < words; off++) {
		word[off] = (allocator.base + off * sizeof(u64)) ^ 0x5a5aa5a5c3c33c3cULL;
		if (off % (step / sizeof(u64)) == 0)
			cond_resched();
	}
	for (off = 0; off < words; off++) {
		if (word[off] != ((allocator.base + off * sizeof(u64)) ^
				  0x5a5aa5a5c3c33c3cULL))
			break;
		if (off % (step / sizeof(u64)) == 0)
			cond_resched();
	}
	return round_down(off * sizeof(u64), PAGE_SIZE);
}

/* A registered range: where it starts and ends (inclusive). */
struct allocator_span {
	u64 start;
	u64 end;
};

static int allocator_first_res(struct resource *res, void *arg)
{
	struct allocator_span *span = arg;

	span->start = res->start;
	span->end = res->end;
	return 1;	/* the lowest one is enough */
}

/*
 * Where the claim may start: @mem, or past the "RAM buffer" x86 registers
 * from a mem= that is not a multiple of 64 MiB up to the next one (it only
 * steers PCI windows away; the RAM under it is unused).  Any other range
 * registered there, another allocator's claim for one, stays in the way.
 */
static u64 allocator_start(u64 mem)
{
	u64 buffer_end = compat_ram_buffer_end(mem);
	struct allocator_span span;

	if (buffer_end < mem ||
	    walk_iomem_res_desc(IORES_DESC_NONE, 0, mem, ~0ULL, &span,
				allocator_first_res) <= 0 ||
	    span.start != mem || span.end > buffer_end)
		return mem;
	return span.end + 1;
}

/* Why nothing was found at @base, from @mem, the kernel's end, on. */
static int allocator_no_room(u64 mem, u64 base)
{
	if (!compat_firmware_ram(mem, PAGE_SIZE)) {
		pr_err("no RAM above the kernel's at %#llx: boot with mem= below the installed RAM\n",
		       mem);
		return -ENOMEM;
	}
	if (base != mem && !compat_firmware_ram(base, PAGE_SIZE)) {
		pr_err("the RAM above mem= (%#llx) all lies under x86's RAM buffer, up to the next 64 MiB: boot with mem= a multiple of 64 MiB, or lower\n",
		       mem);
		return -ENOMEM;
	}
	pr_err("the RAM at %#llx above mem= is already claimed, see /proc/iomem: by another allocator (allocator.ko or a driver with it linked in), or by firmware\n",
	       base);
	return -EBUSY;
}

static void allocator_unclaim(void)
{
	memunmap(allocator.virt);
	release_mem_region(allocator.base, resource_size(allocator.res));
	allocator.res = NULL;
	allocator.virt = NULL;
}

/* Find the RAM above mem=, claim it, map it, and test it if asked to. */
static int allocator_claim(void)
{
	u64 mem = __pa(high_memory - 1) + 1, base = allocator_start(mem);
	unsigned long want = allocator_himem ? (unsigned long)allocator_himem << 20 : ULONG_MAX;
	unsigned long size = 0;

	if (compat_firmware_ram(base, PAGE_SIZE))
		size = allocator_find(base, want);
	if (!size)
		return allocator_no_room(mem, base);
	allocator.res = allocator_test_fail("claim") ? NULL :
			request_mem_region(base, size, "allocator");
	if (!allocator.res) {
		pr_err("cannot claim %#llx-%#llx: claimed meanwhile\n", base, base + size - 1);
		return -EBUSY;
	}
	allocator.virt = allocator_test_fail("memremap") ? NULL :
			 memremap(base, size, MEMREMAP_WB);
	if (!allocator.virt) {
		release_mem_region(base, size);
		allocator.res = NULL;
		return -ENOMEM;
	}
	allocator.base = base;
	allocator.size = size;
	if (!allocator_probe)
		return 0;
	allocator.size = allocator_write_test();
	if (allocator.size == size)
		return 0;
	pr_warn("write test failed at %#lx: %lu of %lu bytes usable\n",
		allocator.base + allocator.size, allocator.size, size);
	if (allocator.size && !adjust_resource(allocator.res, base, allocator.size))
		return 0;
	allocator_unclaim();
	return -ENOMEM;
}

static int allocator_summary_show(struct seq_file *m, void *unused)
{
	unsigned long flags;

	spin_lock_irqsave(&allocator.lock, flags);
	seq_printf(m, "state: %s\n", allocator.enabled ? "enabled" : "disabled");
	seq_printf(m, "base: %#lx\nsize: %lu\nfree: %lu\n", allocator.base,
		   allocator.size, allocator.free_bytes);
	seq_printf(m, "largest_free: %lu\nregions: %u\n",
		   allocator_subtree_max(allocator.free.rb_node), allocator.regions);
	seq_printf(m, "owners: %zu\n", list_count_nodes(&allocator.owners));
	spin_unlock_irqrestore(&allocator.lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(allocator_summary);

static int allocator_regions_show(struct seq_file *m, void *unused)
{
	struct allocator_extent *region;
	unsigned long flags;
	struct rb_node *rb;

	spin_lock_irqsave(&allocator.lock, flags);
	for (rb = rb_first(&allocator.used); rb; rb = rb_next(rb)) {
		region = allocator_extent(rb);
		seq_printf(m, "%#lx %lu %s\n", region->start, region->size,
			   allocator_owner_name(region->owner));
	}
	spin_unlock_irqrestore(&allocator.lock, flags);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(allocator_regions);

static void allocator_debugfs_create(void)
{
	allocator.debugfs = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("summary", 0400, allocator.debugfs, NULL,
			    &allocator_summary_fops);
	debugfs_create_file("regions", 0400, allocator.debugfs, NULL,
			    &allocator_regions_fops);
	allocator_test_debugfs(allocator.debugfs);
}

/**
 * allocator_walk_regions() - visit the regions from an address on
 * @from: the lowest start to visit, in bytes
 * @visit: called for each region, in address order, with the lock held and
 *	interrupts off, so it must not sleep; a nonzero return stops the walk
 * @arg: passed to @visit
 *
 * Return: what the last @visit returned, or 0 if it was never called or
 * never stopped the walk.
 */
int allocator_walk_regions(unsigned long from, allocator_visit_t visit,
			   void *arg)
{
	struct allocator_extent *region;
	unsigned long flags;
	struct rb_node *rb;
	int ret = 0;

	spin_lock_irqsave(&allocator.lock, flags);
	region = allocator_floor(&allocator.used, from);
	rb = region ? &region->rb : rb_first(&allocator.used);
	for (; rb && !ret; rb = rb_next(rb)) {
		region = allocator_extent(rb);
		if (region->start >= from)
			ret = visit(arg, region->start, region->size,
				    allocator_owner_name(region->owner));
	}
	spin_unlock_irqrestore(&allocator.lock, flags);
	return ret;
}

/**
 * allocator_get_totals() - the claim's figures, taken together under the lock
 * @totals: filled in
 */
void allocator_get_totals(struct allocator_totals *totals)
{
	unsigned long flags;

	spin_lock_irqsave(&allocator.lock, flags);
	totals->base = allocator.base;
	totals->size = allocator.size;
	totals->free_bytes = allocator.free_bytes;
	totals->largest_free = allocator_subtree_max(allocator.free.rb_node);
	totals->regions = allocator.regions;
	totals->enabled = allocator.enabled;
	spin_unlock_irqrestore(&allocator.lock, flags);
}

/* The whole claim as one free extent, and the notifier that tracks owners. */
static int allocator_open(void)
{
	struct allocator_extent *all = allocator_test_fail("extent") ? NULL :
				       kzalloc(sizeof(*all), GFP_KERNEL);
	int ret;

	if (!all)
		return -ENOMEM;
	ret = register_module_notifier(&allocator_module_nb);
	if (ret) {
		kfree(all);
		return ret;
	}
	all->start = allocator.base;
	all->size = allocator.size;
	/* nobody allocates yet, but the trees are only ever touched locked */
	spin_lock_irq(&allocator.lock);
	allocator_insert(&allocator.free, all);
	allocator.free_bytes = allocator.size;
	WRITE_ONCE(allocator.enabled, true);
	spin_unlock_irq(&allocator.lock);
	return 0;
}

/**
 * allocator_enabled() - does the allocator hold memory to hand out?
 *
 * Context: any context.
 * Return: false before allocator_init(), after allocator_cleanup(), or
 * when allocator_himem is negative (every allocation then returns 0).
 */
bool allocator_enabled(void)
{
	return READ_ONCE(allocator.enabled);
}
EXPORT_SYMBOL_ALLOCATOR(allocator_enabled);

/**
 * allocator_init() - claim the RAM above mem= (linked build)
 *
 * Reads the module parameters: allocator_himem (MiB to use; 0, the default,
 * uses all that is found; negative disables the allocator: init succeeds
 * and every allocation returns 0), allocator_probe, allocator_step.  The
 * standalone allocator.ko calls this itself at load.
 *
 * Context: process context; sleeps.
 * Return: 0; -EINVAL for a bad parameter; -ENOMEM if there is no RAM above
 * the kernel's (no mem=) or no memory for the bookkeeping; -EBUSY if that
 * RAM is already claimed, by the other build of the allocator for one.
 */
int allocator_init(void)
{
	int ret;

	allocator_test_load();
	if (allocator_step < 1) {
		pr_err("allocator_step=%d: must be at least 1 (MiB)\n", allocator_step);
		return -EINVAL;
	}
	if (allocator_himem < 0) {
		pr_info("disabled (allocator_himem=%d): every allocation returns 0\n",
			allocator_himem);
		allocator_debugfs_create();
		return 0;
	}
	ret = allocator_claim();
	if (ret)
		return ret;
	ret = allocator_open();
	if (ret) {
		allocator_unclaim();
		return ret;
	}
	allocator_debugfs_create();
	pr_info("%lu KiB at %#lx-%#lx for DMA\n", allocator.size >> 10,
		allocator.base, allocator.base + allocator.size - 1);
	return 0;
}

/**
 * allocator_cleanup() - give back the RAM above mem= (linked build)
 *
 * Frees every region still allocated, so a driver with the allocator
 * linked in need not free its regions before it unloads.  The standalone
 * allocator.ko calls this itself at unload, which module references only
 * allow once no other module owns a region.
 *
 * Context: process context; sleeps.
 */
void allocator_cleanup(void)
{
	struct allocator_extent *ext, *next;
	struct allocator_owner *owner, *tmp;
	struct rb_root free;

	debugfs_remove_recursive(allocator.debugfs);
	allocator.debugfs = NULL;
	if (!allocator.res)
		return;
	unregister_module_notifier(&allocator_module_nb);
	spin_lock_irq(&allocator.lock);
	allocator.enabled = false;
	while ((ext = allocator_extent(rb_first(&allocator.used)))) {
		allocator_detach(ext);
		allocator_give_back(ext);
	}
	/* taken out under the lock: a netlink TOTALS may still read it */
	free = allocator.free;
	allocator.free = RB_ROOT;
	allocator.free_bytes = 0;
	spin_unlock_irq(&allocator.lock);
	rbtree_postorder_for_each_entry_safe(ext, next, &free, rb)
		kfree(ext);
	list_for_each_entry_safe(owner, tmp, &allocator.owners, node)
		kfree(owner);
	INIT_LIST_HEAD(&allocator.owners);
	allocator_unclaim();
}

