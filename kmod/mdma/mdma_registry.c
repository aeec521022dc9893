// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_registry.c - the rings that exist, for the files that report them
 *
 * mdma_ring_alloc() adds a ring once it is complete and mdma_ring_free()
 * removes it before freeing anything; each gives it an id, in allocation
 * order, and calls the notifiers, which is how debugfs (mdma_debugfs.c)
 * and the netlink family (mdma_netlink.c) learn of rings: the allocator
 * itself does not know them.  Readers walk the list by id, so a walk
 * resumed after a ring went neither skips nor repeats one.
 *
 * Everything here sleeps: rings are allocated and freed in process context.
 */
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/notifier.h>

#include "mdma_internal.h"

static LIST_HEAD(mdma_registry);	/* rings, in the order of their ids */
static DEFINE_MUTEX(mdma_registry_lock);	/* the list, the next id */
static u64 mdma_registry_next_id;
static BLOCKING_NOTIFIER_HEAD(mdma_registry_chain);

/**
 * mdma_registry_notifier_register() - learn of rings added and removed
 * @nb: called with MDMA_RING_ADDED when a complete ring is listed and
 *	MDMA_RING_REMOVED when one is about to be freed (it still exists),
 *	with the ring as data, in process context, without the registry lock
 *
 * Return: 0.
 */
int mdma_registry_notifier_register(struct notifier_block *nb)
{
	return blocking_notifier_chain_register(&mdma_registry_chain, nb);
}

void mdma_registry_notifier_unregister(struct notifier_block *nb)
{
	blocking_notifier_chain_unregister(&mdma_registry_chain, nb);
}

/* A ring is complete: give it the next id, list it, tell the notifiers. */
void mdma_registry_add(struct mdma_ring *ring)
{
	mutex_lock(&mdma_registry_lock);
	ring->id = mdma_registry_next_id++;
	list_add_tail(&ring->node, &mdma_registry);
	mutex_unlock(&mdma_registry_lock);
	blocking_notifier_call_chain(&mdma_registry_chain, MDMA_RING_ADDED, ring);
}

/* A ring is about to be freed: unlist it, tell the notifiers while it exists. */
void mdma_registry_remove(struct mdma_ring *ring)
{
	mutex_lock(&mdma_registry_lock);
	list_del(&ring->node);
	mutex_unlock(&mdma_registry_lock);
	blocking_notifier_call_chain(&mdma_registry_chain, MDMA_RING_REMOVED,
				     ring);
}

/**
 * mdma_registry_walk() - visit the listed rings from an id on
 * @from: the lowest id to visit
 * @visit: called for each ring in id order, under the registry lock (a ring
 *	can be neither added nor freed meanwhile); nonzero stops the walk
 * @arg: passed to @visit
 *
 * Context: process context; sleeps.
 * Return: what the last @visit returned, or 0.
 */
int mdma_registry_walk(u64 from, mdma_ring_visit_t visit, void *arg)
{
	struct mdma_ring *ring;
	int ret = 0;

	mutex_lock(&mdma_registry_lock);
	list_for_each_entry(ring, &mdma_registry, node) {
		if (ring->id < from)
			continue;
		ret = visit(ring, arg);
		if (ret)
			break;
	}
	mutex_unlock(&mdma_registry_lock);
	return ret;
}
