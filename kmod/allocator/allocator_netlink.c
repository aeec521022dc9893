// SPDX-License-Identifier: GPL-2.0
/*
 * allocator_netlink.c - the generic netlink family "allocator"
 *
 * In allocator.ko only: the linked build has no family, as it has no
 * exports.  It reads the allocator through allocator_internal.h and
 * receives its events as the allocator's event sink.
 * MASTER_DMA_CMD_REGIONS dumps every region (start, size, owner);
 * MASTER_DMA_CMD_TOTALS gives the claim's figures; the "events" group
 * announces each region allocated, freed, or reclaimed from an unloading
 * owner.  Every reply and event carries physical addresses, which only
 * the init namespace's root may see (as /proc/iomem's and masterdev's
 * MAP_ENTRY): every operation, and joining the group, needs CAP_NET_ADMIN
 * (the family's) and CAP_SYS_ADMIN, or fails with -EPERM.
 *
 * Allocation and free may run in atomic context, so their events are built
 * with GFP_ATOMIC after the lock is dropped, from values copied under it.
 */
#include <net/genetlink.h>

#include "allocator_internal.h"
#include "allocator_test.h"
#include "uapi/master_dma.h"

static const struct nla_policy allocator_nl_policy[MASTER_DMA_A_MAX + 1] = {
	[MASTER_DMA_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0),
};

static struct genl_family allocator_nl_family;

static atomic64_t allocator_nl_event_seq = ATOMIC64_INIT(0);

/* An event (nonzero @event) carries its sequence number @event_seq. */
static int allocator_nl_fill(struct sk_buff *skb, u32 portid, u32 seq,
			     int flags, u8 cmd, u32 event, u64 event_seq,
			     unsigned long start, unsigned long size,
			     const char *owner)
{
	void *hdr = genlmsg_put(skb, portid, seq, &allocator_nl_family, flags, cmd);

	if (!hdr)
		return -EMSGSIZE;
	if ((event && (nla_put_u32(skb, MASTER_DMA_A_EVENT, event) ||
		       nla_put_u64_64bit(skb, MASTER_DMA_A_EVENT_SEQ, event_seq,
					 MASTER_DMA_A_PAD))) ||
	    nla_put_u64_64bit(skb, MASTER_DMA_A_START, start, MASTER_DMA_A_PAD) ||
	    nla_put_u64_64bit(skb, MASTER_DMA_A_SIZE, size, MASTER_DMA_A_PAD) ||
	    nla_put_string(skb, MASTER_DMA_A_OWNER, owner)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

struct allocator_nl_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
};

static int allocator_nl_dump_one(void *arg, unsigned long start,
				 unsigned long size, const char *owner)
{
	struct allocator_nl_dump *dump = arg;
	struct netlink_callback *cb = dump->cb;

	if (allocator_nl_fill(dump->skb, NETLINK_CB(cb->skb).portid,
			      cb->nlh->nlmsg_seq, NLM_F_MULTI,
			      MASTER_DMA_CMD_REGIONS, 0, 0, start, size, owner))
		return -EMSGSIZE;
	cb->args[0] = start + 1;
	return 0;
}

/* A dump of physical addresses: refused at its start, as an error reply. */
static int allocator_nl_dump_start(struct netlink_callback *cb)
{
	return netlink_capable(cb->skb, CAP_SYS_ADMIN) ? 0 : -EPERM;
}

/*
 * cb->args[0]: the address after the start of the last region sent, so that
 * a region freed between two parts is neither skipped nor repeated.
 */
static int allocator_nl_dump_regions(struct sk_buff *skb,
				     struct netlink_callback *cb)
{
	struct allocator_nl_dump dump = { .skb = skb, .cb = cb };

	allocator_walk_regions(cb->args[0], allocator_nl_dump_one, &dump);
	return skb->len;
}

static int allocator_nl_put_totals(struct sk_buff *msg)
{
	struct allocator_totals t;

	allocator_get_totals(&t);
	if (nla_put_u64_64bit(msg, MASTER_DMA_A_BASE, t.base, MASTER_DMA_A_PAD) ||
	    nla_put_u64_64bit(msg, MASTER_DMA_A_SIZE, t.size, MASTER_DMA_A_PAD) ||
	    nla_put_u64_64bit(msg, MASTER_DMA_A_FREE, t.free_bytes,
			      MASTER_DMA_A_PAD) ||
	    nla_put_u64_64bit(msg, MASTER_DMA_A_LARGEST_FREE, t.largest_free,
			      MASTER_DMA_A_PAD) ||
	    nla_put_u32(msg, MASTER_DMA_A_REGIONS, t.regions) ||
	    nla_put_u8(msg, MASTER_DMA_A_ENABLED, t.enabled))
		return -EMSGSIZE;
	return 0;
}

static int allocator_nl_totals(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	if (!netlink_capable(skb, CAP_SYS_ADMIN))	/* the claim's base */
		return -EPERM;
	msg = allocator_test_fail("reply") ? NULL :
	      genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &allocator_nl_family, 0,
				MASTER_DMA_CMD_TOTALS);
	if (!hdr || allocator_nl_put_totals(msg)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const struct genl_ops allocator_nl_ops[] = {
	{
		.cmd = MASTER_DMA_CMD_REGIONS,
		.start = allocator_nl_dump_start,
		.dumpit = allocator_nl_dump_regions,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MASTER_DMA_CMD_TOTALS,
		.doit = allocator_nl_totals,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group allocator_nl_groups[] = {
	{
		.name = MASTER_DMA_GENL_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN | GENL_MCAST_CAP_SYS_ADMIN,
	},
};

static struct genl_family allocator_nl_family __ro_after_init = {
	.name = MASTER_DMA_GENL_ALLOCATOR,
	.version = MASTER_DMA_GENL_VERSION,
	.maxattr = MASTER_DMA_A_MAX,
	.policy = allocator_nl_policy,
	.module = THIS_MODULE,
	.ops = allocator_nl_ops,
	.n_ops = ARRAY_SIZE(allocator_nl_ops),
	.resv_start_op = MASTER_DMA_CMD_RINGS,
	.mcgrps = allocator_nl_groups,
	.n_mcgrps = ARRAY_SIZE(allocator_nl_groups),
};

/* The payload of an event: allocator_nl_fill()'s attributes. */
static size_t allocator_nl_event_size(const char *owner)
{
	return nla_total_size(sizeof(u32)) +
	       3 * nla_total_size_64bit(sizeof(u64)) +
	       nla_total_size(strlen(owner) + 1);
}

/*
 * Counted before it is built: one the kernel cannot send is a gap too.
 * Built only for a listener: every allocation and free comes here, and a
 * message nobody reads cost more than the allocation itself (invoke bench).
 */
static void allocator_nl_event(u32 event, unsigned long start,
			       unsigned long size, const char *owner, gfp_t gfp)
{
	u64 event_seq = atomic64_inc_return(&allocator_nl_event_seq);
	struct sk_buff *skb;

	if (allocator_test_fail("event") ||
	    !genl_has_listeners(&allocator_nl_family, &init_net, 0))
		return;
	skb = genlmsg_new(allocator_nl_event_size(owner), gfp);
	if (!skb)
		return;
	if (allocator_nl_fill(skb, 0, 0, 0, MASTER_DMA_CMD_EVENT, event,
			      event_seq, start, size, owner)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast(&allocator_nl_family, skb, 0, 0, gfp);
}

/**
 * allocator_nl_register() - register the family and receive the events
 *
 * Context: process context, at load.
 * Return: 0, or genl_register_family()'s error.
 */
int allocator_nl_register(void)
{
	int ret = genl_register_family(&allocator_nl_family);

	if (!ret)
		allocator_set_event_sink(allocator_nl_event);
	return ret;
}

/**
 * allocator_nl_unregister() - stop the events and unregister the family
 *
 * Context: process context, at unload, after allocator_cleanup(): no
 * allocation, free or reclaim can be sending an event any more.
 */
void allocator_nl_unregister(void)
{
	allocator_set_event_sink(NULL);
	genl_unregister_family(&allocator_nl_family);
}
