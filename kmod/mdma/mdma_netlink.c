// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_netlink.c - the generic netlink family "mdma"
 *
 * MASTER_DMA_CMD_RINGS dumps every ring: its name, the device it is mapped
 * for and that device's driver, and its struct master_dma_summary as one
 * binary attribute (the UAPI struct, so user space decodes it from the same
 * header).  MASTER_DMA_CMD_TOTALS counts rings and pages.  The "events"
 * group announces each ring allocated and freed.  Every operation, and
 * joining the group, needs CAP_NET_ADMIN; a request may carry only
 * MASTER_DMA_A_FLAGS, with no bit set.
 *
 * Rings are listed under a mutex: allocation and free sleep anyway.
 */
#include <linux/device.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <net/genetlink.h>

#include "mdma_internal.h"

static LIST_HEAD(mdma_nl_rings);	/* in the order of their ids */
static DEFINE_MUTEX(mdma_nl_lock);	/* the list of rings, the next id */
static u64 mdma_nl_next_id;

static const struct nla_policy mdma_nl_policy[MASTER_DMA_A_MAX + 1] = {
	[MASTER_DMA_A_FLAGS] = NLA_POLICY_MASK(NLA_U32, 0),
};

static struct genl_family mdma_nl_family;

static atomic64_t mdma_nl_event_seq = ATOMIC64_INIT(0);

/* An event (nonzero @event) carries its sequence number @event_seq. */
static int mdma_nl_fill(struct sk_buff *skb, const struct mdma_ring *ring,
			u32 portid, u32 seq, int flags, u8 cmd, u32 event,
			u64 event_seq)
{
	struct master_dma_summary s;
	void *hdr;

	hdr = genlmsg_put(skb, portid, seq, &mdma_nl_family, flags, cmd);
	if (!hdr)
		return -EMSGSIZE;
	mdma_ring_summary(ring, &s);
	if ((event && (nla_put_u32(skb, MASTER_DMA_A_EVENT, event) ||
		       nla_put_u64_64bit(skb, MASTER_DMA_A_EVENT_SEQ, event_seq,
					 MASTER_DMA_A_PAD))) ||
	    nla_put_string(skb, MASTER_DMA_A_NAME, ring->name) ||
	    nla_put_string(skb, MASTER_DMA_A_DEVICE, dev_name(ring->dev)) ||
	    nla_put_string(skb, MASTER_DMA_A_DRIVER, dev_driver_string(ring->dev)) ||
	    nla_put(skb, MASTER_DMA_A_SUMMARY, sizeof(s), &s))
		goto nla_put_failure;
	genlmsg_end(skb, hdr);
	return 0;

nla_put_failure:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * cb->args[0]: the id after the last ring sent.  Resuming by id, not by
 * place in the list, neither skips nor repeats a ring when one is freed
 * between two parts of the dump.
 */
static int mdma_nl_dump_rings(struct sk_buff *skb, struct netlink_callback *cb)
{
	unsigned int batch = mdma_test_dump_batch(), sent = 0;
	struct mdma_ring *ring;

	mutex_lock(&mdma_nl_lock);
	list_for_each_entry(ring, &mdma_nl_rings, nl_node) {
		if (ring->nl_id < cb->args[0])
			continue;
		if ((batch && sent++ == batch) ||
		    mdma_nl_fill(skb, ring, NETLINK_CB(cb->skb).portid,
				 cb->nlh->nlmsg_seq, NLM_F_MULTI,
				 MASTER_DMA_CMD_RINGS, 0, 0))
			break;
		cb->args[0] = ring->nl_id + 1;
	}
	mutex_unlock(&mdma_nl_lock);
	return skb->len;
}

static int mdma_nl_totals(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg = mdma_test_fail("reply") ? NULL :
			      genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	void *hdr;

	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &mdma_nl_family, 0,
				MASTER_DMA_CMD_TOTALS);
	if (!hdr ||
	    nla_put_u32(msg, MASTER_DMA_A_RINGS, atomic_read(&mdma_rings)) ||
	    nla_put_u64_64bit(msg, MASTER_DMA_A_PAGES,
			      atomic_long_read(&mdma_pages_in_use),
			      MASTER_DMA_A_PAD)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static const struct genl_small_ops mdma_nl_ops[] = {
	{
		.cmd = MASTER_DMA_CMD_RINGS,
		.dumpit = mdma_nl_dump_rings,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = MASTER_DMA_CMD_TOTALS,
		.doit = mdma_nl_totals,
		.flags = GENL_ADMIN_PERM,
	},
};

static const struct genl_multicast_group mdma_nl_groups[] = {
	{ .name = MASTER_DMA_GENL_EVENTS, .flags = GENL_MCAST_CAP_NET_ADMIN },
};

static struct genl_family mdma_nl_family __ro_after_init = {
	.name = MASTER_DMA_GENL_MDMA,
	.version = MASTER_DMA_GENL_VERSION,
	.maxattr = MASTER_DMA_A_MAX,
	.policy = mdma_nl_policy,
	.module = THIS_MODULE,
	.small_ops = mdma_nl_ops,
	.n_small_ops = ARRAY_SIZE(mdma_nl_ops),
	.resv_start_op = MASTER_DMA_CMD_RINGS,
	.mcgrps = mdma_nl_groups,
	.n_mcgrps = ARRAY_SIZE(mdma_nl_groups),
};

/* Counted before it is built: one the kernel cannot send is a gap too. */
static void mdma_nl_event(const struct mdma_ring *ring, u32 event)
{
	u64 event_seq = atomic64_inc_return(&mdma_nl_event_seq);
	struct sk_buff *skb;

	skb = mdma_test_fail("event") ? NULL :
	      genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (mdma_nl_fill(skb, ring, 0, 0, 0, MASTER_DMA_CMD_EVENT, event,
			 event_seq)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast(&mdma_nl_family, skb, 0, 0, GFP_KERNEL);
}

/* A ring is complete: list it and announce it. */
void mdma_nl_ring_added(struct mdma_ring *ring)
{
	mutex_lock(&mdma_nl_lock);
	ring->nl_id = mdma_nl_next_id++;
	list_add_tail(&ring->nl_node, &mdma_nl_rings);
	mutex_unlock(&mdma_nl_lock);
	mdma_nl_event(ring, MASTER_DMA_EVENT_RING_ALLOCATED);
}

/* A ring is about to be freed: announce it while it still exists. */
void mdma_nl_ring_removed(struct mdma_ring *ring)
{
	mutex_lock(&mdma_nl_lock);
	list_del(&ring->nl_node);
	mutex_unlock(&mdma_nl_lock);
	mdma_nl_event(ring, MASTER_DMA_EVENT_RING_FREED);
}

int mdma_nl_register(void)
{
	return genl_register_family(&mdma_nl_family);
}

void mdma_nl_unregister(void)
{
	genl_unregister_family(&mdma_nl_family);
}
