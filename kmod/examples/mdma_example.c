// SPDX-License-Identifier: GPL-2.0
/*
 * mdma_example - a driver using the Master ring allocator
 *
 * The smallest driver that owns a ring: a DVB ASI transmitter whose ring is
 * @buffers buffers of @bufsize bytes, tails packed, PLX 9080 descriptors.
 * It allocates the ring for its device at probe, fills the first buffer
 * from the CPU, hands it to the device and walks the descriptor chain the
 * device would follow; the ring is freed when the device goes away.  The device here is a
 * platform device the module creates itself, with a 32-bit DMA mask: a real
 * driver uses its PCI device and the mask of its card.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-mapping.h>
#include <linux/module.h>
#include <linux/platform_device.h>

#include <uapi/master_dma.h>
#include "master/mdma.h"

static unsigned int buffers = 16;
module_param(buffers, uint, 0444);
MODULE_PARM_DESC(buffers, "buffers in the ring (default 16)");

static unsigned int bufsize = 1316;
module_param(bufsize, uint, 0444);
MODULE_PARM_DESC(bufsize, "bytes per buffer (default 1316: seven transport packets)");

static struct platform_device *example_pdev;

/**
 * example_walk() - follow the ring's descriptors as the device would
 * @ring: the ring
 *
 * Every page-or-tail is one fragment with one descriptor, which holds the
 * fragment's bus address and length and the bus address of the next
 * descriptor; the last one chains back to the first.
 *
 * Return: the number of fragments, or -EIO if the chain is not a ring.
 */
static long example_walk(struct mdma_ring *ring)
{
	struct master_dma_summary summary;
	struct mdma_fragment frag, first;
	u64 i;

	mdma_ring_summary(ring, &summary);
	for (i = 0; i < summary.pointers; i++) {
		if (mdma_ring_fragment(ring, i, &frag))
			return -EIO;
		if (!i)
			first = frag;
		/* the device moves frag.length bytes at frag.dma_addr */
	}
	return frag.next_desc == first.desc_dma ? (long)summary.pointers : -EIO;
}

/**
 * example_fill_first() - write the first buffer from the CPU
 * @ring: the ring
 * @byte: what to write
 *
 * A buffer is its fragments (its whole pages and its tail), in order; each
 * has its own CPU address, and a packed tail shares its page with others.
 */
static void example_fill_first(struct mdma_ring *ring, u8 byte)
{
	struct mdma_fragment frag;
	u64 i;

	for (i = 0; !mdma_ring_fragment(ring, i, &frag) && frag.buffer == 0; i++)
		memset(mdma_ring_fragment_cpu(ring, i), byte, frag.length);
}

static void example_free(void *ring)
{
	mdma_ring_free(ring);
}

static int example_probe(struct platform_device *pdev)
{
	struct mdma_ring_params params = {
		.buffers = buffers,
		.bufsize = bufsize,
		.dir = DMA_TO_DEVICE,
		.tails = MASTER_DMA_TAILS_PACKED,
		.ops = &mdma_plx9080_ops,
		.name = "example",
	};
	struct mdma_ring *ring;
	long fragments;
	int ret;

	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(32));
	if (ret)
		return ret;
	ring = mdma_ring_alloc(&pdev->dev, &params);
	if (IS_ERR(ring))
		return PTR_ERR(ring);
	/* Freed when the device goes away: no remove callback to write. */
	ret = devm_add_action_or_reset(&pdev->dev, example_free, ring);
	if (ret)
		return ret;

	/* The CPU writes the first buffer, then gives it to the device. */
	example_fill_first(ring, 0x47);
	mdma_ring_sync_for_device(ring, 0);

	fragments = example_walk(ring);
	if (fragments < 0)
		return fragments;
	dev_info(&pdev->dev, "ring of %u x %u bytes: %ld fragments, %zu bytes\n",
		 buffers, bufsize, fragments, mdma_ring_bytes(ring));
	return 0;
}

static struct platform_driver example_driver = {
	.probe = example_probe,
	.driver = {
		.name = KBUILD_MODNAME,
		.suppress_bind_attrs = true,
	},
};

static int __init example_init(void)
{
	int ret = platform_driver_register(&example_driver);

	if (ret)
		return ret;
	example_pdev = platform_device_register_simple(KBUILD_MODNAME, PLATFORM_DEVID_NONE,
						       NULL, 0);
	if (IS_ERR(example_pdev)) {
		platform_driver_unregister(&example_driver);
		return PTR_ERR(example_pdev);
	}
	return 0;
}
module_init(example_init);

static void __exit example_exit(void)
{
	platform_device_unregister(example_pdev);
	platform_driver_unregister(&example_driver);
}
module_exit(example_exit);

MODULE_DESCRIPTION("Example: a DVB ASI ring from the Master ring allocator");
MODULE_LICENSE("GPL");
