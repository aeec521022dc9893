// SPDX-License-Identifier: GPL-2.0
/*
 * masterdev_edu.c - QEMU's edu PCI device (1234:11e8) as a DMA engine
 *
 * The edu device copies between RAM and a 4 KiB buffer of its own at device
 * offset 0x40000, by bus address, and raises interrupt 0x100 when a
 * transfer is done.  It addresses 28 bits unless QEMU is told otherwise
 * (-device edu,dma_mask=...), which the device cannot report: say so with
 * the edu_dma_bits parameter.
 * QEMU 7.2 completes each transfer 100 ms of virtual time after it starts
 * and aborts on a transfer that reaches the buffer's last byte (an
 * off-by-one in its range check), so transfers here are at most 2048 bytes
 * and stay inside the first 4095.  One transfer at a time: the device has one channel.
 *
 * At probe a self-test moves a pattern to the device and back; if the bytes
 * do not come back, the probe fails rather than leave a device that lies.
 * A transfer that does not complete in time is waited for a while longer;
 * if it still runs, bus mastering is turned off so that it cannot write
 * into memory its caller frees, and the device refuses further transfers.
 * On remove (PCI hot-unplug), every ring mapped for the device is released
 * before the device goes.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/debugfs.h>
#include <linux/dma-mapping.h>
#include <linux/interrupt.h>
#include <linux/io.h>
#include <linux/iopoll.h>
#include <linux/jiffies.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/seq_file.h>

#include "compat.h"
#include "masterdev.h"
#include "masterdev_test.h"

#define EDU_ID			0x00
#define EDU_IRQ_STATUS		0x24
#define EDU_IRQ_ACK		0x64
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_COUNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_DMA_START		BIT(0)
#define EDU_DMA_TO_RAM		BIT(1)
#define EDU_DMA_IRQ		BIT(2)
#define EDU_IRQ_DMA		0x100
#define EDU_BUFFER		0x40000
#define EDU_TIMEOUT_MS		5000
#define EDU_QUIESCE_US		(10 * USEC_PER_SEC)	/* after a timeout */

struct masterdev_edu {
	struct pci_dev *pdev;
	void __iomem *regs;
	struct mutex lock;	/* one transfer at a time */
	struct completion done;
	struct dentry *debugfs;
	unsigned long transfers;
	unsigned long interrupts;
	bool selftest_passed;
	bool dead;		/* a transfer never stopped: bus mastering off */
};

static unsigned int edu_dma_bits = 28;
module_param(edu_dma_bits, uint, 0444);
MODULE_PARM_DESC(edu_dma_bits,
		 "Address bits of the edu device: 28 as QEMU builds it, more with -device edu,dma_mask= (28-64)");

/* The bound device; masterdev drives at most one. */
static struct masterdev_edu *masterdev_edu;
static DEFINE_MUTEX(masterdev_edu_bind);

static irqreturn_t masterdev_edu_irq(int irq, void *data)
{
	struct masterdev_edu *edu = data;
	u32 status = ioread32(edu->regs + EDU_IRQ_STATUS);

	if (!status)
		return IRQ_NONE;
	iowrite32(status, edu->regs + EDU_IRQ_ACK);
	edu->interrupts++;
	/* a late interrupt of a timed-out transfer must not end the next one */
	if (status & EDU_IRQ_DMA &&
	    !(ioread32(edu->regs + EDU_DMA_CMD) & EDU_DMA_START))
		complete(&edu->done);
	return IRQ_HANDLED;
}

/*
 * A transfer outlived its timeout: wait for the device to finish it, so the
 * caller may free the memory; if it never does, stop the device's DMA.
 */
static int masterdev_edu_quiesce(struct masterdev_edu *edu)
{
	u32 cmd;

	if (!readl_poll_timeout(edu->regs + EDU_DMA_CMD, cmd,
				!(cmd & EDU_DMA_START), 1000, EDU_QUIESCE_US))
		return -ETIMEDOUT;
	pci_clear_master(edu->pdev);
	edu->dead = true;
	dev_err(&edu->pdev->dev, "DMA did not stop: bus mastering off, device disabled\n");
	return -EIO;
}

static int masterdev_edu_transfer(struct masterdev_edu *edu, dma_addr_t addr,
				  u32 offset, u32 len, bool to_ram)
{
	u64 ram = addr, dev = EDU_BUFFER + offset;
	u32 cmd = EDU_DMA_START | EDU_DMA_IRQ | (to_ram ? EDU_DMA_TO_RAM : 0);
	unsigned int timeout;
	int ret = 0;

	if (!len || len > MASTERDEV_EDU_MAX || offset > MASTERDEV_EDU_USABLE - len)
		return -EINVAL;
	mutex_lock(&edu->lock);
	if (edu->dead) {
		mutex_unlock(&edu->lock);
		return -EIO;
	}
	reinit_completion(&edu->done);
	writeq(to_ram ? dev : ram, edu->regs + EDU_DMA_SRC);
	writeq(to_ram ? ram : dev, edu->regs + EDU_DMA_DST);
	writeq(len, edu->regs + EDU_DMA_COUNT);
	iowrite32(cmd, edu->regs + EDU_DMA_CMD);
	timeout = masterdev_test_edu_timeout_ms(EDU_TIMEOUT_MS);
	if (!wait_for_completion_timeout(&edu->done, msecs_to_jiffies(timeout)))
		ret = masterdev_edu_quiesce(edu);
	else
		edu->transfers++;
	masterdev_test_edu_returned(edu->regs + EDU_DMA_CMD, EDU_DMA_START);
	mutex_unlock(&edu->lock);
	return ret;
}

/**
 * masterdev_edu_dma() - move bytes between RAM and the edu device by DMA
 * @dev: the device @addr was mapped for, from masterdev_edu_device()
 * @addr: bus address in RAM, as mapped for @dev
 * @offset: offset in the device's buffer, at most MASTERDEV_EDU_USABLE - @len
 * @len: bytes, 1 to MASTERDEV_EDU_MAX
 * @to_ram: true to copy the device's buffer to RAM, false the other way
 *
 * The caller owns the DMA API discipline: the memory at @addr must be
 * mapped for @dev and synced for it before it reads or after it writes.
 * When this returns, the device no longer touches @addr, whatever the
 * result.
 *
 * Context: process context; sleeps until the device's interrupt.
 * Return: 0; -ENODEV if @dev is not the bound edu device (it was removed);
 * -EINVAL for a bad range; -ETIMEDOUT if the device took more than 5
 * seconds; -EIO if it never finished (it is then disabled).
 */
int masterdev_edu_dma(struct device *dev, dma_addr_t addr, u32 offset,
		      u32 len, bool to_ram)
{
	int ret = -ENODEV;

	mutex_lock(&masterdev_edu_bind);
	if (masterdev_edu && &masterdev_edu->pdev->dev == dev)
		ret = masterdev_edu_transfer(masterdev_edu, addr, offset, len,
					     to_ram);
	mutex_unlock(&masterdev_edu_bind);
	return ret;
}
EXPORT_SYMBOL_GPL(masterdev_edu_dma);

/**
 * masterdev_edu_device() - the edu device, to map memory for it
 *
 * Context: process context.
 * Return: the bound edu device with a reference, which the caller drops
 * with put_device(), or NULL.
 */
struct device *masterdev_edu_device(void)
{
	struct device *dev = NULL;

	mutex_lock(&masterdev_edu_bind);
	if (masterdev_edu)
		dev = get_device(&masterdev_edu->pdev->dev);
	mutex_unlock(&masterdev_edu_bind);
	return dev;
}
EXPORT_SYMBOL_GPL(masterdev_edu_device);

/* Pattern to the device from the first half of a page, back to the second. */
static int masterdev_edu_selftest(struct masterdev_edu *edu)
{
	struct device *dev = &edu->pdev->dev;
	dma_addr_t dma;
	u8 *buf;
	int i, ret;

	buf = dma_alloc_coherent(dev, PAGE_SIZE, &dma, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	for (i = 0; i < MASTERDEV_EDU_MAX; i++)
		buf[i] = i * 7 + 3;
	ret = masterdev_edu_transfer(edu, dma, 0, MASTERDEV_EDU_MAX, false);
	if (!ret)
		ret = masterdev_edu_transfer(edu, dma + MASTERDEV_EDU_MAX, 0,
					     MASTERDEV_EDU_MAX, true);
	if (!ret && memcmp(buf, buf + MASTERDEV_EDU_MAX, MASTERDEV_EDU_MAX))
		ret = -EIO;
	dma_free_coherent(dev, PAGE_SIZE, buf, dma);
	return ret;
}

static int masterdev_edu_show(struct seq_file *m, void *unused)
{
	struct masterdev_edu *edu = m->private;

	seq_printf(m, "device: %s\n", pci_name(edu->pdev));
	seq_printf(m, "dma_mask_bits: %u\n", edu_dma_bits);
	seq_printf(m, "irq: %s\n", edu->pdev->msi_enabled ? "msi" : "intx");
	seq_printf(m, "selftest: %s\n", edu->selftest_passed ? "pass" : "fail");
	seq_printf(m, "state: %s\n", edu->dead ? "disabled" : "ready");
	seq_printf(m, "transfers: %lu\ninterrupts: %lu\n", edu->transfers,
		   edu->interrupts);
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(masterdev_edu);

static int masterdev_edu_probe(struct pci_dev *pdev,
			       const struct pci_device_id *id)
{
	struct device *dev = &pdev->dev;
	struct masterdev_edu *edu;
	int ret;

	edu = devm_kzalloc(dev, sizeof(*edu), GFP_KERNEL);
	if (!edu)
		return -ENOMEM;
	edu->pdev = pdev;
	mutex_init(&edu->lock);
	init_completion(&edu->done);
	ret = pcim_enable_device(pdev);
	if (ret)
		return dev_err_probe(dev, ret, "cannot enable\n");
	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return dev_err_probe(dev, ret, "cannot map BAR 0\n");
	edu->regs = pcim_iomap_table(pdev)[0];
	if ((ioread32(edu->regs + EDU_ID) & 0xff) != 0xed)
		return dev_err_probe(dev, -ENODEV, "not an edu device\n");
	if (edu_dma_bits < 28 || edu_dma_bits > 64)
		return dev_err_probe(dev, -EINVAL, "edu_dma_bits=%u: want 28 to 64\n",
				     edu_dma_bits);
	ret = dma_set_mask(dev, DMA_BIT_MASK(edu_dma_bits));
	if (!ret)	/* descriptor chains: where PLX 9080's 32 bits reach */
		ret = dma_set_coherent_mask(dev,
					    DMA_BIT_MASK(min(edu_dma_bits,
							     MASTERDEV_DESC_BITS)));
	if (ret)
		return dev_err_probe(dev, ret, "no %u-bit DMA\n", edu_dma_bits);
	pci_set_master(pdev);
	ret = pci_alloc_irq_vectors(pdev, 1, 1, PCI_IRQ_MSI | PCI_IRQ_INTX);
	if (ret < 0)
		return dev_err_probe(dev, ret, "no interrupt\n");
	/* managed: devres frees the IRQ, then the MSI vector (pcim device) */
	ret = devm_request_irq(dev, pci_irq_vector(pdev, 0), masterdev_edu_irq,
			       IRQF_SHARED, KBUILD_MODNAME "-edu", edu);
	if (ret)
		return dev_err_probe(dev, ret, "cannot request the interrupt\n");
	ret = masterdev_edu_selftest(edu);
	if (ret)
		return dev_err_probe(dev, ret, "DMA self-test failed\n");
	edu->selftest_passed = true;
	edu->debugfs = debugfs_create_file("edu", 0400, masterdev_debugfs, edu,
					   &masterdev_edu_fops);
	mutex_lock(&masterdev_edu_bind);
	masterdev_edu = edu;
	mutex_unlock(&masterdev_edu_bind);
	pci_set_drvdata(pdev, edu);
	dev_info(dev, "edu DMA engine ready (%s)\n",
		 pdev->msi_enabled ? "MSI" : "INTx");
	return 0;
}

/*
 * No transfer can start once the device is unpublished; the rings mapped
 * for it are released (their files get -ENODEV) before devres unmaps it.
 */
static void masterdev_edu_remove(struct pci_dev *pdev)
{
	struct masterdev_edu *edu = pci_get_drvdata(pdev);

	mutex_lock(&masterdev_edu_bind);
	masterdev_edu = NULL;
	mutex_unlock(&masterdev_edu_bind);
	masterdev_device_gone(&pdev->dev);
	debugfs_remove(edu->debugfs);
	dev_info(&pdev->dev, "removed\n");
}

static const struct pci_device_id masterdev_edu_ids[] = {
	{ PCI_DEVICE(0x1234, 0x11e8) },
	{ }
};
MODULE_DEVICE_TABLE(pci, masterdev_edu_ids);

struct pci_driver masterdev_edu_driver = {
	.name = KBUILD_MODNAME "-edu",
	.id_table = masterdev_edu_ids,
	.probe = masterdev_edu_probe,
	.remove = masterdev_edu_remove,
	.driver.suppress_bind_attrs = true,	/* as the platform card */
};
