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
 * The rings are mdma_registry.c's: a dump walks its list, and its
 * notifier sends the events.
 */
#include <linux/device.h>
#include <linux/notifier.h>
#include <net/genetlink.h>

#include "mdma_internal.h"

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

struct mdma_nl_dump {
	struct sk_buff *skb;
	struct netlink_callback *cb;
	unsigned int sent;
};

static int mdma_nl_dump_one(struct mdma_ring *ring, void *arg)
{
	struct mdma_nl_dump *dump = arg;
	struct netlink_callback *cb = dump->cb;
	unsigned int batch = mdma_test_dump_batch();

	if (batch && dump->sent++ == batch)
		return -EMSGSIZE;
	if (mdma_nl_fill(dump->skb, ring, NETLINK_CB(cb->skb).portid,
			 cb->nlh->nlmsg_seq, NLM_F_MULTI, MASTER_DMA_CMD_RINGS,
			 0, 0))
		return -EMSGSIZE;
	cb->args[0] = ring->id + 1;
	return 0;
}

/*
 * cb->args[0]: the id after the last ring sent.  Resuming by id, not by
 * place in the list, neither skips nor repeats a ring when one is freed
 * between two parts of the dump.
 */
static int mdma_nl_dump_rings(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct mdma_nl_dump dump = { .skb = skb, .cb = cb };

	mdma_registry_walk(cb->args[0], mdma_nl_dump_one, &dump);
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

	/* built only for a listener, as the allocator's events are */
	if (mdma_test_fail("event") ||
	    !genl_has_listeners(&mdma_nl_family, &init_net, 0))
		return;
	skb = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!skb)
		return;
	if (mdma_nl_fill(skb, ring, 0, 0, 0, MASTER_DMA_CMD_EVENT, event,
			 event_seq)) {
		nlmsg_free(skb);
		return;
	}
	genlmsg_multicast(&mdma_nl_family, skb, 0, 0, GFP_KERNEL);
}

static int mdma_nl_notify(struct notifier_block *nb, unsigned long event,
			  void *data)
{
	if (event == MDMA_RING_ADDED)
		mdma_nl_event(data, MASTER_DMA_EVENT_RING_ALLOCATED);
	else if (event == MDMA_RING_REMOVED)
		mdma_nl_event(data, MASTER_DMA_EVENT_RING_FREED);
	return NOTIFY_OK;
}

static struct notifier_block mdma_nl_nb = {
	.notifier_call = mdma_nl_notify,
};

/**
 * mdma_nl_register() - register the family and send the ring events
 *
 * Context: process context, at load.
 * Return: 0, or genl_register_family()'s error.
 */
int mdma_nl_register(void)
{
	int ret = genl_register_family(&mdma_nl_family);

	if (!ret)
		mdma_registry_notifier_register(&mdma_nl_nb);
	return ret;
}

/* At unload, when no ring is left. */
void mdma_nl_unregister(void)
{
	mdma_registry_notifier_unregister(&mdma_nl_nb);
	genl_unregister_family(&mdma_nl_family);
}
